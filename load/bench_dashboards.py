"""What each dashboard costs to compute on a seeded city, called directly against the documents store.

    .venv/bin/python load/bench_dashboards.py [--projects 10000] [--runs 5] [--data-dir DIR]

Seeds a SQLite documents store with load/gateway_seed.py the way load/gateway_stack.py does (the same
data-dir layout and marker, so either script reuses a store the other seeded; about a minute for 10,000
projects), then times every function of gateway/dashboards/service.py over the gateway's default period
(this year), once to warm SQLite's cache and then ``--runs`` times. Prints the median, the fastest and
slowest run, and how many reads each computation asks of the store (driver get/find/count calls; a
batched scan counts once per batch of 500). No Redis, engine or HTTP: the figure is what a reader waits for
when the cache has to recompute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.common import year_period  # noqa: E402
from gateway.context import Services  # noqa: E402
from gateway.dashboards import service  # noqa: E402
from load.gateway_stack import prepare  # noqa: E402
from shared.clock import Clock, SystemClock  # noqa: E402
from shared.documents import DocumentStore, open_store  # noqa: E402
from shared.documents.models import Period  # noqa: E402

READS = ("get", "find", "count")


@dataclass
class _Readers:
    """The part of the gateway's Services the dashboard functions use: the store and the clock."""

    store: DocumentStore
    clock: Clock


def _count_reads(store: DocumentStore) -> Counter[str]:
    """Count the driver's read calls on this store instance (a bench's probe, not a code path)."""
    calls: Counter[str] = Counter()
    driver = store.driver
    for name in READS:
        original = getattr(driver, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(driver, name, counted)
    return calls


async def _time(compute: Callable[[], Awaitable[object]], runs: int, calls: Counter[str]) -> tuple[list[float], int]:
    await compute()  # warm-up: SQLite's page cache, imports, pydantic's validators
    calls.clear()
    await compute()
    reads = sum(calls.values())
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        await compute()
        seconds.append(time.perf_counter() - started)
    return seconds, reads


async def bench(documents_url: str, runs: int) -> None:
    store = await open_store(documents_url)
    try:
        calls = _count_reads(store)
        clock = SystemClock()
        services = cast(Services, _Readers(store=store, clock=clock))
        period: Period = year_period(clock.now())
        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "summary": lambda: service.summary(services, period),
            "problem_analysis": lambda: service.problem_analysis(services, period),
            "horse_race": lambda: service.horse_race(services, period),
        }
        print(f"period {period.start.isoformat()} .. {period.end.isoformat()}, {runs} runs each")
        print(f"{'dashboard':<18} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'reads':>6}")
        for name, compute in cases.items():
            seconds, reads = await _time(compute, runs, calls)
            print(f"{name:<18} {statistics.median(seconds) * 1000:>10.1f} {min(seconds) * 1000:>8.1f} "
                  f"{max(seconds) * 1000:>8.1f} {reads:>6}")
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="keep the seeded store here and reuse it next time "
                                                      "(a gateway_stack.py --data-dir works too)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    holder = None if args.data_dir else tempfile.TemporaryDirectory(prefix="qly-bench-dashboards-")
    base = args.data_dir or Path(holder.name)  # type: ignore[union-attr]
    base.mkdir(parents=True, exist_ok=True)
    try:
        documents_url = f"sqlite:///{base / 'documents.sqlite3'}"
        prepare(documents_url, args.projects, base / f"seeded-{args.projects}.txt")
        asyncio.run(bench(documents_url, args.runs))
    finally:
        if holder is not None:
            holder.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
