"""Timers on the engine clock: catch events, boundary events, start events, event sub-processes.

Most tests move the controlled clock through the actuator; a few wait for real short timers. Every test
checks the path taken and that nothing fired twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter

import grpc
import pytest

from tests.engine import bpmn
from tests.engine import bpmn_more as more
from tests.engine.scenario import Log, module_engine, unique
from tests.engine.support import RawGateway
from tests.fixtures.engine import EngineProcess, eventually

HOUR = 3600_000
DAY = 24 * HOUR

engine = module_engine()


@pytest.fixture
def log(engine: EngineProcess) -> Log:
    return Log(engine)


def waiting(process_id: str, definition: str, *, before: str = "", variables_task: bool = False) -> bytes:
    """start → [before] → catch(definition) → end"""
    elements = [bpmn.start(), more.catch_event("wait", definition), bpmn.end()]
    return bpmn.process(process_id, *elements, bpmn.chain("start", "wait", "end"))


def iso(ms: int, tz: dt.tzinfo = dt.UTC) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=tz).isoformat()


# -- intermediate timer catch events ------------------------------------------------------------------------------


async def test_duration_timer_fires_once_when_the_clock_passes_it(engine: EngineProcess, gateway: RawGateway,
                                                                  log: Log) -> None:
    pid = unique("duration")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "PT1H"))))
    before = engine.clock()
    key = await gateway.create(pid)
    (created,) = log.timers("CREATED", processInstanceKey=key)
    assert created["targetElementId"] == "wait"
    assert before + HOUR <= created["dueDate"] <= engine.clock() + HOUR
    assert created["repetitions"] == 1
    engine.clock_add(HOUR // 2)
    assert log.timers("TRIGGERED", processInstanceKey=key) == []
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    engine.clock_add(HOUR // 2 + 1000)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.completed_elements(key) == ["start", "wait", "end", pid]
    engine.clock_add(10 * DAY)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


async def test_time_date_with_offset_and_with_zone_id(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("date")
    model = bpmn.process(
        pid, bpmn.start(), bpmn.parallel("fork"),
        more.catch_event("offset", more.timer("date", "=offsetDate")),
        more.catch_event("zoned", more.timer("date", "=zonedDate")),
        bpmn.end("e1"), bpmn.end("e2"),
        bpmn.chain("start", "fork"), bpmn.flow("a", "fork", "offset"), bpmn.flow("b", "fork", "zoned"),
        bpmn.chain("offset", "e1"), bpmn.chain("zoned", "e2"),
    )
    await gateway.deploy((f"{pid}.bpmn", model))
    now = engine.clock()
    shanghai = dt.timezone(dt.timedelta(hours=8))
    # whole seconds, two and three days ahead, written in Shanghai time
    offset_due = (now // 1000 + 2 * 86400) * 1000
    zoned_due = (now // 1000 + 3 * 86400) * 1000
    offset_text = iso(offset_due, shanghai)  # ...+08:00
    zoned_text = dt.datetime.fromtimestamp(zoned_due / 1000, tz=shanghai).replace(tzinfo=None).isoformat() \
        + "[Asia/Shanghai]"
    key = await gateway.create(pid, {"offsetDate": offset_text, "zonedDate": zoned_text})
    due = {t["targetElementId"]: t["dueDate"] for t in log.timers("CREATED", processInstanceKey=key)}
    assert due == {"offset": offset_due, "zoned": zoned_due}
    engine.clock_add(offset_due - engine.clock() + 1)
    assert [t["targetElementId"] for t in log.timers("TRIGGERED", processInstanceKey=key)] == ["offset"]
    engine.clock_add(DAY)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.timer_intents(key) == Counter({"CREATED": 2, "TRIGGERED": 2})


async def test_static_zoned_time_date(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("static-date")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("date", "2099-12-01T09:00:00[Asia/Shanghai]"))))
    key = await gateway.create(pid)
    (created,) = log.timers("CREATED", processInstanceKey=key)
    assert created["dueDate"] == int(dt.datetime(2099, 12, 1, 1, 0, tzinfo=dt.UTC).timestamp() * 1000)
    await gateway.cancel(key)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})


async def test_feel_duration_built_from_variables(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("feel-duration")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", '=duration("P" + string(days) + "D")'))))
    before = engine.clock()
    key = await gateway.create(pid, {"days": 3})
    (created,) = log.timers("CREATED", processInstanceKey=key)
    assert before + 3 * DAY <= created["dueDate"] <= engine.clock() + 3 * DAY
    engine.clock_add(3 * DAY - HOUR)
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    engine.clock_add(2 * HOUR)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_zero_and_negative_durations_fire_at_once(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("zero")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "=d"))))
    zero = await gateway.create(pid, {"d": "PT0S"})
    negative = await gateway.create(pid, {"d": "-PT5M"})
    for key in (zero, negative):
        assert await eventually(lambda key=key: log.instance_state(key) == "ELEMENT_COMPLETED")
        assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


async def test_real_short_timer_fires_without_moving_the_clock(engine: EngineProcess, gateway: RawGateway,
                                                               log: Log) -> None:
    pid = unique("real")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "PT1S"))))
    key = await gateway.create(pid)
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    assert await eventually(lambda: log.instance_state(key) == "ELEMENT_COMPLETED", timeout=15)
    (created,) = log.timers("CREATED", processInstanceKey=key)
    (triggered,) = log.records("TIMER", "TRIGGERED", processInstanceKey=key)
    assert triggered["timestamp"] >= created["dueDate"]  # never early
    await asyncio.sleep(1.2)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


async def test_timer_on_a_fired_timers_path_fires_in_the_same_move(engine: EngineProcess, gateway: RawGateway,
                                                                   log: Log) -> None:
    pid = unique("cascade")
    model = bpmn.process(
        pid, bpmn.start(), more.catch_event("t1", more.timer("duration", "PT1H")),
        more.catch_event("t2", more.timer("date", "=deadline")), more.catch_event("t3", more.timer("duration", "P1D")),
        bpmn.end(), bpmn.chain("start", "t1", "t2", "t3", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    deadline = engine.clock() + 2 * HOUR
    key = await gateway.create(pid, {"deadline": iso(deadline)})
    # t1 falls due; t2, created when t1 fires, is already due then; t3 (a day from the move) is not
    engine.clock_add(3 * HOUR)
    fired = log.timers("TRIGGERED", processInstanceKey=key)
    assert [t["targetElementId"] for t in fired] == ["t1", "t2"]
    assert fired[1]["dueDate"] == deadline // 1000 * 1000 or fired[1]["dueDate"] == deadline
    (t3,) = log.timers("CREATED", processInstanceKey=key, targetElementId="t3")
    assert t3["dueDate"] > engine.clock() + DAY - HOUR
    engine.clock_add(2 * DAY)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert [t["targetElementId"] for t in log.timers("TRIGGERED", processInstanceKey=key)] == ["t1", "t2", "t3"]


async def test_one_clock_move_fires_everything_in_due_order(engine: EngineProcess, gateway: RawGateway,
                                                            log: Log) -> None:
    pid = unique("order")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "=d"))))
    keys = {}
    for hours in (5, 1, 4, 2, 3):
        keys[await gateway.create(pid, {"d": f"PT{hours}H"})] = hours
    engine.clock_add(6 * HOUR)
    fired = [r for r in log.records("TIMER", "TRIGGERED") if r["value"]["processInstanceKey"] in keys]
    assert [keys[r["value"]["processInstanceKey"]] for r in fired] == [1, 2, 3, 4, 5]
    due_dates = [r["value"]["dueDate"] for r in fired]
    assert due_dates == sorted(due_dates)
    for key in keys:
        assert log.instance_state(key) == "ELEMENT_COMPLETED"


async def test_a_timer_expression_that_fails_is_an_incident_until_fixed(engine: EngineProcess,
                                                                        gateway: RawGateway, log: Log) -> None:
    pid = unique("bad-timer")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "=wait"))))
    key = await gateway.create(pid, {"wait": 5})
    (incident,) = log.open_incidents(key)
    assert incident["value"]["errorType"] == "EXTRACT_VALUE_ERROR"
    assert incident["value"]["elementId"] == "wait"
    assert "NUMBER" in incident["value"]["errorMessage"]
    assert log.timers(processInstanceKey=key) == []
    await gateway.set_variables(key, {"wait": "nonsense"})
    await gateway.resolve(incident["key"])
    (again,) = log.open_incidents(key)
    assert "nonsense" in again["value"]["errorMessage"]
    await gateway.set_variables(key, {"wait": "PT1M"})
    await gateway.resolve(again["key"])
    assert log.open_incidents(key) == []
    engine.clock_add(2 * 60_000)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


# -- boundary timers ------------------------------------------------------------------------------------------------


def boundary_model(pid: str, definition: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"),
        more.boundary_event("late", "work", definition, interrupting=interrupting),
        bpmn.service("remind", f"{pid}-remind") if not interrupting else bpmn.end("timed_out"),
        bpmn.end("done"), bpmn.chain("start", "work", "done"),
        bpmn.chain("late", "remind" if not interrupting else "timed_out"),
        *( [bpmn.end("reminded"), bpmn.chain("remind", "reminded")] if not interrupting else []),
    )


async def test_interrupting_boundary_timer_terminates_the_task(engine: EngineProcess, gateway: RawGateway,
                                                               log: Log) -> None:
    pid = unique("deadline")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("duration", "PT2H"), interrupting=True)))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-work")
    engine.clock_add(3 * HOUR)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    path = log.trail(key)
    assert ("work", "ELEMENT_TERMINATED") in path
    assert log.completed_elements(key) == ["start", "late", "timed_out", pid]
    assert log.records("JOB", "CANCELED", processInstanceKey=key)[0]["key"] == job.key
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


async def test_boundary_timer_is_canceled_when_the_task_completes(engine: EngineProcess, gateway: RawGateway,
                                                                  log: Log) -> None:
    pid = unique("in-time")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("duration", "PT2H"), interrupting=True)))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})
    engine.clock_add(3 * HOUR)
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})
    assert log.completed_elements(key) == ["start", "work", "done", pid]


async def test_non_interrupting_cycle_boundary_fires_its_repetitions(engine: EngineProcess, gateway: RawGateway,
                                                                     log: Log) -> None:
    pid = unique("reminders")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("cycle", "R3/PT10M"), interrupting=False)))
    key = await gateway.create(pid)
    for _ in range(5):
        engine.clock_add(11 * 60_000)
    reminders = await gateway.activate(f"{pid}-remind")
    assert len(reminders) == 3
    timers = log.timers(processInstanceKey=key)
    assert Counter(t["intent"] for t in timers) == Counter({"CREATED": 3, "TRIGGERED": 3})
    assert [t["repetitions"] for t in timers if t["intent"] == "CREATED"] == [3, 2, 1]
    (job,) = await gateway.activate(f"{pid}-work")  # the task was never interrupted
    await gateway.complete(job.key)
    for reminder in reminders:
        await gateway.complete(reminder.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "reminded") == 3 and log.count(key, "done") == 1


async def test_a_cycle_expression_is_evaluated_again_at_each_repetition(engine: EngineProcess, gateway: RawGateway,
                                                                       log: Log) -> None:
    """Zeebe evaluates a repeating timer's expression again when it reschedules it: a new interval applies from
    the next repetition on, while the repetitions left count down from the first evaluation."""
    pid = unique("re-cycle")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("cycle", '=if starts with(reminderEvery, "R") then reminderEvery else "R3/" + reminderEvery'), interrupting=False)))
    key = await gateway.create(pid, {"reminderEvery": "PT10M"})
    (first,) = log.timers("CREATED", processInstanceKey=key)
    await gateway.set_variables(key, {"reminderEvery": "PT1H"})
    engine.clock_add(10 * 60_000 + 1000)
    created = log.timers("CREATED", processInstanceKey=key)
    assert len(created) == 2
    assert created[1]["dueDate"] - first["dueDate"] == HOUR
    assert [t["repetitions"] for t in created] == [3, 2]
    await gateway.set_variables(key, {"reminderEvery": "R9/PT2H"})  # the count stays the first evaluation's
    engine.clock_add(HOUR)
    created = log.timers("CREATED", processInstanceKey=key)
    assert [t["repetitions"] for t in created] == [3, 2, 1]
    assert created[2]["dueDate"] - created[1]["dueDate"] == 2 * HOUR


async def test_a_cycle_expression_failing_at_a_repetition_keeps_the_last_interval(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("re-cycle-bad")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("cycle", '="R/" + reminderEvery'), interrupting=False)))
    key = await gateway.create(pid, {"reminderEvery": "PT10M"})
    await gateway.set_variables(key, {"reminderEvery": "not a duration"})
    engine.clock_add(10 * 60_000 + 1000)
    created = log.timers("CREATED", processInstanceKey=key)
    assert len(created) == 2 and created[1]["dueDate"] - created[0]["dueDate"] == 10 * 60_000
    assert log.open_incidents(key) == []
    assert len(await gateway.activate(f"{pid}-remind")) == 1


async def test_non_interrupting_duration_boundary_fires_once(engine: EngineProcess, gateway: RawGateway,
                                                             log: Log) -> None:
    pid = unique("once")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("duration", "PT10M"), interrupting=False)))
    key = await gateway.create(pid)
    for _ in range(3):
        engine.clock_add(11 * 60_000)
    assert len(await gateway.activate(f"{pid}-remind")) == 1
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})


async def test_cycle_boundary_timer_is_canceled_with_its_task(engine: EngineProcess, gateway: RawGateway,
                                                              log: Log) -> None:
    pid = unique("forever")
    await gateway.deploy((f"{pid}.bpmn", boundary_model(pid, more.timer("cycle", "R/PT1H"), interrupting=False)))
    key = await gateway.create(pid)
    engine.clock_add(HOUR + 1000)
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    assert log.timer_intents(key) == Counter({"CREATED": 2, "TRIGGERED": 1, "CANCELED": 1})
    engine.clock_add(5 * HOUR)
    assert log.timer_intents(key) == Counter({"CREATED": 2, "TRIGGERED": 1, "CANCELED": 1})


# -- timer start events -----------------------------------------------------------------------------------------------


def start_model(pid: str, definition: str) -> bytes:
    return bpmn.process(pid, more.start_event("tick", definition), bpmn.end(), bpmn.chain("tick", "end"))


async def test_time_date_start_event_starts_one_instance(engine: EngineProcess, gateway: RawGateway,
                                                         log: Log) -> None:
    pid = unique("dated-start")
    due = (engine.clock() // 1000 + 86400) * 1000
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, more.timer("date", iso(due)))))
    (created,) = log.timers("CREATED", processDefinitionKey=_definition_key(log, pid))
    assert created["dueDate"] == due and created["processInstanceKey"] == -1 and created["elementInstanceKey"] == -1
    engine.clock_add(DAY // 2)
    assert log.instances_of(pid) == []
    engine.clock_add(DAY)
    (instance,) = log.instances_of(pid)
    assert log.instance_state(instance) == "ELEMENT_COMPLETED"
    assert log.completed_elements(instance) == ["tick", "end", pid]
    (triggered,) = log.timers("TRIGGERED", targetElementId="tick", processDefinitionKey=_definition_key(log, pid))
    assert triggered["processInstanceKey"] == instance
    engine.clock_add(30 * DAY)
    assert len(log.instances_of(pid)) == 1


async def test_cycle_start_event_starts_its_repetitions_and_a_new_version_replaces_it(
        engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("cycle-start")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, more.timer("cycle", "R3/PT1H"))))
    engine.clock_add(HOUR + 1000)
    assert len(log.instances_of(pid)) == 1
    engine.clock_add(HOUR + 1000)
    assert len(log.instances_of(pid)) == 2
    # a new version without the timer cancels the pending third repetition
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(pid, bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))))
    engine.clock_add(5 * HOUR)
    assert len(log.instances_of(pid)) == 2
    first = _definition_key(log, pid)
    assert Counter(t["intent"] for t in log.timers(processDefinitionKey=first)) == Counter(
        {"CREATED": 3, "TRIGGERED": 2, "CANCELED": 1})


async def test_cycle_with_a_start_date(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("cycle-from")
    first_due = (engine.clock() // 1000 + 2 * 86400) * 1000
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, more.timer("cycle", f"R2/{iso(first_due)}/P1D"))))
    (created,) = log.timers("CREATED", processDefinitionKey=_definition_key(log, pid))
    assert created["dueDate"] == first_due
    engine.clock_add(first_due - engine.clock() + 1000)
    assert len(log.instances_of(pid)) == 1
    following = log.timers("CREATED", processDefinitionKey=_definition_key(log, pid))[-1]
    assert following["dueDate"] == first_due + DAY and following["repetitions"] == 1
    engine.clock_add(DAY)
    assert len(log.instances_of(pid)) == 2
    engine.clock_add(5 * DAY)
    assert len(log.instances_of(pid)) == 2


async def test_cron_start_event_fires_once_per_occurrence(engine: EngineProcess, gateway: RawGateway,
                                                          log: Log) -> None:
    pid = unique("cron")
    await gateway.deploy((f"{pid}.bpmn", start_model(pid, more.timer("cycle", "0 0 9 * * *"))))
    definition = _definition_key(log, pid)
    (created,) = log.timers("CREATED", processDefinitionKey=definition)
    due = dt.datetime.fromtimestamp(created["dueDate"] / 1000, tz=dt.UTC)
    assert (due.hour, due.minute, due.second) == (9, 0, 0)
    assert 0 < created["dueDate"] - engine.clock() <= DAY
    engine.clock_add(created["dueDate"] - engine.clock() + 1000)
    assert len(log.instances_of(pid)) == 1
    nxt = log.timers("CREATED", processDefinitionKey=definition)[-1]
    assert nxt["dueDate"] == created["dueDate"] + DAY
    # jumping over several occurrences fires once, and the next one is after the new now (missed ones are skipped)
    engine.clock_add(3 * DAY)
    assert len(log.instances_of(pid)) == 2
    latest = log.timers("CREATED", processDefinitionKey=definition)[-1]
    assert engine.clock() < latest["dueDate"] <= engine.clock() + DAY
    await gateway.deploy((f"{pid}.bpmn", bpmn.process(pid, bpmn.start(), bpmn.end(), bpmn.chain("start", "end"))))


async def test_timer_start_event_beside_a_none_start(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("both-starts")
    due = engine.clock() + HOUR
    model = bpmn.process(pid, bpmn.start("manual"), more.start_event("timed", more.timer("date", iso(due))),
                         bpmn.end(), bpmn.flow("f1", "manual", "end"), bpmn.flow("f2", "timed", "end"))
    await gateway.deploy((f"{pid}.bpmn", model))
    manual = await gateway.create(pid)
    assert log.completed_elements(manual) == ["manual", "end", pid]
    engine.clock_add(2 * HOUR)
    instances = log.instances_of(pid)
    assert len(instances) == 2
    assert log.completed_elements(instances[1]) == ["timed", "end", pid]


# -- timer start events of event sub-processes -------------------------------------------------------------------------


def esp_model(pid: str, definition: str, *, interrupting: bool) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), bpmn.service("work", f"{pid}-work"), bpmn.end(), bpmn.chain("start", "work", "end"),
        more.event_sub_process(
            "on_time", more.start_event("esp_start", definition, interrupting=interrupting),
            bpmn.service("handle", f"{pid}-handle"), bpmn.end("esp_end"),
            bpmn.chain("esp_start", "handle", "esp_end", prefix="e")),
    )


async def test_interrupting_timer_event_sub_process(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("esp-timer")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, more.timer("duration", "PT1H"), interrupting=True)))
    key = await gateway.create(pid)
    engine.clock_add(2 * HOUR)
    assert await gateway.activate(f"{pid}-work") == []
    assert ("work", "ELEMENT_TERMINATED") in log.trail(key)
    (job,) = await gateway.activate(f"{pid}-handle")
    await gateway.complete(job.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.timer_intents(key) == Counter({"CREATED": 1, "TRIGGERED": 1})
    assert "end" not in log.completed_elements(key)


async def test_non_interrupting_cycle_event_sub_process(engine: EngineProcess, gateway: RawGateway,
                                                        log: Log) -> None:
    pid = unique("esp-cycle")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, more.timer("cycle", "R2/PT1H"), interrupting=False)))
    key = await gateway.create(pid)
    for _ in range(4):
        engine.clock_add(HOUR + 1000)
    handlers = await gateway.activate(f"{pid}-handle")
    assert len(handlers) == 2
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key)
    # the process waits for its event sub-process instances
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    for handler in handlers:
        await gateway.complete(handler.key)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.count(key, "on_time") == 2
    assert log.timer_intents(key) == Counter({"CREATED": 2, "TRIGGERED": 2})


async def test_event_sub_process_timer_is_canceled_when_the_scope_completes(engine: EngineProcess,
                                                                            gateway: RawGateway, log: Log) -> None:
    pid = unique("esp-gone")
    await gateway.deploy((f"{pid}.bpmn", esp_model(pid, more.timer("duration", "PT1H"), interrupting=False)))
    key = await gateway.create(pid)
    (job,) = await gateway.activate(f"{pid}-work")
    await gateway.complete(job.key, {"x": 1})
    assert log.instance_state(key) == "ELEMENT_COMPLETED"
    assert log.timer_intents(key) == Counter({"CREATED": 1, "CANCELED": 1})


async def test_timer_variables_are_evaluated_when_the_wait_starts(engine: EngineProcess, gateway: RawGateway,
                                                                  log: Log) -> None:
    pid = unique("snapshot")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "=d"))))
    key = await gateway.create(pid, {"d": "PT1H"})
    await gateway.set_variables(key, {"d": "PT1M"})  # a subscription isn't updated by later changes
    engine.clock_add(30 * 60_000)
    assert log.instance_state(key) == "ELEMENT_ACTIVATED"
    engine.clock_add(31 * 60_000)
    assert log.instance_state(key) == "ELEMENT_COMPLETED"


def _definition_key(log: Log, pid: str) -> int:
    return log.records("PROCESS", "CREATED", bpmnProcessId=pid)[0]["key"]


async def test_timer_record_carries_the_instance(engine: EngineProcess, gateway: RawGateway, log: Log) -> None:
    pid = unique("record")
    await gateway.deploy((f"{pid}.bpmn", waiting(pid, more.timer("duration", "PT1H"))))
    key = await gateway.create(pid)
    (wait_key,) = log.element_keys(key, "wait")
    (record,) = log.records("TIMER", "CREATED", processInstanceKey=key)
    value = record["value"]
    assert value["elementInstanceKey"] == wait_key
    assert value["processDefinitionKey"] == _definition_key(log, pid)
    assert value["targetElementId"] == "wait"
    await gateway.cancel(key)
    (canceled,) = log.records("TIMER", "CANCELED", processInstanceKey=key)
    assert canceled["key"] == record["key"]
    assert json.loads(json.dumps(canceled["value"]))["dueDate"] == value["dueDate"]


async def test_timer_start_expression_is_evaluated_at_deployment(engine: EngineProcess, gateway: RawGateway,
                                                                 log: Log) -> None:
    pid = unique("deploy-expr")
    due = (engine.clock() // 1000 + 3600) * 1000
    model = start_model(pid, more.timer("date", f'=date and time("{iso(due)}")'))
    await gateway.deploy((f"{pid}.bpmn", model))
    (created,) = log.timers("CREATED", processDefinitionKey=_definition_key(log, pid))
    assert created["dueDate"] == due
    bad = unique("deploy-bad")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((f"{bad}.bpmn", start_model(bad, more.timer("cycle", "=missing"))))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected a valid timer expression for start event" in error.value.details()
    assert "- Element: tick" in error.value.details()
    assert log.records("PROCESS", "CREATED", bpmnProcessId=bad) == []


def timer_then_message(pid: str, name: str) -> bytes:
    return bpmn.process(
        pid, bpmn.start(), more.catch_event("first", more.timer("duration", "PT1H")),
        more.catch_event("then", more.message("m")), bpmn.end(), bpmn.chain("start", "first", "then", "end"),
        extra=bpmn.message_def("m", name, "=ref"))


async def test_one_move_processes_timers_and_message_ttls_in_due_order(engine: EngineProcess, gateway: RawGateway,
                                                                      log: Log) -> None:
    pid, name = unique("due-order"), unique("due-order-msg")
    await gateway.deploy((f"{pid}.bpmn", timer_then_message(pid, name)))
    alive = await gateway.create(pid, {"ref": "lives"})
    gone = await gateway.create(pid, {"ref": "expires"})
    await gateway.publish(name, "lives", {"got": 1}, ttl=2 * HOUR)  # expires after the timer fires
    await gateway.publish(name, "expires", ttl=HOUR // 2)  # expires before it
    engine.clock_add(3 * HOUR)
    # the timer (due at +1h) came before the first message's end of life (+2h): it was still there to correlate
    assert log.instance_state(alive) == "ELEMENT_COMPLETED"
    assert log.variables(alive)["got"] == 1
    # the second message had expired (at +30min) before the timer fired
    assert log.instance_state(gone) == "ELEMENT_ACTIVATED"
    expired = [r["value"]["correlationKey"] for r in log.records("MESSAGE", "EXPIRED", name=name)]
    assert sorted(expired) == ["expires", "lives"]
