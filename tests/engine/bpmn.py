"""Small builders for BPMN XML in tests: a model reads like the diagram it stands for."""

from __future__ import annotations

import itertools
from xml.sax.saxutils import escape, quoteattr

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"')


def definitions(*processes: str, extra: str = "") -> bytes:
    body = "\n".join(processes)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="defs" '
            f'targetNamespace="http://qianliyan.test">\n{extra}\n{body}\n</bpmn:definitions>').encode()


def process(process_id: str, *elements: str, extra: str = "") -> bytes:
    return definitions(f'<bpmn:process id="{process_id}" isExecutable="true">\n' + "\n".join(elements)
                       + "\n</bpmn:process>", extra=extra)


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>")


def chain(*ids: str, prefix: str = "f") -> str:
    """Sequence flows through the given elements in order."""
    return "\n".join(flow(f"{prefix}_{a}_{b}", a, b) for a, b in itertools.pairwise(ids))


def io(inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None) -> str:
    if not inputs and not outputs:
        return ""
    parts = [f"<zeebe:input source={quoteattr(s)} target={quoteattr(t)}/>" for t, s in (inputs or {}).items()]
    parts += [f"<zeebe:output source={quoteattr(s)} target={quoteattr(t)}/>" for t, s in (outputs or {}).items()]
    return "<zeebe:ioMapping>" + "".join(parts) + "</zeebe:ioMapping>"


def start(element_id: str = "start", inner: str = "") -> str:
    return f'<bpmn:startEvent id="{element_id}">{inner}</bpmn:startEvent>'


def end(element_id: str = "end", inner: str = "") -> str:
    return f'<bpmn:endEvent id="{element_id}">{inner}</bpmn:endEvent>'


def service(element_id: str, job_type: str, *, retries: int | str | None = None, headers: dict[str, str] | None = None,
            inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None, kind: str = "serviceTask",
            loop: str = "") -> str:
    retries_attr = f' retries="{retries}"' if retries is not None else ""
    header_xml = ""
    if headers:
        header_xml = "<zeebe:taskHeaders>" + "".join(
            f"<zeebe:header key={quoteattr(k)} value={quoteattr(v)}/>" for k, v in headers.items()) + "</zeebe:taskHeaders>"
    ext = f'<zeebe:taskDefinition type={quoteattr(job_type)}{retries_attr}/>{header_xml}{io(inputs, outputs)}'
    return f'<bpmn:{kind} id="{element_id}"><bpmn:extensionElements>{ext}</bpmn:extensionElements>{loop}</bpmn:{kind}>'


def exclusive(element_id: str, default: str | None = None) -> str:
    default_attr = f' default="{default}"' if default else ""
    return f'<bpmn:exclusiveGateway id="{element_id}"{default_attr}/>'


def parallel(element_id: str) -> str:
    return f'<bpmn:parallelGateway id="{element_id}"/>'


def inclusive(element_id: str, default: str | None = None) -> str:
    default_attr = f' default="{default}"' if default else ""
    return f'<bpmn:inclusiveGateway id="{element_id}"{default_attr}/>'


def error_def(error_id: str, code: str) -> str:
    return f'<bpmn:error id="{error_id}" errorCode={quoteattr(code)}/>'


def message_def(message_id: str, name: str, correlation_key: str | None = None) -> str:
    if correlation_key is None:
        return f'<bpmn:message id="{message_id}" name={quoteattr(name)}/>'
    return (f'<bpmn:message id="{message_id}" name={quoteattr(name)}><bpmn:extensionElements>'
            f'<zeebe:subscription correlationKey={quoteattr(correlation_key)}/></bpmn:extensionElements></bpmn:message>')


def boundary(element_id: str, attached_to: str, definition: str, *, interrupting: bool = True,
             outputs: dict[str, str] | None = None) -> str:
    cancel = "" if interrupting else ' cancelActivity="false"'
    ext = f"<bpmn:extensionElements>{io(None, outputs)}</bpmn:extensionElements>" if outputs else ""
    return (f'<bpmn:boundaryEvent id="{element_id}" attachedToRef="{attached_to}"{cancel}>{ext}{definition}'
            "</bpmn:boundaryEvent>")


def error_event(error_ref: str | None = None) -> str:
    ref = f' errorRef="{error_ref}"' if error_ref else ""
    return f"<bpmn:errorEventDefinition{ref}/>"


def timer(kind: str, value: str) -> str:
    tag = {"duration": "timeDuration", "date": "timeDate", "cycle": "timeCycle"}[kind]
    return f"<bpmn:timerEventDefinition><bpmn:{tag}>{escape(value)}</bpmn:{tag}></bpmn:timerEventDefinition>"


def message_event(message_ref: str) -> str:
    return f'<bpmn:messageEventDefinition messageRef="{message_ref}"/>'


def signal_def(signal_id: str, name: str) -> str:
    return f'<bpmn:signal id="{signal_id}" name={quoteattr(name)}/>'


def signal_event(signal_ref: str) -> str:
    return f'<bpmn:signalEventDefinition signalRef="{signal_ref}"/>'


def escalation_def(escalation_id: str, code: str) -> str:
    return f'<bpmn:escalation id="{escalation_id}" escalationCode={quoteattr(code)}/>'


def escalation_event(escalation_ref: str | None = None) -> str:
    ref = f' escalationRef="{escalation_ref}"' if escalation_ref else ""
    return f"<bpmn:escalationEventDefinition{ref}/>"


def catch(element_id: str, definition: str, *, outputs: dict[str, str] | None = None) -> str:
    ext = f"<bpmn:extensionElements>{io(None, outputs)}</bpmn:extensionElements>" if outputs else ""
    return f'<bpmn:intermediateCatchEvent id="{element_id}">{ext}{definition}</bpmn:intermediateCatchEvent>'


def throw(element_id: str, definition: str = "") -> str:
    return f'<bpmn:intermediateThrowEvent id="{element_id}">{definition}</bpmn:intermediateThrowEvent>'


def sub_process(element_id: str, *elements: str, triggered_by_event: bool = False, inputs: dict[str, str] | None = None,
                outputs: dict[str, str] | None = None, loop: str = "") -> str:
    triggered = ' triggeredByEvent="true"' if triggered_by_event else ""
    ext = f"<bpmn:extensionElements>{io(inputs, outputs)}</bpmn:extensionElements>" if inputs or outputs else ""
    return (f'<bpmn:subProcess id="{element_id}"{triggered}>{ext}{loop}' + "\n".join(elements)
            + "</bpmn:subProcess>")


def multi_instance(collection: str, element: str | None = None, *, sequential: bool = False,
                   output_collection: str | None = None, output_element: str | None = None,
                   completion: str | None = None) -> str:
    attrs = f"inputCollection={quoteattr(collection)}"
    if element:
        attrs += f" inputElement={quoteattr(element)}"
    if output_collection:
        attrs += f" outputCollection={quoteattr(output_collection)}"
    if output_element:
        attrs += f" outputElement={quoteattr(output_element)}"
    cond = f"<bpmn:completionCondition>{escape(completion)}</bpmn:completionCondition>" if completion else ""
    return (f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
            f"<bpmn:extensionElements><zeebe:loopCharacteristics {attrs}/></bpmn:extensionElements>{cond}"
            "</bpmn:multiInstanceLoopCharacteristics>")


def call_activity(element_id: str, process_id: str, *, propagate_all_child: bool = True,
                  inputs: dict[str, str] | None = None, outputs: dict[str, str] | None = None) -> str:
    return (f'<bpmn:callActivity id="{element_id}"><bpmn:extensionElements>'
            f'<zeebe:calledElement processId={quoteattr(process_id)} '
            f'propagateAllChildVariables="{str(propagate_all_child).lower()}"/>{io(inputs, outputs)}'
            "</bpmn:extensionElements></bpmn:callActivity>")


def user_task(element_id: str, *, assignee: str | None = None, groups: str | None = None, users: str | None = None,
              due: str | None = None, follow_up: str | None = None, form_key: str | None = None,
              form_id: str | None = None) -> str:
    parts = []
    assignment = {"assignee": assignee, "candidateGroups": groups, "candidateUsers": users}
    if any(assignment.values()):
        parts.append("<zeebe:assignmentDefinition " + " ".join(
            f"{k}={quoteattr(v)}" for k, v in assignment.items() if v) + "/>")
    if due or follow_up:
        schedule = {"dueDate": due, "followUpDate": follow_up}
        parts.append("<zeebe:taskSchedule " + " ".join(f"{k}={quoteattr(v)}" for k, v in schedule.items() if v) + "/>")
    if form_key:
        parts.append(f"<zeebe:formDefinition formKey={quoteattr(form_key)}/>")
    if form_id:
        parts.append(f"<zeebe:formDefinition formId={quoteattr(form_id)}/>")
    ext = f"<bpmn:extensionElements>{''.join(parts)}</bpmn:extensionElements>" if parts else ""
    return f'<bpmn:userTask id="{element_id}">{ext}</bpmn:userTask>'


def simple(process_id: str, job_type: str, **service_options: object) -> bytes:
    """start → service task → end."""
    return process(process_id, start(), service("task", job_type, **service_options), end(),
                   chain("start", "task", "end"))
