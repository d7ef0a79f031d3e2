"""The executable graph a BPMN process compiles into.

One `FlowNode` class with optional, element-specific parts (like Zeebe's ExecutableFlowNode and its
properties) keeps the graph easy to walk; processors pick the parts they need by element type.
Everything here is built once at deployment and never mutated after `freeze`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from services.engine.protocol import ElementType, EventType

if TYPE_CHECKING:
    from services.engine.expressions import Expr


@dataclass(slots=True, eq=False)
class Mapping:
    """A zeebe:input or zeebe:output: evaluate `source`, write it to the (dotted) `target`."""

    source: Expr
    target: str
    target_path: tuple[str, ...]


@dataclass(slots=True, eq=False)
class JobSpec:
    type: Expr
    retries: Expr
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class UserTaskSpec:
    assignee: Expr | None = None
    candidate_groups: Expr | None = None
    candidate_users: Expr | None = None
    due_date: Expr | None = None
    follow_up_date: Expr | None = None
    form_key: str | None = None  # zeebe:formDefinition formKey, or an embedded form's key
    form_id: str | None = None  # zeebe:formDefinition formId (a deployed form)
    priority: Expr | None = None


@dataclass(slots=True, eq=False)
class TimerSpec:
    kind: str  # "duration" | "date" | "cycle"
    expression: Expr


@dataclass(slots=True, eq=False)
class MessageSpec:
    message_id: str  # the bpmn:message element id
    name: Expr | None
    correlation_key: Expr | None


@dataclass(slots=True, eq=False)
class LoopSpec:
    sequential: bool
    input_collection: Expr
    input_element: str | None
    output_collection: str | None
    output_element: Expr | None
    completion_condition: Expr | None


@dataclass(slots=True, eq=False)
class CallActivitySpec:
    process_id: Expr
    propagate_all_child_variables: bool = True
    propagate_all_parent_variables: bool = True


@dataclass(slots=True, eq=False)
class SequenceFlow:
    id: str
    name: str
    source: FlowNode
    target: FlowNode
    condition: Expr | None = None
    element_type: ElementType = ElementType.SEQUENCE_FLOW


@dataclass(slots=True, eq=False)
class FlowNode:
    id: str
    name: str
    element_type: ElementType
    event_type: EventType = EventType.UNSPECIFIED
    # the enclosing scope: a sub-process, event sub-process, multi-instance body or the process; None for the process
    flow_scope: FlowNode | None = None
    incoming: list[SequenceFlow] = field(default_factory=list)
    outgoing: list[SequenceFlow] = field(default_factory=list)
    default_flow: SequenceFlow | None = None
    inputs: list[Mapping] = field(default_factory=list)
    outputs: list[Mapping] = field(default_factory=list)
    # containers (process, sub-process, event sub-process)
    children: list[FlowNode] = field(default_factory=list)
    none_start: FlowNode | None = None
    event_sub_processes: list[FlowNode] = field(default_factory=list)
    # activities
    boundary_events: list[FlowNode] = field(default_factory=list)
    job: JobSpec | None = None
    user_task: UserTaskSpec | None = None
    loop: LoopSpec | None = None
    inner: FlowNode | None = None  # a multi-instance body's activity
    call: CallActivitySpec | None = None
    script: Expr | None = None
    result_variable: str | None = None
    decision_id: Expr | None = None
    # events
    attached_to: FlowNode | None = None  # boundary events
    interrupting: bool = True  # boundary events (cancelActivity) and event sub-process start events
    timer: TimerSpec | None = None
    message: MessageSpec | None = None
    error_code: Expr | None = None  # None on a catch event means catch-all
    error_code_variable: str | None = None
    error_message_variable: str | None = None
    escalation_code: Expr | None = None
    signal_name: Expr | None = None
    link_name: str | None = None
    # compensation: an activity's handler (from its compensation boundary event), a handler's marker, and
    # the activity a compensation throw event names (None: every completed activity of the scope)
    compensation_handler: FlowNode | None = None
    for_compensation: bool = False
    activity_ref: str | None = None
    # event-based gateway: the catch events after it
    triggered_by_event: bool = False  # an event sub-process

    @property
    def is_container(self) -> bool:
        return self.element_type in _CONTAINERS

    def __repr__(self) -> str:  # keep reprs short: nodes point at each other
        return f"<{self.element_type} {self.id}>"


_CONTAINERS = frozenset({ElementType.PROCESS, ElementType.SUB_PROCESS, ElementType.EVENT_SUB_PROCESS})


@dataclass(slots=True, eq=False)
class ExecutableProcess:
    bpmn_process_id: str
    name: str
    root: FlowNode
    elements: dict[str, FlowNode]
    flows: dict[str, SequenceFlow]
    message_starts: list[FlowNode] = field(default_factory=list)
    timer_starts: list[FlowNode] = field(default_factory=list)
    signal_starts: list[FlowNode] = field(default_factory=list)
    # filled in when deployed
    key: int = 0
    version: int = 0
    resource_name: str = ""
    deployment_key: int = 0
    checksum: str = ""

    def element(self, element_id: str) -> FlowNode:
        return self.elements[element_id]
