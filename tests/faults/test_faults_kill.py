"""kill -9 each service in turn under load, start it again, and check that nothing was lost or doubled."""

from __future__ import annotations

import asyncio

import pytest

from shared.documents import DocumentStore
from tests.faults.platform import Platform, Reporters, check_invariants, settle


@pytest.mark.parametrize("victim", ["engine", "workers", "gateway"])
async def test_a_service_killed_under_load_loses_and_doubles_nothing(
        platform: Platform, store: DocumentStore, victim: str) -> None:
    reporters = Reporters(platform)
    reporters.start()
    await asyncio.sleep(4)
    proc = getattr(platform, victim)
    proc.kill()
    await asyncio.sleep(1.5)
    await proc.start()
    await asyncio.sleep(4)
    await reporters.stop_and_drain()
    # jobs a dead worker held time out, and notification leases it held run out, after a minute of engine time
    await platform.clock_add(120_000)
    await settle(platform, store, set(reporters.attempted))
    figures = await check_invariants(platform, store, reporters)
    print(victim, figures, dict(reporters.refusals))
    assert figures["problems"] >= 40
    assert proc.starts == 2
