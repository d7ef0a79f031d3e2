"""Compensation: boundary events with handlers, compensation throw and end events, activityRef, nested
sub-processes, multi-instance activities and compensation from an error event sub-process."""

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


async def complete_all(gateway: RawGateway, job_type: str, variables: dict | None = None) -> int:
    jobs = await gateway.activate(job_type)
    for job in jobs:
        await gateway.complete(job.key, variables)
    return len(jobs)


async def test_throw_event_runs_the_handler_of_a_completed_activity_and_waits_for_it(gateway: RawGateway,
                                                                                    log: Log) -> None:
    pid = unique("undo")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("book", f"{pid}-book"), more.compensable("book", "unbook", f"{pid}-unbook"),
        more.throw_event("revert", more.compensate()), bpmn.end(), bpmn.chain("start", "book", "revert", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-book", {"booking": "B-7"}) == 1
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"  # the throw event waits for the handler
    (undo,) = await gateway.activate(f"{pid}-unbook")
    assert json.loads(undo.variables)["booking"] == "B-7"  # the handler sees the scope's variables
    await gateway.complete(undo.key)
    assert log.completed_elements(key) == ["start", "book", "unbook", "revert", "end", pid]
    intents = [r["intent"] for r in log.records("COMPENSATION_SUBSCRIPTION", processInstanceKey=key)]
    assert intents == ["CREATED", "TRIGGERED", "COMPLETED"]


async def test_only_completed_activities_are_compensated(gateway: RawGateway, log: Log) -> None:
    pid = unique("only-done")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("a", f"{pid}-a"), bpmn.service("b", f"{pid}-b"),
        more.compensable("a", "undo_a", f"{pid}-undo-a"), more.compensable("b", "undo_b", f"{pid}-undo-b"),
        more.throw_event("revert", more.compensate()), bpmn.end("e1"), bpmn.end("e2"),
        bpmn.chain("start", "fork"), bpmn.flow("fa", "fork", "a"), bpmn.flow("fb", "fork", "b"),
        bpmn.chain("a", "revert", "e1"), bpmn.chain("b", "e2"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-a") == 1
    assert await complete_all(gateway, f"{pid}-undo-b") == 0  # b is still active: nothing to undo
    assert await complete_all(gateway, f"{pid}-undo-a") == 1
    assert await complete_all(gateway, f"{pid}-b") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "undo_a") == 1 and log.count(key, "undo_b") == 0


async def test_activity_ref_compensates_one_activity_and_repeated_completions_repeat_the_handler(
        gateway: RawGateway, log: Log) -> None:
    pid = unique("ref")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("a", f"{pid}-a"), bpmn.service("b", f"{pid}-b"),
        more.compensable("a", "undo_a", f"{pid}-undo-a"), more.compensable("b", "undo_b", f"{pid}-undo-b"),
        bpmn.exclusive("again", default="on"), more.throw_event("revert_b", more.compensate("b")), bpmn.end(),
        bpmn.chain("start", "a", "b", "again"), bpmn.flow("loop", "again", "b", "=count(done) < 2"),
        bpmn.flow("on", "again", "revert_b"), bpmn.chain("revert_b", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"done": []})
    assert await complete_all(gateway, f"{pid}-a") == 1
    assert await complete_all(gateway, f"{pid}-b", {"done": [1]}) == 1
    assert await complete_all(gateway, f"{pid}-b", {"done": [1, 2]}) == 1
    # b completed twice: its handler runs twice; a is not named, so not compensated
    assert await complete_all(gateway, f"{pid}-undo-b") == 2
    assert await complete_all(gateway, f"{pid}-undo-a") == 0
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_compensation_reaches_into_a_completed_sub_process(gateway: RawGateway, log: Log) -> None:
    pid = unique("nested-comp")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"),
                         more.compensable("inner", "undo_inner", f"{pid}-undo-inner"), bpmn.end("s1"),
                         bpmn.chain("s0", "inner", "s1", prefix="g")),
        more.end_event("revert", more.compensate()), bpmn.chain("start", "sub", "revert"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-inner") == 1
    assert await complete_all(gateway, f"{pid}-undo-inner") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.completed_elements(key)[-3:] == ["undo_inner", "revert", pid]


async def test_throw_inside_a_sub_process_compensates_only_the_sub_process(gateway: RawGateway, log: Log) -> None:
    pid = unique("inner-throw")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("outer", f"{pid}-outer"),
        more.compensable("outer", "undo_outer", f"{pid}-undo-outer"),
        bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("inner", f"{pid}-inner"),
                         more.compensable("inner", "undo_inner", f"{pid}-undo-inner"),
                         more.throw_event("revert", more.compensate()), bpmn.end("s1"),
                         bpmn.chain("s0", "inner", "revert", "s1", prefix="g")),
        bpmn.end(), bpmn.chain("start", "outer", "sub", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-outer") == 1
    assert await complete_all(gateway, f"{pid}-inner") == 1
    assert await complete_all(gateway, f"{pid}-undo-outer") == 0
    assert await complete_all(gateway, f"{pid}-undo-inner") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_error_event_sub_process_compensates_what_was_done(gateway: RawGateway, log: Log) -> None:
    pid = unique("saga")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("reserve", f"{pid}-reserve"), bpmn.service("charge", f"{pid}-charge"),
        more.compensable("reserve", "release", f"{pid}-release"), more.compensable("charge", "refund", f"{pid}-refund"),
        bpmn.service("ship", f"{pid}-ship"), bpmn.end(), bpmn.chain("start", "reserve", "charge", "ship", "end"),
        more.event_sub_process("failed", more.start_event("on_error", more.error()),
                               more.end_event("undo_all", more.compensate()),
                               bpmn.chain("on_error", "undo_all", prefix="x")))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-reserve") == 1
    assert await complete_all(gateway, f"{pid}-charge") == 1
    (ship,) = await gateway.activate(f"{pid}-ship")
    await gateway.throw_error(ship.key, "NO_CARRIER")
    assert await complete_all(gateway, f"{pid}-release") == 1
    assert await complete_all(gateway, f"{pid}-refund") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert "end" not in log.completed_elements(key)
    assert Counter(r["intent"] for r in log.records("COMPENSATION_SUBSCRIPTION", processInstanceKey=key)) == \
        Counter({"CREATED": 2, "TRIGGERED": 2, "COMPLETED": 2})


async def test_multi_instance_activity_is_compensated_once(gateway: RawGateway, log: Log) -> None:
    pid = unique("mi-comp")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("each", f"{pid}-each", loop=bpmn.multi_instance("=items", "item")),
        more.compensable("each", "undo_all", f"{pid}-undo"), more.end_event("revert", more.compensate()),
        bpmn.chain("start", "each", "revert"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    assert await complete_all(gateway, f"{pid}-each") == 3
    assert await complete_all(gateway, f"{pid}-undo") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_throw_without_anything_to_compensate_passes(gateway: RawGateway, log: Log) -> None:
    pid = unique("nothing")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.exclusive("skip", default="direct"), bpmn.service("a", f"{pid}-a"),
        more.compensable("a", "undo_a", f"{pid}-undo-a"), more.throw_event("revert", more.compensate()), bpmn.end(),
        bpmn.flow("f0", "start", "skip"), bpmn.flow("via", "skip", "a", "=false"), bpmn.flow("direct", "skip", "revert"),
        bpmn.chain("a", "revert"), bpmn.chain("revert", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert log.completed_elements(key) == ["start", "skip", "revert", "end", pid]


async def test_cancel_terminates_running_handlers(gateway: RawGateway, log: Log) -> None:
    pid = unique("cancel-comp")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.service("a", f"{pid}-a"), more.compensable("a", "undo_a", f"{pid}-undo-a"),
        more.throw_event("revert", more.compensate()), bpmn.end(), bpmn.chain("start", "a", "revert", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await complete_all(gateway, f"{pid}-a") == 1
    await gateway.cancel(key)
    terminated = {e for e, i in log.trail(key) if i == "ELEMENT_TERMINATED"}
    assert terminated == {"undo_a", "revert", pid}
    assert await gateway.activate(f"{pid}-undo-a") == []


@pytest.mark.parametrize(("elements", "problem"), [
    ((more.boundary_event("a_comp", "a", more.compensate()), more.compensation_handler("h", "x")),
     "must be associated with a compensation handler"),
    ((more.boundary_event("a_comp", "a", more.compensate()), bpmn.service("h", "x"),
      more.association("a_comp", "h")), "isForCompensation"),
    ((more.throw_event("t", more.compensate("a")),), "to compensate must be in the same scope"),
])
async def test_invalid_compensation_models(gateway: RawGateway, elements: tuple[str, ...], problem: str) -> None:
    pid = unique("bad-comp")
    model = bpmn.process(pid, bpmn.start(), bpmn.service("a", "x"), *elements, bpmn.end(),
                         bpmn.chain("start", "a", "end"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{pid}.bpmn", model))
    assert problem in error.value.details()
