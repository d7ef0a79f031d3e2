"""The engine core through pyzeebe: deploy, run instances with workers, results, retries and incidents."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess, eventually


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


class Workers:
    """pyzeebe workers in background tasks, tuned so a test doesn't wait on pyzeebe's own sleeps."""

    def __init__(self, address: str) -> None:
        self.channel = create_insecure_channel(grpc_address=address)
        self.worker = ZeebeWorker(self.channel, name="test-worker", poll_retry_delay=0, request_timeout=2000)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.worker.work())

    async def stop(self) -> None:
        await self.worker.stop()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass
        await self.channel.close()


@pytest.fixture
async def workers(engine: EngineProcess):
    workers = Workers(engine.address)
    try:
        yield workers
    finally:
        await workers.stop()


async def test_worker_completes_job_and_instance_completes(tmp_path: Path, zeebe: ZeebeClient, workers: Workers,
                                                           log: RecordLog) -> None:
    deployed = await zeebe.deploy_resource(write(tmp_path, "order.bpmn", bpmn.simple("order", "collect")))
    assert deployed.deployments[0].bpmn_process_id == "order"
    assert deployed.deployments[0].version == 1
    seen: list[dict[str, Any]] = []

    @workers.worker.task(task_type="collect")
    async def collect(amount: float) -> dict[str, Any]:
        # pyzeebe fetches exactly the variables its parameters name
        seen.append({"amount": amount})
        return {"paid": True}

    workers.start()
    key = (await zeebe.run_process("order", {"amount": 12.5})).process_instance_key
    assert await eventually(lambda: log.instance_state(key) == "ELEMENT_COMPLETED")
    assert seen == [{"amount": 12.5}]
    assert log.variables(key) == {"amount": 12.5, "paid": True}
    assert log.completed_elements(key) == ["start", "task", "end", "order"]


async def test_run_process_with_result_returns_output_variables(tmp_path: Path, zeebe: ZeebeClient,
                                                                workers: Workers) -> None:
    await zeebe.deploy_resource(write(tmp_path, "calc.bpmn", bpmn.simple(
        "calc", "double", outputs={"result": "=value * 2"})))

    @workers.worker.task(task_type="double")
    async def double(x: int) -> dict[str, Any]:
        return {"value": x + 1}

    workers.start()
    result = await zeebe.run_process_with_result("calc", {"x": 20}, timeout=10_000)
    assert result.variables["result"] == 42
    assert result.variables["x"] == 20
    # only the asked-for variables come back when the client names them
    only = await zeebe.run_process_with_result("calc", {"x": 1}, timeout=10_000, variables_to_fetch=["result"])
    assert only.variables == {"result": 4}


async def test_redeploying_unchanged_resource_keeps_version(tmp_path: Path, zeebe: ZeebeClient) -> None:
    first = await zeebe.deploy_resource(write(tmp_path, "p.bpmn", bpmn.simple("p", "a")))
    again = await zeebe.deploy_resource(write(tmp_path, "p.bpmn", bpmn.simple("p", "a")))
    changed = await zeebe.deploy_resource(write(tmp_path, "p.bpmn", bpmn.simple("p", "b")))
    assert first.deployments[0].version == again.deployments[0].version == 1
    assert first.deployments[0].process_definition_key == again.deployments[0].process_definition_key
    assert changed.deployments[0].version == 2
    assert changed.deployments[0].process_definition_key != first.deployments[0].process_definition_key


async def test_several_resources_in_one_deployment(gateway: RawGateway) -> None:
    response = await gateway.deploy(("a.bpmn", bpmn.simple("a", "x")), ("b.bpmn", bpmn.simple("b", "y")))
    assert sorted(d.process.bpmnProcessId for d in response.deployments) == ["a", "b"]
    assert {d.process.version for d in response.deployments} == {1}


async def test_create_by_version_and_by_key(gateway: RawGateway, log: RecordLog) -> None:
    v1 = (await gateway.deploy(("v.bpmn", bpmn.simple("v", "one")))).deployments[0].process
    v2 = (await gateway.deploy(("v.bpmn", bpmn.simple("v", "two")))).deployments[0].process
    assert (v1.version, v2.version) == (1, 2)
    latest = await gateway.create("v")
    first = await gateway.create("v", version=1)
    response = await gateway.stub.CreateProcessInstance(
        __import__("pyzeebe.proto.gateway_pb2", fromlist=["x"]).CreateProcessInstanceRequest(
            processDefinitionKey=v1.processDefinitionKey))
    by_key = response.processInstanceKey
    jobs_two = await gateway.activate("two")
    jobs_one = await gateway.activate("one")
    assert [j.processInstanceKey for j in jobs_two] == [latest]
    assert sorted(j.processInstanceKey for j in jobs_one) == sorted([first, by_key])
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.create("v", version=7)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "process ID 'v' and version '7'" in error.value.details()


async def test_fail_job_walks_retries_down_to_an_incident_and_recovers(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("r.bpmn", bpmn.simple("r", "flaky", retries=2)))
    key = await gateway.create("r")
    job = (await gateway.activate("flaky"))[0]
    assert job.retries == 2
    await gateway.fail(job.key, retries=1, message="first try")
    job = (await gateway.activate("flaky"))[0]
    assert job.retries == 1
    await gateway.fail(job.key, retries=0, message="database down")
    assert await gateway.activate("flaky") == []
    incidents = log.open_incidents(key)
    assert len(incidents) == 1
    assert incidents[0]["value"]["errorType"] == "JOB_NO_RETRIES"
    assert incidents[0]["value"]["errorMessage"] == "database down"
    assert incidents[0]["value"]["jobKey"] == job.key
    # completing a failed job is refused: it waits for the incident
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await gateway.complete(job.key)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await gateway.update_retries(job.key, 3)
    await gateway.resolve(incidents[0]["key"])
    assert log.open_incidents(key) == []
    job = (await gateway.activate("flaky"))[0]
    assert job.retries == 3
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_retry_backoff_delays_the_job_until_the_clock_passes_it(engine: EngineProcess, gateway: RawGateway) -> None:
    await gateway.deploy(("b.bpmn", bpmn.simple("b", "later")))
    await gateway.create("b")
    job = (await gateway.activate("later"))[0]
    await gateway.fail(job.key, retries=2, backoff=60_000)
    assert await gateway.activate("later") == []
    engine.clock_add(61_000)
    again = await gateway.activate("later")
    assert [j.key for j in again] == [job.key]


async def test_expired_job_is_handed_to_another_worker(gateway: RawGateway, log: RecordLog) -> None:
    """A worker that goes quiet loses its job at the deadline (real time, a one-second timeout)."""
    await gateway.deploy(("t.bpmn", bpmn.simple("t", "slow")))
    key = await gateway.create("t")
    first = (await gateway.activate("slow", worker="quiet", timeout=1000))[0]
    assert first.worker == "quiet"
    # nothing else may take it before its deadline; long polling returns it once it times out
    second = await gateway.activate("slow", worker="second", request_timeout=10_000, timeout=60_000)
    assert [j.key for j in second] == [first.key]
    assert second[0].worker == "second"
    assert log.records("JOB", "TIMED_OUT", elementInstanceKey=first.elementInstanceKey)
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.complete(first.key + 10_000)
    await gateway.complete(first.key, {"by": "second"})
    assert log.variables(key)["by"] == "second"


async def test_job_past_its_deadline_after_the_clock_moves_goes_to_another_worker(
        engine: EngineProcess, gateway: RawGateway) -> None:
    await gateway.deploy(("d.bpmn", bpmn.simple("d", "long")))
    await gateway.create("d")
    first = (await gateway.activate("long", worker="a", timeout=5 * 60_000))[0]
    assert await gateway.activate("long", worker="b") == []
    engine.clock_add(5 * 60_000 + 1)
    taken = await gateway.activate("long", worker="b")
    assert [j.key for j in taken] == [first.key]
    assert taken[0].worker == "b"


async def test_completing_a_job_twice_answers_not_found(gateway: RawGateway) -> None:
    await gateway.deploy(("c.bpmn", bpmn.simple("c", "once")))
    await gateway.create("c")
    job = (await gateway.activate("once"))[0]
    await gateway.complete(job.key)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.complete(job.key)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"Expected to complete job with key '{job.key}', but no such job was found" in error.value.details()


async def test_activated_job_carries_headers_and_variables_as_json(gateway: RawGateway) -> None:
    import json

    await gateway.deploy(("h.bpmn", bpmn.simple("h", "hdr", headers={"channel": "sms", "lang": "zh"}))),
    await gateway.deploy(("e.bpmn", bpmn.simple("e", "plain")))
    await gateway.create("h", {"a": 1, "b": {"c": [1, 2]}, "s": "淮安"})
    await gateway.create("e")
    job = (await gateway.activate("hdr"))[0]
    assert json.loads(job.customHeaders) == {"channel": "sms", "lang": "zh"}
    assert json.loads(job.variables) == {"a": 1, "b": {"c": [1, 2]}, "s": "淮安"}
    plain = (await gateway.activate("plain"))[0]
    assert plain.customHeaders == "{}" and plain.variables == "{}"
    fetched = await gateway.activate("hdr", fetch=["s"])
    assert fetched == []  # already activated
    await gateway.create("h", {"a": 2, "s": "x", "zzz": 1})
    only = (await gateway.activate("hdr", fetch=["s", "missing"]))[0]
    assert json.loads(only.variables) == {"s": "x"}
    assert only.bpmnProcessId == "h" and only.elementId == "task" and only.processDefinitionVersion == 1
