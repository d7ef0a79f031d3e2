"""ModifyProcessInstance, as docs.camunda.io describes process instance modification (8.6): activating elements
(in existing or newly created flow scopes, with variables), terminating element instances (and the scopes they
leave empty), the records it writes, all-or-nothing rejections, and durability."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from services.engine.exporters.live import LiveEvents
from services.engine.exporters.projection import DocumentsProjection
from services.engine.exporters.records import Record
from shared.documents.models import ViewKind
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


def line(pid: str) -> bytes:
    """start → A → B → C → end, a job type per task; A and C carry a non-interrupting boundary timer."""
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"), bpmn.service("B", f"{pid}-b"), bpmn.service("C", f"{pid}-c"),
        bpmn.end(), bpmn.chain("start", "A", "B", "C", "end"),
        more.boundary_event("A_late", "A", more.timer("duration", "PT1H"), interrupting=False),
        more.boundary_event("C_late", "C", more.timer("duration", "PT2H"), interrupting=False),
        bpmn.end("late_end"), bpmn.flow("f_al", "A_late", "late_end"), bpmn.flow("f_cl", "C_late", "late_end"))


def nested(pid: str) -> bytes:
    """start → A → S [s_start → X → s_end] → end; S has an input mapping and a boundary timer."""
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"),
        bpmn.sub_process("S", bpmn.start("s_start"),
                         bpmn.service("X", f"{pid}-x", inputs={"seen": "=scoped * 10 + global"}),
                         bpmn.end("s_end"), bpmn.chain("s_start", "X", "s_end", prefix="s"),
                         inputs={"fromInput": "=1"}),
        bpmn.end(), bpmn.chain("start", "A", "S", "end"),
        more.boundary_event("S_late", "S", more.timer("duration", "PT3H")), bpmn.end("late_end"),
        bpmn.flow("f_sl", "S_late", "late_end"))


async def job_of(gateway: RawGateway, job_type: str, count: int = 1) -> list[Any]:
    jobs = await gateway.activate(job_type, max_jobs=count + 1)
    assert len(jobs) == count, [j.elementId for j in jobs]
    return jobs


def last_position(log: Log) -> int:
    records = log.records()
    return records[-1]["position"] if records else 0


def record_types(log: Log, value_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    conn = sqlite3.connect(f"file:{log.path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT record_type, intent, value FROM records WHERE value_type = ? ORDER BY position",
                            (value_type,)).fetchall()
    finally:
        conn.close()
    return [(t, i, json.loads(v)) for t, i, v in rows]


async def waiting_at_a(gateway: RawGateway, log: Log, prefix: str) -> tuple[str, int, Any, int]:
    """A new instance of ``line`` waiting at A: (process id, instance key, A's job, A's element instance key)."""
    pid = unique(prefix)
    await gateway.deploy((f"{pid}.bpmn", line(pid)))
    key = await gateway.create(pid)
    (a_job,) = await job_of(gateway, f"{pid}-a")
    (a_key,) = log.element_keys(key, "A")
    return pid, key, a_job, a_key

# -- activation --------------------------------------------------------------------------------------------------------


async def test_activating_a_later_task_creates_its_job_and_the_instance_completes_when_every_path_ends(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("ahead")
    await gateway.deploy((f"{pid}.bpmn", line(pid)))
    key = await gateway.create(pid)
    await gateway.modify(key, activate=["C"])
    (c_job,) = await job_of(gateway, f"{pid}-c")
    # activated as if its incoming flow were taken: its boundary timer is opened for it
    (c_key,) = log.element_keys(key, "C")
    assert c_job.elementInstanceKey == c_key
    assert [t["targetElementId"] for t in log.timers("CREATED", elementInstanceKey=c_key)] == ["C_late"]
    await gateway.complete(c_job.key)
    assert log.count(key, "end") == 1
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"  # A still waits
    for job_type in ("a", "b", "c"):
        (job,) = await job_of(gateway, f"{pid}-{job_type}")
        await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "C") == 2 and log.count(key, "end") == 2


async def test_moving_the_token_terminates_the_waiting_task_cancels_its_job_and_timer_and_goes_on(
        gateway: RawGateway, log: Log) -> None:
    pid, key, a_job, a_key = await waiting_at_a(gateway, log, "move")
    await gateway.modify(key, activate=["C"], terminate=[a_key])
    assert ("A", "ELEMENT_TERMINATED") in log.trail(key)
    assert [r["key"] for r in log.records("JOB", "CANCELED", processInstanceKey=key)] == [a_job.key]
    assert [t["targetElementId"] for t in log.timers("CANCELED", elementInstanceKey=a_key)] == ["A_late"]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.complete(a_job.key)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    (c_job,) = await job_of(gateway, f"{pid}-c")
    await gateway.complete(c_job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "B", "ELEMENT_ACTIVATING") == 0
    # the records: the command, then the event with the instructions and the flow scopes used
    modification = record_types(log, "PROCESS_INSTANCE_MODIFICATION")
    mine = [(t, i, v) for t, i, v in modification if v["processInstanceKey"] == key]
    assert [(t, i) for t, i, _ in mine] == [("COMMAND", "MODIFY"), ("EVENT", "MODIFIED")]
    event = mine[1][2]
    assert event["terminateInstructions"] == [{"elementInstanceKey": a_key}]
    assert [(a["elementId"], a["ancestorScopeKeys"]) for a in event["activateInstructions"]] == [("C", [key])]
    positions = {(r["valueType"], r["intent"], r["key"]): r["position"] for r in log.records()}
    assert positions[("PROCESS_INSTANCE_MODIFICATION", "MODIFIED", key)] < \
        positions[("PROCESS_INSTANCE", "ELEMENT_TERMINATED", a_key)]


async def test_activating_inside_a_sub_process_not_entered_creates_the_sub_process_without_its_start_or_inputs(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("nested")
    await gateway.deploy((f"{pid}.bpmn", nested(pid)))
    key = await gateway.create(pid)
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=[("X", -1, [{"global": 1}, ("S", {"scoped": 2})])], terminate=[a_key])
    (s_key,) = log.element_keys(key, "S")
    (x_key,) = log.element_keys(key, "X")
    trail = log.trail(key)
    assert trail.index(("S", "ELEMENT_ACTIVATED")) < trail.index(("X", "ELEMENT_ACTIVATING"))
    assert ("s_start", "ELEMENT_ACTIVATING") not in trail
    assert "fromInput" not in log.scope_variables(s_key)
    # the created sub-process opened its boundary event's subscription
    assert [t["targetElementId"] for t in log.timers("CREATED", elementInstanceKey=s_key)] == ["S_late"]
    (job,) = await job_of(gateway, f"{pid}-x")
    assert job.elementInstanceKey == x_key
    assert json.loads(job.variables) == {"global": 1, "scoped": 2, "seen": 21}
    await gateway.complete(job.key)
    assert ("S", "ELEMENT_COMPLETED") in log.trail(key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert [t["intent"] for t in log.timers(elementInstanceKey=s_key)] == ["CREATED", "CANCELED"]


async def test_variable_instructions_are_set_before_the_activation_on_the_root_a_flow_scope_or_the_element(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("vars")
    await gateway.deploy((f"{pid}.bpmn", nested(pid)))
    key = await gateway.create(pid)
    await gateway.modify(key, activate=[("X", -1, [{"global": 4}, ("S", {"scoped": 5}), ("X", {"own": 6})]),
                                        ("X", -1, [(pid, {"second": True})])])
    (s_key,) = log.element_keys(key, "S")  # both activations went into the one sub-process the first created
    x_keys = log.element_keys(key, "X")
    assert len(x_keys) == 2
    assert log.variables(key) == {"global": 4, "second": True}
    assert log.scope_variables(s_key) == {"scoped": 5}
    assert log.scope_variables(x_keys[0]) == {"own": 6, "seen": 54}
    positions = {(r["valueType"], r["intent"], r["key"]): r["position"] for r in log.records()}
    own = next(r for r in log.records("VARIABLE", "CREATED", name="own"))
    assert own["position"] < positions[("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", x_keys[0])]


async def test_a_gateway_activated_with_variables_takes_the_flow_its_conditions_choose(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("route")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"), bpmn.exclusive("gw", default="f_no"),
        bpmn.service("yes", f"{pid}-yes"), bpmn.service("no", f"{pid}-no"), bpmn.end("e1"), bpmn.end("e2"),
        bpmn.chain("start", "A", "gw"), bpmn.flow("f_yes", "gw", "yes", '=route = "yes"'),
        bpmn.flow("f_no", "gw", "no"), bpmn.flow("f1", "yes", "e1"), bpmn.flow("f2", "no", "e2"))))
    key = await gateway.create(pid)
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=[("gw", -1, [{"route": "yes"}])], terminate=[a_key])
    (job,) = await job_of(gateway, f"{pid}-yes")
    assert log.count(key, "no", "ELEMENT_ACTIVATING") == 0
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_activating_the_same_element_twice_makes_two_instances(gateway: RawGateway, log: Log) -> None:
    pid = unique("twice")
    await gateway.deploy((f"{pid}.bpmn", line(pid)))
    key = await gateway.create(pid)
    await gateway.modify(key, activate=["B", "B"])
    jobs = await job_of(gateway, f"{pid}-b", count=2)
    assert sorted(j.elementInstanceKey for j in jobs) == sorted(log.element_keys(key, "B"))
    assert len(set(log.element_keys(key, "B"))) == 2


async def test_an_event_sub_process_activated_by_hand_enters_its_start_event_without_interrupting(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("esp")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"), bpmn.end(), bpmn.chain("start", "A", "end"),
        more.event_sub_process("ESP", more.start_event("esp_start", more.timer("duration", "PT5H")),
                               bpmn.service("E", f"{pid}-e"), bpmn.end("esp_end"),
                               bpmn.chain("esp_start", "E", "esp_end", prefix="e")))))
    key = await gateway.create(pid)
    await gateway.modify(key, activate=["ESP"])
    (e_job,) = await job_of(gateway, f"{pid}-e")
    assert ("esp_start", "ELEMENT_COMPLETED") in log.trail(key)
    assert ("A", "ELEMENT_TERMINATING") not in log.trail(key)
    await gateway.complete(e_job.key)
    (a_job,) = await job_of(gateway, f"{pid}-a")
    await gateway.complete(a_job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_ancestor_key_chooses_the_sub_process_instance_and_is_needed_when_there_are_several(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("ancestor")
    await gateway.deploy((f"{pid}.bpmn", nested(pid)))
    key = await gateway.create(pid, {"global": 0, "scoped": 0})
    # the process instance as ancestor: a new sub-process instance each time, though one exists already
    await gateway.modify(key, activate=[("X", key, [])])
    await gateway.modify(key, activate=[("X", key, [])])
    s1, s2 = log.element_keys(key, "S")
    before = last_position(log)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.modify(key, activate=["X"])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than one active instance: 'S'" in error.value.details()
    assert last_position(log) == before
    await gateway.modify(key, activate=[("X", s2, [])])
    x_keys = log.element_keys(key, "X")
    assert len(x_keys) == 3
    third = next(r for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING") if r["key"] == x_keys[2])
    assert third["value"]["flowScopeKey"] == s2 and s1 != s2


async def test_a_created_scope_opens_its_subscriptions_with_the_instruction_variables_or_rejects_the_command(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("subscribed")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"),
        bpmn.sub_process("S", bpmn.start("s_start"), bpmn.service("X", f"{pid}-x"), bpmn.end("s_end"),
                         bpmn.chain("s_start", "X", "s_end", prefix="s")),
        bpmn.end(), bpmn.chain("start", "A", "S", "end"),
        more.boundary_event("S_msg", "S", more.message("m")), bpmn.end("msg_end"),
        bpmn.flow("f_msg", "S_msg", "msg_end"),
        extra=bpmn.message_def("m", f"{pid}-cancel", "=orderId"))))
    key = await gateway.create(pid)
    before = last_position(log)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.modify(key, activate=["X"])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'S'" in error.value.details() and "orderId" in error.value.details()
    assert last_position(log) == before
    await gateway.modify(key, activate=[("X", -1, [("S", {"orderId": "o-7"})])])
    (s_key,) = log.element_keys(key, "S")
    (subscription,) = log.records("PROCESS_MESSAGE_SUBSCRIPTION", "CREATED", elementInstanceKey=s_key)
    assert subscription["value"]["correlationKey"] == "o-7"
    # the boundary event works on the created scope: the message interrupts it
    await gateway.publish(f"{pid}-cancel", "o-7")
    assert ("S", "ELEMENT_TERMINATED") in log.trail(key) and log.count(key, "msg_end") == 1


# -- termination ------------------------------------------------------------------------------------------------------


async def test_terminating_the_only_active_element_terminates_the_process_instance(
        gateway: RawGateway, log: Log) -> None:
    pid, key, a_job, a_key = await waiting_at_a(gateway, log, "last")
    await gateway.modify(key, terminate=[a_key])
    assert log.instance_state(key) == "ELEMENT_TERMINATED"
    # the named instance first, then the process instance it left empty
    assert log.trail(key)[-4:] == [("A", "ELEMENT_TERMINATING"), ("A", "ELEMENT_TERMINATED"),
                                   (pid, "ELEMENT_TERMINATING"), (pid, "ELEMENT_TERMINATED")]
    assert log.count(key, pid, "ELEMENT_COMPLETED") == 0
    assert [r["key"] for r in log.records("JOB", "CANCELED", processInstanceKey=key)] == [a_job.key]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.modify(key, activate=["B"])
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_sub_process_left_empty_is_terminated_and_the_instance_lives_while_something_is_active(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("empty")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("A", f"{pid}-a"),
        bpmn.sub_process("S", bpmn.start("s_start"), bpmn.service("X", f"{pid}-x"), bpmn.end("s_end"),
                         bpmn.chain("s_start", "X", "s_end", prefix="s")),
        bpmn.end("e1"), bpmn.end("e2"), bpmn.chain("start", "fork"), bpmn.flow("fa", "fork", "A"),
        bpmn.flow("fs", "fork", "S"), bpmn.flow("f1", "A", "e1"), bpmn.flow("f2", "S", "e2"))))
    key = await gateway.create(pid)
    (x_key,) = log.element_keys(key, "X")
    await gateway.modify(key, terminate=[x_key])
    trail = log.trail(key)
    assert trail[-4:] == [("X", "ELEMENT_TERMINATING"), ("X", "ELEMENT_TERMINATED"),
                          ("S", "ELEMENT_TERMINATING"), ("S", "ELEMENT_TERMINATED")]
    assert ("S", "ELEMENT_COMPLETED") not in trail and log.count(key, "e2", "ELEMENT_ACTIVATING") == 0
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, terminate=[a_key])
    assert log.instance_state(key) == "ELEMENT_TERMINATED"


async def test_terminating_a_sub_process_terminates_its_children_and_jobs(gateway: RawGateway, log: Log) -> None:
    pid = unique("subterm")
    await gateway.deploy((f"{pid}.bpmn", nested(pid)))
    key = await gateway.create(pid, {"global": 0, "scoped": 0})
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=["X"], terminate=[a_key])
    (x_job,) = await job_of(gateway, f"{pid}-x")
    (s_key,) = log.element_keys(key, "S")
    await gateway.modify(key, activate=["end"], terminate=[s_key])
    trail = log.trail(key)
    assert trail.index(("X", "ELEMENT_TERMINATED")) < trail.index(("S", "ELEMENT_TERMINATED"))
    canceled = [r["value"]["elementId"] for r in log.records("JOB", "CANCELED", processInstanceKey=key)]
    assert canceled == ["A", "X"]
    assert log.records("JOB", "CANCELED", processInstanceKey=key)[-1]["key"] == x_job.key
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_terminating_a_task_stuck_in_an_incident_resolves_the_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("stuck")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a", inputs={"x": "=assert(missing, missing != null)"}),
        bpmn.service("B", f"{pid}-b"), bpmn.end(), bpmn.chain("start", "A", "B", "end"))))
    key = await gateway.create(pid)
    (incident,) = log.open_incidents(key)
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=["B"], terminate=[a_key])
    assert log.open_incidents(key) == []
    assert [r["key"] for r in log.incidents(key, "RESOLVED")] == [incident["key"]]
    (job,) = await job_of(gateway, f"{pid}-b")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_terminating_a_call_activity_terminates_the_called_instance(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("caller"), unique("called")
    await gateway.deploy((f"{child}.bpmn", bpmn.simple(child, f"{child}-work")))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child), bpmn.service("next", f"{parent}-next"), bpmn.end(),
        bpmn.chain("start", "call", "next", "end"))))
    key = await gateway.create(parent)
    (called,) = [r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnElementType="PROCESS")
                 if r["value"]["parentProcessInstanceKey"] == key]
    (call_key,) = log.element_keys(key, "call")
    await gateway.modify(key, activate=["next"], terminate=[call_key])
    assert log.instance_state(called) == "ELEMENT_TERMINATED"
    assert ("call", "ELEMENT_TERMINATED") in log.trail(key)
    assert await gateway.activate(f"{child}-work") == []
    (job,) = await job_of(gateway, f"{parent}-next")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_activating_a_multi_instance_activity_activates_its_body(gateway: RawGateway, log: Log) -> None:
    pid = unique("many")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"),
        bpmn.service("each", f"{pid}-each", loop=bpmn.multi_instance("=items", "item")), bpmn.end(),
        bpmn.chain("start", "A", "each", "end"))))
    key = await gateway.create(pid)
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=[("each", -1, [{"items": ["x", "y", "z"]}])], terminate=[a_key])
    jobs = await job_of(gateway, f"{pid}-each", count=3)
    assert sorted(json.loads(j.variables)["item"] for j in jobs) == ["x", "y", "z"]
    for job in jobs:
        await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


# -- rejections: the whole command, nothing changed ---------------------------------------------------------------------


def zoo(pid: str) -> bytes:
    """A waiting task with a boundary event, a multi-instance sub-process and an event-based gateway."""
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("A", f"{pid}-a"), bpmn.end(), bpmn.chain("start", "A", "end"),
        more.boundary_event("A_late", "A", more.timer("duration", "PT1H")), bpmn.end("late_end"),
        bpmn.flow("f_late", "A_late", "late_end"),
        bpmn.sub_process("MI", bpmn.start("mi_start"), bpmn.service("M", f"{pid}-m"), bpmn.end("mi_end"),
                         bpmn.chain("mi_start", "M", "mi_end", prefix="m"), loop=bpmn.multi_instance("=[1, 2]")),
        more.event_gateway("ebg"), more.catch_event("t1", more.timer("duration", "PT1H")),
        more.catch_event("t2", more.timer("duration", "PT2H")), bpmn.end("e_t"),
        bpmn.flow("g1", "ebg", "t1"), bpmn.flow("g2", "ebg", "t2"), bpmn.flow("g3", "t1", "e_t"),
        bpmn.flow("g4", "t2", "e_t"),
        bpmn.sub_process("S", bpmn.start("s_start"), bpmn.service("X", f"{pid}-x"), bpmn.end("s_end"),
                         bpmn.chain("s_start", "X", "s_end", prefix="s")))


@pytest.mark.parametrize(("request_", "code", "message"), [
    ({"activate": ["nope"]}, "INVALID_ARGUMENT", "element that could not be found: 'nope'"),
    ({"activate": ["start"]}, "INVALID_ARGUMENT", "unsupported: 'start'. The activation of elements with type "
                                                  "'START_EVENT' is not supported"),
    ({"activate": ["s_start"]}, "INVALID_ARGUMENT", "'START_EVENT' is not supported"),
    ({"activate": ["A_late"]}, "INVALID_ARGUMENT", "'BOUNDARY_EVENT' is not supported"),
    ({"activate": ["f_start_A"]}, "INVALID_ARGUMENT", "'SEQUENCE_FLOW' is not supported"),
    ({"activate": ["M"]}, "INVALID_ARGUMENT", "'M'. The activation of elements inside a multi-instance"),
    ({"activate": ["t1"]}, "INVALID_ARGUMENT", "'t1'. The activation of events belonging to an event-based gateway"),
    ({"terminate": [123_456_789]}, "INVALID_ARGUMENT", "element instance that could not be found: '123456789'"),
    ({"activate": [("X", -1, [("A", {"v": 1})])]}, "INVALID_ARGUMENT", "doesn't belong to the activating element's"),
    ({"activate": [("X", -1, [("ghost", {"v": 1})])]}, "INVALID_ARGUMENT", "scope element id that could not be "
                                                                           "found: 'ghost'"),
    ({"activate": [("X", 987_654_321, [])]}, "INVALID_ARGUMENT", "ancestor scope key that does not exist"),
    # a valid instruction does not save an invalid one
    ({"activate": ["end", "nope"]}, "INVALID_ARGUMENT", "'nope'"),
])
async def test_an_invalid_instruction_rejects_the_whole_command_and_changes_nothing(
        gateway: RawGateway, log: Log, request_: dict[str, Any], code: str, message: str) -> None:
    pid = unique("zoo")
    await gateway.deploy((f"{pid}.bpmn", zoo(pid)))
    key = await gateway.create(pid)
    before = last_position(log)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.modify(key, **request_)
    assert error.value.code() == getattr(grpc.StatusCode, code)
    assert message in error.value.details()
    assert "Command 'MODIFY' rejected with code 'INVALID_ARGUMENT'" in error.value.details()
    assert last_position(log) == before
    # and the instance goes on as before
    (job,) = await job_of(gateway, f"{pid}-a")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_rejections_that_depend_on_other_instances(gateway: RawGateway, log: Log) -> None:
    pid = unique("zoo")
    await gateway.deploy((f"{pid}.bpmn", zoo(pid)))
    key, other = await gateway.create(pid), await gateway.create(pid)
    (a_key,) = log.element_keys(key, "A")
    (other_a,) = log.element_keys(other, "A")
    before = last_position(log)
    cases: list[tuple[int, dict[str, Any], grpc.StatusCode, str]] = [
        (999_999_999, {"activate": ["A"]}, grpc.StatusCode.NOT_FOUND,
         "no process instance found with key '999999999'"),
        (a_key, {"activate": ["A"]}, grpc.StatusCode.NOT_FOUND, f"no process instance found with key '{a_key}'"),
        (key, {"terminate": [other_a]}, grpc.StatusCode.INVALID_ARGUMENT,
         f"does not belong to the modified process instance '{key}': '{other_a}'"),
        (key, {"activate": [("X", other, [])]}, grpc.StatusCode.INVALID_ARGUMENT,
         f"does not belong to the modified process instance: '{other}'"),
        (key, {"activate": [("X", a_key, [])]}, grpc.StatusCode.INVALID_ARGUMENT,
         f"instance '{a_key}' of element 'A' is not an ancestor of element 'X'"),
        (key, {"activate": ["end"], "terminate": [key]}, grpc.StatusCode.INVALID_ARGUMENT,
         f"element 'end' requires flow scope instance '{key}' which is being terminated"),
        (key, {"activate": ["X", "end"], "terminate": [a_key, 424_242]}, grpc.StatusCode.INVALID_ARGUMENT,
         "'424242'"),
    ]
    for target, request_, code, message in cases:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await gateway.modify(target, **request_)
        assert error.value.code() == code, (request_, error.value.details())
        assert message in error.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.ModifyProcessInstance(pb.ModifyProcessInstanceRequest(
            processInstanceKey=key, activateInstructions=[pb.ModifyProcessInstanceRequest.ActivateInstruction(
                elementId="A", variableInstructions=[
                    pb.ModifyProcessInstanceRequest.VariableInstruction(variables="[1]")])]))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "root level object" in error.value.details()
    assert last_position(log) == before


async def test_the_last_elements_of_a_called_instance_cannot_be_terminated(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("parent"), unique("child")
    await gateway.deploy((f"{child}.bpmn", bpmn.simple(child, f"{child}-work")))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(parent, bpmn.start(), more.call("call", child), bpmn.end(),
                                                         bpmn.chain("start", "call", "end"))))
    key = await gateway.create(parent)
    (called,) = [r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnElementType="PROCESS")
                 if r["value"]["parentProcessInstanceKey"] == key]
    (task,) = log.element_keys(called, "task")
    before = last_position(log)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.modify(called, terminate=[task])
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "created by a call activity" in error.value.details()
    assert last_position(log) == before
    # moving the token inside the child is fine; terminating the call activity ends the child
    await gateway.modify(called, activate=["end"], terminate=[task])
    assert log.instance_state(called) == "ELEMENT_COMPLETED"
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


# -- durability ------------------------------------------------------------------------------------------------------------


async def test_a_modification_survives_a_kill_right_after_the_answer(tmp_path: Path) -> None:
    own = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(own.address)
    log = Log(own)
    try:
        await gateway.deploy(("moved.bpmn", line("moved")))
        key = await gateway.create("moved")
        (a_job,) = await job_of(gateway, "moved-a")
        (a_key,) = log.element_keys(key, "A")
        await gateway.modify(key, activate=["C"], terminate=[a_key])
        own.kill()
        await gateway.close()
        own.start()
        gateway = RawGateway(own.address)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await gateway.complete(a_job.key)
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        (c_job,) = await job_of(gateway, "moved-c")
        await gateway.complete(c_job.key)
        assert log.instance_state(key) == "ELEMENT_COMPLETED"
        assert len(log.records("PROCESS_INSTANCE_MODIFICATION", "MODIFIED")) == 1
    finally:
        await gateway.close()
        own.stop()


# -- exporters ------------------------------------------------------------------------------------------------------------


async def test_the_exporters_read_a_modified_instance_from_the_log(gateway: RawGateway, log: Log) -> None:
    """The documents projection and the live events take the modification records in their stride (they ignore
    PROCESS_INSTANCE_MODIFICATION) and show the elements it activated, created and terminated."""
    pid = unique("exported")
    await gateway.deploy((f"{pid}.bpmn", nested(pid)))
    key = await gateway.create(pid, {"global": 1, "scoped": 1})
    (a_job,) = await job_of(gateway, f"{pid}-a")
    (a_key,) = log.element_keys(key, "A")
    await gateway.modify(key, activate=["X"], terminate=[a_key])
    (s_key,) = log.element_keys(key, "S")
    (x_key,) = log.element_keys(key, "X")
    conn = sqlite3.connect(f"file:{log.path}?mode=ro", uri=True)
    try:
        records = [Record(*row) for row in conn.execute(
            "SELECT position, record_key, record_type, value_type, intent, timestamp, value FROM records "
            "ORDER BY position")]
    finally:
        conn.close()
    assert any(r.value_type == "PROCESS_INSTANCE_MODIFICATION" for r in records)
    projection = DocumentsProjection()
    changes = {(c.kind, c.key): c.value for c in projection.apply_all(records)}
    assert projection.skipped_records == 0 and projection.rejected_changes == 0
    assert changes[(ViewKind.ELEMENT_INSTANCE, a_key)]["state"] == "ELEMENT_TERMINATED"
    assert changes[(ViewKind.ELEMENT_INSTANCE, s_key)]["state"] == "ELEMENT_ACTIVATED"
    x_doc = changes[(ViewKind.ELEMENT_INSTANCE, x_key)]
    assert (x_doc["state"], x_doc["flow_scope_key"]) == ("ELEMENT_ACTIVATED", s_key)
    assert changes[(ViewKind.JOB, a_job.key)]["state"] == "CANCELED"
    assert changes[(ViewKind.PROCESS_INSTANCE, key)]["state"] == "active"
    events = [e for e in LiveEvents().events(records) if e.payload.get("process_instance_key") == key]
    seen = [(e.type, e.payload.get("element_id")) for e in events]
    assert ("engine.element.terminated", "A") in seen
    assert ("engine.element.activated", "S") in seen and ("engine.element.activated", "X") in seen
    assert [e.payload["job_key"] for e in events if e.type == "engine.job.canceled"] == [a_job.key]
