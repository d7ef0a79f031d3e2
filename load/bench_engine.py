"""Engine throughput and latency, measured end to end through pyzeebe.

    .venv/bin/python load/bench_engine.py [--instances 3000] [--concurrency 200] [--skip-default]
    .venv/bin/python load/bench_engine.py --events-only [--timer-count 10000] [--message-count 10000] [--runs 3]

Starts the engine (its own process, a fresh data dir, the default FULL sync), deploys
start → service task → end, and runs pyzeebe workers in a second process. A third process creates
instances with CreateProcessInstanceWithResult, so each call's duration is the time from create to
completed. Prints instances per second and the p50/p99 of that time, first with workers tuned so the
engine is what is measured, then with pyzeebe's default worker settings (which sleep 5 s whenever the
32 job slots are full).

With --timers and --messages (or --events-only for just these) it also measures, on a clock-controlled
engine, how many timers fire per second when one clock move passes --timer-count due timers (start →
P90D timer → end), and how many messages correlate per second when --message-count instances wait at a
message catch event and one message per instance is published (concurrent PublishMessage calls, each
answered once its correlation is committed). Each figure is the median of --runs runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine import bpmn  # noqa: E402
from tests.fixtures.engine import EngineProcess  # noqa: E402

MODEL = bpmn.simple("bench", "bench-work")


def _worker_process(address: str, tuned: bool, ready: mp.Event, stop: mp.Event) -> None:
    import logging

    from pyzeebe import ZeebeWorker, create_insecure_channel

    logging.getLogger("pyzeebe").setLevel(logging.ERROR)  # its "slots full, sleeping 5 s" warning, per poll

    async def main() -> None:
        channel = create_insecure_channel(grpc_address=address)
        if tuned:
            worker = ZeebeWorker(channel, name="bench", poll_retry_delay=0, max_connection_retries=-1)
            options = {"max_jobs_to_activate": 250, "max_running_jobs": 1000, "timeout_ms": 60_000}
        else:
            worker = ZeebeWorker(channel, name="bench")
            options = {}

        @worker.task(task_type="bench-work", **options)
        async def work() -> dict:
            return {"done": True}

        task = asyncio.create_task(worker.work())
        ready.set()
        # the stop flag is a multiprocessing event: wait for it on a thread, not by polling
        await asyncio.to_thread(stop.wait)
        await worker.stop()
        task.cancel()

    asyncio.run(main())


async def _create_all(address: str, count: int, concurrency: int, rate: float) -> tuple[float, list[float]]:
    from pyzeebe import ZeebeClient, create_insecure_channel

    client = ZeebeClient(create_insecure_channel(grpc_address=address))
    latencies: list[float] = []
    if rate:
        return await _at_rate(client, count, rate, latencies)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def one_by_one() -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            await client.run_process_with_result("bench", {}, timeout=60_000)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one_by_one() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def _at_rate(client: object, count: int, rate: float, latencies: list[float]) -> tuple[float, list[float]]:
    """Open loop: start one instance every 1/rate seconds, whatever the answers do."""

    async def one() -> None:
        started = time.perf_counter()
        await client.run_process_with_result("bench", {}, timeout=60_000)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - started)

    tasks = []
    started = time.perf_counter()
    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started, latencies


def _client_process(address: str, count: int, concurrency: int, rate: float, results: mp.Queue) -> None:
    elapsed, latencies = asyncio.run(_create_all(address, count, concurrency, rate))
    results.put((elapsed, latencies))


@contextlib.contextmanager
def bench_stack(data_dir: Path, *, tuned: bool, warmup: int = 200) -> Iterator[tuple[EngineProcess, Any]]:
    """The engine (FULL sync, real clock) with MODEL deployed and a worker process, ``warmup`` instances already
    run through; yields the engine and ``measure(instances, concurrency, rate) -> (seconds, latencies)``."""
    from tests.engine.support import RawGateway

    engine = EngineProcess(data_dir, clock_controlled=False, sync="FULL").start()
    try:
        async def deploy() -> None:
            gateway = RawGateway(engine.address)
            await gateway.deploy(("bench.bpmn", MODEL))
            await gateway.close()

        asyncio.run(deploy())
        ctx = mp.get_context("spawn")
        ready, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
        worker = ctx.Process(target=_worker_process, args=(engine.address, tuned, ready, stop))
        worker.start()
        ready.wait(30)

        def measure(instances: int, concurrency: int, rate: float) -> tuple[float, list[float]]:
            client = ctx.Process(target=_client_process, args=(engine.address, instances, concurrency, rate, results))
            client.start()
            elapsed, latencies = results.get()
            client.join()
            return elapsed, latencies

        measure(warmup, 20, 0)
        try:
            yield engine, measure
        finally:
            stop.set()
            worker.join(10)
    finally:
        engine.stop()


def run(label: str, *, tuned: bool, instances: int, concurrency: int, rate: float = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp, \
            bench_stack(Path(tmp) / "engine", tuned=tuned, warmup=min(200, instances)) as (_, measure):
        elapsed, latencies = measure(instances, concurrency, rate)
    latencies.sort()
    figures = {
        "label": label,
        "instances": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }
    print(f"{label:<40} {figures['instances']:>6} instances  {figures['per_second']:8.1f}/s  "
          f"p50 {figures['p50_ms']:7.1f} ms  p99 {figures['p99_ms']:7.1f} ms", flush=True)
    return figures


# -- events: timers fired and messages correlated per second ----------------------------------------------------

TIMER_MODEL = bpmn.process("bench-timer", bpmn.start(),
                           '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition><bpmn:timeDuration>'
                           "P90D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
                           bpmn.end(), bpmn.chain("start", "wait", "end"))
MESSAGE_MODEL = bpmn.process("bench-message", bpmn.start(),
                             '<bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m"/>'
                             "</bpmn:intermediateCatchEvent>", bpmn.end(), bpmn.chain("start", "wait", "end"),
                             extra=bpmn.message_def("m", "bench-paid", "=ref"))


async def _concurrently(calls: list, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(call: object) -> None:
        async with limit:
            await call()  # type: ignore[operator]

    await asyncio.gather(*(one(call) for call in calls))


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def timers_per_second(count: int) -> float:
    """Create `count` instances waiting on a P90D timer, then time the one clock move that fires them all."""
    from tests.engine.support import RawGateway

    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine", clock_controlled=True, sync="FULL").start()
        try:
            async def prepare() -> None:
                gateway = RawGateway(engine.address)
                await gateway.deploy(("timer.bpmn", TIMER_MODEL))
                await _concurrently([lambda: gateway.create("bench-timer") for _ in range(count)], 100)
                await gateway.close()

            asyncio.run(prepare())
            started = time.perf_counter()
            engine.clock_add(90 * 24 * 3600_000 + 1000)  # answers once every firing is processed and committed
            elapsed = time.perf_counter() - started
            metrics = engine.metrics()
        finally:
            engine.stop()
    active = _metric(metrics, "zeebe_element_instances_active")
    if active:
        raise RuntimeError(f"{active:g} element instances still active: not every timer fired")
    return count / elapsed


def messages_per_second(count: int) -> float:
    """`count` instances wait at a message catch event; time publishing one message for each."""
    from tests.engine.support import RawGateway

    with tempfile.TemporaryDirectory() as tmp:
        engine = EngineProcess(Path(tmp) / "engine", clock_controlled=True, sync="FULL").start()
        try:
            async def measure() -> float:
                gateway = RawGateway(engine.address)
                await gateway.deploy(("message.bpmn", MESSAGE_MODEL))
                await _concurrently([lambda i=i: gateway.create("bench-message", {"ref": f"r-{i}"})
                                     for i in range(count)], 100)
                started = time.perf_counter()
                await _concurrently([lambda i=i: gateway.publish("bench-paid", f"r-{i}") for i in range(count)], 100)
                elapsed = time.perf_counter() - started
                await gateway.close()
                return elapsed

            elapsed = asyncio.run(measure())
            metrics = engine.metrics()
        finally:
            engine.stop()
    active = _metric(metrics, "zeebe_element_instances_active")
    if active:
        raise RuntimeError(f"{active:g} element instances still active: not every message correlated")
    return count / elapsed


def events(timer_count: int, message_count: int, runs: int, *, timers: bool, messages: bool) -> None:
    if timers:
        figures = [timers_per_second(timer_count) for _ in range(runs)]
        print(f"{'timers fired per second, one clock move':<40} {timer_count:>6} timers    "
              f"{statistics.median(figures):8.1f}/s  (runs: {', '.join(f'{f:.0f}' for f in figures)})", flush=True)
    if messages:
        figures = [messages_per_second(message_count) for _ in range(runs)]
        print(f"{'messages correlated per second':<40} {message_count:>6} messages  "
              f"{statistics.median(figures):8.1f}/s  (runs: {', '.join(f'{f:.0f}' for f in figures)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--rate", type=float, default=500.0, help="the open-loop rate to measure latency at")
    parser.add_argument("--burst", type=int, default=200, help="in-flight instances for the defaults comparison")
    parser.add_argument("--skip-default", action="store_true")
    parser.add_argument("--timers", action="store_true", help="also measure timers fired per second")
    parser.add_argument("--messages", action="store_true", help="also measure messages correlated per second")
    parser.add_argument("--events-only", action="store_true", help="measure only the timer and message figures")
    parser.add_argument("--timer-count", type=int, default=10_000)
    parser.add_argument("--message-count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per event figure (the median is printed)")
    args = parser.parse_args()
    if args.events_only:
        events(args.timer_count, args.message_count, args.runs, timers=True, messages=True)
        return
    print("start → service task → end; create-to-completed measured with CreateProcessInstanceWithResult")
    tuned = run(f"tuned workers, {args.concurrency} in flight", tuned=True, instances=args.instances,
                concurrency=args.concurrency)
    run(f"tuned workers, open loop at {args.rate:g}/s", tuned=True, instances=args.instances, concurrency=0,
        rate=args.rate)
    if not args.skip_default:
        # a backlog deeper than pyzeebe's 32 job slots is where its default 5 s sleep shows
        burst = run(f"tuned workers, {args.burst} in flight", tuned=True, instances=min(args.instances, 2000),
                    concurrency=args.burst)
        default = run(f"pyzeebe defaults, {args.burst} in flight", tuned=False,
                      instances=min(args.instances, 2000), concurrency=args.burst)
        print(f"ratio tuned/default throughput at {args.burst} in flight: "
              f"{burst['per_second'] / default['per_second']:.1f}x")
    del tuned
    if args.timers or args.messages:
        events(args.timer_count, args.message_count, args.runs, timers=args.timers, messages=args.messages)


if __name__ == "__main__":
    main()
