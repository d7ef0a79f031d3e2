"""Unit tests of what the exporters make of records: the documents projection and the live events.

Records are written here the way the engine writes them (value shapes as in its `records` table).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.engine.exporters.live import MAX_VARIABLES_BYTES, LiveEvents
from services.engine.exporters.projection import DocumentsProjection
from services.engine.exporters.records import Record
from shared.documents.models import ViewChange, ViewKind
from shared.events import Event

T0 = 1_717_200_000_000  # 2024-06-01 00:00 UTC
PROCESS_KEY = 2251799813685250
PIK = 2251799813685251


def when(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


class Log:
    """Writes records with increasing positions."""

    def __init__(self) -> None:
        self.positions = itertools.count(1)

    def record(self, value_type: str, intent: str, key: int, value: dict[str, Any], ts: int = T0) -> Record:
        return Record(next(self.positions), key, "EVENT", value_type, intent, ts, orjson.dumps(value))

    def element(self, intent: str, key: int, element_type: str, element_id: str, *, pik: int = PIK,
                flow_scope: int = PIK, ts: int = T0, event_type: str = "UNSPECIFIED") -> Record:
        return self.record("PROCESS_INSTANCE", intent, key, {
            "bpmnElementType": element_type, "elementId": element_id, "bpmnProcessId": "order", "version": 1,
            "processDefinitionKey": PROCESS_KEY, "processInstanceKey": pik, "flowScopeKey": flow_scope,
            "bpmnEventType": event_type, "parentProcessInstanceKey": -1, "parentElementInstanceKey": -1,
            "tenantId": "<default>"}, ts)

    def process(self, intent: str, *, pik: int = PIK, ts: int = T0) -> Record:
        return self.element(intent, pik, "PROCESS", "order", pik=pik, flow_scope=-1, ts=ts)

    def job(self, intent: str, key: int, element_key: int, *, job_type: str = "ship", retries: int = 3,
            worker: str = "", headers: dict[str, str] | None = None, error: str = "", deadline: int = -1,
            variables: dict[str, Any] | None = None, ts: int = T0, pik: int = PIK) -> Record:
        return self.record("JOB", intent, key, self.job_value(
            element_key, job_type=job_type, retries=retries, worker=worker, headers=headers, error=error,
            deadline=deadline, variables=variables, pik=pik), ts)

    @staticmethod
    def job_value(element_key: int, *, job_type: str = "ship", retries: int = 3, worker: str = "",
                  headers: dict[str, str] | None = None, error: str = "", deadline: int = -1,
                  variables: dict[str, Any] | None = None, pik: int = PIK) -> dict[str, Any]:
        return {"type": job_type, "worker": worker, "retries": retries, "deadline": deadline, "retryBackoff": 0,
                "recurringTime": -1, "errorMessage": error, "errorCode": "", "customHeaders": headers or {},
                "variables": variables or {}, "elementId": "task", "elementInstanceKey": element_key,
                "processInstanceKey": pik, "bpmnProcessId": "order", "processDefinitionVersion": 1,
                "processDefinitionKey": PROCESS_KEY, "tenantId": "<default>"}

    def incident(self, intent: str, key: int, element_key: int, job_key: int, *, ts: int = T0) -> Record:
        return self.record("INCIDENT", intent, key, {
            "errorType": "JOB_NO_RETRIES", "errorMessage": "no stock", "bpmnProcessId": "order",
            "processDefinitionKey": PROCESS_KEY, "processInstanceKey": PIK, "elementId": "task",
            "elementInstanceKey": element_key, "jobKey": job_key, "variableScopeKey": element_key,
            "tenantId": "<default>"}, ts)

    def variable(self, intent: str, key: int, name: str, value: Any, *, scope: int = PIK, ts: int = T0) -> Record:
        return self.record("VARIABLE", intent, key, {
            "name": name, "value": orjson.dumps(value).decode(), "scopeKey": scope, "processInstanceKey": PIK,
            "processDefinitionKey": PROCESS_KEY, "bpmnProcessId": "order", "tenantId": "<default>"}, ts)


def by_key(changes: list[ViewChange]) -> dict[tuple[ViewKind, int], dict[str, Any] | None]:
    return {(c.kind, c.key): c.value for c in changes}


# -- the documents projection --------------------------------------------------------------------------------


def test_an_instance_and_its_elements_get_their_states_and_dates() -> None:
    log = Log()
    projection = DocumentsProjection()
    changes = by_key(projection.apply_all([
        log.record("PROCESS_INSTANCE_CREATION", "CREATED", PIK, {"processInstanceKey": PIK, "variables": {}}),
        log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED"),
        log.element("ELEMENT_ACTIVATING", 10, "START_EVENT", "start", event_type="NONE"),
        log.element("ELEMENT_ACTIVATED", 10, "START_EVENT", "start", event_type="NONE"),
        log.element("ELEMENT_COMPLETING", 10, "START_EVENT", "start", event_type="NONE"),
        log.element("ELEMENT_COMPLETED", 10, "START_EVENT", "start", event_type="NONE"),
        log.element("SEQUENCE_FLOW_TAKEN", 11, "SEQUENCE_FLOW", "flow1"),
        log.element("ELEMENT_ACTIVATING", 12, "SERVICE_TASK", "task", ts=T0 + 5),
        log.job("CREATED", 13, 12, ts=T0 + 5),
        log.element("ELEMENT_ACTIVATED", 12, "SERVICE_TASK", "task", ts=T0 + 5),
    ]))
    assert set(changes) == {(ViewKind.PROCESS_INSTANCE, PIK), (ViewKind.ELEMENT_INSTANCE, 10),
                            (ViewKind.ELEMENT_INSTANCE, 12), (ViewKind.JOB, 13)}  # no sequence flows
    instance = changes[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None
    assert (instance["state"], instance["bpmn_process_id"], instance["version"]) == ("active", "order", 1)
    assert instance["process_definition_key"] == PROCESS_KEY
    assert instance["start_date"] == when(T0) and instance["end_date"] is None
    assert instance["parent_process_instance_key"] is None and instance["has_incident"] is False
    start = changes[(ViewKind.ELEMENT_INSTANCE, 10)]
    assert start is not None and start["state"] == "ELEMENT_COMPLETED" and start["end_date"] == when(T0)
    task = changes[(ViewKind.ELEMENT_INSTANCE, 12)]
    assert task is not None
    assert (task["state"], task["element_type"], task["flow_scope_key"]) == ("ELEMENT_ACTIVATED", "SERVICE_TASK", PIK)
    assert task["start_date"] == when(T0 + 5) and task["end_date"] is None

    # the next batch: only what changed, with what the earlier records said still there
    changes = by_key(projection.apply_all([
        log.job("COMPLETED", 13, 12, worker="w1", ts=T0 + 9),
        log.element("ELEMENT_COMPLETING", 12, "SERVICE_TASK", "task", ts=T0 + 9),
        log.element("ELEMENT_COMPLETED", 12, "SERVICE_TASK", "task", ts=T0 + 9),
        log.process("ELEMENT_COMPLETING", ts=T0 + 9), log.process("ELEMENT_COMPLETED", ts=T0 + 9),
    ]))
    task = changes[(ViewKind.ELEMENT_INSTANCE, 12)]
    assert task is not None and task["start_date"] == when(T0 + 5) and task["end_date"] == when(T0 + 9)
    job = changes[(ViewKind.JOB, 13)]
    assert job is not None and job["state"] == "COMPLETED" and job["worker"] == "w1"
    assert job["created_at"] == when(T0 + 5)
    instance = changes[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None and instance["state"] == "completed"
    assert instance["start_date"] == when(T0) and instance["end_date"] == when(T0 + 9)
    assert projection.instances == {}  # nothing of an ended instance is kept in memory


def test_a_terminated_instance_is_terminated() -> None:
    log = Log()
    projection = DocumentsProjection()
    projection.apply_all([log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED")])
    changes = by_key(projection.apply_all([log.process("ELEMENT_TERMINATING", ts=T0 + 1),
                                           log.process("ELEMENT_TERMINATED", ts=T0 + 2)]))
    instance = changes[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None and instance["state"] == "terminated" and instance["end_date"] == when(T0 + 2)


def test_an_incident_marks_its_instance_and_element_until_it_is_resolved() -> None:
    log = Log()
    projection = DocumentsProjection()
    projection.apply_all([log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED"),
                          log.element("ELEMENT_ACTIVATING", 12, "SERVICE_TASK", "task"),
                          log.job("CREATED", 13, 12), log.element("ELEMENT_ACTIVATED", 12, "SERVICE_TASK", "task")])
    changes = by_key(projection.apply_all([log.job("FAILED", 13, 12, retries=0, error="no stock", ts=T0 + 1),
                                           log.incident("CREATED", 20, 12, 13, ts=T0 + 1)]))
    incident = changes[(ViewKind.INCIDENT, 20)]
    assert incident is not None
    assert (incident["state"], incident["error_type"], incident["error_message"]) == (
        "active", "JOB_NO_RETRIES", "no stock")
    assert (incident["element_id"], incident["element_instance_key"], incident["job_key"]) == ("task", 12, 13)
    assert incident["created_at"] == when(T0 + 1)
    instance = changes[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None and instance["has_incident"] is True
    element = changes[(ViewKind.ELEMENT_INSTANCE, 12)]
    assert element is not None and element["incident_key"] == 20
    job = changes[(ViewKind.JOB, 13)]
    assert job is not None and job["state"] == "FAILED" and job["retries"] == 0 and job["error_message"] == "no stock"

    changes = by_key(projection.apply_all([log.job("RETRIES_UPDATED", 13, 12, retries=1, ts=T0 + 2),
                                           log.incident("RESOLVED", 20, 12, 13, ts=T0 + 3)]))
    incident = changes[(ViewKind.INCIDENT, 20)]
    assert incident is not None and incident["state"] == "resolved"
    assert incident["created_at"] == when(T0 + 1) and incident["resolved_at"] == when(T0 + 3)
    instance = changes[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None and instance["has_incident"] is False
    element = changes[(ViewKind.ELEMENT_INSTANCE, 12)]
    assert element is not None and element["incident_key"] is None


def test_jobs_activated_in_a_batch_and_user_task_headers() -> None:
    log = Log()
    projection = DocumentsProjection()
    headers = {"io.camunda.zeebe:assignee": "wang", "io.camunda.zeebe:candidateGroups": '["unit-7","office"]',
               "io.camunda.zeebe:priority": "60", "io.camunda.zeebe:formKey": "camunda-forms:bpmn:form1",
               "project.kind": "plant"}
    projection.apply_all([log.process("ELEMENT_ACTIVATING"),
                          log.job("CREATED", 13, 12, job_type="io.camunda.zeebe:userTask", headers=headers, retries=1)])
    batch = log.record("JOB_BATCH", "ACTIVATED", 99, {
        "type": "io.camunda.zeebe:userTask", "worker": "inbox", "timeout": 60_000, "jobKeys": [13],
        "jobs": [Log.job_value(12, job_type="io.camunda.zeebe:userTask", retries=1, worker="inbox",
                               headers=headers, deadline=T0 + 60_000)]}, T0 + 1)
    job = by_key(projection.apply_all([batch]))[(ViewKind.JOB, 13)]
    assert job is not None
    assert (job["state"], job["worker"], job["deadline"]) == ("ACTIVATED", "inbox", when(T0 + 60_000))
    assert job["user_task"] == {"assignee": "wang", "candidate_groups": ["unit-7", "office"], "priority": 60,
                                "form_key": "camunda-forms:bpmn:form1"}
    # header names with dots can't be document keys: they are kept as pairs
    assert {"key": "project.kind", "value": "plant"} in job["custom_headers"]
    assert len(job["custom_headers"]) == len(headers)


def test_variables_keep_their_latest_value() -> None:
    log = Log()
    projection = DocumentsProjection()
    changes = by_key(projection.apply_all([
        log.variable("CREATED", 30, "amount", 100),
        # SetVariables' VARIABLE_DOCUMENT record is followed by a VARIABLE record per variable
        log.record("VARIABLE_DOCUMENT", "UPDATED", 29, {"scopeKey": PIK, "updateSemantics": "PROPAGATE",
                                                        "variables": {"amount": 250}}),
        log.variable("UPDATED", 30, "amount", 250, ts=T0 + 4),
        log.variable("CREATED", 31, "note", {"text": "延期"}, scope=12),
    ]))
    assert projection.skipped_records == 0
    assert set(changes) == {(ViewKind.VARIABLE, 30), (ViewKind.VARIABLE, 31)}
    amount = changes[(ViewKind.VARIABLE, 30)]
    assert amount is not None
    assert (amount["name"], amount["value"], amount["scope_key"], amount["process_instance_key"]) == (
        "amount", "250", PIK, PIK)
    note = changes[(ViewKind.VARIABLE, 31)]
    assert note is not None and orjson.loads(note["value"]) == {"text": "延期"} and note["scope_key"] == 12


def test_timers_and_message_subscriptions_are_views_of_what_is_still_waiting() -> None:
    log = Log()
    projection = DocumentsProjection()
    timer = {"elementInstanceKey": 12, "processInstanceKey": PIK, "processDefinitionKey": PROCESS_KEY,
             "dueDate": T0 + 3_600_000, "targetElementId": "wait", "repetitions": 1, "tenantId": "<default>"}
    start_timer = {**timer, "elementInstanceKey": -1, "processInstanceKey": -1, "targetElementId": "every_day"}
    changes = by_key(projection.apply_all([log.record("TIMER", "CREATED", 40, timer),
                                           log.record("TIMER", "CREATED", 41, start_timer)]))
    waiting = changes[(ViewKind.TIMER, 40)]
    assert waiting is not None and waiting["due_date"] == when(T0 + 3_600_000) and waiting["element_id"] == "wait"
    starting = changes[(ViewKind.TIMER, 41)]
    assert starting is not None and starting["process_instance_key"] is None
    changes = by_key(projection.apply_all([log.record("TIMER", "TRIGGERED", 40, timer),
                                           log.record("TIMER", "CANCELED", 41, start_timer)]))
    assert changes == {(ViewKind.TIMER, 40): None, (ViewKind.TIMER, 41): None}

    def subscription(key: int, intent: str, interrupting: bool) -> Record:
        return log.record("PROCESS_MESSAGE_SUBSCRIPTION", intent, key, {
            "processInstanceKey": PIK, "elementInstanceKey": 12, "processDefinitionKey": PROCESS_KEY,
            "bpmnProcessId": "order", "messageName": "paid", "correlationKey": "o-1", "elementId": "wait_paid",
            "interrupting": interrupting, "messageKey": -1, "variables": {}, "tenantId": "<default>"})

    changes = by_key(projection.apply_all([subscription(50, "CREATED", True), subscription(51, "CREATED", False)]))
    paid = changes[(ViewKind.MESSAGE_SUBSCRIPTION, 50)]
    assert paid is not None and (paid["message_name"], paid["correlation_key"]) == ("paid", "o-1")
    # an interrupting catch closes when it correlates; a non-interrupting one stays open
    changes = by_key(projection.apply_all([subscription(50, "CORRELATED", True), subscription(51, "CORRELATED", False)]))
    assert changes == {(ViewKind.MESSAGE_SUBSCRIPTION, 50): None}
    assert by_key(projection.apply_all([subscription(51, "DELETED", False)])) == {
        (ViewKind.MESSAGE_SUBSCRIPTION, 51): None}


def test_a_process_definition_keeps_its_xml() -> None:
    log = Log()
    xml = '<?xml version="1.0"?><bpmn:definitions id="d"/>'
    changes = by_key(DocumentsProjection().apply_all([log.record("PROCESS", "CREATED", PROCESS_KEY, {
        "bpmnProcessId": "order", "version": 2, "processDefinitionKey": PROCESS_KEY, "resourceName": "order.bpmn",
        "tenantId": "<default>", "duplicate": False, "resource": xml}, T0)]))
    definition = changes[(ViewKind.PROCESS_DEFINITION, PROCESS_KEY)]
    assert definition is not None
    assert (definition["bpmn_process_id"], definition["version"], definition["resource_name"]) == (
        "order", 2, "order.bpmn")
    assert definition["bpmn_xml"] == xml and definition["deployed_at"] == when(T0)


def test_a_deleted_process_definition_is_marked_and_its_finished_instances_stay() -> None:
    log = Log()
    projection = DocumentsProjection()
    value = {"bpmnProcessId": "order", "version": 2, "processDefinitionKey": PROCESS_KEY,
             "resourceName": "order.bpmn", "tenantId": "<default>"}
    projection.apply_all([log.record("PROCESS", "CREATED", PROCESS_KEY, {**value, "resource": "<x/>"}, T0),
                          log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED"),
                          log.process("ELEMENT_COMPLETING"), log.process("ELEMENT_COMPLETED", ts=T0 + 5)])
    # as the engine writes a deletion: DELETING, then DELETED, both with the same value
    changes = by_key(projection.apply_all([log.record("PROCESS", "DELETING", 7, value, T0 + 10),
                                           log.record("PROCESS", "DELETED", 8, value, T0 + 10)]))
    assert list(changes) == [(ViewKind.PROCESS_DEFINITION, PROCESS_KEY)]
    definition = changes[(ViewKind.PROCESS_DEFINITION, PROCESS_KEY)]
    assert definition is not None
    assert (definition["bpmn_process_id"], definition["version"], definition["deleted"]) == ("order", 2, True)
    assert definition["deleted_at"] == when(T0 + 10)
    assert (ViewKind.PROCESS_INSTANCE, PIK) not in changes  # the finished instance's view is left as it was
    assert projection.skipped_records == projection.rejected_changes == 0


def test_after_a_restart_the_stored_documents_of_running_instances_are_loaded_first() -> None:
    log = Log()
    first = DocumentsProjection()
    before = [log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED"),
              log.element("ELEMENT_ACTIVATING", 12, "SERVICE_TASK", "task", ts=T0 + 5),
              log.job("CREATED", 13, 12, ts=T0 + 5), log.element("ELEMENT_ACTIVATED", 12, "SERVICE_TASK", "task"),
              log.job("FAILED", 13, 12, retries=0), log.incident("CREATED", 20, 12, 13, ts=T0 + 6)]
    stored = by_key(first.apply_all(before))  # what the store held when the exporter stopped

    after = [log.incident("RESOLVED", 20, 12, 13, ts=T0 + 7), log.job("COMPLETED", 13, 12, ts=T0 + 8),
             log.element("ELEMENT_COMPLETED", 12, "SERVICE_TASK", "task", ts=T0 + 8),
             log.process("ELEMENT_ACTIVATING", pik=PIK + 100, ts=T0 + 8)]
    restarted = DocumentsProjection()
    assert restarted.instances_to_load(after) == {PIK}  # not the instance that starts in this batch

    def doc(kind: ViewKind, key: int) -> dict[str, Any]:
        value = stored[(kind, key)]
        assert value is not None
        return value

    restarted.load_instance(PIK, doc(ViewKind.PROCESS_INSTANCE, PIK), [doc(ViewKind.ELEMENT_INSTANCE, 12)],
                            [doc(ViewKind.JOB, 13)], [doc(ViewKind.INCIDENT, 20)])
    assert restarted.instances_to_load(after) == set()
    resumed = by_key(restarted.apply_all(after))
    uninterrupted = by_key(first.apply_all(after))
    assert resumed == uninterrupted  # as if the exporter had never stopped
    element = resumed[(ViewKind.ELEMENT_INSTANCE, 12)]
    assert element is not None and element["start_date"] == when(T0 + 5)
    instance = resumed[(ViewKind.PROCESS_INSTANCE, PIK)]
    assert instance is not None and instance["has_incident"] is False


def test_a_record_it_cannot_read_is_skipped_and_later_ones_still_count() -> None:
    log = Log()
    projection = DocumentsProjection()
    broken = log.record("VARIABLE", "CREATED", 30, {"name": "x"})  # no value, no scope
    changes = by_key(projection.apply_all([broken, log.variable("CREATED", 31, "y", 1)]))
    assert projection.skipped_records == 1
    assert list(changes) == [(ViewKind.VARIABLE, 31)]


def test_a_view_the_store_would_refuse_is_left_out_of_the_batch_alone() -> None:
    log = Log()
    projection = DocumentsProjection()
    refused = log.record("PROCESS", "CREATED", 7, {"bpmnProcessId": "odd", "version": "two",
                                                   "processDefinitionKey": 7})
    changes = by_key(projection.apply_all([refused, log.variable("CREATED", 31, "y", 1)]))
    assert projection.rejected_changes == 1
    assert list(changes) == [(ViewKind.VARIABLE, 31)]


# -- live events ---------------------------------------------------------------------------------------------


def test_live_events_follow_an_instance_in_log_order() -> None:
    log = Log()
    live = LiveEvents()
    records = [
        log.record("PROCESS_INSTANCE_CREATION", "CREATED", PIK, {
            "processInstanceKey": PIK, "bpmnProcessId": "order", "variables": {"project_code": "P-1", "n": 1}}),
        log.variable("CREATED", 30, "project_code", "P-1"),
        log.process("ELEMENT_ACTIVATING"), log.process("ELEMENT_ACTIVATED"),
        log.element("ELEMENT_ACTIVATING", 12, "USER_TASK", "approve"),
        log.job("CREATED", 13, 12, job_type="io.camunda.zeebe:userTask", retries=1,
                headers={"io.camunda.zeebe:candidateGroups": '["unit-7"]'}),
        log.element("ELEMENT_ACTIVATED", 12, "USER_TASK", "approve"),
        log.element("SEQUENCE_FLOW_TAKEN", 14, "SEQUENCE_FLOW", "f1"),
        log.job("COMPLETED", 13, 12, job_type="io.camunda.zeebe:userTask", variables={"approved": True}),
        log.element("ELEMENT_COMPLETING", 12, "USER_TASK", "approve"),
        log.element("ELEMENT_COMPLETED", 12, "USER_TASK", "approve"),
        log.incident("CREATED", 20, 12, 13),
        log.process("ELEMENT_COMPLETED", ts=T0 + 50),
    ]
    events = live.events(records)
    assert [e.type for e in events] == [
        "engine.process_instance.created", "engine.job.created", "engine.element.activated",
        "engine.job.completed", "engine.element.completed", "engine.incident.created",
        "engine.process_instance.completed"]
    assert all(e.project_code == "P-1" and e.payload["process_instance_key"] == PIK for e in events)
    positions = [e.payload["position"] for e in events]
    assert positions == sorted(positions)
    created, job_created, _, job_completed, element_completed, incident, completed = events
    assert created.payload["variables"] == {"project_code": "P-1", "n": 1}
    assert created.payload["bpmn_process_id"] == "order"
    assert job_created.payload["user_task"] == {"candidate_groups": ["unit-7"]}
    assert job_created.payload["job_key"] == 13 and job_created.payload["element_instance_key"] == 12
    assert job_completed.payload["variables"] == {"approved": True}
    assert element_completed.payload["element_id"] == "approve"
    assert incident.payload["error_type"] == "JOB_NO_RETRIES" and incident.payload["job_key"] == 13
    assert completed.occurred_at == when(T0 + 50).isoformat()


def test_live_event_entries_read_back_as_event_bus_events() -> None:
    log = Log()
    event = LiveEvents().events([log.variable("CREATED", 30, "project_code", "P-9"),
                                 log.process("ELEMENT_ACTIVATED")])[0]
    type_, occurred_at, scope, payload = event.fields()
    parsed = Event.from_entry("1-0", {"type": type_, "occurred_at": occurred_at, "scope": scope, "payload": payload})
    assert parsed.type == "engine.process_instance.created"
    assert parsed.scope.project_code == "P-9"
    assert parsed.occurred_at == when(T0)
    assert parsed.payload["process_instance_key"] == PIK


def test_the_models_project_code_variable_scopes_live_events() -> None:
    """bpmn/ names the project variable projectCode; both spellings scope an instance's events."""
    log = Log()
    created = LiveEvents().events([
        log.record("PROCESS_INSTANCE_CREATION", "CREATED", PIK, {
            "processInstanceKey": PIK, "bpmnProcessId": "order", "variables": {"projectCode": "P-3"}}),
        log.process("ELEMENT_ACTIVATED")])
    assert [e.project_code for e in created] == ["P-3"]
    later = LiveEvents().events([log.variable("CREATED", 30, "projectCode", "P-4"), log.process("ELEMENT_ACTIVATED")])
    assert [e.project_code for e in later] == ["P-4"]


def test_an_instance_started_before_the_exporter_gets_its_project_from_the_engine_state() -> None:
    log = Log()
    asked: list[int] = []

    def lookup(pik: int) -> Any:
        asked.append(pik)
        return "P-7"

    live = LiveEvents(lookup=lookup)
    events = live.events([log.element("ELEMENT_COMPLETED", 12, "SERVICE_TASK", "task"),
                          log.element("ELEMENT_ACTIVATED", 15, "SERVICE_TASK", "next")])
    assert [e.project_code for e in events] == ["P-7", "P-7"]
    assert asked == [PIK]  # asked once, then remembered
    # an instance seen from its start is never looked up
    other = PIK + 1
    live.events([log.process("ELEMENT_ACTIVATING", pik=other), log.process("ELEMENT_ACTIVATED", pik=other)])
    assert asked == [PIK]


def test_large_variables_are_left_out_of_live_events() -> None:
    log = Log()
    big = {"blob": "x" * (MAX_VARIABLES_BYTES + 1)}
    event = LiveEvents().events([log.job("COMPLETED", 13, 12, variables=big)])[0]
    assert "variables" not in event.payload
    assert event.payload["variables_omitted"] > MAX_VARIABLES_BYTES


def test_records_of_no_interest_make_no_event() -> None:
    log = Log()
    assert LiveEvents().events([
        log.element("ELEMENT_ACTIVATING", 12, "SERVICE_TASK", "task"),
        log.element("SEQUENCE_FLOW_TAKEN", 14, "SEQUENCE_FLOW", "f1"),
        log.element("ELEMENT_ACTIVATED", 16, "MULTI_INSTANCE_BODY", "each"),
        log.record("JOB_BATCH", "ACTIVATED", 99, {"jobKeys": [], "jobs": []}),
        log.record("DEPLOYMENT", "CREATED", 98, {"resources": []}),
        log.variable("CREATED", 30, "n", 1),
    ]) == []
