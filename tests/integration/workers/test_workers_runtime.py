"""The workers' shared runtime: domain time for a job, and the back-off of a failing one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pyzeebe import Job

from services.workers.runtime import JobClock, backoff_for
from shared.clock import FixedClock

BEFORE_THE_MOVE = datetime(2025, 6, 28, 2, 0, tzinfo=UTC)
AFTER_THE_MOVE = BEFORE_THE_MOVE + timedelta(days=90)


def job(deadline: datetime, retries: int = 3) -> Job:
    return Job(key=1, type="t", process_instance_key=2, bpmn_process_id="p", process_definition_version=1,
               process_definition_key=3, element_id="e", element_instance_key=4, custom_headers={}, worker="w",
               retries=retries, deadline=int(deadline.timestamp() * 1000), variables={})


async def test_a_job_never_sees_a_time_before_its_own_activation() -> None:
    stale = JobClock(FixedClock(BEFORE_THE_MOVE))  # measured before the engine clock moved by 90 days

    async def in_a_job() -> datetime:
        JobClock.enter(job(AFTER_THE_MOVE + timedelta(seconds=10)), timeout_ms=10_000)
        return stale.now()

    assert await asyncio.create_task(in_a_job()) == AFTER_THE_MOVE
    assert stale.now() == BEFORE_THE_MOVE  # outside that job's task, the measured clock as it is
    ahead = JobClock(FixedClock(AFTER_THE_MOVE + timedelta(days=1)))

    async def later() -> datetime:
        JobClock.enter(job(AFTER_THE_MOVE), timeout_ms=0)
        return ahead.now()

    assert await asyncio.create_task(later()) == AFTER_THE_MOVE + timedelta(days=1)


def test_back_off_doubles_with_the_retries_used_and_is_capped() -> None:
    base = timedelta(seconds=5)
    assert [backoff_for(job(AFTER_THE_MOVE, retries=r), base) for r in (3, 2, 1)] == [
        timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    assert backoff_for(job(AFTER_THE_MOVE, retries=-30), base) == timedelta(hours=1)
