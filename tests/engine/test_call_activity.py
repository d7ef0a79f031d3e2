"""Call activities: which process is called, the variables that go down and come back, boundary events,
incidents, and cancellation through every level."""

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


def child_model(child: str, *, outputs: dict[str, str] | None = None) -> bytes:
    return bpmn.process(child, bpmn.start(), bpmn.service("work", f"{child}-work", outputs=outputs), bpmn.end(),
                        bpmn.chain("start", "work", "end"))


def parent_model(parent: str, called: str, **options: object) -> bytes:
    return bpmn.process(parent, bpmn.start(), more.call("call", called, **options), bpmn.end(),
                        bpmn.chain("start", "call", "end"))


def child_of(log: Log, parent_key: int) -> int:
    (record,) = [r for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnElementType="PROCESS")
                 if r["value"]["parentProcessInstanceKey"] == parent_key]
    return record["key"]


async def test_call_activity_runs_the_latest_version_and_passes_variables_both_ways(
        gateway: RawGateway, log: Log) -> None:
    parent, child = unique("caller"), unique("callee")
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), more.script("mark", "=2", "version"), bpmn.service("work", f"{child}-work"), bpmn.end(),
        bpmn.chain("start", "mark", "work", "end"))))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child, inputs={"extra": "=amount * 2"})))
    key = await gateway.create(parent, {"amount": 21, "untouched": "p"})
    called = child_of(log, key)
    creation = next(r for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING") if r["key"] == called)["value"]
    assert creation["version"] == 2
    (call_key,) = log.element_keys(key, "call")
    assert creation["parentElementInstanceKey"] == call_key
    (job,) = await gateway.activate(f"{child}-work")
    # every variable visible at the call activity, its input mappings included, is copied to the child
    assert json.loads(job.variables) == {"amount": 21, "untouched": "p", "extra": 42, "version": 2}
    await gateway.complete(job.key, {"result": "done", "amount": 22})
    assert log.instance_state(called) == "ELEMENT_COMPLETED"
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    variables = log.variables(key)
    # the child's variables come back (propagateAllChildVariables defaults to true)
    assert variables["result"] == "done" and variables["amount"] == 22 and variables["version"] == 2
    # extra comes back too, but into the call activity's own scope, where its input mapping put it
    assert "extra" not in variables


async def test_process_id_expression(gateway: RawGateway, log: Log) -> None:
    parent, prefix = unique("dyn-caller"), unique("region")
    for region in ("north", "south"):
        await gateway.deploy((f"{prefix}-{region}.bpmn", child_model(f"{prefix}-{region}")))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, f'="{prefix}-" + region')))
    await gateway.create(parent, {"region": "south"})
    assert len(await gateway.activate(f"{prefix}-south-work")) == 1
    assert await gateway.activate(f"{prefix}-north-work") == []


async def test_propagate_all_child_variables_off_and_output_mappings(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("no-prop"), unique("no-prop-child")
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("quiet", child, propagate_child=False),
        more.call("mapped", child, outputs={"answer": "=result"}), bpmn.end(), bpmn.chain("start", "quiet", "mapped",
                                                                                           "end"))))
    key = await gateway.create(parent)
    (first,) = await gateway.activate(f"{child}-work")
    await gateway.complete(first.key, {"result": "hidden"})
    assert "result" not in log.variables(key)
    (second,) = await gateway.activate(f"{child}-work")
    await gateway.complete(second.key, {"result": "shown", "other": 1})
    variables = log.variables(key)
    assert variables["answer"] == "shown"
    assert "result" not in variables and "other" not in variables
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_propagate_all_parent_variables_off_copies_only_the_inputs(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("no-parent-vars"), unique("no-parent-vars-child")
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child, propagate_parent=False,
                                                         inputs={"only": "=secret + 1"})))
    await gateway.create(parent, {"secret": 1, "other": 2})
    (job,) = await gateway.activate(f"{child}-work")
    assert json.loads(job.variables) == {"only": 2}


async def test_missing_called_process_is_an_incident_resolved_by_deploying_it(gateway: RawGateway,
                                                                               log: Log) -> None:
    parent, child = unique("orphan"), unique("not-yet")
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child)))
    key = await gateway.create(parent)
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "CALLED_ELEMENT_ERROR"
    assert incident["value"]["elementId"] == "call"
    assert incident["value"]["errorMessage"] == (
        f"Expected process with BPMN process id '{child}' to be deployed, but not found.")
    await gateway.resolve(incident["key"])  # still missing: a new incident
    (again,) = log.open_incidents(key)
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.resolve(again["key"])
    (job,) = await gateway.activate(f"{child}-work")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_called_process_without_none_start_is_an_incident(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("to-timer-only"), unique("timer-only")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, more.start_event("tick", more.timer("date", "2099-01-01T00:00:00Z")), bpmn.end(),
        bpmn.chain("tick", "end"))))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child)))
    key = await gateway.create(parent)
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "CALLED_ELEMENT_ERROR"
    assert "none start event" in incident["value"]["errorMessage"]


async def test_process_id_expression_of_the_wrong_type_is_an_incident(gateway: RawGateway, log: Log) -> None:
    parent = unique("typed-caller")
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, "=target")))
    key = await gateway.create(parent, {"target": 12})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert "'STRING'" in incident["value"]["errorMessage"] and "'NUMBER'" in incident["value"]["errorMessage"]


async def test_cancel_cascades_to_children_and_grandchildren(gateway: RawGateway, log: Log) -> None:
    top, middle, bottom = unique("top"), unique("middle"), unique("bottom")
    await gateway.deploy((f"{bottom}.bpmn", child_model(bottom)))
    await gateway.deploy((f"{middle}.bpmn", parent_model(middle, bottom)))
    await gateway.deploy((f"{top}.bpmn", parent_model(top, middle)))
    key = await gateway.create(top)
    child = child_of(log, key)
    grandchild = child_of(log, child)
    (job,) = await gateway.activate(f"{bottom}-work")
    # a called instance can't be canceled on its own
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.cancel(grandchild)
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert str(key) in error.value.details()
    await gateway.cancel(key)
    for instance in (key, child, grandchild):
        assert log.instance_state(instance) == "ELEMENT_TERMINATED"
    assert [r["key"] for r in log.records("JOB", "CANCELED")].count(job.key) == 1
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.complete(job.key)


async def test_interrupting_boundary_on_a_call_activity_terminates_the_child(engine: EngineProcess,
                                                                             gateway: RawGateway, log: Log) -> None:
    parent, child = unique("bounded"), unique("slow-child")
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child),
        more.boundary_event("too_slow", "call", more.timer("duration", "PT1H")), bpmn.end("ok"), bpmn.end("late"),
        bpmn.chain("start", "call", "ok"), bpmn.chain("too_slow", "late"))))
    key = await gateway.create(parent)
    called = child_of(log, key)
    (job,) = await gateway.activate(f"{child}-work")
    await gateway.set_variables(called, {"childOnly": True})
    engine.clock_add(2 * HOUR)
    assert log.instance_state(called) == "ELEMENT_TERMINATED"
    assert log.completed_elements(key) == ["start", "too_slow", "late", parent]
    assert "childOnly" not in log.variables(key)
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.complete(job.key)


async def test_non_interrupting_boundary_leaves_the_child_running(gateway: RawGateway, log: Log) -> None:
    parent, child, name = unique("nudged"), unique("nudged-child"), unique("nudge")
    await gateway.deploy((f"{child}.bpmn", child_model(child)))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child),
        more.boundary_event("nudge", "call", more.message("m"), interrupting=False), bpmn.end("ok"),
        bpmn.end("nudged"), bpmn.chain("start", "call", "ok"), bpmn.chain("nudge", "nudged"),
        extra=bpmn.message_def("m", name, "=id"))))
    key = await gateway.create(parent, {"id": "x"})
    await gateway.publish(name, "x")
    assert log.count(key, "nudged") == 1
    (job,) = await gateway.activate(f"{child}-work")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_terminate_end_event_in_the_child_completes_the_call_activity(gateway: RawGateway,
                                                                            log: Log) -> None:
    parent, child = unique("term-parent"), unique("term-child")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), bpmn.parallel("fork"), bpmn.service("stuck", f"{child}-stuck"),
        more.end_event("stop", more.terminate()), bpmn.end(),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "stuck"), bpmn.flow("b", "fork", "stop"),
        bpmn.chain("stuck", "end"))))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child)))
    key = await gateway.create(parent)
    assert log.instance_state(child_of(log, key)) == "ELEMENT_COMPLETED"
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert Counter(r["intent"] for r in log.records("JOB", processInstanceKey=child_of(log, key))) == Counter(
        {"CREATED": 1, "CANCELED": 1})


async def test_create_with_result_waits_through_a_call_activity(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("result-parent"), unique("result-child")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), more.script("calc", "=n * 10", "m"), bpmn.end(), bpmn.chain("start", "calc", "end"))))
    await gateway.deploy((f"{parent}.bpmn", parent_model(parent, child)))
    result = await gateway.create_with_result(parent, {"n": 4})
    assert result == {"n": 4, "m": 40}
