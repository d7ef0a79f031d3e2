"""DeleteResource, as docs.camunda.io describes resource deletion (8.6): process definitions (the previous version
becomes the latest and takes its start events back; running instances forbid it), decision requirements graphs with
their decisions, forms; versions are never given twice; rejections change nothing; a restart keeps it all."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from tests.engine import bpmn
from tests.engine import bpmn_more as more
from tests.engine.scenario import Log, module_engine, unique
from tests.engine.support import RawGateway
from tests.fixtures.engine import EngineProcess

HOUR = 3600_000
DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"

engine = module_engine()


@pytest.fixture
def log(engine: EngineProcess) -> Log:
    return Log(engine)


async def deploy_versions(gateway: RawGateway, pid: str, *models: bytes) -> list[int]:
    keys = []
    for model in models:
        response = await gateway.deploy((f"{pid}.bpmn", model))
        keys.append(response.deployments[0].process.processDefinitionKey)
    return keys


def task_model(pid: str, job_type: str) -> bytes:
    return bpmn.process(pid, bpmn.start(), bpmn.service("task", job_type), bpmn.end(), bpmn.chain("start", "task", "end"))


async def delete(gateway: RawGateway, key: int) -> None:
    await gateway.stub.DeleteResource(pb.DeleteResourceRequest(resourceKey=key))


async def rejected(gateway: RawGateway, key: int) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await delete(gateway, key)
    return error.value


def last_position(log: Log) -> int:
    records = log.records()
    return records[-1]["position"] if records else 0


async def test_deleting_the_latest_version_makes_the_previous_one_latest_and_its_number_is_not_given_again(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("versions")
    v1, v2 = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-one"), task_model(pid, f"{pid}-two"))
    await delete(gateway, v2)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(processDefinitionKey=v2))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.create(pid, version=2)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    key = await gateway.create(pid)  # the latest is version 1 again
    (job,) = await gateway.activate(f"{pid}-one")
    assert job.processDefinitionKey == v1 and job.processInstanceKey == key and job.processDefinitionVersion == 1
    await gateway.complete(job.key)
    # the records: the command, the resource deletion around the process's DELETING / DELETED
    trail = [(r["valueType"], r["intent"]) for r in log.records()
             if r["value"].get("resourceKey") == v2
             or (r["valueType"] == "PROCESS" and r["value"].get("processDefinitionKey") == v2)]
    assert trail == [("PROCESS", "CREATED"), ("RESOURCE_DELETION", "DELETE"), ("RESOURCE_DELETION", "DELETING"),
                     ("PROCESS", "DELETING"), ("PROCESS", "DELETED"), ("RESOURCE_DELETION", "DELETED")]
    (deleted,) = log.records("PROCESS", "DELETED", processDefinitionKey=v2)
    assert (deleted["value"]["bpmnProcessId"], deleted["value"]["version"]) == (pid, 2)
    # deploying again continues after the deleted version
    (v3,) = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-three"))
    response = await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId=pid,
                                                                                        version=-1))
    assert response.processDefinitionKey == v3 and response.version == 3
    # the same content as the deleted version is a new version too, not the deleted one back
    (v4,) = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-two"))
    assert v4 != v2
    (created,) = log.records("PROCESS", "CREATED", processDefinitionKey=v4)
    assert created["value"]["version"] == 4


async def test_an_older_version_can_be_deleted_and_the_latest_stays(gateway: RawGateway, log: Log) -> None:
    pid = unique("older")
    v1, v2 = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-one"), task_model(pid, f"{pid}-two"))
    await delete(gateway, v1)
    response = await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId=pid,
                                                                                        version=-1))
    assert response.processDefinitionKey == v2
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.create(pid, version=1)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_definition_with_running_instances_is_not_deleted_until_they_end(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("running")
    (key,) = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-work"))
    instance = await gateway.create(pid)
    before = last_position(log)
    error = await rejected(gateway, key)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"Expected to delete resource with key `{key}` but there are still running instances" in error.details()
    assert last_position(log) == before
    await gateway.create(pid)  # still deployed
    await gateway.cancel(instance)
    for job in await gateway.activate(f"{pid}-work"):
        await gateway.complete(job.key)
    await delete(gateway, key)
    with pytest.raises(grpc.aio.AioRpcError) as error_:
        await gateway.create(pid)
    assert error_.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unknown_and_already_deleted_keys_are_not_found(gateway: RawGateway, log: Log) -> None:
    pid = unique("gone")
    (key,) = await deploy_versions(gateway, pid, task_model(pid, f"{pid}-work"))
    before = last_position(log)
    for unknown in (123_456, key + 999_999):
        error = await rejected(gateway, unknown)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert f"no resource found with key `{unknown}`" in error.details()
    assert last_position(log) == before
    await delete(gateway, key)
    error = await rejected(gateway, key)
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_start_events_of_the_deleted_latest_version_close_and_the_previous_versions_reopen(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("starts")
    message = f"{pid}-go"
    timed = bpmn.process(pid, more.start_event("tick", more.timer("cycle", "R/PT1H")), bpmn.end(),
                         bpmn.chain("tick", "end"))
    by_message = bpmn.process(pid, more.start_event("go", more.message("m")), bpmn.end(), bpmn.chain("go", "end"),
                              extra=bpmn.message_def("m", message))
    v1, v2 = await deploy_versions(gateway, pid, timed, by_message)
    assert [t["intent"] for t in log.timers(processDefinitionKey=v1)] == ["CREATED", "CANCELED"]
    await delete(gateway, v2)
    assert [r["intent"] for r in log.records("MESSAGE_START_EVENT_SUBSCRIPTION", processDefinitionKey=v2)] == [
        "CREATED", "DELETED"]
    assert [t["intent"] for t in log.timers(processDefinitionKey=v1)] == ["CREATED", "CANCELED", "CREATED"]
    await gateway.publish(message, "")
    assert log.instances_of(pid) == []  # the message start event is gone with its version
    engine.clock_add(HOUR)
    started = log.instances_of(pid)
    assert len(started) == 1
    assert log.records("PROCESS_INSTANCE", "ELEMENT_COMPLETED", processInstanceKey=started[0],
                       bpmnElementType="PROCESS")[0]["value"]["processDefinitionKey"] == v1
    # deleting the last version closes its timer too, and nothing starts any more
    await delete(gateway, v1)
    assert log.timers(processDefinitionKey=v1)[-1]["intent"] == "CANCELED"
    engine.clock_add(2 * HOUR)
    assert len(log.instances_of(pid)) == 1


def dmn(drg_id: str, decision_id: str, answer: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{DMN_NS}" id="{drg_id}" name="Rules" namespace="http://qianliyan.test/dmn">
  <decision id="{decision_id}" name="Answer"><literalExpression id="le"><text>"{answer}"</text></literalExpression>
  </decision>
</definitions>""".encode()


async def test_deleting_a_drg_deletes_its_decisions_and_the_previous_versions_answer(
        gateway: RawGateway, log: Log) -> None:
    drg, decision = unique("drg").replace("-", "_"), unique("decision").replace("-", "_")
    first = await gateway.deploy((f"{drg}.dmn", dmn(drg, decision, "one")))
    second = await gateway.deploy((f"{drg}.dmn", dmn(drg, decision, "two")))

    def keys(response: pb.DeployResourceResponse) -> tuple[int, int]:
        drg_key = next(d.decisionRequirements.decisionRequirementsKey for d in response.deployments
                       if d.HasField("decisionRequirements"))
        decision_key = next(d.decision.decisionKey for d in response.deployments if d.HasField("decision"))
        return drg_key, decision_key

    (drg1, _), (drg2, decision2) = keys(first), keys(second)
    pid = unique("rules")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(),
        f'<bpmn:businessRuleTask id="rules"><bpmn:extensionElements><zeebe:calledDecision decisionId="{decision}" '
        'resultVariable="answer"/></bpmn:extensionElements></bpmn:businessRuleTask>',
        bpmn.service("after", f"{pid}-after"), bpmn.end(), bpmn.chain("start", "rules", "after", "end"))))
    error = await rejected(gateway, decision2)  # a decision is not a resource of its own
    assert error.code() == grpc.StatusCode.NOT_FOUND
    await delete(gateway, drg2)
    assert [r["value"]["decisionKey"] for r in log.records("DECISION", "DELETED")
            if r["value"]["decisionId"] == decision] == [decision2]
    (drg_deleted,) = log.records("DECISION_REQUIREMENTS", "DELETED", decisionRequirementsKey=drg2)
    assert drg_deleted["value"]["decisionRequirementsVersion"] == 2
    with pytest.raises(grpc.aio.AioRpcError) as error_:
        await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(decisionKey=decision2))
    assert error_.value.code() == grpc.StatusCode.NOT_FOUND
    by_id = await gateway.stub.EvaluateDecision(pb.EvaluateDecisionRequest(decisionId=decision))
    assert json.loads(by_id.decisionOutput) == "one" and by_id.decisionVersion == 1
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-after")
    assert json.loads(job.variables)["answer"] == "one" and job.processInstanceKey == key
    await delete(gateway, drg1)
    missing = await gateway.create(pid)
    (incident,) = log.open_incidents(missing)
    assert incident["value"]["errorType"] == "CALLED_DECISION_ERROR"
    assert f"no decision found for id '{decision}'" in incident["value"]["errorMessage"]
    third = await gateway.deploy((f"{drg}.dmn", dmn(drg, decision, "three")))
    assert next(d.decisionRequirements.version for d in third.deployments if d.HasField("decisionRequirements")) == 3
    assert next(d.decision.version for d in third.deployments if d.HasField("decision")) == 3


async def test_deleting_a_form(gateway: RawGateway, log: Log) -> None:
    form_id = unique("form")
    content = json.dumps({"id": form_id, "components": []}).encode()
    response = await gateway.deploy((f"{form_id}.form", content))
    form_key = response.deployments[0].form.formKey
    await delete(gateway, form_key)
    (deleted,) = log.records("FORM", "DELETED", formKey=form_key)
    assert (deleted["value"]["formId"], deleted["value"]["version"]) == (form_id, 1)
    assert (await rejected(gateway, form_key)).code() == grpc.StatusCode.NOT_FOUND
    again = await gateway.deploy((f"{form_id}.form", content))
    assert again.deployments[0].form.version == 2


async def test_a_deletion_survives_a_kill(tmp_path: Path) -> None:
    own = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(own.address)
    try:
        v1, v2 = await deploy_versions(gateway, "kept", task_model("kept", "kept-one"), task_model("kept", "kept-two"))
        await delete(gateway, v2)
        own.kill()
        await gateway.close()
        own.start()
        gateway = RawGateway(own.address)
        response = await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(bpmnProcessId="kept",
                                                                                            version=-1))
        assert response.processDefinitionKey == v1
        assert (await rejected(gateway, v2)).code() == grpc.StatusCode.NOT_FOUND
        (v3,) = await deploy_versions(gateway, "kept", task_model("kept", "kept-three"))
        response = await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(processDefinitionKey=v3))
        assert response.version == 3
    finally:
        await gateway.close()
        own.stop()
