"""The workers' shared runtime: domain time for a job, the back-off of a failing one, how failures reach
the engine."""

# No "from __future__ import annotations": pyzeebe finds a task's job parameter by its evaluated annotation.

import asyncio
from datetime import UTC, datetime, timedelta

from pyzeebe import Job

from services.workers.runtime import JobClock, backoff_for
from shared.clock import FixedClock
from tests.fixtures.engine import EngineProcess

BEFORE_THE_MOVE = datetime(2025, 6, 28, 2, 0, tzinfo=UTC)
AFTER_THE_MOVE = BEFORE_THE_MOVE + timedelta(days=90)


def job(deadline: datetime, retries: int = 3) -> Job:
    return Job(key=1, type="t", process_instance_key=2, bpmn_process_id="p", process_definition_version=1,
               process_definition_key=3, element_id="e", element_instance_key=4, custom_headers={}, worker="w",
               retries=retries, deadline=int(deadline.timestamp() * 1000), variables={})


async def test_a_job_sees_the_engine_time_it_was_handed_out_at() -> None:
    stale = JobClock(FixedClock(BEFORE_THE_MOVE))  # measured before the engine clock moved by 90 days

    async def in_a_job(clock: JobClock, deadline: datetime, timeout_ms: int) -> datetime:
        JobClock.enter(job(deadline), timeout_ms=timeout_ms)
        return clock.now()

    assert await asyncio.create_task(in_a_job(stale, AFTER_THE_MOVE + timedelta(seconds=10), 10_000)) \
        == AFTER_THE_MOVE
    assert stale.now() == BEFORE_THE_MOVE  # outside that job's task, the base clock as it is
    # a base clock that drifted ahead of a pinned engine clock does not leak into jobs either
    drifted = JobClock(FixedClock(AFTER_THE_MOVE + timedelta(seconds=3)))
    assert await asyncio.create_task(in_a_job(drifted, AFTER_THE_MOVE, 0)) == AFTER_THE_MOVE


def test_back_off_doubles_with_the_retries_used_and_is_capped() -> None:
    base = timedelta(seconds=5)
    assert [backoff_for(job(AFTER_THE_MOVE, retries=r), base) for r in (3, 2, 1)] == [
        timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    assert backoff_for(job(AFTER_THE_MOVE, retries=-30), base) == timedelta(hours=1)


async def test_failures_through_the_engine(engine: EngineProcess) -> None:
    """PermanentFailure → an incident at once; RetryLater(keep_retries) → handed out again, retries intact;
    BusinessError → thrown for the model."""
    from pyzeebe import ZeebeTaskRouter, ZeebeWorker, create_insecure_channel
    from pyzeebe.errors import BusinessError

    from services.demo.runtime import Clock
    from services.workers.runtime import PermanentFailure, RetryLater, handle_exception
    from tests.engine import bpmn
    from tests.engine.support import RawGateway, RecordLog
    from tests.fixtures.engine import eventually

    attempts: list[int] = []
    router = ZeebeTaskRouter()

    @router.task(task_type="flaky")
    async def flaky(job: Job) -> dict[str, int]:
        attempts.append(job.retries)
        if len(attempts) == 1:
            raise RetryLater("not yet", timedelta(seconds=30), keep_retries=True)
        return {"attempts": len(attempts)}

    @router.task(task_type="broken")
    async def broken() -> dict[str, int]:
        raise PermanentFailure("rules.stallWarningAfter: bad")

    @router.task(task_type="refused")
    async def refused() -> dict[str, int]:
        raise BusinessError("NO_UNIT_MATCH", "nobody")

    gateway = RawGateway(engine.address)
    channel = create_insecure_channel(grpc_address=engine.address)
    worker = ZeebeWorker(channel, exception_handler=handle_exception, max_connection_retries=-1)
    worker.include_router(router)
    clock = Clock(engine.management_url)
    task = asyncio.create_task(worker.work())
    try:
        await gateway.deploy(("f.bpmn", bpmn.simple("f", "flaky", retries=1)),
                             ("b.bpmn", bpmn.simple("b", "broken", retries=5)),
                             ("r.bpmn", bpmn.process("r", bpmn.start(), bpmn.service("task", "refused"),
                                                     bpmn.boundary("caught", "task", bpmn.error_event()),
                                                     bpmn.end(), bpmn.end("handled"),
                                                     bpmn.chain("start", "task", "end"),
                                                     bpmn.flow("f_caught", "caught", "handled"))))
        flaky_key = await gateway.create("f")
        broken_key = await gateway.create("b")
        refused_key = await gateway.create("r")
        log = RecordLog(engine)
        assert await eventually(lambda: log.records("JOB", "FAILED", type="flaky"))
        await clock.add(60_000)  # past the back-off
        assert await eventually(lambda: log.instance_state(flaky_key) == "ELEMENT_COMPLETED")
        assert attempts == [1, 1]  # the retry was not spent
        [incident] = await eventually(lambda: log.incidents(broken_key))
        assert "rules.stallWarningAfter" in incident["value"]["errorMessage"]
        assert len(log.records("JOB", "FAILED", type="broken")) == 1  # at once, not after five tries
        assert await eventually(lambda: "handled" in log.completed_elements(refused_key))
    finally:
        await worker.stop()
        task.cancel()
        await gateway.close()
        await clock.aclose()
        await channel.close()
