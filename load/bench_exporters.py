"""The exporters' cost and speed.

    .venv/bin/python load/bench_exporters.py [--instances 3000] [--rounds 3] [--skip-engine] [--skip-catch-up]

1. Engine throughput with exporters off and on: load/bench_engine.py's tuned run (start → service task →
   end, 40 in flight, and open loop at 500/s), alternating off / documents+redis for `--rounds` rounds
   so that the machine's other load falls on both alike; prints each run, the CPU the engine and the
   exporter process spent per instance, the exporters' lag when the run ends, and the medians.
2. Exporter speed: an engine log of `--instances` instances is written with exporters off, then
   `python -m services.engine.exporters` exports it from scratch, once per exporter (documents store on
   SQLite, Redis); prints records/s from its first report to the head of the log (process start-up and
   imports excluded) and its CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from load.bench_engine import MODEL  # noqa: E402
from shared.redis_server import RedisServer  # noqa: E402
from tests.engine.support import RawGateway  # noqa: E402
from tests.fixtures.engine import EngineProcess  # noqa: E402

EXPORTER_VARIABLES = ("EXPORTER_DOCUMENTS_URL", "EXPORTER_REDIS_URL")


def _exporters(documents: str | None, redis: str | None) -> None:
    for name, value in zip(EXPORTER_VARIABLES, (documents, redis), strict=True):
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)


def _measured_run(label: str, instances: int, concurrency: int, rate: float, tmp: Path) -> dict:
    """bench_engine's tuned run, plus the CPU the engine and its exporter process spent on the measured part
    (wall-clock throughput swings with whatever else the machine runs; CPU per instance hardly does)."""

    import psutil

    from load.bench_engine import bench_stack

    with bench_stack(tmp / f"engine-{time.monotonic_ns()}", tuned=True) as (engine, measure):
        assert engine.process is not None
        process = psutil.Process(engine.process.pid)

        def cpu() -> tuple[float, float]:
            exporters = sum(sum(c.cpu_times()[:2]) for c in process.children())
            return sum(process.cpu_times()[:2]), exporters

        engine_before, exporters_before = cpu()
        elapsed, latencies = measure(instances, concurrency, rate)
        engine_after, exporters_after = cpu()
        lag = _lag(engine)
        caught_up = _catch_up(engine) if lag else 0.0
    latencies.sort()
    figures = {
        "label": label, "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000, "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "engine_cpu_ms": (engine_after - engine_before) * 1000 / instances,
        "exporter_cpu_ms": (exporters_after - exporters_before) * 1000 / instances,
    }
    print(f"{label:<38} {figures['per_second']:7.1f}/s  p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms"
          f"  CPU/instance: engine {figures['engine_cpu_ms']:.3f} ms, exporters {figures['exporter_cpu_ms']:.3f} ms"
          + (f"  lag at the end {lag} records, caught up {caught_up:.1f} s later" if lag else ""), flush=True)
    return figures


def _metrics(engine: EngineProcess) -> dict[str, float]:
    import re

    return {name: float(value) for name, value in re.findall(r"^(zeebe_exporter_\w+\{[^}]*\}) (\S+)$",
                                                              engine.metrics(), re.MULTILINE)}


def _lag(engine: EngineProcess) -> int:
    return int(max((v for k, v in _metrics(engine).items() if k.startswith("zeebe_exporter_lag")), default=0))


def _catch_up(engine: EngineProcess) -> float:
    started = time.perf_counter()
    while _lag(engine) and time.perf_counter() - started < 120:
        time.sleep(0.05)
    return time.perf_counter() - started


def engine_throughput(instances: int, rounds: int, redis_url: str, tmp: Path) -> None:
    print("engine throughput, exporters off vs documents (SQLite) + redis, alternating:")
    figures: dict[str, list[dict]] = {"off": [], "on": []}
    for i in range(rounds):
        for mode in ("off", "on"):
            documents = f"sqlite:///{tmp / f'documents-{i}.sqlite3'}" if mode == "on" else None
            _exporters(documents, redis_url if mode == "on" else None)
            figures[mode].append(_measured_run(f"exporters {mode}, 40 in flight", instances, 40, 0, tmp))
            figures[mode].append(_measured_run(f"exporters {mode}, open loop at 500/s", instances, 0, 500.0, tmp))
    _exporters(None, None)
    for mode, runs in figures.items():
        closed = [f for f in runs if "40 in flight" in f["label"]]
        open_loop = [f for f in runs if "open loop" in f["label"]]
        print(f"median, exporters {mode}: {statistics.median(f['per_second'] for f in closed):7.1f} instances/s "
              f"(40 in flight); open loop 500/s p50 {statistics.median(f['p50_ms'] for f in open_loop):6.1f} ms "
              f"p99 {statistics.median(f['p99_ms'] for f in open_loop):6.1f} ms; CPU per instance: engine "
              f"{statistics.median(f['engine_cpu_ms'] for f in runs):.3f} ms, exporter process "
              f"{statistics.median(f['exporter_cpu_ms'] for f in runs):.3f} ms")


async def _fill(engine: EngineProcess, instances: int) -> None:
    from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel

    gateway = RawGateway(engine.address)
    await gateway.deploy(("bench.bpmn", MODEL))
    await gateway.close()
    channel = create_insecure_channel(grpc_address=engine.address)
    worker = ZeebeWorker(channel, name="bench", poll_retry_delay=0)

    @worker.task(task_type="bench-work", max_jobs_to_activate=250, max_running_jobs=1000)
    async def work() -> dict:
        return {"done": True}

    working = asyncio.create_task(worker.work())
    client = ZeebeClient(channel)
    limit = asyncio.Semaphore(40)

    async def one(n: int) -> None:
        async with limit:
            await client.run_process_with_result("bench", {"n": n, "project_code": f"P-{n % 50}"}, timeout=60_000)

    await asyncio.gather(*(one(n) for n in range(instances)))
    await worker.stop()
    working.cancel()
    await channel.close()


def export_speed(instances: int, redis_url: str, tmp: Path) -> None:
    data = tmp / "log"
    data.mkdir()
    _exporters(None, None)
    os.environ["ENGINE_LOG_RETENTION"] = str(10 * instances * 30)  # keep every record for the exporters
    engine = EngineProcess(data / "engine", clock_controlled=False, sync="NORMAL").start()
    try:
        asyncio.run(_fill(engine, instances))
    finally:
        engine.stop()
        os.environ.pop("ENGINE_LOG_RETENTION", None)
    import sqlite3

    with sqlite3.connect(data / "engine" / "engine.sqlite3") as conn:
        head, count = conn.execute("SELECT MAX(position), COUNT(*) FROM records").fetchone()
    print(f"exporting a log of {count} records ({instances} instances) from scratch:")
    for kind, url in (("documents", f"sqlite:///{tmp / 'export.sqlite3'}"), ("redis", redis_url)):
        process = subprocess.Popen(
            [sys.executable, "-m", "services.engine.exporters", "--data-dir", str(data / "engine"),
             "--exporter", f"{kind}={url}", "--report"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "LOG_LEVEL": "WARNING"})
        assert process.stdout is not None
        first: float | None = None
        started_at = 0
        for line in process.stdout:
            status = orjson.loads(line).get(kind, {})
            position = status.get("position")
            if position is None:
                continue
            if first is None:
                first, started_at = time.perf_counter(), position
            if position >= head:
                break
        elapsed = time.perf_counter() - (first or time.perf_counter())
        cpu = _cpu_seconds(process.pid)
        assert process.stdin is not None
        process.stdin.close()
        process.wait(10)
        exported = head - started_at
        print(f"  {kind:<10} {exported:>7} records in {elapsed:6.2f} s = {exported / elapsed:8.0f} records/s "
              f"({instances * exported / count / elapsed:6.0f} instances/s); exporter process CPU {cpu:.1f} s")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-catch-up", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, RedisServer(persistence="none") as redis_server:
        if not args.skip_engine:
            engine_throughput(args.instances, args.rounds, redis_server.url, Path(tmp))
        if not args.skip_catch_up:
            export_speed(args.instances, redis_server.url, Path(tmp))


if __name__ == "__main__":
    main()
