"""Event sub-processes: in the process and in embedded sub-processes, interrupting and not, their variables,
and how they end their containing scope."""

from __future__ import annotations

import json
from collections import Counter

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


def nested_model(pid: str, name: str, *, interrupting: bool) -> bytes:
    """A sub-process holding a task and a message event sub-process; the process goes on after it."""
    return bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process(
            "sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"), bpmn.end("s1"),
            bpmn.chain("s0", "inner", "s1", prefix="g"),
            more.event_sub_process(
                "esp", more.start_event("esp_start", more.message("m"), interrupting=interrupting),
                bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
                bpmn.chain("esp_start", "handle", "esp_end", prefix="h")),
            inputs={"local": "=1"}),
        bpmn.service("after", f"{pid}-after"), bpmn.end(), bpmn.chain("start", "sub", "after", "end"),
        extra=bpmn.message_def("m", name, "=orderId"))


async def test_interrupting_event_sub_process_in_a_sub_process_ends_only_the_sub_process(
        gateway: RawGateway, log: Log) -> None:
    pid, name = unique("nested-int"), unique("nested-msg")
    await gateway.deploy((f"{pid}.bpmn", nested_model(pid, name, interrupting=True)))
    key = await gateway.create(pid, {"orderId": "n1"})
    await gateway.publish(name, "n1")
    assert await gateway.activate(f"{pid}-inner") == []
    (handle,) = await gateway.activate(f"{pid}-handle")
    # the event sub-process sees the local variables of its scope
    assert json.loads(handle.variables)["local"] == 1
    await gateway.complete(handle.key)
    (after,) = await gateway.activate(f"{pid}-after")  # the sub-process completed and the process went on
    await gateway.complete(after.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.completed_elements(key) == ["start", "s0", "esp_start", "handle", "esp_end", "esp", "sub", "after",
                                           "end", pid]


async def test_non_interrupting_event_sub_process_in_a_sub_process(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("nested-non"), unique("nested-note")
    await gateway.deploy((f"{pid}.bpmn", nested_model(pid, name, interrupting=False)))
    key = await gateway.create(pid, {"orderId": "n2"})
    await gateway.publish(name, "n2")
    (inner,) = await gateway.activate(f"{pid}-inner")
    (handle,) = await gateway.activate(f"{pid}-handle")
    await gateway.complete(inner.key)
    # the sub-process waits for its event sub-process instance
    assert await gateway.activate(f"{pid}-after") == []
    await gateway.complete(handle.key)
    (after,) = await gateway.activate(f"{pid}-after")
    await gateway.complete(after.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_event_sub_process_subscriptions_close_with_their_scope(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("nested-gone"), unique("too-late-msg")
    await gateway.deploy((f"{pid}.bpmn", nested_model(pid, name, interrupting=True)))
    key = await gateway.create(pid, {"orderId": "n3"})
    (inner,) = await gateway.activate(f"{pid}-inner")
    await gateway.complete(inner.key)
    intents = Counter(r["intent"] for r in log.records("PROCESS_MESSAGE_SUBSCRIPTION", processInstanceKey=key))
    assert intents == Counter({"CREATED": 1, "DELETED": 1})
    await gateway.publish(name, "n3", ttl=HOUR)
    assert await gateway.activate(f"{pid}-handle") == []


async def test_interrupting_event_sub_process_terminates_running_non_interrupting_ones(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid, name = unique("int-over-non"), unique("notice")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "notes", more.start_event("n_start", more.message("m"), interrupting=False),
            bpmn.service("note", f"{pid}-note"), bpmn.end("n_end"), bpmn.chain("n_start", "note", "n_end", prefix="a")),
        more.event_sub_process(
            "timeout", more.start_event("t_start", more.timer("duration", "PT1H")),
            bpmn.service("cleanup", f"{pid}-cleanup"), bpmn.end("t_end"),
            bpmn.chain("t_start", "cleanup", "t_end", prefix="b")),
        extra=bpmn.message_def("m", name, "=orderId"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "i1"})
    await gateway.publish(name, "i1")
    assert len(await gateway.activate(f"{pid}-note")) == 1
    engine.clock_add(2 * HOUR)
    trail = log.trail(key)
    assert ("notes", "ELEMENT_TERMINATED") in trail and ("work", "ELEMENT_TERMINATED") in trail
    # the message event sub-process can't start anymore
    await gateway.publish(name, "i1")
    assert await gateway.activate(f"{pid}-note") == []
    (cleanup,) = await gateway.activate(f"{pid}-cleanup")
    await gateway.complete(cleanup.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_boundary_events_of_the_scope_stay_while_its_interrupting_event_sub_process_runs(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid, name = unique("esp-and-boundary"), unique("inner-msg")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process(
            "sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"), bpmn.end("s1"),
            bpmn.chain("s0", "inner", "s1", prefix="g"),
            more.event_sub_process(
                "esp", more.start_event("esp_start", more.message("m")),
                bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
                bpmn.chain("esp_start", "handle", "esp_end", prefix="h"))),
        more.boundary_event("deadline", "sub", more.timer("duration", "PT1H")), bpmn.end("timed_out"),
        bpmn.end(), bpmn.chain("start", "sub", "end"), bpmn.chain("deadline", "timed_out"),
        extra=bpmn.message_def("m", name, "=orderId"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "b1"})
    await gateway.publish(name, "b1")
    assert len(await gateway.activate(f"{pid}-handle")) == 1
    engine.clock_add(2 * HOUR)
    assert log.completed_elements(key)[-2:] == ["timed_out", pid]
    assert ("esp", "ELEMENT_TERMINATED") in log.trail(key)


async def test_event_sub_process_variables_and_mappings(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("esp-vars"), unique("esp-var-msg")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "esp", more.start_event("esp_start", more.message("m"), interrupting=False),
            bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
            bpmn.chain("esp_start", "handle", "esp_end", prefix="h"),
            inputs={"scratch": "=\"temp\""}, outputs={"summary": "=scratch + \"/\" + string(count)"}),
        extra=bpmn.message_def("m", name, "=orderId"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "v1", "count": 1})
    await gateway.publish(name, "v1", {"fromMessage": True})
    (handle,) = await gateway.activate(f"{pid}-handle")
    seen = json.loads(handle.variables)
    assert seen["scratch"] == "temp" and seen["fromMessage"] is True and seen["count"] == 1
    await gateway.complete(handle.key, {"count": 2, "scratch": "changed"})
    variables = log.variables(key)
    # count lives in the process and is updated there; scratch was local to the event sub-process
    assert variables["count"] == 2 and "scratch" not in variables
    assert variables["summary"] == "changed/2"
    assert variables["fromMessage"] is True


async def test_error_event_sub_process_in_a_sub_process_lets_the_process_go_on(gateway: RawGateway,
                                                                               log: Log) -> None:
    pid = unique("esp-err-sub")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process(
            "sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"), bpmn.end("s1"),
            bpmn.chain("s0", "inner", "s1", prefix="g"),
            more.event_sub_process(
                "esp", more.start_event("esp_start", more.error()), bpmn.end("esp_end"),
                bpmn.chain("esp_start", "esp_end", prefix="h"))),
        bpmn.end(), bpmn.chain("start", "sub", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-inner")
    await gateway.throw_error(job.key, "ANY")
    assert log.completed_elements(key) == ["start", "s0", "esp_start", "esp_end", "esp", "sub", "end", pid]


async def test_terminate_end_event_in_an_event_sub_process_ends_the_process(gateway: RawGateway,
                                                                            log: Log) -> None:
    pid, name = unique("esp-terminate"), unique("kill")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "esp", more.start_event("esp_start", more.message("m"), interrupting=False),
            more.end_event("stop", more.terminate()), bpmn.chain("esp_start", "stop", prefix="h")),
        extra=bpmn.message_def("m", name, "=orderId"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"orderId": "t1"})
    await gateway.publish(name, "t1")
    # the terminate end event ends its scope, the event sub-process; the process keeps working
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    assert log.count(key, "esp") == 1
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_cancel_terminates_event_sub_process_instances(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("esp-cancel"), unique("esp-cancel-msg")
    await gateway.deploy((f"{pid}.bpmn", nested_model(pid, name, interrupting=False)))
    key = await gateway.create(pid, {"orderId": "c1"})
    await gateway.publish(name, "c1")
    await gateway.cancel(key)
    terminated = {e for e, i in log.trail(key) if i == "ELEMENT_TERMINATED"}
    assert terminated == {"inner", "handle", "esp", "sub", pid}
    assert Counter(r["intent"] for r in log.records("JOB", processInstanceKey=key)) == Counter(
        {"CREATED": 2, "CANCELED": 2})
