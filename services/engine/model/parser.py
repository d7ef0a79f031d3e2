"""Parse BPMN 2.0 XML with Zeebe extensions into executable processes.

Parsing is defensive: no DTDs, no entities, a size limit. Every problem found is collected with the id of
the element it belongs to, and the whole resource is rejected with a message shaped like Zeebe's:

    'order.bpmn': - Element: collect-money
        - ERROR: Must have exactly one 'zeebe:taskDefinition' extension element
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from services.engine.expressions import Expr, ExpressionError
from services.engine.model.elements import (
    CallActivitySpec,
    ExecutableProcess,
    FlowNode,
    JobSpec,
    LoopSpec,
    Mapping,
    MessageSpec,
    SequenceFlow,
    TimerSpec,
    UserTaskSpec,
)
from services.engine.protocol import ElementType, EventType
from services.engine.timers import TimerDefinitionError, validate_static_timer

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
ZEEBE = "{http://camunda.org/schema/zeebe/1.0}"

MAX_RESOURCE_BYTES = 4 * 1024 * 1024
MAX_NESTING = 64

_TASKS = {
    "serviceTask": ElementType.SERVICE_TASK,
    "sendTask": ElementType.SEND_TASK,
    "businessRuleTask": ElementType.BUSINESS_RULE_TASK,
    "scriptTask": ElementType.SCRIPT_TASK,
    "userTask": ElementType.USER_TASK,
    "receiveTask": ElementType.RECEIVE_TASK,
    "manualTask": ElementType.MANUAL_TASK,
    "task": ElementType.TASK,
    "callActivity": ElementType.CALL_ACTIVITY,
}
_GATEWAYS = {
    "exclusiveGateway": ElementType.EXCLUSIVE_GATEWAY,
    "parallelGateway": ElementType.PARALLEL_GATEWAY,
    "inclusiveGateway": ElementType.INCLUSIVE_GATEWAY,
    "eventBasedGateway": ElementType.EVENT_BASED_GATEWAY,
}
_EVENTS = {
    "startEvent": ElementType.START_EVENT,
    "endEvent": ElementType.END_EVENT,
    "intermediateCatchEvent": ElementType.INTERMEDIATE_CATCH_EVENT,
    "intermediateThrowEvent": ElementType.INTERMEDIATE_THROW_EVENT,
    "boundaryEvent": ElementType.BOUNDARY_EVENT,
}
_EVENT_DEFINITIONS = {
    "timerEventDefinition": EventType.TIMER,
    "messageEventDefinition": EventType.MESSAGE,
    "errorEventDefinition": EventType.ERROR,
    "signalEventDefinition": EventType.SIGNAL,
    "escalationEventDefinition": EventType.ESCALATION,
    "terminateEventDefinition": EventType.TERMINATE,
    "linkEventDefinition": EventType.LINK,
    "compensateEventDefinition": EventType.COMPENSATION,
    "conditionalEventDefinition": EventType.CONDITIONAL,
    "cancelEventDefinition": EventType.UNSPECIFIED,
}
# Elements that carry no behaviour and are skipped where they appear inside a process.
_IGNORED = {
    "textAnnotation", "association", "dataObject", "dataObjectReference", "dataStoreReference",
    "group", "laneSet", "documentation", "extensionElements", "ioSpecification", "property",
    "dataInputAssociation", "dataOutputAssociation", "incoming", "outgoing", "category",
    # read by `attach` for the sub-process that holds them
    "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
}
_UNSUPPORTED = {
    "transaction": "transaction sub-processes",
    "complexGateway": "complex gateways",
    "adHocSubProcess": "ad-hoc sub-processes",
    "subChoreography": "choreographies",
    "callChoreography": "choreographies",
    "choreographyTask": "choreographies",
}


class DeploymentError(Exception):
    """A resource that can't be deployed; `message` lists every problem, per element."""


@dataclass
class _Problems:
    resource: str
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, element_id: str, message: str) -> None:
        self.items.append((element_id or "?", message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = []
        for element_id, message in self.items:
            lines.append(f"- Element: {element_id}\n    - ERROR: {message}")
        raise DeploymentError(f"'{self.resource}': " + "\n".join(lines) + "\n")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def parse_xml(content: bytes, resource_name: str) -> Element:
    if len(content) > MAX_RESOURCE_BYTES:
        raise DeploymentError(
            f"'{resource_name}': the resource is {len(content)} bytes, more than the limit of {MAX_RESOURCE_BYTES}"
        )
    try:
        return fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise DeploymentError(
            f"'{resource_name}': XML with a DTD, entities or external references is not accepted ({error})"
        ) from error
    except ParseError as error:
        raise DeploymentError(f"'{resource_name}': is not well-formed XML: {error}") from error
    except ValueError as error:  # e.g. an encoding declaration that lies
        raise DeploymentError(f"'{resource_name}': is not readable XML: {error}") from error


def checksum(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def parse_bpmn(content: bytes, resource_name: str) -> list[ExecutableProcess]:
    """Compile every executable process of a BPMN resource, or raise DeploymentError."""
    root = parse_xml(content, resource_name)
    if root.tag != BPMN + "definitions":
        raise DeploymentError(
            f"'{resource_name}': is not a BPMN 2.0 model: the root element is '{_local(root.tag)}' "
            f"in namespace '{_ns(root.tag).strip('{}') or 'none'}', expected 'definitions' in the BPMN 2.0 model "
            "namespace"
        )
    _check_depth(root, resource_name)
    builder = _Builder(root, resource_name)
    processes = builder.build()
    for process in processes:
        process.checksum = checksum(content)
        process.resource_name = resource_name
    return processes


def _check_depth(root: Element, resource_name: str) -> None:
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING * 4:
            raise DeploymentError(f"'{resource_name}': elements are nested more than {MAX_NESTING * 4} levels deep")
        stack.extend((child, depth + 1) for child in node)


class _Builder:
    def __init__(self, definitions: Element, resource_name: str) -> None:
        self.definitions = definitions
        self.problems = _Problems(resource_name)
        self.messages: dict[str, Element] = {}
        self.errors: dict[str, Element] = {}
        self.signals: dict[str, Element] = {}
        self.escalations: dict[str, Element] = {}
        self.forms: dict[str, str] = {}  # embedded zeebe:userTaskForm ids
        for child in definitions:
            kind = _local(child.tag)
            target = {"message": self.messages, "error": self.errors, "signal": self.signals,
                      "escalation": self.escalations}.get(kind)
            if target is not None and child.get("id"):
                target[child.get("id")] = child

    # -- helpers ---------------------------------------------------------------------------------------

    def expr(self, element_id: str, source: str | None, *, always_feel: bool = False, what: str = "") -> Expr | None:
        if source is None:
            return None
        try:
            return Expr(source, always_feel=always_feel)
        except ExpressionError as error:
            self.problems.add(element_id, f"{what + ': ' if what else ''}{error}")
            return None

    def ext(self, xml: Element, name: str) -> list[Element]:
        ext = xml.find(BPMN + "extensionElements")
        if ext is None:
            return []
        return ext.findall(ZEEBE + name)

    def one_ext(self, xml: Element, name: str, element_id: str) -> Element | None:
        found = self.ext(xml, name)
        if len(found) > 1:
            self.problems.add(element_id, f"Must have at most one 'zeebe:{name}' extension element")
        return found[0] if found else None

    # -- build -----------------------------------------------------------------------------------------

    def build(self) -> list[ExecutableProcess]:
        processes = []
        xml_processes = [c for c in self.definitions if c.tag == BPMN + "process"]
        for xml in xml_processes:
            if xml.get("isExecutable", "false").lower() != "true":
                continue
            processes.append(self.build_process(xml))
        if not processes:
            self.problems.add(
                self.definitions.get("id", "definitions"),
                "Must contain at least one executable process",
            )
        self.problems.raise_if_any()
        return processes

    def build_process(self, xml: Element) -> ExecutableProcess:
        process_id = xml.get("id") or ""
        if not process_id:
            self.problems.add("process", "Attribute 'id' must be present and not empty")
        for form in self.ext(xml, "userTaskForm"):
            if form.get("id"):
                self.forms[form.get("id")] = form.text or ""
        # compensation boundary event -> its handler; associations may sit in any scope of the process
        self.associations = {a.get("sourceRef"): a.get("targetRef") for a in xml.iter(BPMN + "association")}
        root = FlowNode(id=process_id, name=xml.get("name") or "", element_type=ElementType.PROCESS)
        process = ExecutableProcess(
            bpmn_process_id=process_id, name=root.name, root=root, elements={process_id: root}, flows={}
        )
        self.process = process
        self.build_scope(xml, root, depth=0)
        for node in root.children:
            if node.element_type == ElementType.START_EVENT:
                if node.event_type == EventType.MESSAGE:
                    process.message_starts.append(node)
                elif node.event_type == EventType.TIMER:
                    process.timer_starts.append(node)
                elif node.event_type == EventType.SIGNAL:
                    process.signal_starts.append(node)
        self.validate_process(process)
        return process

    def build_scope(self, xml: Element, scope: FlowNode, depth: int) -> None:
        if depth > MAX_NESTING:
            self.problems.add(scope.id, f"Sub-processes are nested more than {MAX_NESTING} levels deep")
            return
        flows_xml: list[Element] = []
        boundaries: list[tuple[Element, FlowNode]] = []
        for child in xml:
            kind = _local(child.tag)
            if _ns(child.tag) != BPMN:
                continue
            if kind in _IGNORED:
                continue
            if kind == "sequenceFlow":
                flows_xml.append(child)
                continue
            if kind in _UNSUPPORTED:
                self.problems.add(child.get("id", kind), f"Elements of type '{kind}' ({_UNSUPPORTED[kind]}) are not supported")
                continue
            node = self.build_node(child, scope, depth)
            if node is None:
                continue
            if node.element_type == ElementType.BOUNDARY_EVENT:
                boundaries.append((child, node))
        for child, boundary in boundaries:
            attached_id = child.get("attachedToRef")
            attached = self.process.elements.get(attached_id or "")
            if attached is None or attached.flow_scope is not scope:
                self.problems.add(boundary.id, f"Must be attached to an activity in the same scope, but "
                                  f"'attachedToRef' is '{attached_id}'")
                continue
            if attached.element_type not in _ACTIVITIES:
                self.problems.add(boundary.id, f"Can't be attached to a '{attached.element_type}'")
                continue
            boundary.attached_to = attached
            attached.boundary_events.append(boundary)
            if boundary.event_type == EventType.COMPENSATION:
                self.link_compensation_handler(boundary, attached, scope)
        for flow_xml in flows_xml:
            self.build_flow(flow_xml, scope)
        for node in scope.children:
            if node.element_type == ElementType.START_EVENT and node.event_type == EventType.NONE:
                scope.none_start = node

    def link_compensation_handler(self, boundary: FlowNode, activity: FlowNode, scope: FlowNode) -> None:
        handler = self.process.elements.get(self.associations.get(boundary.id) or "")
        if handler is None or handler.flow_scope is not scope:
            self.problems.add(boundary.id, "A compensation boundary event must be associated with a compensation "
                              "handler in the same scope")
            return
        if not handler.for_compensation:
            self.problems.add(handler.id, "A compensation handler must be marked isForCompensation=\"true\"")
            return
        if activity.compensation_handler is not None:
            self.problems.add(boundary.id, "An activity can have only one compensation boundary event")
            return
        activity.compensation_handler = handler

    def register(self, node: FlowNode) -> None:
        if not node.id:
            self.problems.add(node.element_type, "Attribute 'id' must be present and not empty")
            return
        if node.id in self.process.elements or node.id in self.process.flows:
            self.problems.add(node.id, "Element ids must be unique within a process")
            return
        self.process.elements[node.id] = node

    def build_node(self, xml: Element, scope: FlowNode, depth: int) -> FlowNode | None:
        kind = _local(xml.tag)
        element_id = xml.get("id") or ""
        name = xml.get("name") or ""
        if kind == "subProcess":
            triggered = xml.get("triggeredByEvent", "false").lower() == "true"
            node = FlowNode(
                id=element_id, name=name,
                element_type=ElementType.EVENT_SUB_PROCESS if triggered else ElementType.SUB_PROCESS,
                flow_scope=scope, triggered_by_event=triggered,
                for_compensation=xml.get("isForCompensation", "false").lower() == "true",
            )
            self.register(node)
            self.build_scope(xml, node, depth + 1)
            self.read_io(xml, node)
            self.attach(node, scope, xml).for_compensation = node.for_compensation
            if triggered:
                scope.event_sub_processes.append(node)
            return node
        if kind in _TASKS:
            node = FlowNode(id=element_id, name=name, element_type=_TASKS[kind], flow_scope=scope,
                            for_compensation=xml.get("isForCompensation", "false").lower() == "true")
            self.register(node)
            self.read_task(xml, node, kind)
            self.read_io(xml, node)
            attached = self.attach(node, scope, xml)
            attached.for_compensation = node.for_compensation
            return attached
        if kind in _GATEWAYS:
            node = FlowNode(id=element_id, name=name, element_type=_GATEWAYS[kind], flow_scope=scope)
            self.register(node)
            self.attach(node, scope, xml)
            default = xml.get("default")
            if default:
                self._pending_defaults.append((node, default))
            return node
        if kind in _EVENTS:
            node = FlowNode(id=element_id, name=name, element_type=_EVENTS[kind], flow_scope=scope)
            self.register(node)
            self.read_event(xml, node, kind)
            self.read_io(xml, node)
            if kind != "boundaryEvent":
                self.attach(node, scope, xml)
            else:
                scope.children.append(node)
            return node
        self.problems.add(element_id or kind, f"Elements of type '{kind}' are not supported")
        return None

    @property
    def _pending_defaults(self) -> list[tuple[FlowNode, str]]:
        if not hasattr(self, "_defaults"):
            self._defaults: list[tuple[FlowNode, str]] = []
        return self._defaults

    def attach(self, node: FlowNode, scope: FlowNode, xml: Element) -> FlowNode:
        """Add the node to its scope, wrapping it in a multi-instance body when it loops."""
        loop_xml = xml.find(BPMN + "multiInstanceLoopCharacteristics")
        if xml.find(BPMN + "standardLoopCharacteristics") is not None:
            self.problems.add(node.id, "Standard loop characteristics are not supported; use multi-instance")
        if loop_xml is None or node.element_type not in _ACTIVITIES:
            scope.children.append(node)
            return node
        loop = self.read_loop(loop_xml, node)
        body = FlowNode(
            id=node.id, name=node.name, element_type=ElementType.MULTI_INSTANCE_BODY, flow_scope=scope,
            loop=loop, inner=node,
        )
        node.flow_scope = body
        body.children.append(node)
        scope.children.append(body)
        # the body is what flows connect to and boundary events attach to; the activity keeps its id
        self.process.elements[node.id] = body
        return body

    def read_loop(self, xml: Element, node: FlowNode) -> LoopSpec | None:
        sequential = xml.get("isSequential", "false").lower() == "true"
        zeebe = self.one_ext(xml, "loopCharacteristics", node.id)
        if zeebe is None or not zeebe.get("inputCollection"):
            self.problems.add(node.id, "Must have a 'zeebe:loopCharacteristics' extension element with an "
                              "'inputCollection' expression")
            return None
        collection = self.expr(node.id, zeebe.get("inputCollection"), always_feel=True, what="inputCollection")
        output_element = self.expr(node.id, zeebe.get("outputElement"), always_feel=True, what="outputElement")
        completion_xml = xml.find(BPMN + "completionCondition")
        completion = None
        if completion_xml is not None and (completion_xml.text or "").strip():
            completion = self.expr(node.id, completion_xml.text, always_feel=True, what="completionCondition")
        if zeebe.get("outputCollection") and not zeebe.get("outputElement"):
            self.problems.add(node.id, "An 'outputCollection' needs an 'outputElement' expression")
        if collection is None:
            return None
        return LoopSpec(
            sequential=sequential,
            input_collection=collection,
            input_element=zeebe.get("inputElement") or None,
            output_collection=zeebe.get("outputCollection") or None,
            output_element=output_element,
            completion_condition=completion,
        )

    def read_io(self, xml: Element, node: FlowNode) -> None:
        io = self.one_ext(xml, "ioMapping", node.id)
        if io is None:
            return
        for tag, target_list in (("input", node.inputs), ("output", node.outputs)):
            for mapping in io.findall(ZEEBE + tag):
                source, target = mapping.get("source"), mapping.get("target")
                if not target:
                    self.problems.add(node.id, f"Every zeebe:{tag} needs a 'target'")
                    continue
                path = tuple(target.split("."))
                if not all(part.strip() for part in path):
                    self.problems.add(node.id, f"The zeebe:{tag} target '{target}' is not a variable path")
                    continue
                expression = self.expr(node.id, source if source is not None else "=null", what=f"{tag} '{target}'")
                if expression is None:
                    continue
                target_list.append(Mapping(source=expression, target=target, target_path=path))

    def read_job(self, xml: Element, node: FlowNode, *, required: bool = True) -> None:
        definitions = self.ext(xml, "taskDefinition")
        if len(definitions) != 1:
            if required or definitions:
                self.problems.add(node.id, "Must have exactly one 'zeebe:taskDefinition' extension element")
            return
        definition = definitions[0]
        job_type = definition.get("type")
        if not job_type or not job_type.strip():
            self.problems.add(node.id, "Attribute 'type' must be present and not empty")
            return
        type_expr = self.expr(node.id, job_type, what="job type")
        retries = self.expr(node.id, definition.get("retries") or "3", what="retries")
        if retries is not None and retries.is_static:
            try:
                int(retries.static or "")
            except ValueError:
                self.problems.add(node.id, f"Expected retries to be a number, but was '{retries.static}'")
        headers = {}
        task_headers = self.one_ext(xml, "taskHeaders", node.id)
        if task_headers is not None:
            for header in task_headers.findall(ZEEBE + "header"):
                key = header.get("key")
                if key:
                    headers[key] = header.get("value", "")
        if type_expr is not None and retries is not None:
            node.job = JobSpec(type=type_expr, retries=retries, headers=headers)

    def read_task(self, xml: Element, node: FlowNode, kind: str) -> None:
        if kind in ("serviceTask", "sendTask"):
            self.read_job(xml, node)
        elif kind == "businessRuleTask":
            called = self.one_ext(xml, "calledDecision", node.id)
            if called is not None:
                if not called.get("decisionId") or not called.get("resultVariable"):
                    self.problems.add(node.id, "zeebe:calledDecision needs 'decisionId' and 'resultVariable'")
                node.decision_id = self.expr(node.id, called.get("decisionId") or "", what="decisionId")
                node.result_variable = called.get("resultVariable")
                if self.ext(xml, "taskDefinition"):
                    self.problems.add(node.id, "Must have either 'zeebe:calledDecision' or 'zeebe:taskDefinition', not both")
            else:
                self.read_job(xml, node)
        elif kind == "scriptTask":
            script = self.one_ext(xml, "script", node.id)
            if script is not None:
                if not script.get("expression") or not script.get("resultVariable"):
                    self.problems.add(node.id, "zeebe:script needs 'expression' and 'resultVariable'")
                node.script = self.expr(node.id, script.get("expression") or "=null", always_feel=True, what="script")
                node.result_variable = script.get("resultVariable")
                if self.ext(xml, "taskDefinition"):
                    self.problems.add(node.id, "Must have either 'zeebe:script' or 'zeebe:taskDefinition', not both")
            else:
                self.read_job(xml, node)
        elif kind == "userTask":
            self.read_user_task(xml, node)
        elif kind == "receiveTask":
            node.event_type = EventType.MESSAGE
            node.message = self.read_message_ref(xml.get("messageRef"), node, needs_key=True)
        elif kind == "callActivity":
            called = self.one_ext(xml, "calledElement", node.id)
            if called is None or not called.get("processId"):
                self.problems.add(node.id, "Must have a 'zeebe:calledElement' extension element with a 'processId'")
                return
            process_id = self.expr(node.id, called.get("processId"), what="processId")
            if process_id is not None:
                node.call = CallActivitySpec(
                    process_id=process_id,
                    propagate_all_child_variables=called.get("propagateAllChildVariables", "true").lower() != "false",
                    propagate_all_parent_variables=called.get("propagateAllParentVariables", "true").lower() != "false",
                )

    def read_user_task(self, xml: Element, node: FlowNode) -> None:
        if self.ext(xml, "userTask"):
            self.problems.add(
                node.id,
                "Camunda user tasks (zeebe:userTask) are not supported by this engine; remove the "
                "zeebe:userTask extension element to use a job-based user task",
            )
        spec = UserTaskSpec()
        assignment = self.one_ext(xml, "assignmentDefinition", node.id)
        if assignment is not None:
            spec.assignee = self.expr(node.id, assignment.get("assignee"), what="assignee")
            spec.candidate_groups = self.expr(node.id, assignment.get("candidateGroups"), what="candidateGroups")
            spec.candidate_users = self.expr(node.id, assignment.get("candidateUsers"), what="candidateUsers")
        schedule = self.one_ext(xml, "taskSchedule", node.id)
        if schedule is not None:
            spec.due_date = self.expr(node.id, schedule.get("dueDate"), what="dueDate")
            spec.follow_up_date = self.expr(node.id, schedule.get("followUpDate"), what="followUpDate")
        form = self.one_ext(xml, "formDefinition", node.id)
        if form is not None:
            spec.form_key = form.get("formKey") or None
            spec.form_id = form.get("formId") or None
            if spec.form_key and spec.form_id:
                self.problems.add(node.id, "zeebe:formDefinition must have either 'formKey' or 'formId', not both")
        priority = self.one_ext(xml, "priorityDefinition", node.id)
        if priority is not None:
            spec.priority = self.expr(node.id, priority.get("priority"), what="priority")
        node.user_task = spec
        headers: dict[str, str] = {}
        task_headers = self.one_ext(xml, "taskHeaders", node.id)
        if task_headers is not None:
            for header in task_headers.findall(ZEEBE + "header"):
                if header.get("key"):
                    headers[header.get("key")] = header.get("value", "")
        from services.engine.protocol import USER_TASK_JOB_TYPE

        node.job = JobSpec(type=Expr(USER_TASK_JOB_TYPE), retries=Expr("1"), headers=headers)

    def read_message_ref(self, message_ref: str | None, node: FlowNode, *, needs_key: bool) -> MessageSpec | None:
        message = self.messages.get(message_ref or "")
        if message is None:
            self.problems.add(node.id, f"Must reference a message, but 'messageRef' is '{message_ref or ''}'")
            return None
        name = message.get("name")
        if not name:
            self.problems.add(node.id, f"The message '{message_ref}' must have a name")
            return None
        subscription = None
        ext = message.find(BPMN + "extensionElements")
        if ext is not None:
            subscription = ext.find(ZEEBE + "subscription")
        key_source = subscription.get("correlationKey") if subscription is not None else None
        if needs_key and not key_source:
            self.problems.add(node.id, f"The message '{name}' must have a correlation key "
                              "(zeebe:subscription correlationKey)")
        return MessageSpec(
            message_id=message_ref or "",
            name=self.expr(node.id, name, what="message name"),
            correlation_key=self.expr(node.id, key_source, always_feel=True, what="correlationKey")
            if key_source else None,
        )

    def read_event(self, xml: Element, node: FlowNode, kind: str) -> None:
        definitions = [c for c in xml if _local(c.tag) in _EVENT_DEFINITIONS and _ns(c.tag) == BPMN]
        if len(definitions) > 1:
            self.problems.add(node.id, "Must have at most one event definition")
            return
        if not definitions:
            node.event_type = EventType.NONE
            if kind == "boundaryEvent":
                self.problems.add(node.id, "Must have an event definition")
            elif kind == "intermediateCatchEvent":
                self.problems.add(node.id, "Must have an event definition (timer, message, signal or link)")
            return
        definition = definitions[0]
        dkind = _local(definition.tag)
        node.event_type = _EVENT_DEFINITIONS[dkind]
        if kind == "boundaryEvent":
            node.interrupting = xml.get("cancelActivity", "true").lower() != "false"
        if kind == "startEvent":
            node.interrupting = xml.get("isInterrupting", "true").lower() != "false"
        allowed = _ALLOWED_DEFINITIONS[kind]
        if node.event_type not in allowed or dkind == "cancelEventDefinition":
            self.problems.add(node.id, f"Event definition '{dkind}' is not supported on a {kind}")
            return
        if node.event_type == EventType.TIMER:
            self.read_timer(definition, node, kind)
        elif node.event_type == EventType.MESSAGE:
            if kind in ("endEvent", "intermediateThrowEvent"):
                self.read_job(xml, node)  # message throw events are job-based in Zeebe
            else:
                needs_key = kind != "startEvent"
                node.message = self.read_message_ref(definition.get("messageRef"), node, needs_key=needs_key)
        elif node.event_type == EventType.ERROR:
            ref = definition.get("errorRef")
            error = self.errors.get(ref or "")
            if kind == "endEvent":
                if error is None or not error.get("errorCode"):
                    self.problems.add(node.id, "An error end event must reference an error with an error code")
                    return
                node.error_code = self.expr(node.id, error.get("errorCode"), what="errorCode")
            else:
                if ref and error is None:
                    self.problems.add(node.id, f"Must reference an existing error, but 'errorRef' is '{ref}'")
                code = error.get("errorCode") if error is not None else None
                if code is not None and code.strip().startswith("="):
                    self.problems.add(node.id, "The error code of a catch event must be a static value")
                node.error_code = Expr(code) if code else None
                if kind == "boundaryEvent" and not node.interrupting:
                    self.problems.add(node.id, "An error boundary event must be interrupting")
                node.error_code_variable = definition.get(ZEEBE + "errorCodeVariable")
                node.error_message_variable = definition.get(ZEEBE + "errorMessageVariable")
        elif node.event_type == EventType.ESCALATION:
            ref = definition.get("escalationRef")
            escalation = self.escalations.get(ref or "")
            code = escalation.get("escalationCode") if escalation is not None else None
            if kind in ("endEvent", "intermediateThrowEvent"):
                if not code:
                    self.problems.add(node.id, "An escalation throw event must reference an escalation with a code")
                    return
                node.escalation_code = self.expr(node.id, code, what="escalationCode")
            else:
                if ref and escalation is None:
                    self.problems.add(node.id, f"Must reference an existing escalation, but 'escalationRef' is '{ref}'")
                node.escalation_code = Expr(code) if code else None
        elif node.event_type == EventType.SIGNAL:
            ref = definition.get("signalRef")
            signal = self.signals.get(ref or "")
            if signal is None or not signal.get("name"):
                self.problems.add(node.id, f"Must reference a signal with a name, but 'signalRef' is '{ref or ''}'")
                return
            node.signal_name = self.expr(node.id, signal.get("name"), what="signal name")
        elif node.event_type == EventType.COMPENSATION:
            node.activity_ref = definition.get("activityRef") or None
        elif node.event_type == EventType.LINK:
            node.link_name = definition.get("name") or node.name or None
            if not node.link_name:
                self.problems.add(node.id, "A link event must have a name")

    def read_timer(self, definition: Element, node: FlowNode, kind: str) -> None:
        found = []
        for tag, timer_kind in (("timeDuration", "duration"), ("timeDate", "date"), ("timeCycle", "cycle")):
            child = definition.find(BPMN + tag)
            if child is not None:
                found.append((timer_kind, (child.text or "").strip()))
        if len(found) != 1:
            self.problems.add(node.id, "A timer must have exactly one of timeDuration, timeDate or timeCycle")
            return
        timer_kind, text = found[0]
        if not text:
            self.problems.add(node.id, f"The timer's {timer_kind} is empty")
            return
        allowed = {
            "startEvent": {"date", "cycle"} if node.flow_scope is not None
            and node.flow_scope.element_type == ElementType.PROCESS else {"date", "cycle", "duration"},
            "intermediateCatchEvent": {"duration", "date"},
            "boundaryEvent": {"duration", "date", "cycle"},
        }[kind]
        if timer_kind not in allowed:
            self.problems.add(node.id, f"A timer {timer_kind} is not allowed on a {kind}")
            return
        if timer_kind == "cycle" and kind == "boundaryEvent" and node.interrupting:
            self.problems.add(node.id, "A timer cycle is only allowed on a non-interrupting boundary event")
            return
        expression = self.expr(node.id, text, what=f"timer {timer_kind}")
        if expression is None:
            return
        if expression.is_static:
            try:
                validate_static_timer(timer_kind, text)
            except TimerDefinitionError as error:
                self.problems.add(node.id, str(error))
                return
        node.timer = TimerSpec(kind=timer_kind, expression=expression)

    def build_flow(self, xml: Element, scope: FlowNode) -> None:
        flow_id = xml.get("id") or ""
        source = self.process.elements.get(xml.get("sourceRef") or "")
        target = self.process.elements.get(xml.get("targetRef") or "")
        if source is None or target is None:
            self.problems.add(flow_id, "Must connect two elements of the process: 'sourceRef' and 'targetRef' "
                              f"are '{xml.get('sourceRef')}' and '{xml.get('targetRef')}'")
            return
        if source.flow_scope is not scope or target.flow_scope is not scope:
            self.problems.add(flow_id, "A sequence flow must connect elements of the same scope")
            return
        condition = None
        condition_xml = xml.find(BPMN + "conditionExpression")
        if condition_xml is not None and (condition_xml.text or "").strip():
            condition = self.expr(flow_id, condition_xml.text, always_feel=True, what="condition")
        flow = SequenceFlow(id=flow_id, name=xml.get("name") or "", source=source, target=target, condition=condition)
        if flow_id in self.process.flows or flow_id in self.process.elements:
            self.problems.add(flow_id, "Element ids must be unique within a process")
            return
        self.process.flows[flow_id] = flow
        source.outgoing.append(flow)
        target.incoming.append(flow)
        for node, default_id in list(self._pending_defaults):
            if default_id == flow_id and node is source:
                node.default_flow = flow
                self._pending_defaults.remove((node, default_id))

    # -- whole-process validation ------------------------------------------------------------------------

    def validate_process(self, process: ExecutableProcess) -> None:
        problems = self.problems
        for node, default_id in self._pending_defaults:
            problems.add(node.id, f"The default flow '{default_id}' must be an outgoing sequence flow of the element")
        self._pending_defaults.clear()
        self.validate_scope(process.root, is_process=True)
        for node in _walk(process.root):
            element_type = node.element_type
            if element_type in (ElementType.EXCLUSIVE_GATEWAY, ElementType.INCLUSIVE_GATEWAY):
                if node.default_flow is not None and node.default_flow.condition is not None:
                    problems.add(node.id, "The default flow must not have a condition")
                if len(node.outgoing) > 1:
                    for flow in node.outgoing:
                        if flow is not node.default_flow and flow.condition is None:
                            problems.add(flow.id, "A sequence flow leaving a gateway that splits must have a "
                                         "condition, or be its default flow")
            elif element_type == ElementType.EVENT_BASED_GATEWAY:
                if len(node.outgoing) < 2:
                    problems.add(node.id, "An event-based gateway must have at least 2 outgoing sequence flows")
                for flow in node.outgoing:
                    target = flow.target
                    if flow.condition is not None:
                        problems.add(flow.id, "A sequence flow after an event-based gateway can't have a condition")
                    ok = (target.element_type == ElementType.INTERMEDIATE_CATCH_EVENT
                          and target.event_type in (EventType.TIMER, EventType.MESSAGE, EventType.SIGNAL)) or (
                        target.element_type == ElementType.RECEIVE_TASK)
                    if not ok:
                        problems.add(node.id, "An event-based gateway may only lead to intermediate timer, message "
                                     f"or signal catch events or receive tasks, but '{target.id}' is not one")
                    elif len(target.incoming) != 1:
                        problems.add(target.id, "An event after an event-based gateway must have no other incoming "
                                     "sequence flows")
            elif element_type == ElementType.PARALLEL_GATEWAY:
                for flow in node.outgoing:
                    if flow.condition is not None:
                        problems.add(flow.id, "A sequence flow leaving a parallel gateway can't have a condition")
            elif element_type == ElementType.START_EVENT and node.incoming:
                problems.add(node.id, "A start event can't have incoming sequence flows")
            elif element_type == ElementType.END_EVENT and node.outgoing:
                problems.add(node.id, "An end event can't have outgoing sequence flows")
            if node.boundary_events:
                self.validate_catch_codes(node.boundary_events, f"the boundary events of '{node.id}'")
            if node.for_compensation and (node.incoming or node.outgoing):
                problems.add(node.id, "A compensation handler can't have incoming or outgoing sequence flows")
            if node.event_type == EventType.COMPENSATION and element_type != ElementType.BOUNDARY_EVENT \
                    and node.activity_ref is not None:
                self.validate_activity_ref(node)
            if element_type == ElementType.BOUNDARY_EVENT:
                if node.event_type == EventType.COMPENSATION and node.outgoing:
                    problems.add(node.id, "A compensation boundary event can't have outgoing sequence flows")
                if node.incoming:
                    problems.add(node.id, "A boundary event can't have incoming sequence flows")
                if node.attached_to is None:
                    problems.add(node.id, "A boundary event must be attached to an activity")
        self.validate_links(process)

    def validate_activity_ref(self, throw: FlowNode) -> None:
        """The activity a compensation throw names is in its scope (or, from an event sub-process, in the
        scope around it) and has a compensation handler."""
        scope = throw.flow_scope
        scopes = [scope]
        if scope is not None and scope.element_type == ElementType.EVENT_SUB_PROCESS:
            scopes.append(scope.flow_scope)
        activity = self.process.elements.get(throw.activity_ref or "")
        if activity is None or activity.flow_scope not in scopes or activity.compensation_handler is None:
            self.problems.add(throw.id, f"The activity '{throw.activity_ref}' to compensate must be in the same "
                              "scope as the compensation throw event and have a compensation boundary event")

    def validate_scope(self, scope: FlowNode, *, is_process: bool) -> None:
        problems = self.problems
        starts = [n for n in scope.children if n.element_type == ElementType.START_EVENT]
        if scope.element_type == ElementType.EVENT_SUB_PROCESS:
            if len(starts) != 1 or starts[0].event_type in (EventType.NONE, EventType.UNSPECIFIED):
                problems.add(scope.id, "An event sub-process must have exactly one start event with an event "
                             "definition (timer, message, error, signal or escalation)")
            elif starts[0].event_type == EventType.MESSAGE and starts[0].message is not None \
                    and starts[0].message.correlation_key is None:
                problems.add(starts[0].id, "A message start event of an event sub-process needs a correlation key")
            if scope.incoming or scope.outgoing:
                problems.add(scope.id, "An event sub-process can't have incoming or outgoing sequence flows")
        elif scope.element_type == ElementType.SUB_PROCESS:
            if len(starts) != 1 or starts[0].event_type != EventType.NONE:
                problems.add(scope.id, "An embedded sub-process must have exactly one none start event")
        elif is_process:
            if not starts:
                problems.add(scope.id, "Must have at least one start event")
            nones = [s for s in starts if s.event_type == EventType.NONE]
            if len(nones) > 1:
                problems.add(scope.id, "Must have at most one none start event")
            for start in starts:
                if start.event_type in (EventType.ERROR, EventType.ESCALATION):
                    problems.add(start.id, f"A {start.event_type.lower()} start event is only allowed in an "
                                 "event sub-process")
            names = [s.message.name.source for s in starts if s.event_type == EventType.MESSAGE
                     and s.message is not None and s.message.name is not None]
            if len(names) != len(set(names)):
                problems.add(scope.id, "Multiple message start events must not reference the same message")
        for child in scope.children:
            if child.element_type in (ElementType.SUB_PROCESS, ElementType.EVENT_SUB_PROCESS):
                self.validate_scope(child, is_process=False)
            elif child.element_type == ElementType.MULTI_INSTANCE_BODY and child.inner is not None \
                    and child.inner.element_type == ElementType.SUB_PROCESS:
                self.validate_scope(child.inner, is_process=False)
        # error/escalation event sub-process starts: at most one per code, and one catch-all
        starts = [n for esp in scope.event_sub_processes for n in esp.children
                  if n.element_type == ElementType.START_EVENT]
        self.validate_catch_codes(starts, "event sub-processes in one scope")

    def validate_catch_codes(self, catches: list[FlowNode], where: str) -> None:
        """Zeebe rejects two error (or escalation) catch events for the same code in one scope, and two
        catch-alls; a catch-all beside specific codes is fine (the specific one wins)."""
        for kind, what in ((EventType.ERROR, "error"), (EventType.ESCALATION, "escalation")):
            seen: set[str | None] = set()
            for catch in catches:
                if catch.event_type != kind:
                    continue
                expr = catch.error_code if kind == EventType.ERROR else catch.escalation_code
                code = (expr.static or "").strip() or None if expr is not None else None
                if code in seen:
                    detail = f"the {what} code '{code}'" if code else f"all {what}s (no {what} code)"
                    self.problems.add(catch.id, f"Multiple {what} catch events of {where} catch {detail}")
                seen.add(code)

    def validate_links(self, process: ExecutableProcess) -> None:
        for scope in [process.root, *(n for n in _walk(process.root) if n.is_container)]:
            catches: dict[str, FlowNode] = {}
            for node in scope.children:
                if node.event_type == EventType.LINK and node.element_type == ElementType.INTERMEDIATE_CATCH_EVENT:
                    if node.link_name in catches:
                        self.problems.add(node.id, f"Multiple intermediate catch link events are named '{node.link_name}'")
                    catches[node.link_name or ""] = node
            for node in scope.children:
                if node.event_type == EventType.LINK and node.element_type == ElementType.INTERMEDIATE_THROW_EVENT \
                        and node.link_name not in catches:
                    self.problems.add(node.id, f"Can't find a catch link event named '{node.link_name}' in the same scope")


_ACTIVITIES = frozenset({
    ElementType.SERVICE_TASK, ElementType.SEND_TASK, ElementType.BUSINESS_RULE_TASK, ElementType.SCRIPT_TASK,
    ElementType.USER_TASK, ElementType.RECEIVE_TASK, ElementType.MANUAL_TASK, ElementType.TASK,
    ElementType.CALL_ACTIVITY, ElementType.SUB_PROCESS, ElementType.MULTI_INSTANCE_BODY,
})

_ALLOWED_DEFINITIONS = {
    "startEvent": {EventType.TIMER, EventType.MESSAGE, EventType.SIGNAL, EventType.ERROR, EventType.ESCALATION},
    "endEvent": {EventType.ERROR, EventType.TERMINATE, EventType.MESSAGE, EventType.SIGNAL, EventType.ESCALATION,
                 EventType.COMPENSATION},
    "intermediateCatchEvent": {EventType.TIMER, EventType.MESSAGE, EventType.SIGNAL, EventType.LINK},
    "intermediateThrowEvent": {EventType.MESSAGE, EventType.SIGNAL, EventType.ESCALATION, EventType.LINK,
                               EventType.COMPENSATION},
    "boundaryEvent": {EventType.TIMER, EventType.MESSAGE, EventType.ERROR, EventType.SIGNAL, EventType.ESCALATION,
                      EventType.COMPENSATION},
}


def _walk(scope: FlowNode) -> Iterable[FlowNode]:
    for child in scope.children:
        yield child
        if child.children:
            yield from _walk(child)
