"""Records → changes of the documents store's engine views (what Camunda's Operate would show).

Pure: no I/O. The store replaces a view document whole, but a record only carries what its event knows
(an ELEMENT_COMPLETED record has no start date, an INCIDENT record doesn't know the instance's other
incidents). So the projection keeps the current documents of what can still change, grouped by process
instance, and drops a group once its instance has ended. After a restart the exporter reloads the groups
of instances that were running from the store (`instances_to_load` / `load_instance`) before applying
the records that follow the stored position; the result is the same as if it had never stopped.

Changes are coalesced per view document: an element activated and completed within one batch becomes a
single write of its final state. The store applies a batch and the exporter's position in one
transaction, so coalescing never exposes a state the log did not pass through at a batch boundary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from pydantic import ValidationError

from services.engine.exporters.records import Record
from shared.documents.models import ViewChange, ViewKind

log = structlog.get_logger("engine.exporters")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
USER_TASK_JOB_TYPE = "io.camunda.zeebe:userTask"
_USER_TASK_HEADERS = {
    "io.camunda.zeebe:assignee": "assignee",
    "io.camunda.zeebe:candidateGroups": "candidate_groups",
    "io.camunda.zeebe:candidateUsers": "candidate_users",
    "io.camunda.zeebe:dueDate": "due_date",
    "io.camunda.zeebe:followUpDate": "follow_up_date",
    "io.camunda.zeebe:formKey": "form_key",
    "io.camunda.zeebe:priority": "priority",
}
_ELEMENT_DONE = ("ELEMENT_COMPLETED", "ELEMENT_TERMINATED")
_JOB_DONE = ("COMPLETED", "CANCELED")
_INSTANCE_STATES = {"ELEMENT_COMPLETED": "completed", "ELEMENT_TERMINATED": "terminated"}


def at(epoch_ms: int) -> datetime | None:
    """Engine time (epoch ms, -1 for none) as an aware UTC datetime."""
    return None if epoch_ms is None or epoch_ms < 0 else _EPOCH + timedelta(milliseconds=epoch_ms)


def _key(value: int | None) -> int | None:
    return value if value is not None and value >= 0 else None


def user_task_headers(headers: dict[str, str]) -> dict[str, Any]:
    """Zeebe's user-task headers in plain fields (candidate lists are JSON text in the header)."""
    task: dict[str, Any] = {}
    for header, name in _USER_TASK_HEADERS.items():
        raw = headers.get(header)
        if raw is None:
            continue
        if name in ("candidate_groups", "candidate_users"):
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = [part.strip() for part in raw.split(",") if part.strip()]
            task[name] = [str(item) for item in parsed] if isinstance(parsed, list) else [str(parsed)]
        elif name == "priority":
            try:
                task[name] = int(raw)
            except ValueError:
                task[name] = None
        else:
            task[name] = raw
    return task


@dataclass
class InstanceDocs:
    """The view documents of one process instance that later records may still change."""

    process_instance: dict[str, Any] | None = None
    elements: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    open_incidents: dict[int, dict[str, Any]] = field(default_factory=dict)


class DocumentsProjection:
    def __init__(self) -> None:
        self.instances: dict[int, InstanceDocs] = {}
        self._pending: dict[tuple[ViewKind, int], dict[str, Any] | None] = {}
        self.skipped_records = 0
        self.rejected_changes = 0

    # -- what must be loaded before a batch can be applied ------------------------------------------------

    def instances_to_load(self, records: Iterable[Record]) -> set[int]:
        """Process instances that records change but whose documents are not in memory (after a restart)."""
        started: set[int] = set()
        missing: set[int] = set()
        for record in records:
            value_type = record.value_type
            if value_type == "PROCESS_INSTANCE":
                if record.intent == "SEQUENCE_FLOW_TAKEN":
                    continue
                pik = record.value.get("processInstanceKey", -1)
                if record.intent == "ELEMENT_ACTIVATING" and record.value.get("bpmnElementType") == "PROCESS":
                    started.add(pik)
                    continue
            elif value_type == "JOB":
                if record.intent == "CREATED":
                    continue
                pik = record.value.get("processInstanceKey", -1)
            elif value_type == "INCIDENT":
                pik = record.value.get("processInstanceKey", -1)
            elif value_type == "JOB_BATCH":
                for job in record.value.get("jobs", ()):
                    pik = job.get("processInstanceKey", -1)
                    if pik > 0 and pik not in self.instances and pik not in started:
                        missing.add(pik)
                continue
            else:
                continue
            if pik > 0 and pik not in self.instances and pik not in started:
                missing.add(pik)
        return missing

    def load_instance(self, process_instance_key: int, process_instance: dict[str, Any] | None,
                      elements: Iterable[dict[str, Any]], jobs: Iterable[dict[str, Any]],
                      open_incidents: Iterable[dict[str, Any]]) -> None:
        """Take the stored documents of an instance (as the store returns them) as the current state."""
        docs = InstanceDocs(process_instance=process_instance)
        docs.elements = {doc["key"]: doc for doc in elements}
        docs.jobs = {doc["key"]: doc for doc in jobs}
        docs.open_incidents = {doc["key"]: doc for doc in open_incidents if doc.get("state") == "active"}
        self.instances[process_instance_key] = docs

    # -- applying records ---------------------------------------------------------------------------------------

    def apply(self, record: Record) -> None:
        handler = _HANDLERS.get(record.value_type)
        if handler is None:
            return
        try:
            handler(self, record)
        except (KeyError, TypeError, ValueError) as error:
            # a record the projection can't read must not stop every later one from being exported
            self.skipped_records += 1
            log.error("exporter skipped a record it could not project", position=record.position,
                      value_type=record.value_type, intent=record.intent, error=repr(error))

    def apply_all(self, records: Iterable[Record]) -> list[ViewChange]:
        for record in records:
            self.apply(record)
        return self.take_changes()

    def take_changes(self) -> list[ViewChange]:
        """The coalesced changes since the last call, validated (an invalid one is logged and left out)."""
        pending, self._pending = self._pending, {}
        changes = []
        for (kind, key), value in pending.items():
            try:
                changes.append(ViewChange(kind=kind, key=key, value=value))
            except (ValidationError, ValueError) as error:
                self.rejected_changes += 1
                log.error("exporter left out a view the store would refuse", kind=kind.value, key=key,
                          error=str(error))
        return changes

    def _put(self, kind: ViewKind, key: int, doc: dict[str, Any]) -> None:
        self._pending[(kind, key)] = doc

    def _delete(self, kind: ViewKind, key: int) -> None:
        self._pending[(kind, key)] = None

    def _docs(self, pik: int) -> InstanceDocs:
        docs = self.instances.get(pik)
        if docs is None:
            docs = self.instances[pik] = InstanceDocs()
        return docs

    # -- one handler per value type ---------------------------------------------------------------------------

    def _process(self, record: Record) -> None:
        value = record.value
        if record.intent == "DELETED":
            # Marked, not removed: finished instances of the version still name it. The record carries no
            # XML, so a diagram of the version comes from the resource the deploying client kept.
            self._put(ViewKind.PROCESS_DEFINITION, value["processDefinitionKey"], {
                "bpmn_process_id": value["bpmnProcessId"], "version": value["version"],
                "resource_name": value.get("resourceName"), "deleted": True, "deleted_at": at(record.timestamp),
                "tenant_id": value.get("tenantId"),
            })
            return
        if record.intent != "CREATED":
            return
        self._put(ViewKind.PROCESS_DEFINITION, value["processDefinitionKey"], {
            "bpmn_process_id": value["bpmnProcessId"], "version": value["version"],
            "resource_name": value.get("resourceName"), "deployed_at": at(record.timestamp),
            "bpmn_xml": value.get("resource"), "tenant_id": value.get("tenantId"),
        })

    def _process_instance(self, record: Record) -> None:
        intent = record.intent
        if intent == "SEQUENCE_FLOW_TAKEN":
            return
        value = record.value
        pik = value["processInstanceKey"]
        when = at(record.timestamp)
        if value["bpmnElementType"] == "PROCESS":
            self._instance_changed(record, pik, when)
            return
        docs = self._docs(pik)
        key = record.key
        doc = docs.elements.get(key)
        if doc is None:
            doc = docs.elements[key] = {
                "process_instance_key": pik, "element_id": value["elementId"],
                "element_type": value["bpmnElementType"], "flow_scope_key": _key(value.get("flowScopeKey")),
                "bpmn_event_type": value.get("bpmnEventType"), "bpmn_process_id": value.get("bpmnProcessId"),
                "process_definition_key": value.get("processDefinitionKey"),
                "start_date": when if intent == "ELEMENT_ACTIVATING" else None, "end_date": None,
                "incident_key": None,
            }
        doc["state"] = intent
        if intent in _ELEMENT_DONE:
            doc["end_date"] = when
            doc["incident_key"] = None
            del docs.elements[key]
        self._put(ViewKind.ELEMENT_INSTANCE, key, doc)

    def _instance_changed(self, record: Record, pik: int, when: datetime | None) -> None:
        value = record.value
        intent = record.intent
        docs = self._docs(pik)
        doc = docs.process_instance
        if doc is None:
            doc = docs.process_instance = {
                "bpmn_process_id": value["bpmnProcessId"], "version": value.get("version"),
                "process_definition_key": _key(value.get("processDefinitionKey")),
                "parent_process_instance_key": _key(value.get("parentProcessInstanceKey")),
                "parent_element_instance_key": _key(value.get("parentElementInstanceKey")),
                "start_date": when if intent == "ELEMENT_ACTIVATING" else None, "end_date": None,
                "has_incident": False,
            }
        doc["state"] = _INSTANCE_STATES.get(intent, "active")
        doc["has_incident"] = bool(docs.open_incidents)
        if intent in _ELEMENT_DONE:
            doc["end_date"] = when
            doc["has_incident"] = False
            del self.instances[pik]
        self._put(ViewKind.PROCESS_INSTANCE, pik, doc)

    def _job_doc(self, key: int, state: str, value: dict[str, Any], when: datetime | None) -> None:
        pik = value["processInstanceKey"]
        docs = self._docs(pik)
        doc = docs.jobs.get(key)
        if doc is None:
            doc = docs.jobs[key] = {"created_at": when if state == "CREATED" else None}
        headers = value.get("customHeaders") or {}
        doc.update({
            "process_instance_key": pik, "element_instance_key": _key(value.get("elementInstanceKey")),
            "element_id": value.get("elementId"), "bpmn_process_id": value.get("bpmnProcessId"),
            "process_definition_key": _key(value.get("processDefinitionKey")),
            "type": value["type"], "state": state, "retries": value.get("retries"),
            "worker": value.get("worker") or None, "deadline": at(value.get("deadline", -1)),
            "error_message": value.get("errorMessage") or None, "error_code": value.get("errorCode") or None,
            # header names hold dots, which a document key may not: a list of pairs keeps them all
            "custom_headers": [{"key": k, "value": v} for k, v in headers.items()],
            "updated_at": when,
        })
        if value["type"] == USER_TASK_JOB_TYPE:
            doc["user_task"] = user_task_headers(headers)
        if state in _JOB_DONE:
            del docs.jobs[key]
        self._put(ViewKind.JOB, key, doc)

    def _job(self, record: Record) -> None:
        self._job_doc(record.key, record.intent, record.value, at(record.timestamp))

    def _job_batch(self, record: Record) -> None:
        if record.intent != "ACTIVATED":
            return
        when = at(record.timestamp)
        for key, job in zip(record.value.get("jobKeys", ()), record.value.get("jobs", ()), strict=False):
            self._job_doc(key, "ACTIVATED", job, when)

    def _incident(self, record: Record) -> None:
        value = record.value
        key = record.key
        pik = value["processInstanceKey"]
        docs = self._docs(pik)
        when = at(record.timestamp)
        element_key = _key(value.get("elementInstanceKey"))
        if record.intent == "CREATED":
            doc = docs.open_incidents[key] = {
                "process_instance_key": pik, "element_instance_key": element_key,
                "element_id": value.get("elementId") or None, "job_key": _key(value.get("jobKey")),
                "error_type": value.get("errorType", "UNKNOWN"), "error_message": value.get("errorMessage", ""),
                "bpmn_process_id": value.get("bpmnProcessId"),
                "process_definition_key": _key(value.get("processDefinitionKey")),
                "variable_scope_key": _key(value.get("variableScopeKey")),
                "state": "active", "created_at": when, "resolved_at": None,
            }
            element = docs.elements.get(element_key) if element_key is not None else None
            if element is not None:
                element["incident_key"] = key
                self._put(ViewKind.ELEMENT_INSTANCE, element_key, element)
        elif record.intent == "RESOLVED":
            doc = docs.open_incidents.pop(key, None) or {
                "process_instance_key": pik, "element_instance_key": element_key,
                "element_id": value.get("elementId") or None, "job_key": _key(value.get("jobKey")),
                "error_type": value.get("errorType", "UNKNOWN"), "error_message": value.get("errorMessage", ""),
                "bpmn_process_id": value.get("bpmnProcessId"), "created_at": None,
            }
            doc["state"] = "resolved"
            doc["resolved_at"] = when
            element = docs.elements.get(element_key) if element_key is not None else None
            if element is not None and element.get("incident_key") == key:
                element["incident_key"] = None
                self._put(ViewKind.ELEMENT_INSTANCE, element_key, element)
        else:
            return
        self._put(ViewKind.INCIDENT, key, doc)
        instance = docs.process_instance
        if instance is not None and instance["state"] == "active":
            has_incident = bool(docs.open_incidents)
            if instance.get("has_incident") != has_incident:
                instance["has_incident"] = has_incident
                self._put(ViewKind.PROCESS_INSTANCE, pik, instance)

    def _variable(self, record: Record) -> None:
        if record.intent not in ("CREATED", "UPDATED"):
            return
        value = record.value
        self._put(ViewKind.VARIABLE, record.key, {
            "process_instance_key": value["processInstanceKey"], "scope_key": value["scopeKey"],
            "name": value["name"], "value": value["value"], "bpmn_process_id": value.get("bpmnProcessId") or None,
            "updated_at": at(record.timestamp),
        })

    def _timer(self, record: Record) -> None:
        if record.intent != "CREATED":  # TRIGGERED or CANCELED: no longer waiting
            self._delete(ViewKind.TIMER, record.key)
            return
        value = record.value
        self._put(ViewKind.TIMER, record.key, {
            "process_instance_key": _key(value.get("processInstanceKey")), "element_id": value.get("targetElementId"),
            "element_instance_key": _key(value.get("elementInstanceKey")),
            "process_definition_key": _key(value.get("processDefinitionKey")),
            "due_date": at(value["dueDate"]), "repetitions": value.get("repetitions"),
        })

    def _message_subscription(self, record: Record) -> None:
        value = record.value
        intent = record.intent
        if intent == "CREATED":
            self._put(ViewKind.MESSAGE_SUBSCRIPTION, record.key, {
                "process_instance_key": _key(value.get("processInstanceKey")), "element_id": value.get("elementId"),
                "element_instance_key": _key(value.get("elementInstanceKey")),
                "bpmn_process_id": value.get("bpmnProcessId"), "message_name": value["messageName"],
                "correlation_key": value.get("correlationKey") or "", "interrupting": value.get("interrupting", True),
                "created_at": at(record.timestamp),
            })
        elif intent == "DELETED" or (intent == "CORRELATED" and value.get("interrupting", True)):
            # a non-interrupting catch stays open after a correlation; everything else closes
            self._delete(ViewKind.MESSAGE_SUBSCRIPTION, record.key)


_HANDLERS = {
    "PROCESS": DocumentsProjection._process,
    "PROCESS_INSTANCE": DocumentsProjection._process_instance,
    "JOB": DocumentsProjection._job,
    "JOB_BATCH": DocumentsProjection._job_batch,
    "INCIDENT": DocumentsProjection._incident,
    "VARIABLE": DocumentsProjection._variable,
    "TIMER": DocumentsProjection._timer,
    "PROCESS_MESSAGE_SUBSCRIPTION": DocumentsProjection._message_subscription,
}
