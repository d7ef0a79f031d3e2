"""Events and structure driven the way applications drive them: pyzeebe workers and the pyzeebe client.

A supervision workflow in miniature: an approval waits for a message with a deadline timer, a worker's
business error is caught, a signal reaches every waiting instance, a call activity and a multi-instance
fan out, and a real one-second timer fires on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.errors import BusinessError

from tests.engine import bpmn
from tests.engine import bpmn_more as more
from tests.engine.scenario import Log, module_engine, unique
from tests.fixtures.engine import EngineProcess, eventually

HOUR = 3600_000

engine = module_engine()


@pytest.fixture
def log(engine: EngineProcess) -> Log:
    return Log(engine)


@pytest.fixture
async def worker(engine: EngineProcess) -> AsyncIterator[ZeebeWorker]:
    channel = create_insecure_channel(grpc_address=engine.address)
    zeebe_worker = ZeebeWorker(channel, name="events-worker", poll_retry_delay=0, request_timeout=1000)
    yield zeebe_worker
    await zeebe_worker.stop()
    await channel.close()


def run(worker: ZeebeWorker) -> asyncio.Task[None]:
    return asyncio.create_task(worker.work())


async def stop(worker: ZeebeWorker, task: asyncio.Task[None]) -> None:
    await worker.stop()
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):
        pass


async def deploy(zeebe: ZeebeClient, tmp_path: Path, pid: str, model: bytes) -> None:
    path = tmp_path / f"{pid}.bpmn"
    path.write_bytes(model)
    await zeebe.deploy_resource(str(path))


async def test_approval_by_message_or_reminder_by_timer(engine: EngineProcess, zeebe: ZeebeClient,
                                                        worker: ZeebeWorker, tmp_path: Path, log: Log) -> None:
    pid, name = unique("approval"), unique("approved")
    model = bpmn.process(
        pid, bpmn.start(), more.receive_task("await", "m"),
        more.boundary_event("remind", "await", more.timer("cycle", "R2/P1D"), interrupting=False),
        more.boundary_event("expire", "await", more.timer("duration", "P7D")),
        bpmn.service("notify", f"{pid}-notify"), bpmn.service("record", f"{pid}-record"), bpmn.end("reminded"),
        bpmn.end("approved_end"), bpmn.end("expired_end"),
        bpmn.chain("start", "await", "record", "approved_end"), bpmn.chain("remind", "notify", "reminded"),
        bpmn.chain("expire", "expired_end"),
        extra=bpmn.message_def("m", name, "=projectId"))
    await deploy(zeebe, tmp_path, pid, model)
    notified: list[str] = []
    recorded: list[dict[str, Any]] = []

    @worker.task(task_type=f"{pid}-notify")
    async def notify(projectId: str) -> dict[str, Any]:
        notified.append(projectId)
        return {}

    @worker.task(task_type=f"{pid}-record")
    async def record(projectId: str, decision: str) -> dict[str, Any]:
        recorded.append({"project": projectId, "decision": decision})
        return {"recorded": True}

    task = run(worker)
    try:
        approved = (await zeebe.run_process(pid, {"projectId": "P-1"})).process_instance_key
        expired = (await zeebe.run_process(pid, {"projectId": "P-2"})).process_instance_key
        engine.clock_add(HOUR * 25)  # one reminder each
        assert await eventually(lambda: sorted(notified) == ["P-1", "P-2"])
        await zeebe.publish_message(name, "P-1", {"decision": "approved"}, time_to_live_in_milliseconds=0)
        assert await eventually(lambda: log.instance_state(approved) == "ELEMENT_COMPLETED")
        assert recorded == [{"project": "P-1", "decision": "approved"}]
        engine.clock_add(HOUR * 24 * 7)  # the second reminder and then the expiry for P-2 only
        assert await eventually(lambda: log.instance_state(expired) == "ELEMENT_COMPLETED")
        assert await eventually(lambda: notified.count("P-2") == 2)
        assert notified.count("P-1") == 1
        completed = log.completed_elements(expired)
        assert "expired_end" in completed and "approved_end" not in completed and completed[-1] == pid
    finally:
        await stop(worker, task)


async def test_business_error_from_a_pyzeebe_worker_is_caught(zeebe: ZeebeClient, worker: ZeebeWorker,
                                                               tmp_path: Path, log: Log) -> None:
    pid = unique("inspect")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("inspect", f"{pid}-inspect"),
        more.boundary_event("violation", "inspect", more.error("err_V")), bpmn.service("rectify", f"{pid}-rectify"),
        bpmn.end(), bpmn.end("rectified"),
        bpmn.chain("start", "inspect", "end"), bpmn.chain("violation", "rectify", "rectified"),
        extra=more.error_def("err_V", "SITE_VIOLATION"))
    await deploy(zeebe, tmp_path, pid, model)
    rectified: list[str] = []

    @worker.task(task_type=f"{pid}-inspect")
    async def inspect(site: str) -> dict[str, Any]:
        if site == "B":
            raise BusinessError("SITE_VIOLATION", "dust screen missing")
        return {"passed": True}

    @worker.task(task_type=f"{pid}-rectify")
    async def rectify(site: str) -> dict[str, Any]:
        rectified.append(site)
        return {}

    task = run(worker)
    try:
        good = (await zeebe.run_process(pid, {"site": "A"})).process_instance_key
        bad = (await zeebe.run_process(pid, {"site": "B"})).process_instance_key
        assert await eventually(lambda: log.instance_state(good) == "ELEMENT_COMPLETED"
                                and log.instance_state(bad) == "ELEMENT_COMPLETED")
        assert rectified == ["B"]
        assert "rectified" in log.completed_elements(bad) and "end" in log.completed_elements(good)
    finally:
        await stop(worker, task)


async def test_signal_from_pyzeebe_reaches_every_waiting_instance(zeebe: ZeebeClient, tmp_path: Path,
                                                                  log: Log) -> None:
    pid, name = unique("halt"), unique("regulation-changed")
    model = bpmn.process(pid, bpmn.start(), more.catch_event("wait", more.signal("s")), bpmn.end(),
                         bpmn.chain("start", "wait", "end"), extra=bpmn.signal_def("s", name))
    await deploy(zeebe, tmp_path, pid, model)
    keys = [(await zeebe.run_process(pid)).process_instance_key for _ in range(5)]
    await zeebe.broadcast_signal(name, {"rule": "GB-2026"})
    for key in keys:
        assert log.instance_state(key) == "ELEMENT_COMPLETED"
        assert log.variables(key)["rule"] == "GB-2026"


async def test_call_activity_and_multi_instance_with_pyzeebe_workers(zeebe: ZeebeClient, worker: ZeebeWorker,
                                                                     tmp_path: Path, log: Log) -> None:
    parent, child = unique("portfolio"), unique("appraise")
    await deploy(zeebe, tmp_path, child, bpmn.process(
        child, bpmn.start(), bpmn.service("score", f"{child}-score"), bpmn.end(), bpmn.chain("start", "score", "end")))
    loop = bpmn.multi_instance("=projects", "project", output_collection="scores", output_element="=score")
    await deploy(zeebe, tmp_path, parent, bpmn.process(
        parent, bpmn.start(), more.call("each", child, outputs={"score": "=score"}, loop=loop), bpmn.end(),
        bpmn.chain("start", "each", "end")))

    @worker.task(task_type=f"{child}-score")
    async def score(project: dict[str, Any]) -> dict[str, Any]:
        return {"score": project["budget"] // 10}

    task = run(worker)
    try:
        result = await zeebe.run_process_with_result(
            parent, {"projects": [{"budget": 100}, {"budget": 250}, {"budget": 30}]}, timeout=20_000)
        assert result.variables["scores"] == [10, 25, 3]
        assert "score" not in result.variables
    finally:
        await stop(worker, task)


async def test_real_one_second_timer_with_pyzeebe(zeebe: ZeebeClient, tmp_path: Path, log: Log) -> None:
    pid = unique("cool-down")
    await deploy(zeebe, tmp_path, pid, bpmn.process(
        pid, bpmn.start(), more.catch_event("pause", more.timer("duration", "PT1S")), bpmn.end(),
        bpmn.chain("start", "pause", "end")))
    result = await zeebe.run_process_with_result(pid, {"n": 1}, timeout=15_000)
    assert result.variables == {"n": 1}
    key = result.process_instance_key
    assert [r["intent"] for r in log.records("TIMER", processInstanceKey=key)] == ["CREATED", "TRIGGERED"]
