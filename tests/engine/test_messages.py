"""Messages: publish, buffer, correlate (catch events, receive tasks, boundary events, start events, event
sub-processes, event-based gateways), message ids, time to live and Zeebe's cardinality rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

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


def msg(name: str, key: str = "=orderId") -> str:
    return bpmn.message_def("m", name, key)


def catch_model(pid: str, name: str, *, key: str = "=orderId", outputs: dict[str, str] | None = None) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), more.catch_event("wait", more.message("m"), outputs=outputs), bpmn.end(),
        bpmn.chain("start", "wait", "end"), extra=msg(name, key))


def subscriptions(log: Log, pik: int) -> Counter[str]:
    return Counter(r["intent"] for r in log.records("PROCESS_MESSAGE_SUBSCRIPTION", processInstanceKey=pik))


# -- intermediate catch events ----------------------------------------------------------------------------------------


async def test_message_correlates_to_the_waiting_instance_and_merges_its_variables(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("paid"), unique("money-collected")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    key = await gateway.create(pid, {"orderId": "order-123"})
    other = await gateway.create(pid, {"orderId": "order-456"})
    (created,) = log.records("PROCESS_MESSAGE_SUBSCRIPTION", "CREATED", processInstanceKey=key)
    assert created["value"]["messageName"] == name and created["value"]["correlationKey"] == "order-123"
    message_key = await gateway.publish(name, "order-123", {"amount": 99.5, "orderId": "order-123"})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.instance_state(other) == "ELEMENT_ACTIVATED"
    assert log.variables(key)["amount"] == 99.5
    (correlated,) = log.records("PROCESS_MESSAGE_SUBSCRIPTION", "CORRELATED", processInstanceKey=key)
    assert correlated["value"]["messageKey"] == message_key
    assert subscriptions(log, key) == Counter({"CREATED": 1, "CORRELATED": 1})
    assert [r["intent"] for r in log.records("MESSAGE") if r["key"] == message_key] == ["PUBLISHED", "EXPIRED"]


async def test_name_and_key_are_expressions_evaluated_when_the_subscription_opens(
        gateway: RawGateway, log: Log) -> None:
    pid, prefix = unique("dynamic"), unique("order")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, f'="{prefix}-" + kind', key="=order.number")))
    key = await gateway.create(pid, {"kind": "shipped", "order": {"number": 42}})
    (created,) = log.records("PROCESS_MESSAGE_SUBSCRIPTION", "CREATED", processInstanceKey=key)
    assert created["value"]["messageName"] == f"{prefix}-shipped"
    assert created["value"]["correlationKey"] == "42"  # a number key is written without a fraction
    await gateway.set_variables(key, {"order": {"number": 7}})  # not re-evaluated
    await gateway.publish(f"{prefix}-shipped", "7")
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    await gateway.publish(f"{prefix}-shipped", "42")
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_a_correlation_key_that_is_neither_string_nor_number_is_an_incident(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("badkey"), unique("bad-key")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    key = await gateway.create(pid, {"orderId": True})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert incident["value"]["elementId"] == "wait"
    assert incident["value"]["errorMessage"] == (
        "Failed to extract the correlation key for 'orderId': The value must be either a string or a number, "
        "but was 'BOOLEAN'.")
    assert subscriptions(log, key) == Counter()
    await gateway.set_variables(key, {"orderId": 17})
    await gateway.resolve(incident["key"])
    assert subscriptions(log, key) == Counter({"CREATED": 1})
    await gateway.publish(name, "17")
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_missing_correlation_variable_is_an_incident(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("nokey"), unique("no-key")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    key = await gateway.create(pid)
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert "'NULL'" in incident["value"]["errorMessage"]


async def test_output_mapping_on_the_catch_event_decides_what_reaches_the_process(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("mapped"), unique("mapped-msg")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name, outputs={"paid": "=amount"})))
    key = await gateway.create(pid, {"orderId": "o1"})
    await gateway.publish(name, "o1", {"amount": 10, "noise": "x"})
    variables = log.variables(key)
    assert variables["paid"] == 10
    assert "noise" not in variables and "amount" not in variables


# -- buffering, time to live and message ids --------------------------------------------------------------------------


async def test_buffered_message_correlates_to_a_subscription_opened_later(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("late"), unique("early-bird")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    await gateway.publish(name, "k1", {"first": True}, ttl=HOUR)
    await gateway.publish(name, "k1", {"second": True}, ttl=HOUR)
    key = await gateway.create(pid, {"orderId": "k1"})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    variables = log.variables(key)
    assert variables.get("first") is True and "second" not in variables  # the first published wins (FIFO)


async def test_message_without_time_to_live_is_not_buffered(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("missed"), unique("gone")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    await gateway.publish(name, "k2")
    key = await gateway.create(pid, {"orderId": "k2"})
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    assert subscriptions(log, key) == Counter({"CREATED": 1})


async def test_message_expires_when_the_clock_passes_its_time_to_live(engine: EngineProcess, gateway: RawGateway,
                                                                      log: Log) -> None:
    pid, name = unique("expiry"), unique("short-lived")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    message_key = await gateway.publish(name, "k3", ttl=HOUR)
    engine.clock_add(HOUR // 2)
    assert [r["intent"] for r in log.records("MESSAGE") if r["key"] == message_key] == ["PUBLISHED"]
    engine.clock_add(HOUR)
    assert [r["intent"] for r in log.records("MESSAGE") if r["key"] == message_key] == ["PUBLISHED", "EXPIRED"]
    key = await gateway.create(pid, {"orderId": "k3"})
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"


async def test_message_id_is_unique_while_the_message_is_buffered(engine: EngineProcess, gateway: RawGateway,
                                                                  log: Log) -> None:
    name = unique("idempotent")
    await gateway.publish(name, "k4", ttl=HOUR, message_id="req-1")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.publish(name, "k4", ttl=HOUR, message_id="req-1")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "req-1" in error.value.details()
    assert len(log.records("MESSAGE", "PUBLISHED", name=name)) == 1
    # another correlation key or another name is another message
    await gateway.publish(name, "k5", ttl=HOUR, message_id="req-1")
    await gateway.publish(f"{name}-other", "k4", ttl=HOUR, message_id="req-1")
    # once the first is gone from the buffer the id may be used again
    engine.clock_add(2 * HOUR)
    await gateway.publish(name, "k4", ttl=HOUR, message_id="req-1")
    assert len(log.records("MESSAGE", "PUBLISHED", name=name)) == 3


async def test_message_id_without_time_to_live_is_not_remembered(gateway: RawGateway, log: Log) -> None:
    name = unique("no-ttl-id")
    await gateway.publish(name, "k", message_id="same")
    await gateway.publish(name, "k", message_id="same")
    assert len(log.records("MESSAGE", "PUBLISHED", name=name)) == 2


async def test_invalid_publish_requests(gateway: RawGateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.publish("  ", "k")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.PublishMessage(__import__("pyzeebe.proto.gateway_pb2", fromlist=["x"]).PublishMessageRequest(
            name="n", correlationKey="k", variables="[1, 2]"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- cardinality ---------------------------------------------------------------------------------------------------------


async def test_one_message_correlates_once_per_process_but_to_every_process(gateway: RawGateway, log: Log) -> None:
    name = unique("fan-out")
    first, second = unique("proc-a"), unique("proc-b")
    await gateway.deploy((f"{first}.bpmn", catch_model(first, name)), (f"{second}.bpmn", catch_model(second, name)))
    a1 = await gateway.create(first, {"orderId": "same"})
    a2 = await gateway.create(first, {"orderId": "same"})
    b1 = await gateway.create(second, {"orderId": "same"})
    await gateway.publish(name, "same")
    states = [log.instance_state(k) for k in (a1, a2)]
    assert sorted(states) == ["ELEMENT_ACTIVATED", "ELEMENT_COMPLETED"]
    assert log.instance_state(b1) == "ELEMENT_COMPLETED"


async def test_buffered_message_correlates_once_per_process_id_across_instances_and_versions(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("once"), unique("buffered-once")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    await gateway.publish(name, "k6", ttl=HOUR)
    first = await gateway.create(pid, {"orderId": "k6"})
    assert log.instance_state(first) == "ELEMENT_COMPLETED"
    second = await gateway.create(pid, {"orderId": "k6"})
    assert log.instance_state(second) == "ELEMENT_ACTIVATED"
    # a new version is the same process: still no second correlation
    await gateway.deploy((f"{pid}-v2.bpmn", catch_model(pid, name, outputs={"v2": "=true"})))
    third = await gateway.create(pid, {"orderId": "k6"})
    assert log.instance_state(third) == "ELEMENT_ACTIVATED"
    # another process still gets it
    other = unique("other")
    await gateway.deploy((f"{other}.bpmn", catch_model(other, name)))
    fourth = await gateway.create(other, {"orderId": "k6"})
    assert log.instance_state(fourth) == "ELEMENT_COMPLETED"


async def test_two_waits_in_one_instance_take_one_message_each(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("twice"), unique("two-waits")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), more.catch_event("w1", more.message("m")),
        more.catch_event("w2", more.message("m")), bpmn.parallel("join"), bpmn.end(),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "w1"), bpmn.flow("b", "fork", "w2"),
        bpmn.flow("c", "w1", "join"), bpmn.flow("d", "w2", "join"), bpmn.chain("join", "end"),
        extra=msg(name))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "t"})
    await gateway.publish(name, "t")
    assert len([e for e, i in log.trail(key) if i == "ELEMENT_COMPLETED" and e in ("w1", "w2")]) == 1
    await gateway.publish(name, "t")
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


# -- receive tasks and boundary events ---------------------------------------------------------------------------------


async def test_receive_task_waits_for_its_message(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("receive"), unique("receipt")
    model = bpmn.process(pid, bpmn.start(), more.receive_task("recv", "m"), bpmn.end(),
                         bpmn.chain("start", "recv", "end"), extra=msg(name))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "r1"})
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    await gateway.publish(name, "r1", {"got": 1})
    assert log.completed_elements(key) == ["start", "recv", "end", pid]
    assert log.variables(key)["got"] == 1


def boundary_model(pid: str, name: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("cancelled", "work", more.message("m"), interrupting=interrupting),
        bpmn.service("react", f"{pid}-react"), bpmn.end("done"), bpmn.end("reacted"),
        bpmn.chain("start", "work", "done"), bpmn.chain("cancelled", "react", "reacted"), extra=msg(name))


async def test_interrupting_message_boundary_event(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("interrupt"), unique("stop-now")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, name, interrupting=True)))
    key = await gateway.create(pid, {"orderId": "b1"})
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.publish(name, "b1", {"why": "customer"})
    assert ("work", "ELEMENT_TERMINATED") in log.trail(key)
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.complete(job.key)
    (react,) = await gateway.activate(f"{pid}-react")
    assert json.loads(react.variables)["why"] == "customer"
    await gateway.publish(name, "b1")  # nobody listens anymore
    await gateway.complete(react.key)
    assert log.completed_elements(key) == ["start", "cancelled", "react", "reacted", pid]


async def test_non_interrupting_message_boundary_takes_every_message(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("notify"), unique("ping")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, name, interrupting=False)))
    key = await gateway.create(pid, {"orderId": "b2"})
    for i in range(3):
        await gateway.publish(name, "b2", {"n": i})
    reacts = await gateway.activate(f"{pid}-react")
    assert len(reacts) == 3
    assert subscriptions(log, key) == Counter({"CREATED": 1, "CORRELATED": 3})
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert subscriptions(log, key) == Counter({"CREATED": 1, "CORRELATED": 3, "DELETED": 1})
    for react in reacts:
        await gateway.complete(react.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "reacted") == 3


# -- message start events -----------------------------------------------------------------------------------------------


def start_model(pid: str, name: str, *, task: bool = True) -> bytes:
    elements = [more.start_event("msg_start", more.message("s")), bpmn.end()]
    if task:
        elements += [bpmn.service("work", f"{pid}-work"), bpmn.chain("msg_start", "work", "end")]
    else:
        elements.append(bpmn.chain("msg_start", "end"))
    return bpmn.process(pid, *elements, extra=bpmn.message_def("s", name))


async def test_message_start_event_creates_an_instance_with_the_message_variables(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("by-message"), unique("order-placed")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, name, task=False)))
    await gateway.publish(name, "", {"orderId": "o-1"})
    (key,) = log.instances_of(pid)
    assert log.completed_elements(key) == ["msg_start", "end", pid]
    assert log.variables(key) == {"orderId": "o-1"}
    (correlated,) = log.records("MESSAGE_START_EVENT_SUBSCRIPTION", "CORRELATED", bpmnProcessId=pid)
    assert correlated["value"]["processInstanceKey"] == key
    # an empty correlation key always starts another instance
    await gateway.publish(name, "")
    assert len(log.instances_of(pid)) == 2


async def test_one_active_instance_per_correlation_key_for_a_message_start(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("single"), unique("single-instance")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, name)))
    await gateway.publish(name, "entity-1")
    await gateway.publish(name, "entity-1")  # discarded: an instance for entity-1 is active
    await gateway.publish(name, "entity-2")
    assert len(log.instances_of(pid)) == 2
    await gateway.publish(name, "entity-1", {"queued": True}, ttl=HOUR)  # buffered until the active one ends
    assert len(log.instances_of(pid)) == 2
    jobs = await gateway.activate(f"{pid}-work")
    first = log.instances_of(pid)[0]
    job = next(j for j in jobs if j.processInstanceKey == first)
    await gateway.complete(job.key)
    instances = log.instances_of(pid)
    assert len(instances) == 3
    assert log.variables(instances[2]) == {"queued": True}


async def test_message_start_subscriptions_belong_to_the_latest_version(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("versions"), unique("versioned-start")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, name, task=False)))
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(pid, bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))))
    await gateway.publish(name, "")
    assert log.instances_of(pid) == []
    await gateway.publish(name, "", ttl=HOUR)
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, name, task=False)))
    assert log.instances_of(pid) == []  # published before the deployment: not correlated


async def test_message_start_name_may_be_an_expression_evaluated_at_deployment(gateway: RawGateway,
                                                                               log: Log) -> None:
    pid, name = unique("expr-start"), unique("computed")
    model = bpmn.process(pid, more.start_event("go", more.message("s")), bpmn.end(), bpmn.chain("go", "end"),
                         extra=bpmn.message_def("s", f'="{name}" + "-x"'))
    await gateway.deploy((f"{pid}.bpmn", model))
    await gateway.publish(f"{name}-x", "")
    assert len(log.instances_of(pid)) == 1


# -- message start events of event sub-processes ---------------------------------------------------------------------------


def esp_model(pid: str, name: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "on_msg", more.start_event("esp_start", more.message("m"), interrupting=interrupting),
            bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
            bpmn.chain("esp_start", "handle", "esp_end", prefix="e")),
        extra=msg(name))


async def test_interrupting_message_event_sub_process(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("esp-int"), unique("abort")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, name, interrupting=True)))
    key = await gateway.create(pid, {"orderId": "e1"})
    await gateway.publish(name, "e1", {"reason": "r"})
    assert await gateway.activate(f"{pid}-work") == []
    (handle,) = await gateway.activate(f"{pid}-handle")
    assert json.loads(handle.variables)["reason"] == "r"
    await gateway.publish(name, "e1")  # triggered once only
    assert await gateway.activate(f"{pid}-handle") == []
    await gateway.complete(handle.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert "end" not in log.completed_elements(key)


async def test_non_interrupting_message_event_sub_process(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("esp-non"), unique("note")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, name, interrupting=False)))
    key = await gateway.create(pid, {"orderId": "e2"})
    await gateway.publish(name, "e2")
    await gateway.publish(name, "e2")
    handlers = await gateway.activate(f"{pid}-handle")
    assert len(handlers) == 2
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    for handler in handlers:
        await gateway.complete(handler.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "on_msg") == 2 and log.count(key, "end") == 1


# -- event-based gateway ----------------------------------------------------------------------------------------------------


def race_model(pid: str, name: str) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), more.event_gateway("race"),
        more.catch_event("answer", more.message("m")), more.catch_event("timeout", more.timer("duration", "PT1H")),
        more.receive_task("receipt", "r"),
        bpmn.end("answered"), bpmn.end("timed_out"), bpmn.end("received"),
        bpmn.chain("start", "race"), bpmn.flow("g1", "race", "answer"), bpmn.flow("g2", "race", "timeout"),
        bpmn.flow("g3", "race", "receipt"),
        bpmn.chain("answer", "answered"), bpmn.chain("timeout", "timed_out"), bpmn.chain("receipt", "received"),
        extra=msg(name) + bpmn.message_def("r", f"{name}-receipt", "=orderId"))


async def test_event_based_gateway_message_wins(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid, name = unique("race-msg"), unique("answer")
    await gateway.deploy((f"{pid}.bpmn", race_model(pid, name)))
    key = await gateway.create(pid, {"orderId": "g1"})
    assert subscriptions(log, key) == Counter({"CREATED": 2})
    await gateway.publish(name, "g1", {"reply": "yes"})
    assert log.completed_elements(key) == ["start", "race", "answer", "answered", pid]
    assert log.variables(key)["reply"] == "yes"
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})
    assert subscriptions(log, key) == Counter({"CREATED": 2, "CORRELATED": 1, "DELETED": 1})
    engine.clock_add(2 * HOUR)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})


async def test_event_based_gateway_timer_wins(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid, name = unique("race-timer"), unique("too-late")
    await gateway.deploy((f"{pid}.bpmn", race_model(pid, name)))
    key = await gateway.create(pid, {"orderId": "g2"})
    engine.clock_add(2 * HOUR)
    assert log.completed_elements(key) == ["start", "race", "timeout", "timed_out", pid]
    assert subscriptions(log, key) == Counter({"CREATED": 2, "DELETED": 2})
    await gateway.publish(name, "g2", ttl=HOUR)  # buffered, but nobody will take it
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_event_based_gateway_receive_task_wins(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("race-recv"), unique("receipt")
    await gateway.deploy((f"{pid}.bpmn", race_model(pid, name)))
    key = await gateway.create(pid, {"orderId": "g3"})
    await gateway.publish(f"{name}-receipt", "g3", {"r": 1})
    assert log.completed_elements(key) == ["start", "race", "receipt", "received", pid]
    assert log.variables(key)["r"] == 1


async def test_event_based_gateway_takes_a_buffered_message_at_once(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("race-buffered"), unique("early")
    await gateway.deploy((f"{pid}.bpmn", race_model(pid, name)))
    await gateway.publish(name, "g4", ttl=HOUR)
    key = await gateway.create(pid, {"orderId": "g4"})
    assert log.completed_elements(key) == ["start", "race", "answer", "answered", pid]
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})


async def test_cancel_deletes_message_subscriptions(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("cancel-msg"), unique("never")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    key = await gateway.create(pid, {"orderId": "c"})
    await gateway.cancel(key)
    assert subscriptions(log, key) == Counter({"CREATED": 1, "DELETED": 1})
    await gateway.publish(name, "c", ttl=HOUR)
    assert log.instance_state(key) == "ELEMENT_TERMINATED"


async def test_message_start_name_expression_that_fails_rejects_the_deployment(gateway: RawGateway,
                                                                               log: Log) -> None:
    pid = unique("bad-start-name")
    model = bpmn.process(pid, more.start_event("go", more.message("s")), bpmn.end(), bpmn.chain("go", "end"),
                         extra=bpmn.message_def("s", "=undefinedName"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{pid}.bpmn", model))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected a valid message name expression for start event" in error.value.details()
    assert log.records("PROCESS", "CREATED", bpmnProcessId=pid) == []


async def test_message_start_subscription_records_follow_the_versions(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("start-records"), unique("start-record-msg")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, name, task=False)))
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(pid, bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))))
    records = log.records("MESSAGE_START_EVENT_SUBSCRIPTION", bpmnProcessId=pid)
    assert [(r["intent"], r["value"]["messageName"], r["value"]["startEventId"]) for r in records] == [
        ("CREATED", name, "msg_start"), ("DELETED", name, "msg_start")]


async def test_buffered_messages_subscriptions_and_message_ids_survive_a_sigkill(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine", sync="FULL").start()
    log = Log(engine)
    gateway = RawGateway(engine.address)
    try:
        pid, name = "durable-msg", "durable-paid"
        await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
        waiting = await gateway.create(pid, {"orderId": "w"})
        await gateway.publish(name, "later", {"kept": True}, ttl=2 * HOUR, message_id="m-1")
        await gateway.close()
        engine.kill()
        engine.start()
        gateway = RawGateway(engine.address)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await gateway.publish(name, "later", ttl=HOUR, message_id="m-1")
        assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
        await gateway.publish(name, "w", {"after": "restart"})  # the subscription outlived the crash
        assert log.instance_state(waiting) == "ELEMENT_COMPLETED"
        late = await gateway.create(pid, {"orderId": "later"})  # the buffered message too
        assert log.instance_state(late) == "ELEMENT_COMPLETED" and log.variables(late)["kept"] is True
        engine.clock_add(3 * HOUR)
        expired = [r for r in log.records("MESSAGE", "EXPIRED", name=name) if r["value"]["correlationKey"] == "later"]
        assert len(expired) == 1
    finally:
        await gateway.close()
        engine.stop()
