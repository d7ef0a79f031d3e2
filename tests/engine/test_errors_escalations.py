"""Errors and escalations: thrown by end events, throw events and workers (ThrowError), caught by boundary
events and event sub-processes by code or catch-all, up through sub-processes and call activities."""

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

engine = module_engine()


@pytest.fixture
def log(engine: EngineProcess) -> Log:
    return Log(engine)


def errors(*codes: str) -> str:
    return "".join(more.error_def(f"err_{code}", code) for code in codes)


# -- error end events -----------------------------------------------------------------------------------------------


async def test_error_end_event_in_a_sub_process_is_caught_by_its_boundary_with_code_and_message_variables(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("err-end")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), more.end_event("fail", more.error("err_LIMIT")),
                         bpmn.chain("s0", "fail", prefix="g")),
        '<bpmn:boundaryEvent id="caught" attachedToRef="sub"><bpmn:errorEventDefinition errorRef="err_LIMIT" '
        'zeebe:errorCodeVariable="code" zeebe:errorMessageVariable="text"/></bpmn:boundaryEvent>',
        bpmn.service("handle", f"{pid}-handle"), bpmn.end("normal"), bpmn.end("handled"),
        bpmn.chain("start", "sub", "normal"), bpmn.chain("caught", "handle", "handled"),
        extra=errors("LIMIT"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-handle")
    assert json.loads(job.variables) == {"code": "LIMIT", "text": ""}
    await gateway.complete(job.key)
    assert log.completed_elements(key) == ["start", "s0", "caught", "handle", "handled", pid]
    trail = log.trail(key)
    assert ("fail", "ELEMENT_TERMINATED") in trail and ("sub", "ELEMENT_TERMINATED") in trail
    (error,) = log.records("ERROR", "CREATED", processInstanceKey=key)
    assert error["value"]["errorCode"] == "LIMIT"


async def test_specific_code_wins_over_catch_all(gateway: RawGateway, log: Log) -> None:
    pid = unique("err-prio")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("any", "work", more.error()), more.boundary_event("exact", "work", more.error("err_A")),
        bpmn.end("e_any"), bpmn.end("e_exact"), bpmn.end("ok"),
        bpmn.chain("start", "work", "ok"), bpmn.chain("any", "e_any"), bpmn.chain("exact", "e_exact"),
        extra=errors("A"))
    await gateway.deploy((f"{pid}.bpmn", model))
    first = await gateway.create(pid)
    second = await gateway.create(pid)
    jobs = {j.processInstanceKey: j for j in await gateway.activate(f"{pid}-work")}
    await gateway.throw_error(jobs[first].key, "A")
    await gateway.throw_error(jobs[second].key, "B")
    assert "e_exact" in log.completed_elements(first) and "e_any" not in log.completed_elements(first)
    assert "e_any" in log.completed_elements(second)


async def test_throw_error_variables_reach_the_catch_path_and_output_mappings_decide(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("err-vars")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("caught", "work", more.error("err_X"), outputs={"failure": "=detail"}),
        bpmn.end("ok"), bpmn.end("failed"),
        bpmn.chain("start", "work", "ok"), bpmn.chain("caught", "failed"), extra=errors("X"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.throw_error(job.key, "X", "went wrong", {"detail": "disk full", "noise": 1})
    variables = log.variables(key)
    assert variables["failure"] == "disk full"
    assert "noise" not in variables and "detail" not in variables
    assert log.records("JOB", "ERROR_THROWN", processInstanceKey=key)[0]["value"]["errorMessage"] == "went wrong"


async def test_error_end_event_code_may_be_an_expression(gateway: RawGateway, log: Log) -> None:
    pid = unique("err-expr")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), more.end_event("fail", more.error("err_dyn")),
                         bpmn.chain("s0", "fail", prefix="g")),
        more.boundary_event("b_known", "sub", more.error("err_KNOWN")),
        bpmn.end("known"), bpmn.end("ok"), bpmn.chain("start", "sub", "ok"), bpmn.chain("b_known", "known"),
        extra=more.error_def("err_dyn", "=code") + errors("KNOWN"))
    await gateway.deploy((f"{pid}.bpmn", model))
    caught = await gateway.create(pid, {"code": "KNOWN"})
    assert "known" in log.completed_elements(caught)
    uncaught = await gateway.create(pid, {"code": "OTHER"})
    (incident,) = log.open_incidents(uncaught)
    assert incident["value"]["errorType"] == "UNHANDLED_ERROR_EVENT"
    assert incident["value"]["elementId"] == "fail"
    assert incident["value"]["errorMessage"] == (
        "Expected to throw an error event with the code 'OTHER', but it was not caught. No error events are "
        "available in the scope.")


async def test_error_event_sub_process_catches_in_its_scope(gateway: RawGateway, log: Log) -> None:
    pid = unique("err-esp")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("work", f"{pid}-work"),
        bpmn.service("other", f"{pid}-other"), bpmn.end("e1"), bpmn.end("e2"),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "work"), bpmn.flow("b", "fork", "other"),
        bpmn.chain("work", "e1"), bpmn.chain("other", "e2"),
        more.event_sub_process(
            "on_error",
            '<bpmn:startEvent id="esp_start"><bpmn:errorEventDefinition errorRef="err_E" '
            'zeebe:errorCodeVariable="errorCode"/></bpmn:startEvent>',
            bpmn.service("recover", f"{pid}-recover"), bpmn.end("esp_end"),
            bpmn.chain("esp_start", "recover", "esp_end", prefix="x")),
        extra=errors("E"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.throw_error(job.key, "E", "", {"partial": 1})
    assert await gateway.activate(f"{pid}-other") == []  # interrupted with the rest of the scope
    (recover,) = await gateway.activate(f"{pid}-recover")
    assert json.loads(recover.variables)["errorCode"] == "E"
    await gateway.complete(recover.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert not {"e1", "e2"} & set(log.completed_elements(key))


async def test_error_propagates_from_a_called_process_to_the_call_activity(gateway: RawGateway,
                                                                           log: Log) -> None:
    parent, child = unique("err-parent"), unique("err-child")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), bpmn.service("deep", f"{child}-deep"), bpmn.end(), bpmn.chain("start", "deep", "end"))))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child), more.boundary_event("caught", "call", more.error("err_DEEP")),
        bpmn.end("ok"), bpmn.end("failed"), bpmn.chain("start", "call", "ok"), bpmn.chain("caught", "failed"),
        extra=errors("DEEP"))))
    key = await gateway.create(parent)
    (job,) = await gateway.activate(f"{child}-deep")
    await gateway.throw_error(job.key, "DEEP", "", {"why": "child"})
    assert log.completed_elements(key) == ["start", "caught", "failed", parent]
    assert log.instance_state(job.processInstanceKey) == "ELEMENT_TERMINATED"
    assert log.variables(key)["why"] == "child"


async def test_error_uncaught_in_the_parent_is_an_incident_in_the_child(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("err-parent2"), unique("err-child2")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), bpmn.service("deep", f"{child}-deep"), bpmn.end(), bpmn.chain("start", "deep", "end"))))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child), bpmn.end(), bpmn.chain("start", "call", "end"))))
    await gateway.create(parent)
    (job,) = await gateway.activate(f"{child}-deep")
    await gateway.throw_error(job.key, "NOBODY", "boom")
    (incident,) = log.open_incidents(job.processInstanceKey)
    assert incident["value"]["errorType"] == "UNHANDLED_ERROR_EVENT"
    assert incident["value"]["jobKey"] == job.key
    assert incident["value"]["errorMessage"] == (
        "Expected to throw an error event with the code 'NOBODY' with message 'boom', but it was not caught. "
        "No error events are available in the scope.")
    # resolving the job incident gives the job back to workers
    await gateway.update_retries(job.key, 1)
    await gateway.resolve(incident["key"])
    (again,) = await gateway.activate(f"{child}-deep")
    assert again.key == job.key
    await gateway.complete(job.key)
    assert log.instance_state(job.processInstanceKey) == "ELEMENT_COMPLETED"


async def test_error_catch_events_outside_the_boundary_scope_are_not_reached(gateway: RawGateway,
                                                                             log: Log) -> None:
    """A boundary on a sibling activity doesn't catch; the nearest enclosing scope does."""
    pid = unique("err-scope")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"), bpmn.end("s1"),
                         more.boundary_event("inner_catch", "inner", more.error("err_OTHER")), bpmn.end("s2"),
                         bpmn.chain("s0", "inner", "s1", prefix="g"), bpmn.chain("inner_catch", "s2", prefix="h")),
        bpmn.service("sibling", f"{pid}-sibling"), more.boundary_event("sibling_catch", "sibling", more.error()),
        more.boundary_event("sub_catch", "sub", more.error()),
        bpmn.end("e1"), bpmn.end("e2"), bpmn.end("e3"), bpmn.end("e4"),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "sub"), bpmn.flow("b", "fork", "sibling"),
        bpmn.chain("sub", "e1"), bpmn.chain("sibling", "e2"), bpmn.chain("sibling_catch", "e3"),
        bpmn.chain("sub_catch", "e4"), extra=errors("OTHER"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-inner")
    await gateway.throw_error(job.key, "MINE")
    completed = log.completed_elements(key)
    assert "sub_catch" in completed and "e4" in completed
    assert "sibling_catch" not in completed and "inner_catch" not in completed
    (sibling,) = await gateway.activate(f"{pid}-sibling")
    await gateway.complete(sibling.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_error_thrown_in_a_multi_instance_is_caught_on_the_body(gateway: RawGateway, log: Log) -> None:
    pid = unique("err-mi")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("each", f"{pid}-each", loop=bpmn.multi_instance("=items", "item")),
        more.boundary_event("caught", "each", more.error()), bpmn.end("ok"), bpmn.end("failed"),
        bpmn.chain("start", "each", "ok"), bpmn.chain("caught", "failed"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    jobs = await gateway.activate(f"{pid}-each")
    assert len(jobs) == 3
    await gateway.complete(jobs[0].key)
    await gateway.throw_error(jobs[1].key, "ANY")
    assert log.completed_elements(key)[-3:] == ["caught", "failed", pid]
    # the thrower, the other running instance and the body
    assert log.count(key, "each", "ELEMENT_TERMINATED") == 3
    assert log.records("JOB", "CANCELED", processInstanceKey=key)[0]["key"] == jobs[2].key


# -- escalations ----------------------------------------------------------------------------------------------------------


def escalations(*codes: str) -> str:
    return "".join(bpmn.escalation_def(f"esc_{c}", c) for c in codes)


def escalating_sub(pid: str, *, interrupting: bool, throw: str = "throw") -> bytes:
    """A sub-process that throws an escalation (intermediate throw, then a task), caught on its boundary."""
    return bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), more.throw_event("raise", more.escalation("esc_LATE")),
                         bpmn.service("after", f"{pid}-after"), bpmn.end("s1"),
                         bpmn.chain("s0", "raise", "after", "s1", prefix="g")),
        more.boundary_event("caught", "sub", more.escalation("esc_LATE"), interrupting=interrupting),
        bpmn.service("notify", f"{pid}-notify"), bpmn.end("ok"), bpmn.end("notified"),
        bpmn.chain("start", "sub", "ok"), bpmn.chain("caught", "notify", "notified"), extra=escalations("LATE"))


async def test_non_interrupting_escalation_continues_both_paths(gateway: RawGateway, log: Log) -> None:
    pid = unique("esc-non")
    await gateway.deploy((f"{pid}.bpmn", escalating_sub(pid, interrupting=False)))
    key = await gateway.create(pid)
    (after,) = await gateway.activate(f"{pid}-after")
    (notify,) = await gateway.activate(f"{pid}-notify")
    await gateway.complete(after.key)
    await gateway.complete(notify.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert {"raise", "after", "ok", "caught", "notified"} <= set(log.completed_elements(key))
    (escalated,) = log.records("ESCALATION", "ESCALATED", processInstanceKey=key)
    assert escalated["value"]["escalationCode"] == "LATE"
    assert escalated["value"]["throwElementId"] == "raise" and escalated["value"]["catchElementId"] == "caught"


async def test_interrupting_escalation_boundary_ends_the_sub_process(gateway: RawGateway, log: Log) -> None:
    pid = unique("esc-int")
    await gateway.deploy((f"{pid}.bpmn", escalating_sub(pid, interrupting=True)))
    key = await gateway.create(pid)
    assert await gateway.activate(f"{pid}-after") == []  # the throw event's flow is not taken
    (notify,) = await gateway.activate(f"{pid}-notify")
    await gateway.complete(notify.key)
    completed = log.completed_elements(key)
    assert completed == ["start", "s0", "caught", "notify", "notified", pid]
    assert ("raise", "ELEMENT_TERMINATED") in log.trail(key)


async def test_uncaught_escalation_is_not_an_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("esc-none")
    model = bpmn.process(
        pid, bpmn.start(), more.throw_event("raise", more.escalation("esc_X")),
        more.end_event("finish", more.escalation("esc_X")), bpmn.chain("start", "raise", "finish"),
        extra=escalations("X"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.open_incidents(key) == []
    assert len(log.records("ESCALATION", "NOT_ESCALATED", processInstanceKey=key)) == 2


async def test_escalation_end_event_with_event_sub_processes_and_catch_all(gateway: RawGateway, log: Log) -> None:
    pid = unique("esc-esp")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("work", f"{pid}-work"),
        more.end_event("escalate", more.escalation("esc_CODE")), bpmn.end("e1"),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "work"), bpmn.flow("b", "fork", "escalate"),
        bpmn.chain("work", "e1"),
        more.event_sub_process(
            "on_specific", more.start_event("esp1", more.escalation("esc_CODE"), interrupting=False),
            bpmn.end("esp1_end"), bpmn.chain("esp1", "esp1_end", prefix="x")),
        more.event_sub_process(
            "on_any", more.start_event("esp2", more.escalation(), interrupting=False),
            bpmn.end("esp2_end"), bpmn.chain("esp2", "esp2_end", prefix="y")),
        extra=escalations("CODE"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    completed = log.completed_elements(key)
    assert "on_specific" in completed and "on_any" not in completed
    assert "escalate" in completed  # non-interrupting: the end event completes
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_interrupting_escalation_event_sub_process(gateway: RawGateway, log: Log) -> None:
    pid = unique("esc-esp-int")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("work", f"{pid}-work"),
        more.throw_event("escalate", more.escalation("esc_STOP")), bpmn.end("e1"), bpmn.end("e2"),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "work"), bpmn.flow("b", "fork", "escalate"),
        bpmn.chain("work", "e1"), bpmn.chain("escalate", "e2"),
        more.event_sub_process(
            "on_stop", more.start_event("esp", more.escalation("esc_STOP")), bpmn.end("esp_end"),
            bpmn.chain("esp", "esp_end", prefix="x")),
        extra=escalations("STOP"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    completed = log.completed_elements(key)
    assert "on_stop" in completed and "e1" not in completed and "e2" not in completed
    assert await gateway.activate(f"{pid}-work") == []
    assert Counter(r["intent"] for r in log.records("JOB", processInstanceKey=key)) == Counter(
        {"CREATED": 1, "CANCELED": 1})


async def test_escalation_from_a_called_process_reaches_the_call_activity(gateway: RawGateway, log: Log) -> None:
    parent, child = unique("esc-parent"), unique("esc-child")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), more.throw_event("up", more.escalation("esc_UP")), bpmn.service("rest", f"{child}-rest"),
        bpmn.end(), bpmn.chain("start", "up", "rest", "end"), extra=escalations("UP"))))
    await gateway.deploy((f"{parent}.bpmn", bpmn.process(
        parent, bpmn.start(), more.call("call", child),
        more.boundary_event("heard", "call", more.escalation("esc_UP"), interrupting=False),
        bpmn.end("ok"), bpmn.end("noted"), bpmn.chain("start", "call", "ok"), bpmn.chain("heard", "noted"),
        extra=escalations("UP"))))
    key = await gateway.create(parent)
    assert "noted" in log.completed_elements(key)
    (job,) = await gateway.activate(f"{child}-rest")  # the child went on
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


# -- deployment rules ------------------------------------------------------------------------------------------------------


async def test_two_catch_events_for_the_same_code_in_one_scope_are_rejected(gateway: RawGateway) -> None:
    pid = unique("dup-catch")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", "w"),
        more.boundary_event("b1", "work", more.error("err_A")), more.boundary_event("b2", "work", more.error("err_A")),
        more.boundary_event("b3", "work", more.escalation()), more.boundary_event("b4", "work", more.escalation()),
        bpmn.end(), bpmn.end("x1"), bpmn.end("x2"), bpmn.end("x3"), bpmn.end("x4"),
        bpmn.chain("start", "work", "end"), bpmn.chain("b1", "x1"), bpmn.chain("b2", "x2"), bpmn.chain("b3", "x3"),
        bpmn.chain("b4", "x4"), extra=errors("A"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{pid}.bpmn", model))
    details = error.value.details()
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "b2" in details and "b4" in details


async def test_error_boundary_must_interrupt(gateway: RawGateway) -> None:
    pid = unique("err-non")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", "w"),
        more.boundary_event("b1", "work", more.error(), interrupting=False), bpmn.end(), bpmn.end("x"),
        bpmn.chain("start", "work", "end"), bpmn.chain("b1", "x"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{pid}.bpmn", model))
    assert "must be interrupting" in error.value.details()
