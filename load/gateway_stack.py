"""Load the gateway: start the platform on this machine, seed a city, run locust, print requests/s and p95.

    .venv/bin/python load/gateway_stack.py [--projects 10000] [--scenario dashboard|mixed|both]
                                           [--dashboard-users 40 --dashboard-rate 5] [--mixed-users 60]
                                           [--duration 60] [--data-dir DIR] [--reports DIR] [--html]

Starts Redis, the engine (with bpmn/ deployed, so ingest starts approval-docking instances) and the gateway
(``python -m gateway``, its own process, default settings), each on free ports; seeds the documents store
with ``load/gateway_seed.py`` (about a minute for 10,000 projects; ``--data-dir`` keeps and reuses it);
mints tokens; then runs ``load/locustfile_gateway.py`` headless in .venv-load (locust must not be imported
in the main venv) and prints each endpoint's requests/s, median, p95 and failures. Reports (locust's CSVs,
and its HTML page with --html) land in load/reports/ or --reports. The 'dashboard' scenario is the bar: the summary at 200 requests/s (40 users x 5/s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.auth.tokens import TokenService  # noqa: E402
from gateway.engine import EngineGateway  # noqa: E402
from load.gateway_seed import Seeded, seed, utc_now  # noqa: E402
from shared.documents import open_store  # noqa: E402
from shared.documents.models import Role, User  # noqa: E402
from shared.redis_server import RedisServer  # noqa: E402
from shared.settings import ZeebeSettings  # noqa: E402
from tests.fixtures.engine import EngineProcess  # noqa: E402
from tests.integration.gateway.support import GatewayProcess  # noqa: E402

SECRETS = {"jwt": "load-jwt-secret-0123456789abcdef0123456789", "gonggai": "load-gonggai-secret-0123456789abcdef",
           "tuzhi": "load-tuzhi-secret-0123456789abcdef012"}
REPORTS = ROOT / "load" / "reports"
LOCUST = ROOT / ".venv-load" / "bin" / "locust"


async def seed_store(documents_url: str, projects: int) -> Seeded:
    store = await open_store(documents_url)
    try:
        return await seed(store, projects=projects, now=utc_now())
    finally:
        await store.close()


def prepare(documents_url: str, projects: int, marker: Path) -> Seeded:
    """Seed once per data dir: the marker's JSON keeps what the locust users need to know of the city."""
    if marker.exists():
        print(f"reusing the seeded store ({marker.read_text().strip()})")
        return Seeded(**json.loads(marker.with_suffix(".json").read_text()))
    started = time.monotonic()
    seeded = asyncio.run(seed_store(documents_url, projects))
    marker.with_suffix(".json").write_text(json.dumps(seeded.__dict__))
    marker.write_text(f"{projects} projects")
    print(f"seeded {projects} projects in {time.monotonic() - started:.0f} s")
    return seeded


async def deploy_models(address: str) -> None:
    engine = EngineGateway.from_settings(ZeebeSettings(address=address))
    try:
        files = sorted(p for p in (ROOT / "bpmn").iterdir() if p.suffix in (".bpmn", ".dmn", ".form"))
        await engine.deploy([(p.name, p.read_bytes()) for p in files])
    finally:
        await engine.close()


def stack_file(base: Path, url: str, seeded: Seeded) -> Path:
    tokens = TokenService(SECRETS["jwt"].encode(), access_seconds=6 * 3600, refresh_seconds=6 * 3600)

    def token(username: str, roles: list[Role], units: list[str] | None = None) -> str:
        return tokens.issue(User(username=username, display_name=username, roles=roles,
                                 unit_ids=units or [])).access_token

    staff = {name: {"token": token(name, [Role.UNIT_STAFF], units), "task_keys": seeded.task_keys[units[0]]}
             for name, units in seeded.staff.items() if seeded.task_keys.get(units[0])}
    path = base / "stack.json"
    path.write_text(json.dumps({
        "url": url, "tokens": {"leader": token("leader", [Role.LEADER]), "admin": token("admin", [Role.ADMIN])},
        "staff": staff, "project_codes": seeded.project_codes[:2000], "hmac": {"gonggai": SECRETS["gonggai"]},
    }))
    return path


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children alive now (the gateway's worker processes)."""
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def run_locust(scenario: str, stack: Path, url: str, users: int, rate: float, duration: int,
               watched: dict[str, int], reports: Path = REPORTS, html: bool = False) -> list[dict[str, str]]:
    reports.mkdir(parents=True, exist_ok=True)
    prefix = reports / f"gateway-{scenario}"
    env = {**os.environ, "QLY_LOAD_STACK": str(stack), "QLY_LOAD_SCENARIO": scenario, "QLY_LOAD_RATE": str(rate)}
    command = [str(LOCUST), "-f", str(ROOT / "load" / "locustfile_gateway.py"), "--headless", "--host", url,
               "-u", str(users), "-r", str(max(users // 5, 1)), "-t", f"{duration}s", "--csv", str(prefix),
               "--only-summary", "--loglevel", "WARNING", *(["--html", f"{prefix}.html"] if html else [])]
    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, env=env, cwd=ROOT, check=False)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = {name: cpu_seconds(pid) - before[name] for name, pid in watched.items()}
    used["locust"] = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    print(f"CPU over the run ({elapsed:.0f} s, 2 cores = {2 * elapsed:.0f} s available): "
          + ", ".join(f"{name} {seconds:.0f} s ({seconds / elapsed:.0%} of a core)" for name, seconds in used.items()))
    with open(f"{prefix}_stats.csv", newline="") as f:
        return list(csv.DictReader(f))


def report(scenario: str, rows: list[dict[str, str]], duration: int) -> None:
    print(f"\n== {scenario} ({duration} s) ==")
    print(f"{'endpoint':44} {'req/s':>8} {'median':>8} {'p95':>8} {'p99':>8} {'fail':>6}")
    for row in rows:
        print(f"{row['Name'][:44]:44} {float(row['Requests/s']):8.1f} {row['50%']:>6}ms {row['95%']:>6}ms "
              f"{row['99%']:>6}ms {row['Failure Count']:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--scenario", choices=["dashboard", "mixed", "both"], default="both")
    parser.add_argument("--dashboard-users", type=int, default=40)
    parser.add_argument("--dashboard-rate", type=float, default=5.0, help="summary requests/s per user")
    parser.add_argument("--mixed-users", type=int, default=60)
    parser.add_argument("--duration", type=int, default=60, help="seconds per scenario")
    parser.add_argument("--data-dir", type=Path, help="keep the seeded store here and reuse it next time")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="where locust writes its CSVs")
    parser.add_argument("--html", action="store_true", help="also write locust's HTML report per scenario")
    parser.add_argument("--workers", type=int, default=1, help="gateway processes (GATEWAY_WORKERS)")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request with its server-side duration (gateway.log in the data dir)")
    args = parser.parse_args()
    if not LOCUST.exists():
        print("no .venv-load: run `make venv-load`")
        return 2

    holder = None if args.data_dir else tempfile.TemporaryDirectory(prefix="qly-load-")
    base = args.data_dir or Path(holder.name)  # type: ignore[union-attr]
    base.mkdir(parents=True, exist_ok=True)
    documents_url = f"sqlite:///{base / 'documents.sqlite3'}"
    redis = RedisServer(data_dir=base / "redis", persistence="none")
    redis.start()
    engine = EngineProcess(base / "engine", clock_controlled=False).start()
    gateway = None
    try:
        asyncio.run(deploy_models(engine.address))
        seeded = prepare(documents_url, args.projects, base / f"seeded-{args.projects}.txt")
        gateway = GatewayProcess(engine_address=engine.address, management_url=engine.management_url,
                                 documents_url=documents_url, redis_url=redis.url, secrets=SECRETS,
                                 log_path=base / "gateway.log",
                                 extra_env={"GATEWAY_WORKERS": str(args.workers),
                                            "LOG_LEVEL": "INFO" if args.access_log else "WARNING"}).start()
        stack = stack_file(base, gateway.url, seeded)
        watched = {"gateway": gateway.process.pid, "engine": engine.process.pid,  # type: ignore[union-attr]
                   "redis": redis.process.pid}  # type: ignore[union-attr]
        scenarios = ["dashboard", "mixed"] if args.scenario == "both" else [args.scenario]
        for scenario in scenarios:
            if scenario == "dashboard":
                rows = run_locust(scenario, stack, gateway.url, args.dashboard_users, args.dashboard_rate,
                                  args.duration, watched, args.reports, args.html)
            else:
                rows = run_locust(scenario, stack, gateway.url, args.mixed_users, 1.0, args.duration, watched,
                                  args.reports, args.html)
            report(scenario, rows, args.duration)
    finally:
        if gateway is not None:
            gateway.stop()
        engine.stop()
        redis.stop()
        if holder is not None:
            holder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
