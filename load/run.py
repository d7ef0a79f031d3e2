"""`make load`: the engine suite and the city suite, headless, one after the other; their reports; one table.

    .venv/bin/python load/run.py [--duration 60] [--suites engine,city] [--creators 20] [--workers 10]
                                 [--create-rate 5] [--city-users 60] [--city-projects 10000]
                                 [--reports load/reports] [--engine-data-dir DIR]

Each option also comes from the environment (LOAD_DURATION, LOAD_SUITES, LOAD_CREATORS, LOAD_WORKERS,
LOAD_CREATE_RATE, LOAD_CITY_USERS, LOAD_CITY_PROJECTS, LOAD_REPORTS). The engine suite
(load/locustfile_engine.py) runs against an engine this script starts on free ports (default settings, a fresh
data dir) or, with LOAD_ENGINE_ADDRESS=host:port, against one already running (plaintext gRPC; its
/metrics from LOAD_ENGINE_METRICS_URL if given). The city suite is ``load/gateway_stack.py --scenario mixed``
(Redis, engine, gateway, a seeded city). Locust writes engine.html, engine_stats.csv ... and gateway-mixed.html,
gateway-mixed_stats.csv ... into the reports dir. Exits 1 when a suite did not run or failed more than 1% of
its requests.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.processes import free_port, stop_process, wait_until_ready  # noqa: E402

LOCUST = ROOT / ".venv-load" / "bin" / "locust"
MAX_FAILURE_SHARE = 0.01
COUNTERS = ("zeebe_process_instances_created_total", "zeebe_process_instances_completed_total")


@dataclass
class Suite:
    name: str
    rows: list[dict[str, str]]  # locust's _stats.csv, the Aggregated row last
    note: str = ""

    @property
    def total(self) -> dict[str, str]:
        return self.rows[-1]

    def failure_share(self) -> float:
        requests = int(self.total["Request Count"])
        return int(self.total["Failure Count"]) / requests if requests else 1.0


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return list(csv.DictReader(f))


def counters(metrics_url: str | None) -> dict[str, float] | None:
    if not metrics_url:
        return None
    try:
        text = httpx.get(metrics_url, timeout=10).text
    except httpx.HTTPError:
        return None
    found = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+) ([0-9.e+-]+)$", text, re.MULTILINE)}
    return {name: found[name] for name in COUNTERS if name in found} or None


class Engine:
    """Our engine on free ports and a data dir of its own, as an operator would start it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.management_port = free_port(), free_port()
        self.log = data_dir.parent / f"{data_dir.name}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.engine", "--data-dir", str(data_dir), "--port", str(self.port),
                 "--management-port", str(self.management_port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
        if not wait_until_ready(self.process, f"http://127.0.0.1:{self.management_port}/ready", 60):
            stop_process(self.process)
            raise RuntimeError(f"the engine did not start: {self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        stop_process(self.process)


def cpu_seconds(engine: Engine | None) -> float:
    if engine is None:
        return 0.0
    times = psutil.Process(engine.process.pid).cpu_times()
    return times.user + times.system


def children_cpu() -> float:
    """CPU of the children that have exited and been waited for: here, the locust run just finished."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def engine_suite(args: argparse.Namespace) -> Suite:
    holder = None
    engine = None
    address = os.environ.get("LOAD_ENGINE_ADDRESS")
    metrics_url = os.environ.get("LOAD_ENGINE_METRICS_URL")
    try:
        if not address:
            if args.engine_data_dir is None:
                holder = tempfile.TemporaryDirectory(prefix="qly-load-engine-")
            base = args.engine_data_dir or Path(holder.name)  # type: ignore[union-attr]
            base.mkdir(parents=True, exist_ok=True)
            engine = Engine(base / "engine")
            address = f"127.0.0.1:{engine.port}"
            metrics_url = f"http://127.0.0.1:{engine.management_port}/metrics"
        prefix = args.reports / "engine"
        users = args.creators + args.workers
        env = {**os.environ, "LOAD_CREATORS": str(args.creators), "LOAD_WORKERS": str(args.workers),
               "LOAD_CREATE_RATE": str(args.create_rate)}
        command = [str(LOCUST), "-f", str(ROOT / "load" / "locustfile_engine.py"), "--headless", "--host", address,
                   "-u", str(users), "-r", str(users), "-t", f"{args.duration}s", "--csv", str(prefix),
                   "--html", f"{prefix}.html", "--only-summary", "--loglevel", "WARNING",
                   "--exit-code-on-error", "0"]  # failures are judged here, by their share
        print(f"== engine suite: {args.creators} creators at {args.create_rate}/s, {args.workers} job workers, "
              f"{args.duration} s against {address}", flush=True)
        before = counters(metrics_url)
        cpu_before = cpu_seconds(engine), children_cpu()
        log = args.reports / "engine-locust.log"  # its own summary, and its errors
        with open(log, "wb") as out:
            code = subprocess.run(command, env=env, cwd=ROOT, check=False, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=args.duration + 120).returncode
        after = counters(metrics_url)
        engine_cpu, locust_cpu = cpu_seconds(engine) - cpu_before[0], children_cpu() - cpu_before[1]
        if code != 0:
            text = log.read_text(errors="replace")
            raise RuntimeError(f"locust exited with {code} ({log}):\n{text[text.rfind('Error report'):][-2000:]}")
        note = ""
        if before and after:
            created, completed = (after[n] - before.get(n, 0) for n in COUNTERS)
            note = (f"instances: {created:.0f} created, {completed:.0f} completed "
                    f"({completed / args.duration:.0f}/s over the {args.duration} s run)\n")
        note += f"CPU: locust {locust_cpu / args.duration:.0%} of a core"
        if engine is not None:
            note += f", engine {engine_cpu / args.duration:.0%}"
        return Suite("engine", read_stats(prefix), note)
    finally:
        if engine is not None:
            engine.stop()
        if holder is not None:
            holder.cleanup()


def city_suite(args: argparse.Namespace) -> Suite:
    prefix = args.reports / "gateway-mixed"
    Path(f"{prefix}_stats.csv").unlink(missing_ok=True)  # so a run that wrote nothing cannot pass for this one
    print(f"== city suite: {args.city_projects} projects, {args.city_users} users, {args.duration} s", flush=True)
    log = args.reports / "gateway-stack.log"  # locust's summary and the stack's own table, endpoint by endpoint
    with open(log, "wb") as out:
        code = subprocess.run(
            [sys.executable, str(ROOT / "load" / "gateway_stack.py"), "--scenario", "mixed", "--duration",
             str(args.duration), "--mixed-users", str(args.city_users), "--projects", str(args.city_projects),
             "--reports", str(args.reports), "--html"],
            cwd=ROOT, check=False, stdout=out, stderr=subprocess.STDOUT, timeout=args.duration + 900).returncode
    output = log.read_text(errors="replace")
    if code != 0 or not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"gateway_stack.py exited with {code}: {output[-2000:]}")
    return Suite("city", read_stats(prefix), next((line for line in output.splitlines()
                                                   if line.startswith("CPU over the run")), ""))


def table(suites: list[Suite]) -> None:
    print(f"\n{'suite':7} {'request':34} {'count':>8} {'req/s':>8} {'p50':>7} {'p95':>7} {'fails':>6}")
    for suite in suites:
        for row in suite.rows:
            print(f"{suite.name:7} {row['Name'][:34]:34} {row['Request Count']:>8} {float(row['Requests/s']):8.1f} "
                  f"{row['50%']:>5}ms {row['95%']:>5}ms {row['Failure Count']:>6}")
        for line in filter(None, suite.note.splitlines()):
            print(f"{suite.name:7} {line}")
    print("(ActivateJobs' times include long polling while there is no work)")


def main() -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=int(env("LOAD_DURATION", "60")), help="seconds per suite")
    parser.add_argument("--suites", default=env("LOAD_SUITES", "engine,city"))
    parser.add_argument("--creators", type=int, default=int(env("LOAD_CREATORS", "20")))
    parser.add_argument("--workers", type=int, default=int(env("LOAD_WORKERS", "10")))
    parser.add_argument("--create-rate", type=float, default=float(env("LOAD_CREATE_RATE", "5")),
                        help="instances/s per creator (0: as fast as the engine answers)")
    parser.add_argument("--city-users", type=int, default=int(env("LOAD_CITY_USERS", "60")))
    parser.add_argument("--city-projects", type=int, default=int(env("LOAD_CITY_PROJECTS", "10000")))
    parser.add_argument("--reports", type=Path, default=Path(env("LOAD_REPORTS", str(ROOT / "load" / "reports"))))
    parser.add_argument("--engine-data-dir", type=Path, help="keep the engine's data here (default: a temp dir)")
    args = parser.parse_args()
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    if unknown := set(suites) - {"engine", "city"}:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}: choose from engine, city")
    if args.duration < 1 or args.creators < 1:
        parser.error("--duration and --creators must be at least 1")
    if args.workers < 3:
        parser.error("--workers must be at least 3: one per job type of the load model")
    if not LOCUST.exists():
        print("no .venv-load: run `make venv-load`", file=sys.stderr)
        return 2
    args.reports.mkdir(parents=True, exist_ok=True)

    done: list[Suite] = []
    broken: list[str] = []
    for name in suites:
        try:
            done.append(engine_suite(args) if name == "engine" else city_suite(args))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            broken.append(f"{name} suite did not run: {error}")
    table(done)
    broken += [f"{s.name} suite failed {s.failure_share():.1%} of its requests" for s in done
               if s.failure_share() > MAX_FAILURE_SHARE]
    print(f"reports: {args.reports}")
    for problem in broken:
        print(problem, file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
