"""The engine's runtime entities. Each knows how to turn itself into a row and back.

They are plain mutable objects owned by the processing loop; `EngineState` tracks which ones changed so
the journal persists only those, once per batch.
"""

from __future__ import annotations

from typing import Any

from services.engine.protocol import ElementState


class ElementInstance:
    __slots__ = (
        "called_child_key",
        "children",
        "compensating",
        "compensations",
        "created_by_message",
        "element_id",
        "flow_scope_key",
        "interrupt",
        "job_key",
        "join_tokens",
        "key",
        "loop",
        "node",
        "parent_element_instance_key",
        "parent_process_instance_key",
        "process_definition_key",
        "process_instance_key",
        "state",
        "subscriptions",
        "timer_count",
        "trigger",
    )

    def __init__(
        self,
        key: int,
        element_id: str,
        process_definition_key: int,
        process_instance_key: int,
        flow_scope_key: int,
        *,
        parent_process_instance_key: int = -1,
        parent_element_instance_key: int = -1,
    ) -> None:
        self.key = key
        self.element_id = element_id
        self.process_definition_key = process_definition_key
        self.process_instance_key = process_instance_key
        self.flow_scope_key = flow_scope_key
        self.parent_process_instance_key = parent_process_instance_key
        self.parent_element_instance_key = parent_element_instance_key
        self.state: ElementState | None = None  # None until ACTIVATING is written
        self.children: list[int] = []  # child element instance keys, in creation order
        # tokens waiting at converging gateways: gateway id -> {flow id: count}
        self.join_tokens: dict[str, dict[str, int]] | None = None
        self.job_key = 0
        # an event to act on when this instance finishes terminating or its children are gone:
        # {"element": catch element id, "variables": {...}, "kind": "boundary"|"event_sub_process"|"terminate"}
        self.trigger: dict[str, Any] | None = None
        # an interrupting event sub-process or terminate end event took over this scope
        self.interrupt: dict[str, Any] | None = None
        # multi-instance body bookkeeping: {"collection": [...], "next": i, "active": n, "completed": n, ...}
        self.loop: dict[str, Any] | None = None
        self.called_child_key = 0
        self.subscriptions: list[int] = []  # timer / message / signal subscription keys opened by this instance
        self.timer_count = 0
        self.created_by_message: str | None = None  # correlation key of the message that started a process
        # a scope: the completed activities it may compensate, [{"activity", "handler", "key", "nested"}, ...]
        self.compensations: list[dict[str, Any]] = []
        self.compensating = 0  # a compensation handler: the key of the throw event waiting for it
        self.node: Any = None  # the FlowNode (runtime only; resolved from element_id on load)

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "k": self.key, "e": self.element_id, "d": self.process_definition_key, "p": self.process_instance_key,
            "f": self.flow_scope_key, "s": self.state,
        }
        if self.parent_process_instance_key != -1:
            row["pp"] = self.parent_process_instance_key
            row["pe"] = self.parent_element_instance_key
        if self.children:
            row["c"] = self.children
        if self.join_tokens:
            row["j"] = self.join_tokens
        if self.job_key:
            row["job"] = self.job_key
        if self.trigger is not None:
            row["t"] = self.trigger
        if self.interrupt is not None:
            row["i"] = self.interrupt
        if self.loop is not None:
            row["l"] = self.loop
        if self.called_child_key:
            row["cc"] = self.called_child_key
        if self.subscriptions:
            row["sub"] = self.subscriptions
        if self.created_by_message is not None:
            row["m"] = self.created_by_message
        if self.compensations:
            row["cs"] = self.compensations
        if self.compensating:
            row["cp"] = self.compensating
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ElementInstance:
        instance = cls(
            row["k"], row["e"], row["d"], row["p"], row["f"],
            parent_process_instance_key=row.get("pp", -1), parent_element_instance_key=row.get("pe", -1),
        )
        instance.state = ElementState(row["s"]) if row.get("s") else None
        instance.children = row.get("c", [])
        instance.join_tokens = row.get("j")
        instance.job_key = row.get("job", 0)
        instance.trigger = row.get("t")
        instance.interrupt = row.get("i")
        instance.loop = row.get("l")
        instance.called_child_key = row.get("cc", 0)
        instance.subscriptions = row.get("sub", [])
        instance.created_by_message = row.get("m")
        instance.compensations = row.get("cs", [])
        instance.compensating = row.get("cp", 0)
        return instance


class JobState:
    ACTIVATABLE = "ACTIVATABLE"
    ACTIVATED = "ACTIVATED"
    FAILED = "FAILED"  # waiting out a retry back-off
    INCIDENT = "INCIDENT"  # failed with no retries left, or an incident raised on it


class Job:
    __slots__ = (
        "bpmn_process_id",
        "deadline",
        "element_id",
        "element_instance_key",
        "error_message",
        "headers",
        "key",
        "process_definition_key",
        "process_definition_version",
        "process_instance_key",
        "recur_at",
        "retries",
        "state",
        "type",
        "worker",
    )

    def __init__(self, key: int, job_type: str, retries: int, headers: dict[str, str], element_instance_key: int,
                 element_id: str, process_instance_key: int, process_definition_key: int, bpmn_process_id: str,
                 process_definition_version: int) -> None:
        self.key = key
        self.type = job_type
        self.retries = retries
        self.headers = headers
        self.element_instance_key = element_instance_key
        self.element_id = element_id
        self.process_instance_key = process_instance_key
        self.process_definition_key = process_definition_key
        self.bpmn_process_id = bpmn_process_id
        self.process_definition_version = process_definition_version
        self.state = JobState.ACTIVATABLE
        self.worker = ""
        self.deadline = -1
        self.recur_at = -1
        self.error_message = ""

    def record_value(self, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "type": self.type, "worker": self.worker, "retries": self.retries, "deadline": self.deadline,
            "retryBackoff": 0, "recurringTime": self.recur_at, "errorMessage": self.error_message, "errorCode": "",
            "customHeaders": self.headers, "variables": variables or {}, "elementId": self.element_id,
            "elementInstanceKey": self.element_instance_key, "processInstanceKey": self.process_instance_key,
            "bpmnProcessId": self.bpmn_process_id, "processDefinitionVersion": self.process_definition_version,
            "processDefinitionKey": self.process_definition_key, "tenantId": "<default>",
        }

    def to_row(self) -> dict[str, Any]:
        return {
            "k": self.key, "t": self.type, "r": self.retries, "h": self.headers, "ei": self.element_instance_key,
            "e": self.element_id, "p": self.process_instance_key, "d": self.process_definition_key,
            "b": self.bpmn_process_id, "v": self.process_definition_version, "s": self.state, "w": self.worker,
            "dl": self.deadline, "ra": self.recur_at, "em": self.error_message,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        job = cls(row["k"], row["t"], row["r"], row["h"], row["ei"], row["e"], row["p"], row["d"], row["b"], row["v"])
        job.state = row["s"]
        job.worker = row["w"]
        job.deadline = row["dl"]
        job.recur_at = row["ra"]
        job.error_message = row["em"]
        return job


class Incident:
    __slots__ = (
        "bpmn_process_id",
        "created_at",
        "element_id",
        "element_instance_key",
        "error_message",
        "error_type",
        "job_key",
        "key",
        "process_definition_key",
        "process_instance_key",
        "retry",
        "variable_scope_key",
    )

    def __init__(self, key: int, error_type: str, error_message: str, element_instance_key: int, element_id: str,
                 process_instance_key: int, process_definition_key: int, bpmn_process_id: str, job_key: int,
                 variable_scope_key: int, retry: dict[str, Any] | None, created_at: int) -> None:
        self.key = key
        self.error_type = error_type
        self.error_message = error_message
        self.element_instance_key = element_instance_key
        self.element_id = element_id
        self.process_instance_key = process_instance_key
        self.process_definition_key = process_definition_key
        self.bpmn_process_id = bpmn_process_id
        self.job_key = job_key
        self.variable_scope_key = variable_scope_key
        # what to do again when the incident is resolved: {"op": "activate"|"complete"|...}; None for job incidents
        self.retry = retry
        self.created_at = created_at

    def record_value(self) -> dict[str, Any]:
        return {
            "errorType": self.error_type, "errorMessage": self.error_message, "bpmnProcessId": self.bpmn_process_id,
            "processDefinitionKey": self.process_definition_key, "processInstanceKey": self.process_instance_key,
            "elementId": self.element_id, "elementInstanceKey": self.element_instance_key, "jobKey": self.job_key,
            "variableScopeKey": self.variable_scope_key, "tenantId": "<default>",
        }

    def to_row(self) -> dict[str, Any]:
        return {
            "k": self.key, "et": self.error_type, "em": self.error_message, "ei": self.element_instance_key,
            "e": self.element_id, "p": self.process_instance_key, "d": self.process_definition_key,
            "b": self.bpmn_process_id, "j": self.job_key, "vs": self.variable_scope_key, "r": self.retry,
            "c": self.created_at,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        return cls(row["k"], row["et"], row["em"], row["ei"], row["e"], row["p"], row["d"], row["b"], row["j"],
                   row["vs"], row["r"], row["c"])


class Subscription:
    """An open wait for an event: a timer, a message or a signal, on behalf of an element instance
    (or of a process definition, for start events)."""

    __slots__ = (
        "bpmn_process_id",
        "catch_element_id",
        "correlation_key",
        "cycle",
        "due",
        "element_instance_key",
        "interrupting",
        "key",
        "kind",
        "name",
        "process_definition_key",
        "process_instance_key",
        "repetitions",
    )

    def __init__(self, key: int, kind: str, *, element_instance_key: int, process_instance_key: int,
                 process_definition_key: int, bpmn_process_id: str, catch_element_id: str, interrupting: bool = True,
                 name: str = "", correlation_key: str = "", due: int = -1, repetitions: int = 1,
                 cycle: str | None = None) -> None:
        self.key = key
        self.kind = kind  # "timer" | "message" | "signal"
        self.element_instance_key = element_instance_key  # -1 for start events of a definition
        self.process_instance_key = process_instance_key
        self.process_definition_key = process_definition_key
        self.bpmn_process_id = bpmn_process_id
        self.catch_element_id = catch_element_id
        self.interrupting = interrupting
        self.name = name
        self.correlation_key = correlation_key
        self.due = due
        self.repetitions = repetitions
        self.cycle = cycle

    def to_row(self) -> dict[str, Any]:
        return {
            "k": self.key, "kind": self.kind, "ei": self.element_instance_key, "p": self.process_instance_key,
            "d": self.process_definition_key, "b": self.bpmn_process_id, "c": self.catch_element_id,
            "i": self.interrupting, "n": self.name, "ck": self.correlation_key, "due": self.due,
            "r": self.repetitions, "cy": self.cycle,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Subscription:
        return cls(row["k"], row["kind"], element_instance_key=row["ei"], process_instance_key=row["p"],
                   process_definition_key=row["d"], bpmn_process_id=row["b"], catch_element_id=row["c"],
                   interrupting=row["i"], name=row["n"], correlation_key=row["ck"], due=row["due"],
                   repetitions=row["r"], cycle=row["cy"])


class Message:
    __slots__ = ("correlated", "correlation_key", "deadline", "key", "message_id", "name", "published_at", "variables")

    def __init__(self, key: int, name: str, correlation_key: str, message_id: str, variables: dict[str, Any],
                 deadline: int, published_at: int) -> None:
        self.key = key
        self.name = name
        self.correlation_key = correlation_key
        self.message_id = message_id
        self.variables = variables
        self.deadline = deadline
        self.published_at = published_at
        self.correlated: list[str] = []  # bpmn process ids this message was correlated to

    def record_value(self) -> dict[str, Any]:
        return {
            "name": self.name, "correlationKey": self.correlation_key, "messageId": self.message_id,
            "timeToLive": self.deadline - self.published_at if self.deadline >= 0 else -1,
            "deadline": self.deadline, "variables": self.variables, "tenantId": "<default>",
        }

    def to_row(self) -> dict[str, Any]:
        return {"k": self.key, "n": self.name, "ck": self.correlation_key, "id": self.message_id,
                "v": self.variables, "dl": self.deadline, "at": self.published_at, "c": self.correlated}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Message:
        message = cls(row["k"], row["n"], row["ck"], row["id"], row["v"], row["dl"], row["at"])
        message.correlated = row["c"]
        return message
