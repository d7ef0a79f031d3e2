"""Resource deletion (Zeebe's DeleteResource): a process definition, a decision requirements graph or a form.

Zeebe's rules (docs.camunda.io, "Resource deletion" and the DeleteResource RPC, 8.6):
- A deleted process definition no longer exists: no instance can be created for it (NOT_FOUND). When it was the
  latest version, the version before it becomes the latest, and that version's timer, message and signal start
  events are active again. A version number is never given again: the next deployment continues after it.
- A process definition with running instances can't be deleted (FAILED_PRECONDITION); nothing changes.
- Deleting a decision requirements graph deletes its decisions; the previous version of each becomes the latest.
- An unknown key (or one already deleted) is NOT_FOUND.

A deleted resource's row is replaced by a tombstone that keeps only its id and version, so the version numbering
survives restarts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.protocol import DEFAULT_TENANT, RecordType, Rejection, RejectionType, ValueType

if TYPE_CHECKING:
    from services.engine.model.elements import ExecutableProcess
    from services.engine.processing.engine import Engine

INTENT = "DELETE"


class ResourceDeletion:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state
        self.deployments = engine.deployments

    def delete(self, key: int) -> int:
        row = self.state.resources.get(key)
        kind = row.get("kind") if row is not None else None
        if kind not in ("process", "drg", "form"):
            raise Rejection(RejectionType.NOT_FOUND, "Expected to delete resource but no resource found with key "
                            f"`{key}`", intent=INTENT)
        if kind == "process" and any(e.process_definition_key == key for e in self.state.elements.values()):
            raise Rejection(RejectionType.INVALID_STATE, f"Expected to delete resource with key `{key}` but there "
                            "are still running instances", intent=INTENT)
        event_key = self.state.new_key()
        value = {"resourceKey": key, "tenantId": DEFAULT_TENANT}
        self.engine.write(event_key, ValueType.RESOURCE_DELETION, "DELETE", value, RecordType.COMMAND)
        self.engine.write(event_key, ValueType.RESOURCE_DELETION, "DELETING", value)
        assert row is not None
        if kind == "process":
            self._delete_process(self.engine.processes[key])
        elif kind == "drg":
            self._delete_drg(row)
        else:
            self._delete_form(row)
        self.engine.write(event_key, ValueType.RESOURCE_DELETION, "DELETED", value)
        return event_key

    def _delete_process(self, process: ExecutableProcess) -> None:
        deployments = self.deployments
        events = self.engine.events
        process_id = process.bpmn_process_id
        value = {"bpmnProcessId": process_id, "version": process.version, "processDefinitionKey": process.key,
                 "resourceName": process.resource_name, "tenantId": DEFAULT_TENANT}
        self.engine.write(self.state.new_key(), ValueType.PROCESS, "DELETING", value)
        versions = deployments.versions.get(process_id, {})
        versions.pop(process.version, None)
        self.engine.processes.pop(process.key, None)
        if deployments.latest.get(process_id) is process:
            before = versions[max(versions)] if versions else None
            if before is None:
                deployments.latest.pop(process_id, None)
            else:
                deployments.latest[process_id] = before
            # the deleted version's start events close, the version before it takes them over again
            events.schedule_timer_starts(before, process)
            events.write_start_subscriptions(before, process)
            events.rebuild_start_subscriptions()
        if not versions:
            deployments.versions.pop(process_id, None)
        self._tombstone(process.key, "process", process_id, process.version)
        self.engine.write(self.state.new_key(), ValueType.PROCESS, "DELETED", value)

    def _delete_drg(self, row: dict[str, Any]) -> None:
        deployments = self.deployments
        decisions = [r for r in self.state.resources.values() if r.get("kind") == "decision" and r["drgKey"] == row["key"]]
        for decision in decisions:
            self._tombstone(decision["key"], "decision", decision["decisionId"], decision["version"])
            self._relatest(deployments.latest_decisions, decision["decisionId"], "decision",
                           lambda r, d=decision: r["decisionId"] == d["decisionId"])
            self.engine.write(self.state.new_key(), ValueType.DECISION, "DELETED", {
                "decisionId": decision["decisionId"], "decisionName": decision["name"],
                "version": decision["version"], "decisionKey": decision["key"],
                "decisionRequirementsId": decision["drgId"], "decisionRequirementsKey": decision["drgKey"],
                "deploymentKey": decision["deploymentKey"], "tenantId": DEFAULT_TENANT})
        self._tombstone(row["key"], "drg", row["id"], row["version"])
        deployments.drg_models.pop(row["key"], None)
        self._relatest(deployments.latest_drgs, row["id"], "drg", lambda r: r["id"] == row["id"])
        self.engine.write(self.state.new_key(), ValueType.DECISION_REQUIREMENTS, "DELETED", {
            "decisionRequirementsId": row["id"], "decisionRequirementsName": row["name"],
            "decisionRequirementsVersion": row["version"], "decisionRequirementsKey": row["key"],
            "resourceName": row["resourceName"], "checksum": row["checksum"], "tenantId": DEFAULT_TENANT})

    def _delete_form(self, row: dict[str, Any]) -> None:
        self._tombstone(row["key"], "form", row["formId"], row["version"])
        self._relatest(self.deployments.latest_forms, row["formId"], "form", lambda r: r["formId"] == row["formId"])
        self.engine.write(self.state.new_key(), ValueType.FORM, "DELETED", {
            "formId": row["formId"], "version": row["version"], "formKey": row["key"],
            "resourceName": row["resourceName"], "checksum": row["checksum"], "tenantId": DEFAULT_TENANT})

    def _tombstone(self, key: int, of: str, ident: str, version: int) -> None:
        self.state.put_resource(key, {"key": key, "kind": "deleted", "of": of, "id": ident, "version": version})

    def _relatest(self, latest: dict[str, dict[str, Any]], ident: str, kind: str, same: Any) -> None:
        """The highest version left of `ident` becomes the latest (none left: there is no latest)."""
        left = [r for r in self.state.resources.values() if r.get("kind") == kind and same(r)]
        if left:
            latest[ident] = max(left, key=lambda r: r["version"])
        else:
            latest.pop(ident, None)
