"""Incidents: each kind Zeebe raises, with its error type and message; ResolveIncident retries the step
that failed; cancelling an instance takes everything with it."""

from __future__ import annotations

import json
from collections import Counter

import grpc
import pytest

from tests.engine import bpmn
from tests.engine import bpmn_more as more
from tests.engine.scenario import Log, module_engine, unique
from tests.engine.support import RawGateway
from tests.fixtures.engine import EngineProcess

HOUR = 3600_000

engine = module_engine()


@pytest.fixture
def log(engine: EngineProcess) -> Log:
    return Log(engine)


async def test_retries_exhausted_is_a_job_incident_resolved_with_new_retries(gateway: RawGateway,
                                                                              log: Log) -> None:
    pid = unique("retries")
    await gateway.deploy((f"{pid}.bpmn", bpmn.simple(pid, f"{pid}-job", retries=2)))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-job")
    await gateway.fail(job.key, 1, "first")
    (job,) = await gateway.activate(f"{pid}-job")
    await gateway.fail(job.key, 0, "database unavailable")
    (incident,) = log.open_incidents(key)
    value = incident["value"]
    assert value["errorType"] == "JOB_NO_RETRIES" and value["errorMessage"] == "database unavailable"
    assert value["jobKey"] == job.key and value["elementId"] == "task"
    assert await gateway.activate(f"{pid}-job") == []
    await gateway.update_retries(job.key, 1)
    await gateway.resolve(incident["key"])
    (again,) = await gateway.activate(f"{pid}-job")
    await gateway.complete(again.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert [r["intent"] for r in log.records("INCIDENT") if r["key"] == incident["key"]] == ["CREATED", "RESOLVED"]


async def test_failing_output_mapping_is_an_incident_and_the_completion_is_retried(gateway: RawGateway,
                                                                                   log: Log) -> None:
    pid = unique("out-map")
    await gateway.deploy((f"{pid}.bpmn", bpmn.simple(pid, f"{pid}-job", outputs={"total": "=assert(amount, amount != null)"})))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-job")
    await gateway.complete(job.key, {"other": 1})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "IO_MAPPING_ERROR"
    assert incident["value"]["elementId"] == "task"
    (task_key,) = log.element_keys(key, "task")
    await gateway.set_variables(task_key, {"amount": 5}, local=True)
    await gateway.resolve(incident["key"])
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.variables(key)["total"] == 5


async def test_no_outgoing_flow_is_a_condition_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("no-flow")
    model = bpmn.process(pid, bpmn.start(), bpmn.exclusive("route"), bpmn.end("a"), bpmn.end("b"),
                         bpmn.flow("f0", "start", "route"), bpmn.flow("fa", "route", "a", "=x > 10"),
                         bpmn.flow("fb", "route", "b", "=x < 0"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"x": 5})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "CONDITION_ERROR"
    assert incident["value"]["errorMessage"] == (
        "Expected at least one condition to evaluate to true, or to have a default flow")
    await gateway.set_variables(key, {"x": 50})
    await gateway.resolve(incident["key"])
    assert log.completed_elements(key) == ["start", "route", "a", pid]


async def test_failing_expressions_name_the_expression(gateway: RawGateway, log: Log) -> None:
    pid = unique("expr")
    model = bpmn.process(pid, bpmn.start(),
                         more.script("calc", '=assert(price, is defined(price), "no price") * quantity', "total"),
                         bpmn.end(), bpmn.chain("start", "calc", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"quantity": 2})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert "no price" in incident["value"]["errorMessage"]
    assert "* quantity" in incident["value"]["errorMessage"]
    await gateway.set_variables(key, {"price": 10})
    await gateway.resolve(incident["key"])
    assert log.variables(key)["total"] == 20


async def test_job_type_expression_failure_is_an_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("job-type")
    await gateway.deploy((f"{pid}.bpmn", bpmn.simple(pid, "=worker")))
    key = await gateway.create(pid, {"worker": 3})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    await gateway.set_variables(key, {"worker": f"{pid}-dynamic"})
    await gateway.resolve(incident["key"])
    assert len(await gateway.activate(f"{pid}-dynamic")) == 1


async def test_boundary_subscription_failure_is_an_incident_on_the_activity(gateway: RawGateway,
                                                                            log: Log) -> None:
    pid, name = unique("boundary-key"), unique("boundary-msg")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("cancelled", "work", more.message("m")), bpmn.end(), bpmn.end("c"),
        bpmn.chain("start", "work", "end"), bpmn.chain("cancelled", "c"), extra=bpmn.message_def("m", name, "=ref"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"ref": [1]})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR" and incident["value"]["elementId"] == "work"
    assert await gateway.activate(f"{pid}-work") == []  # no job before the activity is activated
    await gateway.set_variables(key, {"ref": "r-1"})
    await gateway.resolve(incident["key"])
    assert len(await gateway.activate(f"{pid}-work")) == 1
    await gateway.publish(name, "r-1")
    assert log.completed_elements(key)[-2:] == ["c", pid]


async def test_resolving_an_unknown_incident_is_not_found(gateway: RawGateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.resolve(123456789)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_resolving_twice_is_not_found(gateway: RawGateway, log: Log) -> None:
    pid = unique("twice")
    model = bpmn.process(pid, bpmn.start(), more.script("calc", "=assert(missing, missing != null) + 1", "r"), bpmn.end(),
                         bpmn.chain("start", "calc", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (incident,) = log.open_incidents(key)
    await gateway.set_variables(key, {"missing": 1})
    await gateway.resolve(incident["key"])
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.resolve(incident["key"])
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancel_terminates_elements_children_subscriptions_timers_and_incidents(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid, child, name, signal = unique("cancel-all"), unique("cancel-child"), unique("cancel-msg"), unique("cancel-sig")
    await gateway.deploy((f"{child}.bpmn", bpmn.simple(child, f"{child}-job")))
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"),
        more.catch_event("wait_msg", more.message("m")), more.catch_event("wait_sig", more.signal("s")),
        more.catch_event("wait_time", more.timer("duration", "PT1H")), more.call("call", child),
        more.script("broken", "=assert(nothing, false)", "r"),
        bpmn.service("work", f"{pid}-work"), more.boundary_event("deadline", "work", more.timer("duration", "P1D")),
        bpmn.end("e1"), bpmn.end("e2"), bpmn.end("e3"), bpmn.end("e4"), bpmn.end("e5"), bpmn.end("e6"),
        bpmn.end("e7"),
        bpmn.chain("start", "fork"), *[bpmn.flow(f"x{i}", "fork", t) for i, t in enumerate(
            ["wait_msg", "wait_sig", "wait_time", "call", "broken", "work"])],
        bpmn.chain("wait_msg", "e1"), bpmn.chain("wait_sig", "e2"), bpmn.chain("wait_time", "e3"),
        bpmn.chain("call", "e4"), bpmn.chain("broken", "e5"), bpmn.chain("work", "e6"), bpmn.chain("deadline", "e7"),
        extra=bpmn.message_def("m", name, "=id") + bpmn.signal_def("s", signal))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"id": "c1"})
    called = next(r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnElementType="PROCESS")
              if r["value"]["parentProcessInstanceKey"] == key)
    (incident,) = log.open_incidents(key)
    await gateway.cancel(key)
    assert log.instance_state(key) == "ELEMENT_TERMINATED"
    assert log.instance_state(called) == "ELEMENT_TERMINATED"
    terminated = {e for e, i in log.trail(key) if i == "ELEMENT_TERMINATED"}
    assert terminated == {"wait_msg", "wait_sig", "wait_time", "call", "broken", "work", pid}
    assert Counter(r["intent"] for r in log.records("TIMER", processInstanceKey=key)) == Counter(
        {"CREATED": 2, "CANCELED": 2})
    assert Counter(r["intent"] for r in log.records("PROCESS_MESSAGE_SUBSCRIPTION", processInstanceKey=key)) == \
        Counter({"CREATED": 1, "DELETED": 1})
    assert Counter(r["intent"] for r in log.records("SIGNAL_SUBSCRIPTION", bpmnProcessId=pid)) == Counter(
        {"CREATED": 1, "DELETED": 1})
    assert Counter(r["intent"] for r in log.records("JOB") if r["value"]["processInstanceKey"] in (key, called)) \
        == Counter({"CREATED": 2, "CANCELED": 2})
    assert [r["intent"] for r in log.records("INCIDENT") if r["key"] == incident["key"]] == ["CREATED", "RESOLVED"]
    # nothing fires afterwards
    engine.clock_add(2 * 24 * HOUR)
    await gateway.publish(name, "c1")
    await gateway.broadcast(signal)
    assert log.instance_state(key) == "ELEMENT_TERMINATED"
    assert not [e for e, i in log.trail(key) if i == "ELEMENT_COMPLETED" and e.startswith("e")]
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.resolve(incident["key"])


async def test_incident_record_names_the_element_and_scope(gateway: RawGateway, log: Log) -> None:
    pid = unique("record")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", "x", inputs={"v": "=assert(a, a != null)"}),
                         bpmn.end("s1"), bpmn.chain("s0", "inner", "s1", prefix="g")),
        bpmn.end(), bpmn.chain("start", "sub", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (incident,) = log.open_incidents(key)
    value = incident["value"]
    (inner_key,) = log.element_keys(key, "inner")
    assert value["elementInstanceKey"] == inner_key and value["variableScopeKey"] == inner_key
    assert value["bpmnProcessId"] == pid and value["processInstanceKey"] == key
    assert value["errorType"] == "IO_MAPPING_ERROR"
    assert json.loads(json.dumps(value))["jobKey"] == -1
