"""python -m services.demo {deploy,seed,scenario} — see the package docstring and README.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from datetime import date
from pathlib import Path

import httpx
from pyzeebe import ZeebeClient

from services.demo.deploy import deploy_models, model_files
from services.demo.scenario import ScenarioConfig, run
from services.demo.seed import seed
from services.workers.__main__ import zeebe_channel
from shared.clock import EngineClock
from shared.documents import open_store
from shared.logging import configure_logging
from shared.settings import ZeebeSettings


async def deploy_command() -> int:
    channel = zeebe_channel(ZeebeSettings())
    try:
        response = await deploy_models(ZeebeClient(channel, max_connection_retries=5))
    finally:
        await channel.close()
    names = [getattr(d, "bpmn_process_id", None) or getattr(d, "dmn_decision_id", None)
             or getattr(d, "form_id", None) for d in response.deployments]
    print(f"deployed {len(model_files())} files: {', '.join(n for n in names if n)}")
    return 0


async def seed_command(projects: int) -> int:
    settings = ZeebeSettings()
    clock = EngineClock(settings.actuator_url)
    with contextlib.suppress(httpx.HTTPError, ValueError):
        await clock.refresh()  # an engine without a controllable clock runs on real time
    store = await open_store(clock=clock)
    channel = zeebe_channel(settings)
    try:
        report = await seed(store, ZeebeClient(channel, max_connection_retries=5), now=clock.now(),
                            projects=projects)
    finally:
        await channel.close()
        await store.close()
        await clock.aclose()
    print(f"seeded: {report.units} units, {report.users_created} new users, {report.projects_created} new "
          f"projects ({report.projects_existing} already there), {report.signings_published} life cycles started")
    return 0


def scenario_command(args: argparse.Namespace) -> int:
    config = ScenarioConfig(projects=args.projects, days=args.days, start=date.fromisoformat(args.start),
                            seed=args.seed, data_dir=Path(args.data_dir) if args.data_dir else None,
                            documents_url=args.documents_url, progress=not args.json)
    dashboard, tally = run(config)
    if args.json:
        print(json.dumps({"dashboard": dashboard.as_dict(), "tally": {k: v for k, v in vars(tally).items()
                                                                      if k != "stage_expected"}},
                         ensure_ascii=False, indent=2))
    else:
        print()
        print(dashboard.render())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.demo")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("deploy", help="deploy every model of bpmn/ to ZEEBE_ADDRESS")
    seeding = commands.add_parser("seed", help="the demo city into DOCUMENTS_URL; start the projects' life cycles")
    seeding.add_argument("--projects", type=int, default=300, help="projects to generate (default 300)")
    scenario = commands.add_parser("scenario", help="a simulated year on a private engine and store")
    scenario.add_argument("--projects", type=int, default=640, help="projects signed in the period (default 640)")
    scenario.add_argument("--days", type=int, default=365, help="days to simulate (default 365)")
    scenario.add_argument("--start", default="2025-01-01", help="first simulated day (default 2025-01-01)")
    scenario.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    scenario.add_argument("--data-dir", help="keep the engine and documents here (default: a temporary directory)")
    scenario.add_argument("--documents-url", help="documents store URL (default: SQLite in the data dir)")
    scenario.add_argument("--json", action="store_true", help="print the dashboard and the tally as JSON")
    args = parser.parse_args(argv)
    configure_logging("demo", level="WARNING")
    if args.command == "deploy":
        return asyncio.run(deploy_command())
    if args.command == "seed":
        return asyncio.run(seed_command(args.projects))
    return scenario_command(args)


if __name__ == "__main__":
    sys.exit(main())
