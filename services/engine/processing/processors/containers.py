"""Flow scopes: the process, embedded sub-processes and event sub-processes.

A scope completes when its last child leaves and no token waits at a converging gateway. An interrupting
event sub-process or a terminate end event takes over the scope: everything else is terminated first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.processing.lifecycle import ACTIVATED, TERMINATING
from services.engine.processing.modification import EMPTIED
from services.engine.processing.processors.base import ElementProcessor
from services.engine.protocol import ElementType, ValueType
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.model.elements import ExecutableProcess, FlowNode


class ScopeProcessor(ElementProcessor):
    def start_children(self, instance: ElementInstance) -> None:
        start = instance.node.none_start
        if start is not None:
            self.lc.activate_child(instance, start)

    def on_activate(self, instance: ElementInstance) -> None:
        if not self.apply_inputs(instance):
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
        self.start_children(instance)

    def on_terminate(self, instance: ElementInstance) -> None:
        self.cleanup(instance)
        if self.lc.terminate_children(instance):
            self.finish_termination(instance)

    def finish_termination(self, instance: ElementInstance) -> None:
        self.lc.terminated(instance)

    def on_child_completed(self, scope: ElementInstance, child: ElementInstance) -> None:
        self.child_gone(scope)

    def on_child_terminated(self, scope: ElementInstance, child: ElementInstance) -> None:
        self.child_gone(scope)

    def child_gone(self, scope: ElementInstance) -> None:
        if scope.children:
            return
        if scope.state == TERMINATING:
            self.finish_termination(scope)
            return
        if scope.state != ACTIVATED:
            return
        interrupt = scope.interrupt
        if interrupt is not None and interrupt.get("kind") == EMPTIED:
            self.engine.enqueue("terminate", scope.key)  # a modification terminated everything in it
            return
        if interrupt is not None and interrupt.get("element") and not interrupt.get("started"):
            # everything else is gone: the interrupting event sub-process runs now
            interrupt["started"] = True
            self.state.touch_element(scope)
            esp = self.engine.processes[scope.process_definition_key].elements[interrupt["element"]]
            self.engine.processors[ElementType.EVENT_SUB_PROCESS].activate_for(
                scope, esp, interrupt["start"], interrupt.get("variables") or {})
            return
        if interrupt is None and self.lc.has_waiting_tokens(scope):
            return
        self.engine.enqueue("complete", scope.key)


class SubProcessProcessor(ScopeProcessor):
    pass


class EventSubProcessProcessor(ScopeProcessor):
    def trigger(self, scope: ElementInstance, start: FlowNode, variables: dict[str, Any]) -> None:
        esp = start.flow_scope
        assert esp is not None
        if not start.interrupting:
            self.activate_for(scope, esp, start.id, variables)
            return
        # interrupting: no other event sub-process of this scope starts; everything else in it is terminated first
        self.engine.events.close_event_sub_process_starts(scope)
        scope.interrupt = {"element": esp.id, "start": start.id, "variables": variables}
        self.state.touch_element(scope)
        if self.lc.terminate_children(scope):
            self.child_gone(scope)

    def activate_for(self, scope: ElementInstance, esp: FlowNode, start_id: str, variables: dict[str, Any]) -> None:
        instance = self.lc.create(scope, esp)
        instance.trigger = {"kind": "start", "element": start_id, "variables": variables}
        self.engine.enqueue("activate", instance.key)

    def start_children(self, instance: ElementInstance) -> None:
        trigger = instance.trigger or {}
        instance.trigger = None
        start = self.engine.processes[instance.process_definition_key].elements[trigger["element"]]
        child = self.lc.create(instance, start)
        child.trigger = {"kind": "event", "variables": trigger.get("variables") or {}}
        self.engine.enqueue("activate", child.key)

    def on_complete(self, instance: ElementInstance) -> None:
        if self.apply_outputs(instance):
            self.lc.completed(instance, [])


class ProcessProcessor(ScopeProcessor):
    """The process instance itself: created by a client, a start event, or a call activity."""

    def create_instance(self, process: ExecutableProcess, variables: dict[str, Any], *,
                        start_element: FlowNode | None = None, start_variables: dict[str, Any] | None = None,
                        start_instructions: list[str] | None = None, parent: ElementInstance | None = None,
                        key: int = 0) -> ElementInstance:
        key = key or self.state.new_key()
        root = ElementInstance(
            key, process.bpmn_process_id, process.key, key, -1,
            parent_process_instance_key=parent.process_instance_key if parent else -1,
            parent_element_instance_key=parent.key if parent else -1,
        )
        root.node = process.root
        self.state.put_element(root)
        self.engine.write(key, ValueType.PROCESS_INSTANCE_CREATION, "CREATED", {
            "bpmnProcessId": process.bpmn_process_id, "version": process.version,
            "processDefinitionKey": process.key, "processInstanceKey": key, "variables": variables,
            "startInstructions": [{"elementId": e} for e in start_instructions or []], "tenantId": "<default>",
        })
        if variables:
            self.vars.set_locals(key, variables)
        if start_element is not None:
            root.trigger = {"kind": "start", "element": start_element.id, "variables": start_variables or {}}
        elif start_instructions:
            root.trigger = {"kind": "instructions", "elements": start_instructions}
        self.engine.enqueue("activate", key)
        self.engine.metrics.instances_created += 1
        self.engine.metrics.instances_active += 1
        return root

    def start_at(self, process: ExecutableProcess, start: FlowNode, variables: dict[str, Any], *,
                 key: int = 0) -> ElementInstance:
        return self.create_instance(process, {}, start_element=start, start_variables=variables, key=key)

    def start_children(self, instance: ElementInstance) -> None:
        trigger = instance.trigger
        instance.trigger = None
        process = self.engine.processes[instance.process_definition_key]
        if trigger is None:
            super().start_children(instance)
        elif trigger["kind"] == "start":
            child = self.lc.create(instance, process.elements[trigger["element"]])
            child.trigger = {"kind": "event", "variables": trigger.get("variables") or {}}
            self.engine.enqueue("activate", child.key)
        else:
            for element_id in trigger["elements"]:
                self.lc.activate_child(instance, process.elements[element_id])

    def on_activate(self, instance: ElementInstance) -> None:
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
        self.start_children(instance)

    def on_complete(self, instance: ElementInstance) -> None:
        variables = self.vars.local(instance.key)
        self.lc.completed(instance, [])
        self.engine.processors[ElementType.CALL_ACTIVITY].child_completed(instance, variables)
        self.notify_waiters(instance, variables, None)

    def on_process_ended(self, instance: ElementInstance, *, terminated: bool) -> None:
        metrics = self.engine.metrics
        metrics.instances_active -= 1
        if terminated:
            self.notify_waiters(instance, None, "TERMINATED")
            self.engine.processors[ElementType.CALL_ACTIVITY].child_terminated(instance)
        else:
            metrics.instances_completed += 1
        if instance.created_by_message:
            self.engine.events.message_started_instance_ended(instance)

    def notify_waiters(self, instance: ElementInstance, variables: dict[str, Any] | None, error: str | None) -> None:
        waiters = self.engine.result_waiters.pop(instance.key, None)
        for callback in waiters or ():
            callback(variables, error)


PROCESSORS = {
    ElementType.PROCESS: ProcessProcessor,
    ElementType.SUB_PROCESS: SubProcessProcessor,
    ElementType.EVENT_SUB_PROCESS: EventSubProcessProcessor,
}

