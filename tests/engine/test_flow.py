"""Gateways, sub-processes, variable mappings and scopes, error boundary events: the path a token takes."""

from __future__ import annotations

import json

import grpc
import pytest

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog


def routing_model() -> bytes:
    return bpmn.process(
        "route",
        bpmn.start(),
        bpmn.exclusive("amount?", default="to_small"),
        bpmn.service("big", "big-order"),
        bpmn.service("small", "small-order"),
        bpmn.flow("f0", "start", "amount?"),
        bpmn.flow("to_big", "amount?", "big", "=amount > 1000"),
        bpmn.flow("to_small", "amount?", "small"),
        bpmn.end("end_big"), bpmn.end("end_small"),
        bpmn.flow("f1", "big", "end_big"), bpmn.flow("f2", "small", "end_small"),
    )


async def test_exclusive_gateway_routes_by_variables(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("route.bpmn", routing_model()))
    big = await gateway.create("route", {"amount": 5000})
    small = await gateway.create("route", {"amount": 10})
    assert [j.processInstanceKey for j in await gateway.activate("big-order")] == [big]
    assert [j.processInstanceKey for j in await gateway.activate("small-order")] == [small]
    taken = [e for e, intent in log.element_events(big) if intent == "SEQUENCE_FLOW_TAKEN"]
    assert taken == ["f0", "to_big"]


def no_default_model() -> bytes:
    return bpmn.process(
        "strict",
        bpmn.start(), bpmn.exclusive("check"), bpmn.end("yes"), bpmn.end("no"),
        bpmn.flow("f0", "start", "check"),
        bpmn.flow("to_yes", "check", "yes", "=answer = \"yes\""),
        bpmn.flow("to_no", "check", "no", "=answer = \"no\""),
    )


async def test_exclusive_gateway_without_match_raises_an_incident_until_resolved(gateway: RawGateway,
                                                                                 log: RecordLog) -> None:
    await gateway.deploy(("strict.bpmn", no_default_model()))
    key = await gateway.create("strict", {"answer": "maybe"})
    incidents = log.open_incidents(key)
    assert len(incidents) == 1
    value = incidents[0]["value"]
    assert value["errorType"] == "CONDITION_ERROR"
    assert value["elementId"] == "check"
    assert "Expected at least one condition to evaluate to true, or to have a default flow" in value["errorMessage"]
    # resolving without fixing anything evaluates again and fails again
    await gateway.resolve(incidents[0]["key"])
    assert len(log.open_incidents(key)) == 1
    await gateway.set_variables(key, {"answer": "no"})
    await gateway.resolve(log.open_incidents(key)[0]["key"])
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert "no" in log.completed_elements(key)


async def test_condition_of_the_wrong_type_is_an_incident(gateway: RawGateway, log: RecordLog) -> None:
    model = bpmn.process("typed", bpmn.start(), bpmn.exclusive("g", default="d"), bpmn.end("a"), bpmn.end("b"),
                         bpmn.flow("f", "start", "g"), bpmn.flow("c", "g", "a", "=count + 1"),
                         bpmn.flow("d", "g", "b"))
    await gateway.deploy(("typed.bpmn", model))
    key = await gateway.create("typed", {"count": 1})
    incident = log.open_incidents(key)[0]["value"]
    assert incident["errorType"] == "CONDITION_ERROR"
    assert "to be 'BOOLEAN', but was 'NUMBER'" in incident["errorMessage"]


def parallel_model() -> bytes:
    return bpmn.process(
        "fork",
        bpmn.start(), bpmn.parallel("split"), bpmn.service("a", "job-a"), bpmn.service("b", "job-b"),
        bpmn.service("c", "job-c"), bpmn.parallel("join"), bpmn.service("after", "job-after"), bpmn.end(),
        bpmn.chain("start", "split"), bpmn.flow("sa", "split", "a"), bpmn.flow("sb", "split", "b"),
        bpmn.flow("sc", "split", "c"), bpmn.flow("aj", "a", "join"), bpmn.flow("bj", "b", "join"),
        bpmn.flow("cj", "c", "join"), bpmn.chain("join", "after", "end"),
    )


async def test_parallel_gateway_forks_and_joins(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("fork.bpmn", parallel_model()))
    key = await gateway.create("fork")
    for job_type in ("job-b", "job-a"):
        (job,) = await gateway.activate(job_type)
        await gateway.complete(job.key, {job_type.replace("-", "_"): True})
        assert await gateway.activate("job-after") == []  # the join waits for every branch
    (job_c,) = await gateway.activate("job-c")
    await gateway.complete(job_c.key)
    (after,) = await gateway.activate("job-after")
    assert json.loads(after.variables) == {"job_a": True, "job_b": True}
    await gateway.complete(after.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.completed_elements(key).count("join") == 1


async def test_input_and_output_mappings_follow_zeebe_scopes(gateway: RawGateway, log: RecordLog) -> None:
    model = bpmn.process(
        "scopes", bpmn.start(),
        bpmn.service("task", "map", inputs={"orderId": "=order.id", "total": "=order.price * 2"},
                     outputs={"result.status": "=status", "shipped": "=true"}),
        bpmn.end(), bpmn.chain("start", "task", "end"),
    )
    await gateway.deploy(("scopes.bpmn", model))
    key = await gateway.create("scopes", {"order": {"id": "A-1", "price": 21}, "result": {"kept": 1}})
    (job,) = await gateway.activate("map")
    variables = json.loads(job.variables)
    # inputs are local to the task and visible to its job beside the process variables
    assert variables["orderId"] == "A-1" and variables["total"] == 42
    await gateway.complete(job.key, {"status": "ok", "noise": "not mapped"})
    final = log.variables(key)
    # only the outputs reach the process; the nested target keeps the context's other entries
    assert final["result"] == {"kept": 1, "status": "ok"}
    assert final["shipped"] is True
    assert "noise" not in final and "orderId" not in final and "total" not in final


async def test_job_variables_update_the_scope_that_owns_them(gateway: RawGateway, log: RecordLog) -> None:
    model = bpmn.process(
        "owners", bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", "inner", inputs={"local": "=1"}),
                         bpmn.end("s1"), bpmn.chain("s0", "inner", "s1", prefix="g"),
                         inputs={"counter": "=0"}),
        bpmn.service("after", "after"), bpmn.end(), bpmn.chain("start", "sub", "after", "end"),
    )
    await gateway.deploy(("owners.bpmn", model))
    key = await gateway.create("owners", {"x": 1})
    (job,) = await gateway.activate("inner")
    await gateway.complete(job.key, {"counter": 5, "local": 9, "fresh": "root"})
    (after,) = await gateway.activate("after")
    seen = json.loads(after.variables)
    # counter lived in the sub-process scope and went with it; local belonged to the task; fresh went to the root
    assert seen == {"x": 1, "fresh": "root"}
    await gateway.complete(after.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_failing_input_mapping_is_an_incident_and_resolves_after_the_fix(gateway: RawGateway,
                                                                               log: RecordLog) -> None:
    model = bpmn.process("io", bpmn.start(), bpmn.service("t", "io", inputs={"n": "=assert(value, value != null)"}),
                         bpmn.end(), bpmn.chain("start", "t", "end"))
    await gateway.deploy(("io.bpmn", model))
    key = await gateway.create("io")
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "IO_MAPPING_ERROR"
    assert incident["value"]["elementId"] == "t"
    await gateway.set_variables(key, {"value": 3})
    await gateway.resolve(incident["key"])
    (job,) = await gateway.activate("io")
    assert json.loads(job.variables)["n"] == 3


def error_model() -> bytes:
    return bpmn.process(
        "errors",
        bpmn.start(), bpmn.service("pay", "pay"),
        bpmn.boundary("declined", "pay", bpmn.error_event("err_declined")),
        bpmn.service("handle", "handle-decline"), bpmn.end("ok"), bpmn.end("handled"),
        bpmn.chain("start", "pay", "ok"), bpmn.chain("declined", "handle", "handled"),
        extra=bpmn.error_def("err_declined", "CARD_DECLINED"),
    )


async def test_error_boundary_catches_throw_error_by_code(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("errors.bpmn", error_model()))
    key = await gateway.create("errors")
    (job,) = await gateway.activate("pay")
    await gateway.throw_error(job.key, "CARD_DECLINED", "insufficient funds", {"reason": "funds"})
    (handler,) = await gateway.activate("handle-decline")
    assert json.loads(handler.variables)["reason"] == "funds"
    events = log.element_events(key)
    assert ("pay", "ELEMENT_TERMINATED") in events
    assert ("declined", "ELEMENT_COMPLETED") in events
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.complete(job.key)  # the job went with its task


async def test_uncaught_error_code_raises_an_incident(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("errors.bpmn", error_model()))
    key = await gateway.create("errors")
    (job,) = await gateway.activate("pay")
    await gateway.throw_error(job.key, "SOMETHING_ELSE", "boom")
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "UNHANDLED_ERROR_EVENT"
    assert "SOMETHING_ELSE" in incident["value"]["errorMessage"]
    assert incident["value"]["jobKey"] == job.key


async def test_error_thrown_inside_a_sub_process_is_caught_on_the_sub_process(gateway: RawGateway,
                                                                              log: RecordLog) -> None:
    model = bpmn.process(
        "nested", bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("deep", "deep"), bpmn.end("s1"),
                         bpmn.chain("s0", "deep", "s1", prefix="g")),
        bpmn.boundary("caught", "sub", bpmn.error_event()),  # catch-all
        bpmn.end("normal"), bpmn.end("failed"),
        bpmn.chain("start", "sub", "normal"), bpmn.chain("caught", "failed"),
    )
    await gateway.deploy(("nested.bpmn", model))
    key = await gateway.create("nested")
    (job,) = await gateway.activate("deep")
    await gateway.throw_error(job.key, "ANY_CODE")
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    completed = log.completed_elements(key)
    assert "failed" in completed and "normal" not in completed


async def test_manual_and_undefined_tasks_pass_through(gateway: RawGateway, log: RecordLog) -> None:
    model = bpmn.process("pass", bpmn.start(), '<bpmn:manualTask id="m"/>', '<bpmn:task id="t"/>', bpmn.end(),
                         bpmn.chain("start", "m", "t", "end"))
    await gateway.deploy(("pass.bpmn", model))
    key = await gateway.create("pass")
    assert log.completed_elements(key) == ["start", "m", "t", "end", "pass"]


async def test_cancel_terminates_every_element(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("fork.bpmn", parallel_model()))
    key = await gateway.create("fork")
    await gateway.cancel(key)
    assert log.instance_state(key) == "ELEMENT_TERMINATED"
    terminated = {e for e, intent in log.element_events(key) if intent == "ELEMENT_TERMINATED"}
    assert terminated == {"a", "b", "c", "fork"}
    assert await gateway.activate("job-a") == []
    assert len(log.records("JOB", "CANCELED")) == 3
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.cancel(key)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_user_task_is_a_job_with_zeebe_headers(gateway: RawGateway) -> None:
    model = bpmn.process(
        "approve", bpmn.start(),
        bpmn.user_task("review", assignee="=owner", groups="land-bureau, dev-office", due="=deadline",
                       form_key="camunda-forms:bpmn:review-form"),
        bpmn.end(), bpmn.chain("start", "review", "end"))
    await gateway.deploy(("approve.bpmn", model))
    await gateway.create("approve", {"owner": "wang", "deadline": "2026-12-08T23:59:59+08:00"})
    (job,) = await gateway.activate("io.camunda.zeebe:userTask", timeout=30 * 24 * 3600 * 1000)
    headers = json.loads(job.customHeaders)
    assert headers["io.camunda.zeebe:assignee"] == "wang"
    assert json.loads(headers["io.camunda.zeebe:candidateGroups"]) == ["land-bureau", "dev-office"]
    assert headers["io.camunda.zeebe:dueDate"] == "2026-12-08T23:59:59+08:00"
    assert headers["io.camunda.zeebe:formKey"] == "camunda-forms:bpmn:review-form"
