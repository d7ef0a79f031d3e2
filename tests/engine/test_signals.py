"""Signals: BroadcastSignal and signal throw/end events trigger every matching subscription — start
events (one instance per process), intermediate catch events, boundary events, event sub-processes."""

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


def catch_model(pid: str, name: str) -> bytes:
    return bpmn.process(pid, bpmn.start(), more.catch_event("wait", more.signal("sig")), bpmn.end(),
                        bpmn.chain("start", "wait", "end"), extra=bpmn.signal_def("sig", name))


def signal_subscriptions(log: Log, pid: str) -> Counter[str]:
    return Counter(r["intent"] for r in log.records("SIGNAL_SUBSCRIPTION", bpmnProcessId=pid))


async def test_broadcast_triggers_every_waiting_instance_of_every_process(gateway: RawGateway, log: Log) -> None:
    name = unique("alarm")
    first, second = unique("sig-a"), unique("sig-b")
    await gateway.deploy((f"{first}.bpmn", catch_model(first, name)), (f"{second}.bpmn", catch_model(second, name)))
    keys = [await gateway.create(first), await gateway.create(first), await gateway.create(second)]
    assert signal_subscriptions(log, first) == Counter({"CREATED": 2})
    signal_key = await gateway.broadcast(name, {"level": 3})
    for key in keys:
        assert log.instance_state(key) == "ELEMENT_COMPLETED"
        assert log.variables(key)["level"] == 3
    (broadcast,) = [r for r in log.records("SIGNAL", "BROADCASTED") if r["key"] == signal_key]
    assert broadcast["value"]["signalName"] == name and broadcast["value"]["variables"] == {"level": 3}
    assert signal_subscriptions(log, first) == Counter({"CREATED": 2, "DELETED": 2})
    await gateway.broadcast(name)  # nothing waits anymore
    assert all(log.count(key, "wait") == 1 for key in keys)


async def test_signal_name_expression_is_evaluated_on_activation(gateway: RawGateway, log: Log) -> None:
    pid, prefix = unique("sig-expr"), unique("region")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, f'="{prefix}-" + region')))
    north = await gateway.create(pid, {"region": "north"})
    south = await gateway.create(pid, {"region": "south"})
    await gateway.broadcast(f"{prefix}-south")
    assert log.instance_state(south) == "ELEMENT_COMPLETED"
    assert log.instance_state(north) == "ELEMENT_ACTIVATED"


async def test_signal_start_event_starts_one_instance_per_process(gateway: RawGateway, log: Log) -> None:
    name = unique("kick-off")
    first, second = unique("sig-start-a"), unique("sig-start-b")

    def model(pid: str) -> bytes:
        return bpmn.process(pid, more.start_event("go", more.signal("sig")), bpmn.end(), bpmn.chain("go", "end"),
                            extra=bpmn.signal_def("sig", name))

    await gateway.deploy((f"{first}.bpmn", model(first)), (f"{second}.bpmn", model(second)))
    await gateway.broadcast(name, {"batch": 7})
    (a,) = log.instances_of(first)
    (b,) = log.instances_of(second)
    for key, pid in ((a, first), (b, second)):
        assert log.completed_elements(key) == ["go", "end", pid]
        assert log.variables(key) == {"batch": 7}
    # a new version without the start event ends the subscription of the first process
    await gateway.deploy((f"{first}.bpmn", bpmn.process(first, bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))))
    await gateway.broadcast(name)
    assert len(log.instances_of(first)) == 1
    assert len(log.instances_of(second)) == 2


async def test_signal_start_name_expression(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-start-expr"), unique("computed-signal")
    model = bpmn.process(pid, more.start_event("go", more.signal("sig")), bpmn.end(), bpmn.chain("go", "end"),
                         extra=bpmn.signal_def("sig", f'="{name}" + "!"'))
    await gateway.deploy((f"{pid}.bpmn", model))
    await gateway.broadcast(f"{name}!")
    assert len(log.instances_of(pid)) == 1


def boundary_model(pid: str, name: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("alarm", "work", more.signal("sig"), interrupting=interrupting),
        bpmn.service("react", f"{pid}-react"), bpmn.end("done"), bpmn.end("reacted"),
        bpmn.chain("start", "work", "done"), bpmn.chain("alarm", "react", "reacted"),
        extra=bpmn.signal_def("sig", name))


async def test_interrupting_signal_boundary_event(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-int"), unique("evacuate")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, name, interrupting=True)))
    key = await gateway.create(pid)
    await gateway.broadcast(name, {"why": "fire"})
    assert ("work", "ELEMENT_TERMINATED") in log.trail(key)
    (react,) = await gateway.activate(f"{pid}-react")
    assert json.loads(react.variables)["why"] == "fire"
    await gateway.broadcast(name)
    assert await gateway.activate(f"{pid}-react") == []
    await gateway.complete(react.key)
    assert log.completed_elements(key) == ["start", "alarm", "react", "reacted", pid]


async def test_non_interrupting_signal_boundary_event(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-non"), unique("tick")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, name, interrupting=False)))
    key = await gateway.create(pid)
    await gateway.broadcast(name)
    await gateway.broadcast(name)
    reacts = await gateway.activate(f"{pid}-react")
    assert len(reacts) == 2
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert signal_subscriptions(log, pid) == Counter({"CREATED": 1, "DELETED": 1})
    for react in reacts:
        await gateway.complete(react.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "reacted") == 2


def esp_model(pid: str, name: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "on_signal", more.start_event("esp_start", more.signal("sig"), interrupting=interrupting),
            bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
            bpmn.chain("esp_start", "handle", "esp_end", prefix="e")),
        extra=bpmn.signal_def("sig", name))


async def test_interrupting_signal_event_sub_process(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-esp"), unique("shutdown")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, name, interrupting=True)))
    key = await gateway.create(pid)
    await gateway.broadcast(name)
    await gateway.broadcast(name)
    assert await gateway.activate(f"{pid}-work") == []
    (handle,) = await gateway.activate(f"{pid}-handle")
    await gateway.complete(handle.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "on_signal") == 1


async def test_non_interrupting_signal_event_sub_process(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-esp-non"), unique("heartbeat")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, name, interrupting=False)))
    key = await gateway.create(pid)
    await gateway.broadcast(name, {"beat": 1})
    await gateway.broadcast(name, {"beat": 2})
    handlers = await gateway.activate(f"{pid}-handle")
    assert len(handlers) == 2
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    for handler in handlers:
        await gateway.complete(handler.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "on_signal") == 2 and log.count(key, "end") == 1


async def test_signal_throw_and_end_events_broadcast_their_local_variables(gateway: RawGateway, log: Log) -> None:
    name, done = unique("ready"), unique("finished")
    listener = unique("listener")
    thrower = unique("thrower")
    await gateway.deploy((f"{listener}.bpmn", bpmn.process(
        listener, bpmn.start(), bpmn.parallel("fork"), more.catch_event("ready", more.signal("s1")),
        more.catch_event("done", more.signal("s2")), bpmn.parallel("join"), bpmn.end(),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "ready"), bpmn.flow("b", "fork", "done"),
        bpmn.flow("c", "ready", "join"), bpmn.flow("d", "done", "join"), bpmn.chain("join", "end"),
        extra=bpmn.signal_def("s1", name) + bpmn.signal_def("s2", done))))
    await gateway.deploy((f"{thrower}.bpmn", bpmn.process(
        thrower, bpmn.start(), more.throw_event("announce", more.signal("s1"), inputs={"who": "=owner"}),
        more.end_event("finish", more.signal("s2"), inputs={"result": "=owner + \"!\""}),
        bpmn.chain("start", "announce", "finish"),
        extra=bpmn.signal_def("s1", name) + bpmn.signal_def("s2", done))))
    waiting = await gateway.create(listener)
    throwing = await gateway.create(thrower, {"owner": "li", "secret": "x"})
    assert log.completed_elements(throwing) == ["start", "announce", "finish", thrower]
    assert log.instance_state(waiting) == "ELEMENT_COMPLETED"
    variables = log.variables(waiting)
    assert variables == {"who": "li", "result": "li!"}  # local variables only: no "owner", no "secret"
    broadcasts = [r["value"] for r in log.records("SIGNAL", "BROADCASTED") if r["value"]["signalName"] in (name, done)]
    assert [b["signalName"] for b in broadcasts] == [name, done]


async def test_signal_thrown_in_an_instance_reaches_its_own_waiting_branch(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("self-signal"), unique("self")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), more.catch_event("wait", more.signal("s")),
        bpmn.service("first", f"{pid}-first"), more.throw_event("shout", more.signal("s")), bpmn.parallel("join"),
        bpmn.end(), bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "wait"), bpmn.flow("b", "fork", "first"),
        bpmn.chain("first", "shout"), bpmn.flow("c", "wait", "join"), bpmn.flow("d", "shout", "join"),
        bpmn.chain("join", "end"), extra=bpmn.signal_def("s", name))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-first")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "join") == 1


async def test_blank_signal_name_is_rejected(gateway: RawGateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.broadcast("  ")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cancel_deletes_signal_subscriptions(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("sig-cancel"), unique("never-signal")
    await gateway.deploy((f"{pid}.bpmn", catch_model(pid, name)))
    key = await gateway.create(pid)
    await gateway.cancel(key)
    assert signal_subscriptions(log, pid) == Counter({"CREATED": 1, "DELETED": 1})
    await gateway.broadcast(name)
    assert log.instance_state(key) == "ELEMENT_TERMINATED"


async def test_event_based_gateway_with_a_signal_and_a_timer(engine: EngineProcess, gateway: RawGateway,
                                                             log: Log) -> None:
    pid, name = unique("sig-race"), unique("go-signal")
    model = bpmn.process(
        pid, bpmn.start(), more.event_gateway("race"), more.catch_event("go", more.signal("s")),
        more.catch_event("late", more.timer("duration", "PT1H")), bpmn.end("went"), bpmn.end("timed_out"),
        bpmn.chain("start", "race"), bpmn.flow("a", "race", "go"), bpmn.flow("b", "race", "late"),
        bpmn.chain("go", "went"), bpmn.chain("late", "timed_out"), extra=bpmn.signal_def("s", name))
    await gateway.deploy((f"{pid}.bpmn", model))
    by_signal = await gateway.create(pid)
    await gateway.broadcast(name, {"via": "signal"})
    assert log.completed_elements(by_signal) == ["start", "race", "go", "went", pid]
    assert log.variables(by_signal)["via"] == "signal"
    by_timer = await gateway.create(pid)
    engine.clock_add(2 * 3600_000)
    assert log.completed_elements(by_timer) == ["start", "race", "late", "timed_out", pid]
    await gateway.broadcast(name)
    assert log.count(by_timer, "go") == 0
    assert Counter(r["intent"] for r in log.records("SIGNAL_SUBSCRIPTION", bpmnProcessId=pid)) == Counter(
        {"CREATED": 2, "DELETED": 2})
