"""Multi-instance activities: parallel and sequential, input and output collections, completion conditions,
loopCounter, and multi-instance sub-processes, call activities and receive tasks."""

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


def task_model(pid: str, loop: str, *, inputs: dict[str, str] | None = None,
               outputs: dict[str, str] | None = None) -> bytes:
    return bpmn.process(pid, bpmn.start(), bpmn.service("each", f"{pid}-each", loop=loop, inputs=inputs,
                                                        outputs=outputs),
                        bpmn.service("after", f"{pid}-after"), bpmn.end(), bpmn.chain("start", "each", "after", "end"))


async def test_parallel_multi_instance_creates_every_instance_at_once_and_collects_in_order(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("par")
    loop = bpmn.multi_instance("=items", "item", output_collection="results", output_element="=result")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    key = await gateway.create(pid, {"items": ["a", "b", "c"]})
    jobs = await gateway.activate(f"{pid}-each")
    assert len(jobs) == 3
    seen = sorted((json.loads(j.variables)["loopCounter"], json.loads(j.variables)["item"]) for j in jobs)
    assert seen == [(1, "a"), (2, "b"), (3, "c")]
    by_item = {json.loads(j.variables)["item"]: j for j in jobs}
    for item in ("c", "a", "b"):  # completion order doesn't change the collection's order
        await gateway.complete(by_item[item].key, {"result": item.upper()})
    (after,) = await gateway.activate(f"{pid}-after")
    variables = json.loads(after.variables)
    assert variables["results"] == ["A", "B", "C"]
    # the output element was local to each instance: no "result" leaked to the process
    assert "result" not in variables and "item" not in variables and "loopCounter" not in variables
    await gateway.complete(after.key)
    assert log.count(key, "each") == 4  # three inner instances and the body


async def test_sequential_multi_instance_runs_one_at_a_time(gateway: RawGateway, log: Log) -> None:
    pid = unique("seq")
    loop = bpmn.multi_instance("=items", "item", sequential=True, output_collection="out", output_element="=item * 10")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    for expected in (1, 2, 3):
        (job,) = await gateway.activate(f"{pid}-each", max_jobs=5)
        assert json.loads(job.variables)["item"] == expected
        await gateway.complete(job.key)
    (after,) = await gateway.activate(f"{pid}-after")
    assert json.loads(after.variables)["out"] == [10, 20, 30]
    await gateway.complete(after.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_empty_input_collection_skips_the_activity(gateway: RawGateway, log: Log) -> None:
    pid = unique("empty")
    loop = bpmn.multi_instance("=items", "item", output_collection="results", output_element="=result")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    await gateway.create(pid, {"items": []})
    (after,) = await gateway.activate(f"{pid}-after")
    assert json.loads(after.variables)["results"] == []
    assert await gateway.activate(f"{pid}-each") == []


async def test_completion_condition_ends_the_rest(gateway: RawGateway, log: Log) -> None:
    pid = unique("enough")
    loop = bpmn.multi_instance("=bids", "bid", output_collection="offers", output_element="=offer",
                               completion="=numberOfCompletedInstances >= 2 or offer = \"best\"")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    key = await gateway.create(pid, {"bids": [1, 2, 3, 4]})
    jobs = {json.loads(j.variables)["bid"]: j for j in await gateway.activate(f"{pid}-each")}
    await gateway.complete(jobs[3].key, {"offer": "ok"})
    assert await gateway.activate(f"{pid}-after") == []
    await gateway.complete(jobs[1].key, {"offer": "fine"})
    (after,) = await gateway.activate(f"{pid}-after")
    assert json.loads(after.variables)["offers"] == ["fine", None, "ok", None]
    terminated = [e for e, i in log.trail(key) if i == "ELEMENT_TERMINATED"]
    assert terminated == ["each", "each"]
    assert Counter(r["intent"] for r in log.records("JOB", processInstanceKey=key)) == Counter(
        {"CREATED": 5, "COMPLETED": 2, "CANCELED": 2})


async def test_completion_condition_sees_the_instances_variables(gateway: RawGateway, log: Log) -> None:
    pid = unique("found")
    loop = bpmn.multi_instance("=places", "place", sequential=True, completion="=found")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop, outputs={"found": "=found"})))
    key = await gateway.create(pid, {"places": ["a", "b", "c"]})
    (first,) = await gateway.activate(f"{pid}-each")
    await gateway.complete(first.key, {"found": False})
    (second,) = await gateway.activate(f"{pid}-each")
    await gateway.complete(second.key, {"found": True})
    assert len(await gateway.activate(f"{pid}-after")) == 1
    assert await gateway.activate(f"{pid}-each") == []
    assert log.count(key, "each", "ELEMENT_ACTIVATED") == 3  # two instances and the body


async def test_counters_in_the_completion_condition(gateway: RawGateway, log: Log) -> None:
    pid = unique("counters")
    loop = bpmn.multi_instance(
        "=items", "item",
        completion="=numberOfInstances = 3 and numberOfActiveInstances = 1 and numberOfCompletedInstances = 2 "
                   "and numberOfTerminatedInstances = 0")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    jobs = await gateway.activate(f"{pid}-each")
    await gateway.complete(jobs[0].key)
    assert await gateway.activate(f"{pid}-after") == []
    await gateway.complete(jobs[1].key)
    assert len(await gateway.activate(f"{pid}-after")) == 1
    assert log.count(key, "each", "ELEMENT_TERMINATED") == 1


async def test_a_failing_completion_condition_is_an_incident_on_the_instance(gateway: RawGateway,
                                                                             log: Log) -> None:
    pid = unique("bad-condition")
    loop = bpmn.multi_instance("=items", "item", completion="=done")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop)))
    key = await gateway.create(pid, {"items": [1]})
    (job,) = await gateway.activate(f"{pid}-each")
    await gateway.complete(job.key)
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert incident["value"]["elementId"] == "each"
    await gateway.set_variables(key, {"done": True})
    await gateway.resolve(incident["key"])
    assert len(await gateway.activate(f"{pid}-after")) == 1


async def test_input_mappings_see_the_input_element_and_loop_counter(gateway: RawGateway, log: Log) -> None:
    pid = unique("mapped-mi")
    loop = bpmn.multi_instance("=orders", "order")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, loop, inputs={"label": '=order.id + "#" + string(loopCounter)'})))
    await gateway.create(pid, {"orders": [{"id": "x"}, {"id": "y"}]})
    labels = sorted(json.loads(j.variables)["label"] for j in await gateway.activate(f"{pid}-each"))
    assert labels == ["x#1", "y#2"]


async def test_input_collection_that_is_not_a_list_is_an_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("not-a-list")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, bpmn.multi_instance("=items", "item"))))
    key = await gateway.create(pid, {"items": "abc"})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert "'ARRAY'" in incident["value"]["errorMessage"]
    await gateway.set_variables(key, {"items": ["a"]})
    await gateway.resolve(incident["key"])
    assert len(await gateway.activate(f"{pid}-each")) == 1


async def test_interrupting_boundary_on_the_body_keeps_no_partial_output(engine: EngineProcess,
                                                                         gateway: RawGateway, log: Log) -> None:
    pid = unique("mi-timeout")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.service("each", f"{pid}-each", loop=bpmn.multi_instance("=items", "item", output_collection="results",
                                                                    output_element="=result")),
        more.boundary_event("late", "each", more.timer("duration", "PT1H")), bpmn.end("done"), bpmn.end("timed_out"),
        bpmn.chain("start", "each", "done"), bpmn.chain("late", "timed_out"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"items": [1, 2]})
    jobs = await gateway.activate(f"{pid}-each")
    await gateway.complete(jobs[0].key, {"result": 1})
    engine.clock_add(2 * HOUR)
    assert log.completed_elements(key)[-2:] == ["timed_out", pid]
    assert "results" not in log.variables(key)


async def test_multi_instance_sub_process(gateway: RawGateway, log: Log) -> None:
    pid = unique("mi-sub")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"), bpmn.end("s1"),
                         bpmn.chain("s0", "inner", "s1", prefix="g"),
                         loop=bpmn.multi_instance("=items", "item", output_collection="out", output_element="=res")),
        bpmn.end(), bpmn.chain("start", "sub", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"items": ["p", "q"]})
    jobs = await gateway.activate(f"{pid}-inner")
    assert sorted(json.loads(j.variables)["item"] for j in jobs) == ["p", "q"]
    for job in jobs:
        await gateway.complete(job.key, {"res": json.loads(job.variables)["item"] * 2})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.variables(key)["out"] == ["pp", "qq"]


async def test_multi_instance_call_activity_with_output_mapping(gateway: RawGateway, log: Log) -> None:
    pid, child = unique("mi-call"), unique("mi-callee")
    await gateway.deploy((f"{child}.bpmn", bpmn.process(
        child, bpmn.start(), more.script("calc", "=item * item", "x"), bpmn.end(), bpmn.chain("start", "calc", "end"))))
    loop = bpmn.multi_instance("=items", "item", output_collection="squares", output_element="=output")
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(
        pid, bpmn.start(), more.call("call", child, outputs={"output": "=x"}, loop=loop), bpmn.end(),
        bpmn.chain("start", "call", "end"))))
    key = await gateway.create(pid, {"items": [2, 3, 4]})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    variables = log.variables(key)
    assert variables["squares"] == [4, 9, 16]
    assert "output" not in variables and "x" not in variables


async def test_multi_instance_receive_task_correlates_per_item(gateway: RawGateway, log: Log) -> None:
    pid, name = unique("mi-recv"), unique("confirm")
    loop = bpmn.multi_instance("=parties", "party")
    model = bpmn.process(pid, bpmn.start(), more.receive_task("confirm", "m", loop=loop), bpmn.end(),
                         bpmn.chain("start", "confirm", "end"), extra=bpmn.message_def("m", name, "=party"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"parties": ["bank", "bureau"]})
    await gateway.publish(name, "bureau")
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    await gateway.publish(name, "bank")
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_cancel_terminates_every_inner_instance(gateway: RawGateway, log: Log) -> None:
    pid = unique("mi-cancel")
    await gateway.deploy((f"{pid}.bpmn", task_model(pid, bpmn.multi_instance("=items", "item"))))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    await gateway.cancel(key)
    assert log.count(key, "each", "ELEMENT_TERMINATED") == 4
    assert len(log.records("JOB", "CANCELED", processInstanceKey=key)) == 3
