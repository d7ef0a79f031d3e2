"""Timers at scale and across crashes: every timer fires exactly once.

- 10,000 instances wait on a P90D timer; one clock move of 90 days fires each exactly once.
- SIGKILL with timers pending: after the restart none is lost or doubled, and a timer that fell due while
  the engine was down fires on start.
- SIGKILL while a clock move is firing thousands of timers: whatever was committed stays, the rest fires
  after the restart, each once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest

from tests.engine import bpmn
from tests.engine import bpmn_more as more
from tests.engine.support import RawGateway
from tests.fixtures.engine import EngineProcess, eventually

DAY = 24 * 3600_000

pytestmark = pytest.mark.slow


def waiting_model(pid: str, duration: str) -> bytes:
    return bpmn.process(pid, bpmn.start(), more.catch_event("wait", more.timer("duration", duration)), bpmn.end(),
                        bpmn.chain("start", "wait", "end"))


async def create_many(gateway: RawGateway, pid: str, count: int, concurrency: int = 100) -> list[int]:
    """Instances created by concurrent gRPC calls on one channel."""
    limit = asyncio.Semaphore(concurrency)

    async def one() -> int:
        async with limit:
            return await gateway.create(pid)

    return list(await asyncio.gather(*(one() for _ in range(count))))


class Counts:
    """Counts over the committed record log, in SQL (the log holds a few hundred thousand records here)."""

    def __init__(self, engine: EngineProcess) -> None:
        self.path = Path(engine.data_dir) / "engine.sqlite3"

    def _query(self, sql: str, params: Iterable[object] = ()) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, list(params)).fetchall()
        finally:
            conn.close()

    def per_instance(self, value_type: str, intent: str, pid: str, *, element_type: str | None = None) -> dict[int, int]:
        """processInstanceKey -> how many records of this kind the instance has."""
        sql = ("SELECT json_extract(CAST(value AS TEXT), '$.processInstanceKey'), COUNT(*) FROM records "
               "WHERE value_type = ? AND intent = ?")
        params: list[object] = [value_type, intent]
        if element_type is not None:
            sql += " AND json_extract(CAST(value AS TEXT), '$.bpmnElementType') = ?"
            params.append(element_type)
        rows = self._query(sql + " GROUP BY 1", params)
        keys = set(self.instances(pid))
        return {key: n for key, n in rows if key in keys}

    def instances(self, pid: str) -> list[int]:
        return [k for (k,) in self._query(
            "SELECT record_key FROM records WHERE value_type = 'PROCESS_INSTANCE' AND intent = 'ELEMENT_ACTIVATING' "
            "AND json_extract(CAST(value AS TEXT), '$.bpmnElementType') = 'PROCESS' "
            "AND json_extract(CAST(value AS TEXT), '$.bpmnProcessId') = ?", [pid])]

    def timers_triggered(self, pid: str) -> dict[int, int]:
        return self.per_instance("TIMER", "TRIGGERED", pid)

    def timers_created(self, pid: str) -> dict[int, int]:
        return self.per_instance("TIMER", "CREATED", pid)

    def completed(self, pid: str) -> dict[int, int]:
        return self.per_instance("PROCESS_INSTANCE", "ELEMENT_COMPLETED", pid, element_type="PROCESS")

    def duplicate_trigger_keys(self) -> int:
        (row,) = self._query("SELECT COUNT(*) - COUNT(DISTINCT record_key) FROM records "
                             "WHERE value_type = 'TIMER' AND intent = 'TRIGGERED'")
        return row[0]


async def test_ten_thousand_instances_pass_a_p90d_timer_exactly_once(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(engine.address)
    counts = Counts(engine)
    try:
        await gateway.deploy(("quarter.bpmn", waiting_model("quarter", "P90D")))
        keys = await create_many(gateway, "quarter", 10_000)
        assert len(set(keys)) == 10_000
        assert counts.timers_created("quarter") == dict.fromkeys(keys, 1)
        engine.clock_add(89 * DAY)
        assert counts.timers_triggered("quarter") == {}
        engine.clock_add(DAY + 1000)  # the answer comes once everything due is processed and committed
        assert counts.timers_triggered("quarter") == dict.fromkeys(keys, 1)
        assert counts.completed("quarter") == dict.fromkeys(keys, 1)
        assert counts.duplicate_trigger_keys() == 0
        engine.clock_add(365 * DAY)
        assert counts.timers_triggered("quarter") == dict.fromkeys(keys, 1)
        assert "zeebe_element_instances_active 0" in engine.metrics()
    finally:
        await gateway.close()
        engine.stop()


async def test_sigkill_with_timers_pending_loses_none_and_doubles_none(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine", sync="FULL").start()
    counts = Counts(engine)
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("early.bpmn", waiting_model("early", "PT1H")),
                             ("short.bpmn", waiting_model("short", "PT3S")),
                             ("long.bpmn", waiting_model("long", "P1D")),
                             ("ticking.bpmn", bpmn.process(
                                 "ticking", more.start_event("tick", more.timer("cycle", "R3/PT1H")), bpmn.end(),
                                 bpmn.chain("tick", "end"))))
        early = await create_many(gateway, "early", 200)
        engine.clock_add(3600_000 + 1000)  # fires the early ones (and the first tick) before the crash
        assert counts.timers_triggered("early") == dict.fromkeys(early, 1)
        short = await create_many(gateway, "short", 200)  # due 3 s from now: they fall due while down
        long = await create_many(gateway, "long", 200)
        await gateway.close()
        engine.kill()
        time.sleep(4)
        assert counts.timers_triggered("short") == {}
        engine.start()  # the short ones fire on start
        gateway = RawGateway(engine.address)
        assert await eventually(lambda: len(counts.completed("short")) == 200, timeout=30)
        assert counts.timers_triggered("short") == dict.fromkeys(short, 1)
        assert counts.timers_triggered("long") == {}
        engine.clock_add(DAY)
        engine.clock_add(DAY)
        assert counts.timers_triggered("long") == dict.fromkeys(long, 1)
        assert counts.completed("long") == dict.fromkeys(long, 1)
        assert counts.timers_triggered("early") == dict.fromkeys(early, 1)
        assert counts.completed("early") == dict.fromkeys(early, 1)
        # the start event's cycle: three repetitions in all, across the crash
        assert len(counts.instances("ticking")) == 3
        assert counts.duplicate_trigger_keys() == 0
    finally:
        await gateway.close()
        engine.stop()


async def test_sigkill_during_a_clock_move_fires_each_timer_once_overall(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine", sync="FULL").start()
    counts = Counts(engine)
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("batch.bpmn", waiting_model("batch", "P7D")))
        keys = await create_many(gateway, "batch", 3000)
        await gateway.close()

        def move() -> None:
            try:
                engine.clock_add(8 * DAY)
            except httpx.HTTPError:
                pass  # the engine died under it

        mover = threading.Thread(target=move)
        mover.start()
        time.sleep(0.3)
        engine.kill()
        mover.join()
        fired_before = counts.timers_triggered("batch")
        assert all(n == 1 for n in fired_before.values())
        engine.start()
        gateway = RawGateway(engine.address)
        engine.clock_add(8 * DAY)  # whatever the crash took back falls due again now
        assert counts.timers_triggered("batch") == dict.fromkeys(keys, 1)
        assert counts.completed("batch") == dict.fromkeys(keys, 1)
        assert counts.duplicate_trigger_keys() == 0
    finally:
        await gateway.close()
        engine.stop()
