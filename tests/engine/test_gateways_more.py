"""Inclusive gateways (fork and join), terminate end events, intermediate none throw events and links."""

from __future__ import annotations

import json
from collections import Counter

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


def lunch(pid: str, *, default: bool = True, join: bool = True) -> bytes:
    """Inclusive fork on `courses` into pasta / steak / salad (salad is the default), joined again."""
    elements = [
        bpmn.start(), bpmn.inclusive("fork", default="to_salad" if default else None),
        bpmn.service("pasta", f"{pid}-pasta"), bpmn.service("steak", f"{pid}-steak"),
        bpmn.service("salad", f"{pid}-salad"),
        bpmn.flow("f0", "start", "fork"),
        bpmn.flow("to_pasta", "fork", "pasta", '=list contains(courses, "pasta")'),
        bpmn.flow("to_steak", "fork", "steak", '=list contains(courses, "steak")'),
        bpmn.flow("to_salad", "fork", "salad", None if default else '=list contains(courses, "salad")'),
    ]
    if join:
        elements += [bpmn.inclusive("join"), bpmn.service("clear", f"{pid}-clear"), bpmn.end(),
                     bpmn.flow("j1", "pasta", "join"), bpmn.flow("j2", "steak", "join"), bpmn.flow("j3", "salad", "join"),
                     bpmn.chain("join", "clear", "end")]
    else:
        elements += [bpmn.end("e1"), bpmn.end("e2"), bpmn.end("e3"), bpmn.chain("pasta", "e1"),
                     bpmn.chain("steak", "e2"), bpmn.chain("salad", "e3")]
    return bpmn.process(pid, *elements)


async def _complete_all(gateway: RawGateway, job_type: str) -> int:
    jobs = await gateway.activate(job_type)
    for job in jobs:
        await gateway.complete(job.key)
    return len(jobs)


async def test_inclusive_fork_takes_every_true_flow(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-fork")
    await gateway.deploy((f"{pid}.bpmn", lunch(pid, join=False)))
    key = await gateway.create(pid, {"courses": ["pasta", "steak"]})
    taken = [e for e, i in log.element_events(key) if i == "SEQUENCE_FLOW_TAKEN"]
    assert taken == ["f0", "to_pasta", "to_steak"]
    assert await _complete_all(gateway, f"{pid}-pasta") == 1
    assert await _complete_all(gateway, f"{pid}-steak") == 1
    assert await gateway.activate(f"{pid}-salad") == []
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_inclusive_fork_takes_the_default_when_nothing_matches(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-default")
    await gateway.deploy((f"{pid}.bpmn", lunch(pid, join=False)))
    key = await gateway.create(pid, {"courses": []})
    assert [e for e, i in log.element_events(key) if i == "SEQUENCE_FLOW_TAKEN"] == ["f0", "to_salad"]


async def test_inclusive_fork_without_match_or_default_is_an_incident(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-none")
    await gateway.deploy((f"{pid}.bpmn", lunch(pid, default=False, join=False)))
    key = await gateway.create(pid, {"courses": ["soup"]})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "CONDITION_ERROR"
    assert incident["value"]["elementId"] == "fork"
    assert incident["value"]["errorMessage"] == (
        "Expected at least one condition to evaluate to true, or to have a default flow")
    await gateway.set_variables(key, {"courses": ["salad", "pasta"]})
    await gateway.resolve(incident["key"])
    assert await _complete_all(gateway, f"{pid}-salad") == 1
    assert await _complete_all(gateway, f"{pid}-pasta") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_inclusive_join_waits_for_the_taken_branches_only(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-join")
    await gateway.deploy((f"{pid}.bpmn", lunch(pid)))
    key = await gateway.create(pid, {"courses": ["pasta", "steak"]})
    assert await _complete_all(gateway, f"{pid}-steak") == 1
    assert await gateway.activate(f"{pid}-clear") == []  # pasta is still on its way
    assert await _complete_all(gateway, f"{pid}-pasta") == 1
    (clear,) = await gateway.activate(f"{pid}-clear")
    await gateway.complete(clear.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "join") == 1


async def test_inclusive_join_with_a_single_branch_passes_at_once(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-single")
    await gateway.deploy((f"{pid}.bpmn", lunch(pid)))
    key = await gateway.create(pid, {"courses": ["steak"]})
    assert await _complete_all(gateway, f"{pid}-steak") == 1
    assert await _complete_all(gateway, f"{pid}-clear") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


def _escape_or_join(pid: str) -> bytes:
    """Branches a and b of a parallel split meet at an inclusive join; b may leave through an end event instead."""
    return bpmn.process(
        pid, bpmn.start(), bpmn.parallel("split"), bpmn.service("a", f"{pid}-a"), bpmn.service("b", f"{pid}-b"),
        bpmn.exclusive("check", default="to_join"), bpmn.end("escaped"), bpmn.inclusive("join"),
        bpmn.service("after", f"{pid}-after"), bpmn.end(),
        bpmn.chain("start", "split"), bpmn.flow("s1", "split", "a"), bpmn.flow("s2", "split", "b"),
        bpmn.flow("ja", "a", "join"), bpmn.chain("b", "check"), bpmn.flow("to_end", "check", "escaped", "=escape"),
        bpmn.flow("to_join", "check", "join"), bpmn.chain("join", "after", "end"))


async def test_inclusive_join_fires_when_a_branch_can_no_longer_reach_it(gateway: RawGateway, log: Log) -> None:
    """One branch leaves through an end event: once nothing can reach the join, the waiting token goes on."""
    pid = unique("incl-escape")
    await gateway.deploy((f"{pid}.bpmn", _escape_or_join(pid)))
    key = await gateway.create(pid, {"escape": True})
    assert await _complete_all(gateway, f"{pid}-a") == 1
    assert await gateway.activate(f"{pid}-after") == []  # b could still come
    assert await _complete_all(gateway, f"{pid}-b") == 1  # ... but leaves through the end event
    assert await _complete_all(gateway, f"{pid}-after") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "join") == 1


async def test_inclusive_join_counts_a_branch_that_arrives(gateway: RawGateway, log: Log) -> None:
    pid = unique("incl-both")
    await gateway.deploy((f"{pid}.bpmn", _escape_or_join(pid)))
    key = await gateway.create(pid, {"escape": False})
    assert await _complete_all(gateway, f"{pid}-b") == 1
    assert await gateway.activate(f"{pid}-after") == []
    assert await _complete_all(gateway, f"{pid}-a") == 1
    assert await _complete_all(gateway, f"{pid}-after") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "join") == 1


# -- terminate end events ------------------------------------------------------------------------------------------------


async def test_terminate_end_event_ends_the_process_and_cancels_the_other_branches(gateway: RawGateway,
                                                                                   log: Log) -> None:
    pid = unique("terminate")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"), bpmn.service("b", f"{pid}-b"), bpmn.service("c", f"{pid}-c"),
        more.catch_event("wait", more.timer("duration", "P1D")), bpmn.end("b_end"), more.end_event("stop", more.terminate()),
        bpmn.end("w_end"), bpmn.chain("start", "fork"), bpmn.flow("fb", "fork", "b"), bpmn.flow("fc", "fork", "c"),
        bpmn.flow("fw", "fork", "wait"), bpmn.chain("b", "b_end"), bpmn.chain("c", "stop"), bpmn.chain("wait", "w_end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert await _complete_all(gateway, f"{pid}-c") == 1
    assert log.instance_state(key) == "ELEMENT_COMPLETED"  # completed, not terminated
    terminated = {e for e, i in log.trail(key) if i == "ELEMENT_TERMINATED"}
    assert terminated == {"b", "wait"}
    assert Counter(r["intent"] for r in log.records("TIMER", processInstanceKey=key)) == Counter(
        {"CREATED": 1, "CANCELED": 1})
    assert await gateway.activate(f"{pid}-b") == []


async def test_terminate_end_event_in_a_sub_process_ends_only_the_sub_process(gateway: RawGateway,
                                                                              log: Log) -> None:
    pid = unique("terminate-sub")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"),
        bpmn.sub_process(
            "sub", bpmn.start("s0"), bpmn.parallel("sfork"), bpmn.service("inner", f"{pid}-inner"),
            more.end_event("stop", more.terminate()), bpmn.end("s_end"),
            bpmn.chain("s0", "sfork", prefix="g"), bpmn.flow("g1", "sfork", "inner"), bpmn.flow("g2", "sfork", "stop"),
            bpmn.chain("inner", "s_end", prefix="h")),
        bpmn.service("outer", f"{pid}-outer"), bpmn.parallel("join"), bpmn.end(),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "sub"), bpmn.flow("b", "fork", "outer"),
        bpmn.flow("c", "sub", "join"), bpmn.flow("d", "outer", "join"), bpmn.chain("join", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert ("sub", "ELEMENT_COMPLETED") in log.trail(key)
    assert ("inner", "ELEMENT_TERMINATED") in log.trail(key)
    assert await _complete_all(gateway, f"{pid}-outer") == 1  # outside the sub-process: untouched
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_terminate_end_event_in_a_multi_instance_ends_only_its_iteration(gateway: RawGateway,
                                                                               log: Log) -> None:
    pid = unique("terminate-mi")
    model = bpmn.process(
        pid, bpmn.start(),
        bpmn.sub_process(
            "sub", bpmn.start("s0"), bpmn.exclusive("which", default="normal"), bpmn.service("work", f"{pid}-work"),
            more.end_event("stop", more.terminate()), bpmn.end("s_end"),
            bpmn.chain("s0", "which", prefix="g"), bpmn.flow("quick", "which", "stop", "=item = 2"),
            bpmn.flow("normal", "which", "work"), bpmn.chain("work", "s_end", prefix="h"),
            loop=bpmn.multi_instance("=items", "item")),
        bpmn.end(), bpmn.chain("start", "sub", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid, {"items": [1, 2, 3]})
    jobs = await gateway.activate(f"{pid}-work")
    assert sorted(json.loads(j.variables)["item"] for j in jobs) == [1, 3]
    for job in jobs:
        await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


# -- none throw events and links ----------------------------------------------------------------------------------------


async def test_intermediate_none_throw_event_passes_through_with_its_mappings(gateway: RawGateway,
                                                                              log: Log) -> None:
    pid = unique("none-throw")
    model = bpmn.process(pid, bpmn.start(), more.throw_event("milestone", inputs={"tmp": "=1"}), bpmn.end(),
                         bpmn.chain("start", "milestone", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    assert log.completed_elements(key) == ["start", "milestone", "end", pid]
    assert "tmp" not in log.variables(key)


async def test_link_events_jump_within_the_scope_and_can_loop(gateway: RawGateway, log: Log) -> None:
    pid = unique("links")
    model = bpmn.process(
        pid, bpmn.start(), more.catch_event("again", more.link("retry")), bpmn.service("try", f"{pid}-try"),
        bpmn.exclusive("ok?", default="done"), more.throw_event("go_back", more.link("retry")), bpmn.end(),
        bpmn.chain("start", "again"), bpmn.chain("again", "try", "ok?"),
        bpmn.flow("retry_flow", "ok?", "go_back", "=not(success)"), bpmn.flow("done", "ok?", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    key = await gateway.create(pid)
    for success in (False, False, True):
        (job,) = await gateway.activate(f"{pid}-try")
        await gateway.complete(job.key, {"success": success})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "try") == 3 and log.count(key, "go_back") == 2 and log.count(key, "again") == 3


async def test_link_throw_without_a_catch_is_rejected(gateway: RawGateway) -> None:
    import grpc

    pid = unique("bad-link")
    model = bpmn.process(pid, bpmn.start(), more.throw_event("jump", more.link("nowhere")),
                         bpmn.chain("start", "jump"))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{pid}.bpmn", model))
    assert "nowhere" in error.value.details()
