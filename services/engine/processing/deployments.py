"""Deployments: BPMN processes, DMN decisions and forms, with Zeebe's versioning.

A resource is a new version of its process (or decision, or form) unless the latest version came from a
resource with the same name and the same content, in which case the latest version is returned again.
A deployment is all or nothing: one bad resource rejects it, with every problem listed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.engine import values
from services.engine.expressions import ExpressionError
from services.engine.model import DeploymentError, ExecutableProcess, parse_bpmn
from services.engine.protocol import ElementType, Rejection, RejectionType, ValueType

if TYPE_CHECKING:
    from services.engine.model.elements import FlowNode
    from services.engine.processing.engine import Engine

_BPMN = (".bpmn", ".xml")
_DMN = (".dmn",)
_FORM = (".form",)


@dataclass
class DeployedResources:
    deployment_key: int
    processes: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    drgs: list[dict[str, Any]] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)


def _dmn_module() -> Any:
    try:
        from services.engine import dmn
    except ImportError:  # pragma: no cover - the DMN package ships with the engine
        return None
    return dmn


class Deployments:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state
        self.latest: dict[str, ExecutableProcess] = {}
        self.versions: dict[str, dict[int, ExecutableProcess]] = {}
        self.latest_forms: dict[str, dict[str, Any]] = {}
        self.latest_drgs: dict[str, dict[str, Any]] = {}
        self.latest_decisions: dict[str, dict[str, Any]] = {}
        self.drg_models: dict[int, Any] = {}  # drg key -> parsed DMN
        # the highest version ever given, by (kind, id): a deleted version's number is never given again
        self.max_versions: dict[tuple[str, str], int] = {}

    # -- queries ---------------------------------------------------------------------------------------------

    def latest_process(self, bpmn_process_id: str) -> ExecutableProcess | None:
        return self.latest.get(bpmn_process_id)

    def latest_processes(self) -> list[ExecutableProcess]:
        return list(self.latest.values())

    def process_version(self, bpmn_process_id: str, version: int) -> ExecutableProcess | None:
        return self.versions.get(bpmn_process_id, {}).get(version)

    def latest_form(self, form_id: str) -> dict[str, Any] | None:
        return self.latest_forms.get(form_id)

    def resource(self, key: int) -> dict[str, Any] | None:
        return self.state.resources.get(key)

    # -- deploying ---------------------------------------------------------------------------------------------

    def deploy(self, resources: list[tuple[str, bytes]]) -> DeployedResources:
        if not resources:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected to deploy at least one resource, but none given",
                            intent="CREATE")
        errors: list[str] = []
        parsed: list[tuple[str, str, bytes, Any]] = []  # (kind, name, content, model)
        for name, content in resources:
            lower = name.lower()
            try:
                if lower.endswith(_BPMN):
                    parsed.append(("bpmn", name, content, parse_bpmn(content, name)))
                elif lower.endswith(_DMN):
                    parsed.append(("dmn", name, content, self._parse_dmn(content, name)))
                elif lower.endswith(_FORM):
                    parsed.append(("form", name, content, _parse_form(content, name)))
                else:
                    errors.append(f"'{name}': Resource type is not supported. Supported resource types are: "
                                  ".bpmn, .xml, .dmn, .form")
            except DeploymentError as error:
                errors.append(str(error).rstrip("\n"))
        errors.extend(self._duplicate_ids(parsed))
        for kind, name, _, model in parsed:
            if kind == "bpmn":
                problems = [p for process in model for p in self.engine.events.start_event_problems(process)]
                if problems:
                    errors.append(f"'{name}': " + "\n".join(f"- Element: {element_id}\n    - ERROR: {message}"
                                                             for element_id, message in problems))
        if errors:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT,
                "Expected to deploy new resources, but encountered the following errors:\n" + "\n".join(errors),
                intent="CREATE",
            )
        deployment_key = self.state.new_key()
        result = DeployedResources(deployment_key)
        for kind, name, content, model in parsed:
            if kind == "bpmn":
                for process in model:
                    result.processes.append(self._store_process(process, name, content, deployment_key))
            elif kind == "dmn":
                self._store_dmn(model, name, content, deployment_key, result)
            else:
                result.forms.append(self._store_form(model, name, content, deployment_key))
        self.engine.write(deployment_key, ValueType.DEPLOYMENT, "CREATED", {
            "resources": [{"resourceName": name} for _, name, _, _ in parsed],
            "processesMetadata": result.processes, "decisionsMetadata": result.decisions,
            "decisionRequirementsMetadata": result.drgs, "formMetadata": result.forms, "tenantId": "<default>",
        })
        self.engine.events.rebuild_start_subscriptions()
        return result

    def _duplicate_ids(self, parsed: list[tuple[str, str, bytes, Any]]) -> list[str]:
        errors = []
        seen: dict[tuple[str, str], str] = {}
        for kind, name, _, model in parsed:
            ids = []
            if kind == "bpmn":
                ids = [("process", p.bpmn_process_id) for p in model]
            elif kind == "form":
                ids = [("form", model["id"])]
            elif kind == "dmn" and model is not None:
                ids = [("drg", model.id)] + [("decision", d.id) for d in model.decisions]
            for ident in ids:
                if ident in seen:
                    errors.append(f"Expected the {ident[0]} ids to be unique within a deployment but found a "
                                  f"duplicated id '{ident[1]}' in the resources '{seen[ident]}' and '{name}'.")
                else:
                    seen[ident] = name
        return errors

    def _store_process(self, process: ExecutableProcess, name: str, content: bytes, deployment_key: int) -> dict:
        previous = self.latest.get(process.bpmn_process_id)
        if previous is not None and previous.checksum == process.checksum and previous.resource_name == name:
            return _process_metadata(previous, duplicate=True)
        process.version = self.next_version("process", process.bpmn_process_id)
        process.key = self.state.new_key()
        process.deployment_key = deployment_key
        row = {
            "key": process.key, "kind": "process", "bpmnProcessId": process.bpmn_process_id,
            "version": process.version, "resourceName": name, "checksum": process.checksum,
            "deploymentKey": deployment_key, "content": base64.b64encode(content).decode(),
            "deployedAt": self.engine.now(),
        }
        self.state.put_resource(process.key, row)
        self._register_process(process)
        metadata = _process_metadata(process, duplicate=False)
        self.engine.write(process.key, ValueType.PROCESS, "CREATED", {
            **metadata, "resource": content.decode("utf-8", errors="replace"), "checksum": process.checksum,
            "deploymentKey": deployment_key})
        self.engine.events.schedule_timer_starts(process, previous)
        self.engine.events.write_start_subscriptions(process, previous)
        return metadata

    def next_version(self, kind: str, ident: str) -> int:
        return self.max_versions.get((kind, ident), 0) + 1

    def _seen_version(self, kind: str, ident: str, version: int) -> None:
        if version > self.max_versions.get((kind, ident), 0):
            self.max_versions[(kind, ident)] = version

    def _register_process(self, process: ExecutableProcess) -> None:
        self._seen_version("process", process.bpmn_process_id, process.version)
        self.engine.processes[process.key] = process
        self.versions.setdefault(process.bpmn_process_id, {})[process.version] = process
        latest = self.latest.get(process.bpmn_process_id)
        if latest is None or latest.version < process.version:
            self.latest[process.bpmn_process_id] = process

    def _store_form(self, form: dict[str, Any], name: str, content: bytes, deployment_key: int) -> dict[str, Any]:
        form_id = form["id"]
        checksum = hashlib.sha256(content).hexdigest()
        previous = self.latest_forms.get(form_id)
        if previous is not None and previous["checksum"] == checksum and previous["resourceName"] == name:
            return _form_metadata(previous)
        row = {
            "key": self.state.new_key(), "kind": "form", "formId": form_id,
            "version": self.next_version("form", form_id), "resourceName": name, "checksum": checksum,
            "deploymentKey": deployment_key, "content": content.decode("utf-8"), "deployedAt": self.engine.now(),
        }
        self.state.put_resource(row["key"], row)
        self._seen_version("form", form_id, row["version"])
        self.latest_forms[form_id] = row
        self.engine.write(row["key"], ValueType.FORM, "CREATED", {**_form_metadata(row), "resource": row["content"]})
        return _form_metadata(row)

    # -- DMN ------------------------------------------------------------------------------------------------

    def _parse_dmn(self, content: bytes, name: str) -> Any:
        dmn = _dmn_module()
        if dmn is None:
            raise DeploymentError(f"'{name}': DMN resources are not supported by this build")
        try:
            return dmn.parse_dmn(content, name)
        except dmn.DmnError as error:
            raise DeploymentError(str(error) if str(error).startswith("'") else f"'{name}': {error}") from error

    def _store_dmn(self, drg: Any, name: str, content: bytes, deployment_key: int, result: DeployedResources) -> None:
        checksum = hashlib.sha256(content).hexdigest()
        previous = self.latest_drgs.get(drg.id)
        if previous is not None and previous["checksum"] == checksum and previous["resourceName"] == name:
            result.drgs.append(_drg_metadata(previous))
            result.decisions.extend(_decision_metadata(d) for d in self.state.resources.values()
                                    if d.get("kind") == "decision" and d["drgKey"] == previous["key"])
            return
        row = {
            "key": self.state.new_key(), "kind": "drg", "id": drg.id, "name": drg.name or drg.id,
            "version": self.next_version("drg", drg.id), "resourceName": name, "checksum": checksum,
            "deploymentKey": deployment_key, "content": base64.b64encode(content).decode(),
            "deployedAt": self.engine.now(),
        }
        self.state.put_resource(row["key"], row)
        self._seen_version("drg", drg.id, row["version"])
        self.latest_drgs[drg.id] = row
        self.drg_models[row["key"]] = drg
        result.drgs.append(_drg_metadata(row))
        self.engine.write(row["key"], ValueType.DECISION_REQUIREMENTS, "CREATED", {
            **_drg_metadata(row), "resource": content.decode("utf-8", errors="replace")})
        for decision in drg.decisions:
            decision_row = {
                "key": self.state.new_key(), "kind": "decision", "decisionId": decision.id,
                "name": decision.name or decision.id, "version": self.next_version("decision", decision.id),
                "drgKey": row["key"], "drgId": drg.id, "deploymentKey": deployment_key,
            }
            self.state.put_resource(decision_row["key"], decision_row)
            self._seen_version("decision", decision.id, decision_row["version"])
            self.latest_decisions[decision.id] = decision_row
            result.decisions.append(_decision_metadata(decision_row))
            self.engine.write(decision_row["key"], ValueType.DECISION, "CREATED", _decision_metadata(decision_row))

    def find_decision(self, decision_id: str = "", decision_key: int = 0) -> dict[str, Any] | None:
        if decision_key:
            row = self.state.resources.get(decision_key)
            return row if row is not None and row.get("kind") == "decision" else None
        return self.latest_decisions.get(decision_id)

    def evaluate(self, decision: dict[str, Any], variables: Any) -> Any:
        dmn = _dmn_module()
        drg = self.drg_models[decision["drgKey"]]
        return dmn.evaluate_decision(drg, decision["decisionId"], variables, clock=self.engine.now)

    def evaluate_called_decision(self, instance: Any, node: FlowNode, view: Any) -> Any:
        decision_id = node.decision_id.evaluate_string(view, self.engine.now) if not node.decision_id.is_static \
            else node.decision_id.static
        decision = self.find_decision(decision_id or "")
        if decision is None:
            raise ExpressionError(f"Expected to evaluate decision '{decision_id}', but no decision found for id "
                                  f"'{decision_id}'")
        result = self.evaluate(decision, view)
        self.record_evaluation(decision, result, instance)
        if result.failed_decision_id:
            raise ExpressionError(
                f"Expected to evaluate decision '{decision_id}', but {result.failure_message}")
        return result.output

    def record_evaluation(self, decision: dict[str, Any], result: Any, instance: Any = None) -> int:
        key = self.state.new_key()
        drg = self.state.resources[decision["drgKey"]]
        self.engine.write(key, ValueType.DECISION_EVALUATION,
                          "FAILED" if result.failed_decision_id else "EVALUATED", {
                              "decisionKey": decision["key"], "decisionId": decision["decisionId"],
                              "decisionName": decision["name"], "decisionVersion": decision["version"],
                              "decisionRequirementsId": drg["id"], "decisionRequirementsKey": drg["key"],
                              "decisionOutput": values.dumps_text(result.output),
                              "failedDecisionId": result.failed_decision_id or "",
                              "evaluationFailureMessage": result.failure_message or "",
                              "processInstanceKey": instance.process_instance_key if instance else -1,
                              "elementInstanceKey": instance.key if instance else -1, "tenantId": "<default>",
                          })
        return key

    # -- recovery ----------------------------------------------------------------------------------------------

    def load(self) -> None:
        rows = sorted(self.state.resources.values(), key=lambda r: r["key"])
        for row in rows:
            kind = row.get("kind")
            if kind == "process":
                content = base64.b64decode(row["content"])
                for process in parse_bpmn(content, row["resourceName"]):
                    if process.bpmn_process_id != row["bpmnProcessId"]:
                        continue
                    process.key = row["key"]
                    process.version = row["version"]
                    process.deployment_key = row["deploymentKey"]
                    self._register_process(process)
            elif kind == "deleted":
                self._seen_version(row["of"], row["id"], row["version"])
            elif kind == "form":
                self._seen_version("form", row["formId"], row["version"])
                previous = self.latest_forms.get(row["formId"])
                if previous is None or previous["version"] < row["version"]:
                    self.latest_forms[row["formId"]] = row
            elif kind == "drg":
                dmn = _dmn_module()
                if dmn is not None:
                    self.drg_models[row["key"]] = dmn.parse_dmn(base64.b64decode(row["content"]), row["resourceName"])
                self._seen_version("drg", row["id"], row["version"])
                previous = self.latest_drgs.get(row["id"])
                if previous is None or previous["version"] < row["version"]:
                    self.latest_drgs[row["id"]] = row
            elif kind == "decision":
                self._seen_version("decision", row["decisionId"], row["version"])
                previous = self.latest_decisions.get(row["decisionId"])
                if previous is None or previous["version"] < row["version"]:
                    self.latest_decisions[row["decisionId"]] = row

    def has_none_start(self, process: ExecutableProcess) -> bool:
        return process.root.none_start is not None and process.root.none_start.element_type == ElementType.START_EVENT


def _process_metadata(process: ExecutableProcess, *, duplicate: bool) -> dict[str, Any]:
    return {
        "bpmnProcessId": process.bpmn_process_id, "version": process.version,
        "processDefinitionKey": process.key, "resourceName": process.resource_name, "tenantId": "<default>",
        "duplicate": duplicate,
    }


def _form_metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {"formId": row["formId"], "version": row["version"], "formKey": row["key"],
            "resourceName": row["resourceName"], "tenantId": "<default>"}


def _drg_metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {"decisionRequirementsId": row["id"], "decisionRequirementsName": row["name"], "version": row["version"],
            "decisionRequirementsKey": row["key"], "resourceName": row["resourceName"], "tenantId": "<default>"}


def _decision_metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {"decisionId": row["decisionId"], "decisionName": row["name"], "version": row["version"],
            "decisionKey": row["key"], "decisionRequirementsId": row["drgId"],
            "decisionRequirementsKey": row["drgKey"], "tenantId": "<default>"}


def _parse_form(content: bytes, name: str) -> dict[str, Any]:
    if len(content) > 4 * 1024 * 1024:
        raise DeploymentError(f"'{name}': the form is larger than 4 MiB")
    try:
        form = values.loads(content)
    except values.InvalidJson as error:
        raise DeploymentError(f"'{name}': is not a valid form: not JSON ({error})") from error
    if not isinstance(form, dict):
        raise DeploymentError(f"'{name}': is not a valid form: expected a JSON object")
    if not isinstance(form.get("id"), str) or not form["id"].strip():
        raise DeploymentError(f"'{name}': Expected the form to have an 'id', but it has none")
    return form
