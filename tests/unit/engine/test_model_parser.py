"""services/engine/model: what the parser builds for events and structure, and what it rejects."""

from __future__ import annotations

import pytest

from services.engine.model import DeploymentError, parse_bpmn
from services.engine.protocol import ElementType, EventType
from tests.engine import bpmn
from tests.engine import bpmn_more as more


def parse(model: bytes) -> object:
    (process,) = parse_bpmn(model, "model.bpmn")
    return process


def rejected(model: bytes) -> str:
    with pytest.raises(DeploymentError) as error:
        parse_bpmn(model, "model.bpmn")
    return str(error.value)


def test_timer_start_events_are_collected_with_their_definitions() -> None:
    process = parse(bpmn.process(
        "p", more.start_event("date", more.timer("date", "2026-12-01T09:00:00Z")),
        more.start_event("cycle", more.timer("cycle", "R3/PT1H")), bpmn.end(),
        bpmn.flow("a", "date", "end"), bpmn.flow("b", "cycle", "end")))
    assert [(s.id, s.timer.kind) for s in process.timer_starts] == [("date", "date"), ("cycle", "cycle")]
    assert process.root.none_start is None


@pytest.mark.parametrize(("element", "problem"), [
    (more.start_event("s", more.timer("duration", "PT1H")), "duration is not allowed on a startEvent"),
    (more.catch_event("s", more.timer("cycle", "R/PT1H")), "cycle is not allowed on a intermediateCatchEvent"),
    (more.catch_event("s", more.timer("duration", "one hour")), "Invalid duration format 'one hour'"),
    (more.catch_event("s", more.timer("date", "someday")), "Invalid date-time format 'someday'"),
    (more.start_event("s", more.timer("cycle", "0 0 25 * * *")), "Invalid cron expression"),
    (more.catch_event("s", "<bpmn:timerEventDefinition/>"), "exactly one of timeDuration, timeDate or timeCycle"),
])
def test_invalid_timers(element: str, problem: str) -> None:
    message = rejected(bpmn.process("p", bpmn.start("begin"), element, bpmn.end()))
    assert problem in message
    assert "- Element: s" in message


def test_cycle_on_an_interrupting_boundary_is_rejected_but_allowed_when_not_interrupting() -> None:
    def model(interrupting: bool) -> bytes:
        return bpmn.process("p", bpmn.start(), bpmn.service("t", "x"),
                            more.boundary_event("b", "t", more.timer("cycle", "R3/PT1H"), interrupting=interrupting),
                            bpmn.end(), bpmn.end("e2"), bpmn.chain("start", "t", "end"), bpmn.chain("b", "e2"))

    assert "only allowed on a non-interrupting boundary event" in rejected(model(True))
    process = parse(model(False))
    (boundary,) = process.elements["t"].boundary_events
    assert boundary.interrupting is False and boundary.timer.kind == "cycle"


def test_timer_expressions_are_kept_for_evaluation() -> None:
    process = parse(bpmn.process("p", bpmn.start(), more.catch_event("w", more.timer("duration", "=wait")),
                                 bpmn.end(), bpmn.chain("start", "w", "end")))
    timer = process.elements["w"].timer
    assert timer.kind == "duration" and not timer.expression.is_static and timer.expression.text == "wait"


def test_message_catch_needs_a_correlation_key_but_a_start_event_does_not() -> None:
    message = rejected(bpmn.process("p", bpmn.start(), more.catch_event("w", more.message("m")), bpmn.end(),
                                    bpmn.chain("start", "w", "end"), extra=bpmn.message_def("m", "ping")))
    assert "must have a correlation key" in message
    process = parse(bpmn.process("p", more.start_event("s", more.message("m")), bpmn.end(), bpmn.chain("s", "end"),
                                 extra=bpmn.message_def("m", "ping")))
    (start,) = process.message_starts
    assert start.message.name.static == "ping" and start.message.correlation_key is None


def test_message_start_of_an_event_sub_process_needs_a_correlation_key() -> None:
    message = rejected(bpmn.process(
        "p", bpmn.start(), bpmn.end(), bpmn.chain("start", "end"),
        more.event_sub_process("esp", more.start_event("es", more.message("m")), bpmn.end("ee"),
                               bpmn.chain("es", "ee", prefix="x")),
        extra=bpmn.message_def("m", "ping")))
    assert "es" in message


def test_two_message_starts_for_one_message_are_rejected() -> None:
    message = rejected(bpmn.process(
        "p", more.start_event("a", more.message("m1")), more.start_event("b", more.message("m2")), bpmn.end(),
        bpmn.flow("f1", "a", "end"), bpmn.flow("f2", "b", "end"),
        extra=bpmn.message_def("m1", "same") + bpmn.message_def("m2", "same")))
    assert "must not reference the same message" in message


def test_event_sub_processes_are_attached_to_their_scope() -> None:
    process = parse(bpmn.process(
        "p", bpmn.start(), bpmn.end(), bpmn.chain("start", "end"),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.end("s1"), bpmn.chain("s0", "s1", prefix="g"),
                         more.event_sub_process("inner_esp", more.start_event("ies", more.timer("duration", "PT1H"),
                                                                              interrupting=False),
                                                bpmn.end("iee"), bpmn.chain("ies", "iee", prefix="h"))),
        more.event_sub_process("esp", more.start_event("es", more.error()), bpmn.end("ee"),
                               bpmn.chain("es", "ee", prefix="x"))))
    assert [e.id for e in process.root.event_sub_processes] == ["esp"]
    sub = process.elements["sub"]
    assert [e.id for e in sub.event_sub_processes] == ["inner_esp"]
    assert process.elements["ies"].interrupting is False
    assert process.elements["inner_esp"].element_type == ElementType.EVENT_SUB_PROCESS


def test_event_sub_process_needs_one_start_with_a_definition() -> None:
    message = rejected(bpmn.process(
        "p", bpmn.start(), bpmn.end(), bpmn.chain("start", "end"),
        more.event_sub_process("esp", bpmn.start("plain"), bpmn.end("ee"), bpmn.chain("plain", "ee", prefix="x"))))
    assert "An event sub-process must have exactly one start event with an event definition" in message


def test_multi_instance_wraps_the_activity_in_a_body() -> None:
    process = parse(bpmn.process(
        "p", bpmn.start(),
        bpmn.service("t", "x", loop=bpmn.multi_instance("=items", "item", sequential=True, output_collection="out",
                                                        output_element="=r", completion="=done")),
        more.boundary_event("b", "t", more.timer("duration", "PT1H")), bpmn.end(), bpmn.end("e2"),
        bpmn.chain("start", "t", "end"), bpmn.chain("b", "e2")))
    body = process.elements["t"]
    assert body.element_type == ElementType.MULTI_INSTANCE_BODY
    assert body.inner.element_type == ElementType.SERVICE_TASK and body.inner.flow_scope is body
    assert [b.id for b in body.boundary_events] == ["b"]
    loop = body.loop
    assert loop.sequential and loop.input_element == "item" and loop.output_collection == "out"
    assert loop.output_element.text == "r" and loop.completion_condition.text == "done"


def test_multi_instance_sub_process() -> None:
    process = parse(bpmn.process(
        "p", bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.end("s1"), bpmn.chain("s0", "s1", prefix="g"),
                         loop=bpmn.multi_instance("=items")),
        bpmn.end(), bpmn.chain("start", "sub", "end")))
    body = process.elements["sub"]
    assert body.element_type == ElementType.MULTI_INSTANCE_BODY
    assert body.inner.element_type == ElementType.SUB_PROCESS and body.inner.none_start.id == "s0"


def test_output_collection_needs_an_output_element() -> None:
    message = rejected(bpmn.process("p", bpmn.start(), bpmn.service(
        "t", "x", loop=bpmn.multi_instance("=items", output_collection="out")), bpmn.end(), bpmn.chain("start", "t", "end")))
    assert "outputElement" in message


def test_catch_codes_must_be_unique_per_scope() -> None:
    model = bpmn.process(
        "p", bpmn.start(), bpmn.end(), bpmn.chain("start", "end"),
        more.event_sub_process("e1", more.start_event("s1", more.escalation("esc")), bpmn.end("x1"),
                               bpmn.chain("s1", "x1", prefix="a")),
        more.event_sub_process("e2", more.start_event("s2", more.escalation("esc"), interrupting=False), bpmn.end("x2"),
                               bpmn.chain("s2", "x2", prefix="b")),
        extra=bpmn.escalation_def("esc", "LATE"))
    message = rejected(model)
    assert "- Element: s2" in message and "escalation code 'LATE'" in message


def test_specific_and_catch_all_may_share_a_scope() -> None:
    process = parse(bpmn.process(
        "p", bpmn.start(), bpmn.service("t", "x"), more.boundary_event("a", "t", more.error("err")),
        more.boundary_event("b", "t", more.error()), bpmn.end(), bpmn.end("ea"), bpmn.end("eb"),
        bpmn.chain("start", "t", "end"), bpmn.chain("a", "ea"), bpmn.chain("b", "eb"),
        extra=more.error_def("err", "E1")))
    codes = {b.id: (b.error_code.static if b.error_code else None) for b in process.elements["t"].boundary_events}
    assert codes == {"a": "E1", "b": None}


def test_error_end_event_needs_a_code_and_catch_codes_must_be_static() -> None:
    assert "must reference an error with an error code" in rejected(bpmn.process(
        "p", bpmn.start(), more.end_event("e", more.error()), bpmn.chain("start", "e")))
    assert "must be a static value" in rejected(bpmn.process(
        "p", bpmn.start(), bpmn.service("t", "x"), more.boundary_event("b", "t", more.error("err")), bpmn.end(),
        bpmn.end("e2"), bpmn.chain("start", "t", "end"), bpmn.chain("b", "e2"), extra=more.error_def("err", "=code")))


def test_event_based_gateway_targets() -> None:
    message = rejected(bpmn.process(
        "p", bpmn.start(), more.event_gateway("g"), bpmn.service("t", "x"),
        more.catch_event("w", more.timer("duration", "PT1H")), bpmn.end(), bpmn.end("e2"),
        bpmn.chain("start", "g"), bpmn.flow("a", "g", "t"), bpmn.flow("b", "g", "w"), bpmn.chain("t", "end"),
        bpmn.chain("w", "e2")))
    assert "may only lead to intermediate timer, message or signal catch events or receive tasks" in message


def test_link_events() -> None:
    process = parse(bpmn.process(
        "p", bpmn.start(), more.throw_event("jump", more.link("A")), more.catch_event("land", more.link("A")),
        bpmn.end(), bpmn.chain("start", "jump"), bpmn.chain("land", "end")))
    assert process.elements["jump"].link_name == "A" and process.elements["land"].event_type == EventType.LINK
    assert "Multiple intermediate catch link events are named 'A'" in rejected(bpmn.process(
        "p", bpmn.start(), more.throw_event("jump", more.link("A")), more.catch_event("l1", more.link("A")),
        more.catch_event("l2", more.link("A")), bpmn.end(), bpmn.end("e2"), bpmn.chain("start", "jump"),
        bpmn.chain("l1", "end"), bpmn.chain("l2", "e2")))


def test_call_activity_flags() -> None:
    process = parse(bpmn.process("p", bpmn.start(), more.call("c", "=target", propagate_child=False,
                                                              propagate_parent=False),
                                 bpmn.end(), bpmn.chain("start", "c", "end")))
    call = process.elements["c"].call
    assert call.process_id.text == "target" and not call.process_id.is_static
    assert call.propagate_all_child_variables is False and call.propagate_all_parent_variables is False
    assert "processId" in rejected(bpmn.process("p", bpmn.start(), '<bpmn:callActivity id="c"/>', bpmn.end(),
                                                bpmn.chain("start", "c", "end")))


def test_signal_events_need_a_named_signal() -> None:
    assert "Must reference a signal with a name" in rejected(bpmn.process(
        "p", bpmn.start(), more.catch_event("w", more.signal("nope")), bpmn.end(), bpmn.chain("start", "w", "end")))
