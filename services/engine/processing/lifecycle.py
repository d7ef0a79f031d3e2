"""Element life cycle: the legal transitions, sequence flows and the bookkeeping of flow scopes.

activate → (ACTIVATING → ACTIVATED) → complete → (COMPLETING → COMPLETED) → take outgoing flows
                                  └→ terminate → (TERMINATING → TERMINATED)

A flow scope (process, sub-process, event sub-process, multi-instance body) completes when it has no
child instances left and no tokens wait at a converging gateway. Terminating a scope terminates its
children first. Processors decide what each kind of element does at each step; this module owns the
transitions and the records they write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.model.elements import FlowNode, SequenceFlow
from services.engine.protocol import SEQUENCE_FLOW_TAKEN, ElementState, ElementType, ValueType
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine

ACTIVATING = ElementState.ACTIVATING
ACTIVATED = ElementState.ACTIVATED
COMPLETING = ElementState.COMPLETING
COMPLETED = ElementState.COMPLETED
TERMINATING = ElementState.TERMINATING
TERMINATED = ElementState.TERMINATED


class Lifecycle:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    # -- records -------------------------------------------------------------------------------------------

    def value(self, instance: ElementInstance, node: FlowNode | None = None) -> dict[str, Any]:
        node = node or instance.node
        process = self.engine.processes[instance.process_definition_key]
        return {
            "bpmnElementType": node.element_type,
            "elementId": node.id,
            "bpmnProcessId": process.bpmn_process_id,
            "version": process.version,
            "processDefinitionKey": process.key,
            "processInstanceKey": instance.process_instance_key,
            "flowScopeKey": instance.flow_scope_key,
            "bpmnEventType": node.event_type,
            "parentProcessInstanceKey": instance.parent_process_instance_key,
            "parentElementInstanceKey": instance.parent_element_instance_key,
            "tenantId": "<default>",
        }

    def transition(self, instance: ElementInstance, state: ElementState) -> None:
        instance.state = state
        self.state.touch_element(instance)
        self.engine.write(instance.key, ValueType.PROCESS_INSTANCE, state, self.value(instance))

    # -- dispatch of follow-up commands ---------------------------------------------------------------------

    def dispatch(self, command: tuple[Any, ...]) -> None:
        op = command[0]
        if op == "activate":
            self.activate(command[1])
        elif op == "complete":
            self.complete(command[1])
        elif op == "terminate":
            self.terminate(command[1])
        else:
            self.engine.events.dispatch(command)

    # -- creation --------------------------------------------------------------------------------------------

    def create(self, scope: ElementInstance, node: FlowNode) -> ElementInstance:
        instance = ElementInstance(
            self.state.new_key(), node.id, scope.process_definition_key, scope.process_instance_key, scope.key,
        )
        instance.node = node
        self.state.put_element(instance)
        scope.children.append(instance.key)
        self.state.touch_element(scope)
        return instance

    def activate_child(self, scope: ElementInstance, node: FlowNode) -> ElementInstance:
        instance = self.create(scope, node)
        self.engine.enqueue("activate", instance.key)
        return instance

    # -- the three commands ----------------------------------------------------------------------------------

    def activate(self, key: int) -> None:
        instance = self.state.elements.get(key)
        if instance is None or instance.state is not None:
            return
        scope = self.state.elements.get(instance.flow_scope_key)
        if (scope is None and instance.flow_scope_key > 0) or (
                scope is not None and (scope.state != ACTIVATED or self._interrupted_away(scope, instance))):
            # the scope is going away (terminated or taken over by an interrupting event): this token dies with it
            self.discard(instance)
            return
        self.transition(instance, ACTIVATING)
        self.engine.processors[instance.node.element_type].on_activate(instance)

    @staticmethod
    def _interrupted_away(scope: ElementInstance, instance: ElementInstance) -> bool:
        return scope.interrupt is not None and scope.interrupt.get("element") != instance.element_id

    def complete(self, key: int) -> None:
        instance = self.state.elements.get(key)
        if instance is None or instance.state != ACTIVATED:
            return
        self.transition(instance, COMPLETING)
        self.engine.processors[instance.node.element_type].on_complete(instance)

    def complete_now(self, instance: ElementInstance) -> None:
        """For elements without a wait state: complete in the same step as the activation."""
        if instance.state == ACTIVATED:
            self.transition(instance, COMPLETING)
            self.engine.processors[instance.node.element_type].on_complete(instance)

    def terminate(self, key: int) -> None:
        instance = self.state.elements.get(key)
        if instance is None:
            return
        if instance.state is None:
            self.discard(instance)
            return
        if instance.state in (TERMINATING, TERMINATED, COMPLETED):
            return
        self.transition(instance, TERMINATING)
        self.engine.events.close_all(instance)
        self.engine.processors[instance.node.element_type].on_terminate(instance)

    # -- endings ------------------------------------------------------------------------------------------------

    def completed(self, instance: ElementInstance, flows: list[SequenceFlow] | None = None, *,
                  trigger: dict[str, Any] | None = None) -> None:
        """Write COMPLETED, take `flows` (default: all outgoing), and tell the flow scope. A `trigger`
        rides along to the elements the flows activate (an event chosen by an event-based gateway)."""
        scope = self.state.elements.get(instance.flow_scope_key)
        if scope is not None and scope.node.element_type == ElementType.MULTI_INSTANCE_BODY and \
                not self.engine.processors[ElementType.MULTI_INSTANCE_BODY].before_child_completed(scope, instance):
            return  # an incident; resolving it completes the instance again
        self.transition(instance, COMPLETED)
        node = instance.node
        if scope is not None and (node.compensation_handler is not None or instance.compensations):
            self.engine.compensation.activity_completed(instance, scope)
        outgoing = node.outgoing if flows is None else flows
        if outgoing and scope is not None:
            for flow in outgoing:
                target = self.take_flow(scope, flow)
                if trigger is not None and target is not None:
                    target.trigger = trigger
        self._leave(instance, scope, terminated=False)

    def terminated(self, instance: ElementInstance) -> None:
        self.transition(instance, TERMINATED)
        scope = self.state.elements.get(instance.flow_scope_key)
        trigger = instance.trigger
        if trigger is not None and scope is not None and trigger.get("kind") == "boundary":
            # an interrupting boundary event: it continues the flow now that its activity is gone
            boundary = self.engine.processes[instance.process_definition_key].elements[trigger["element"]]
            self.engine.events.activate_triggered(scope, boundary, trigger.get("variables") or {})
        self._leave(instance, scope, terminated=True)

    def _leave(self, instance: ElementInstance, scope: ElementInstance | None, *, terminated: bool) -> None:
        self.engine.events.close_all(instance)
        self.state.remove_element(instance.key)
        if instance.compensating:
            self.engine.compensation.handler_left(instance, terminated=terminated)
        if scope is not None:
            self._detach(scope, instance)
            if scope.join_tokens and scope.state == ACTIVATED and scope.interrupt is None:
                # a token waiting at an inclusive join may go on once this path can no longer reach it
                self.recheck_inclusive_joins(scope)
            processor = self.engine.processors[scope.node.element_type]
            if terminated:
                processor.on_child_terminated(scope, instance)
            else:
                processor.on_child_completed(scope, instance)
        elif instance.key == instance.process_instance_key:
            self.engine.processors[ElementType.PROCESS].on_process_ended(instance, terminated=terminated)

    def discard(self, instance: ElementInstance) -> None:
        """Drop an instance that was created but never activated (its scope went away first)."""
        scope = self.state.elements.get(instance.flow_scope_key)
        self.state.remove_element(instance.key)
        if scope is not None:
            self._detach(scope, instance)
            self.engine.processors[scope.node.element_type].on_child_terminated(scope, instance)

    def _detach(self, scope: ElementInstance, child: ElementInstance) -> None:
        try:
            scope.children.remove(child.key)
        except ValueError:
            pass  # the scope has let go of it already
        self.state.touch_element(scope)

    # -- sequence flows --------------------------------------------------------------------------------------------

    def take_flow(self, scope: ElementInstance, flow: SequenceFlow) -> ElementInstance | None:
        process = self.engine.processes[scope.process_definition_key]
        self.engine.write(self.state.new_key(), ValueType.PROCESS_INSTANCE, SEQUENCE_FLOW_TAKEN, {
            "bpmnElementType": ElementType.SEQUENCE_FLOW, "elementId": flow.id,
            "bpmnProcessId": process.bpmn_process_id, "version": process.version,
            "processDefinitionKey": process.key, "processInstanceKey": scope.process_instance_key,
            "flowScopeKey": scope.key, "bpmnEventType": "UNSPECIFIED",
            "parentProcessInstanceKey": -1, "parentElementInstanceKey": -1, "tenantId": "<default>",
        })
        target = flow.target
        if len(target.incoming) > 1 and target.element_type in (ElementType.PARALLEL_GATEWAY,
                                                                 ElementType.INCLUSIVE_GATEWAY):
            self.join(scope, flow)
            return None
        return self.activate_child(scope, target)

    def join(self, scope: ElementInstance, flow: SequenceFlow) -> None:
        """Tokens wait at a converging gateway until it may fire; each firing consumes one per flow."""
        gateway = flow.target
        tokens = scope.join_tokens if scope.join_tokens is not None else {}
        waiting = tokens.setdefault(gateway.id, {})
        waiting[flow.id] = waiting.get(flow.id, 0) + 1
        scope.join_tokens = tokens
        self.state.touch_element(scope)
        self.try_fire_join(scope, gateway)

    def try_fire_join(self, scope: ElementInstance, gateway: FlowNode) -> bool:
        tokens = scope.join_tokens or {}
        waiting = tokens.get(gateway.id)
        if not waiting:
            return False
        if gateway.element_type == ElementType.PARALLEL_GATEWAY:
            if any(waiting.get(f.id, 0) < 1 for f in gateway.incoming):
                return False
            consumed = [f.id for f in gateway.incoming]
        else:
            # an inclusive join waits for every incoming flow that can still be taken
            if self.engine.processors[ElementType.INCLUSIVE_GATEWAY].can_still_arrive(scope, gateway, waiting):
                return False
            consumed = [f for f, n in waiting.items() if n > 0]
        for flow_id in consumed:
            waiting[flow_id] -= 1
            if waiting[flow_id] <= 0:
                del waiting[flow_id]
        if not waiting:
            del tokens[gateway.id]
        scope.join_tokens = tokens or None
        self.state.touch_element(scope)
        self.activate_child(scope, gateway)
        return True

    def recheck_inclusive_joins(self, scope: ElementInstance) -> None:
        elements = self.engine.processes[scope.process_definition_key].elements
        for gateway_id in list(scope.join_tokens or ()):
            gateway = elements[gateway_id]
            if gateway.element_type == ElementType.INCLUSIVE_GATEWAY:
                self.try_fire_join(scope, gateway)

    def has_waiting_tokens(self, scope: ElementInstance) -> bool:
        return bool(scope.join_tokens)

    # -- scopes ------------------------------------------------------------------------------------------------------

    def terminate_children(self, scope: ElementInstance) -> bool:
        """Start terminating every child; True when there are none left already."""
        for child_key in list(scope.children):
            child = self.state.elements.get(child_key)
            if child is None:
                scope.children.remove(child_key)
                continue
            if child.state is None:
                self.discard_silently(scope, child)
            elif child.state not in (TERMINATING, TERMINATED, COMPLETED):
                self.engine.enqueue("terminate", child.key)
        self.state.touch_element(scope)
        return not scope.children

    def discard_silently(self, scope: ElementInstance, child: ElementInstance) -> None:
        self.state.remove_element(child.key)
        scope.children.remove(child.key)

    def children(self, scope: ElementInstance) -> list[ElementInstance]:
        elements = self.state.elements
        return [elements[k] for k in scope.children if k in elements]
