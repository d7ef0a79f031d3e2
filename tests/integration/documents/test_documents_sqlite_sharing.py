"""SQLite only: the gateway and the workers open the same file from different processes.

Two stores on one file have separate connections and separate in-process locks, as two processes do;
SQLite's own locking (BEGIN IMMEDIATE with a busy timeout) must keep their units of work apart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from shared.documents import ClaimConflict, open_store
from tests.fixtures.domain import ADMIN, SYSTEM, new_task


async def test_two_stores_on_one_file_claim_exclusively_and_see_each_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    gateway, worker = await open_store(url), await open_store(url)
    try:
        await worker.tasks.insert(new_task(5), actor=SYSTEM)
        assert (await gateway.tasks.get(5)) is not None  # committed by one, visible to the other
        results = await asyncio.gather(
            *[(gateway if i % 2 else worker).tasks.claim(5, f"user{i}", actor=ADMIN) for i in range(6)],
            return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(r, ClaimConflict) for r in results if isinstance(r, BaseException))
        assert (await worker.tasks.get(5)).assignee == winners[0].assignee  # type: ignore[union-attr]
    finally:
        await gateway.close()
        await worker.close()
