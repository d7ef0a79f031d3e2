"""More BPMN builders for the event, structure and incident tests (the basic ones are in bpmn.py)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from tests.engine.bpmn import io


def _ext(inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None, more: str = "") -> str:
    body = io(inputs, outputs) + more
    return f"<bpmn:extensionElements>{body}</bpmn:extensionElements>" if body else ""


def start_event(element_id: str, definition: str = "", *, interrupting: bool = True,
                outputs: dict[str, str] | None = None) -> str:
    attr = "" if interrupting else ' isInterrupting="false"'
    return f'<bpmn:startEvent id="{element_id}"{attr}>{_ext(None, outputs)}{definition}</bpmn:startEvent>'


def end_event(element_id: str, definition: str = "", *, inputs: dict[str, str] | None = None) -> str:
    return f'<bpmn:endEvent id="{element_id}">{_ext(inputs)}{definition}</bpmn:endEvent>'


def throw_event(element_id: str, definition: str = "", *, inputs: dict[str, str] | None = None) -> str:
    return f'<bpmn:intermediateThrowEvent id="{element_id}">{_ext(inputs)}{definition}</bpmn:intermediateThrowEvent>'


def catch_event(element_id: str, definition: str, *, inputs: dict[str, str] | None = None,
                outputs: dict[str, str] | None = None) -> str:
    return (f'<bpmn:intermediateCatchEvent id="{element_id}">{_ext(inputs, outputs)}{definition}'
            "</bpmn:intermediateCatchEvent>")


def boundary_event(element_id: str, attached_to: str, definition: str, *, interrupting: bool = True,
                   outputs: dict[str, str] | None = None) -> str:
    cancel = "" if interrupting else ' cancelActivity="false"'
    return (f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}"{cancel}>{_ext(None, outputs)}'
            f"{definition}</bpmn:boundaryEvent>")


def receive_task(element_id: str, message_ref: str, *, outputs: dict[str, str] | None = None,
                 loop: str = "") -> str:
    return (f'<bpmn:receiveTask id="{element_id}" messageRef="{message_ref}">{_ext(None, outputs)}{loop}'
            "</bpmn:receiveTask>")


def event_gateway(element_id: str) -> str:
    return f'<bpmn:eventBasedGateway id="{element_id}"/>'


def terminate() -> str:
    return "<bpmn:terminateEventDefinition/>"


def link(name: str) -> str:
    return f'<bpmn:linkEventDefinition name={quoteattr(name)}/>'


def escalation(ref: str | None = None) -> str:
    return f'<bpmn:escalationEventDefinition{f" escalationRef={quoteattr(ref)}" if ref else ""}/>'


def error(ref: str | None = None) -> str:
    return f'<bpmn:errorEventDefinition{f" errorRef={quoteattr(ref)}" if ref else ""}/>'


def error_def(error_id: str, code: str) -> str:
    return f'<bpmn:error id="{error_id}" errorCode={quoteattr(code)}/>'


def signal(ref: str) -> str:
    return f'<bpmn:signalEventDefinition signalRef={quoteattr(ref)}/>'


def message(ref: str) -> str:
    return f'<bpmn:messageEventDefinition messageRef={quoteattr(ref)}/>'


def timer(kind: str, value: str) -> str:
    tag = {"duration": "timeDuration", "date": "timeDate", "cycle": "timeCycle"}[kind]
    return f"<bpmn:timerEventDefinition><bpmn:{tag}>{escape(value)}</bpmn:{tag}></bpmn:timerEventDefinition>"


def event_sub_process(element_id: str, *elements: str, inputs: dict[str, str] | None = None,
                      outputs: dict[str, str] | None = None) -> str:
    return (f'<bpmn:subProcess id="{element_id}" triggeredByEvent="true">{_ext(inputs, outputs)}'
            + "\n".join(elements) + "</bpmn:subProcess>")


def call(element_id: str, process_id: str, *, propagate_child: bool | None = None,
         propagate_parent: bool | None = None, inputs: dict[str, str] | None = None,
         outputs: dict[str, str] | None = None, loop: str = "") -> str:
    attrs = f"processId={quoteattr(process_id)}"
    if propagate_child is not None:
        attrs += f' propagateAllChildVariables="{str(propagate_child).lower()}"'
    if propagate_parent is not None:
        attrs += f' propagateAllParentVariables="{str(propagate_parent).lower()}"'
    return (f'<bpmn:callActivity id="{element_id}">{_ext(inputs, outputs, f"<zeebe:calledElement {attrs}/>")}'
            f"{loop}</bpmn:callActivity>")


def script(element_id: str, expression: str, result: str) -> str:
    return (f'<bpmn:scriptTask id="{element_id}"><bpmn:extensionElements><zeebe:script '
            f"expression={quoteattr(expression)} resultVariable={quoteattr(result)}/></bpmn:extensionElements>"
            "</bpmn:scriptTask>")


def compensate(activity_ref: str | None = None) -> str:
    return f'<bpmn:compensateEventDefinition{f" activityRef={quoteattr(activity_ref)}" if activity_ref else ""}/>'


def compensation_handler(element_id: str, job_type: str, *, loop: str = "") -> str:
    return (f'<bpmn:serviceTask id="{element_id}" isForCompensation="true"><bpmn:extensionElements>'
            f"<zeebe:taskDefinition type={quoteattr(job_type)}/></bpmn:extensionElements>{loop}</bpmn:serviceTask>")


def association(source: str, target: str) -> str:
    return f'<bpmn:association id="assoc_{source}" associationDirection="One" sourceRef="{source}" targetRef="{target}"/>'


def compensable(activity: str, handler: str, job_type: str) -> str:
    """A compensation boundary event on `activity`, associated with a service task handler."""
    return (boundary_event(f"{activity}_comp", activity, compensate()) + compensation_handler(handler, job_type)
            + association(f"{activity}_comp", handler))
