"""Gateways: exclusive and inclusive choose flows by condition, parallel forks and joins, event-based
waits for the first of several events."""

from __future__ import annotations

from typing import Any

from services.engine.expressions import ExpressionError
from services.engine.model.elements import FlowNode, SequenceFlow
from services.engine.processing.lifecycle import ACTIVATED, COMPLETING
from services.engine.processing.processors.base import ElementProcessor
from services.engine.protocol import ElementType, ErrorType
from services.engine.state.entities import ElementInstance

NO_FLOW = "Expected at least one condition to evaluate to true, or to have a default flow"


class ConditionFailed(Exception):
    pass


class ExclusiveGatewayProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        try:
            flows = self.choose(instance)
        except ConditionFailed as error:
            self.incident(instance, ErrorType.CONDITION_ERROR, str(error), "activate")
            return
        self.lc.transition(instance, ACTIVATED)
        self.lc.transition(instance, COMPLETING)
        self.lc.completed(instance, flows)

    def choose(self, instance: ElementInstance) -> list[SequenceFlow]:
        node = instance.node
        outgoing = node.outgoing
        if len(outgoing) == 1 and outgoing[0].condition is None:
            return [outgoing[0]]
        view = self.vars.view(instance.flow_scope_key)
        for flow in outgoing:
            if flow is node.default_flow or flow.condition is None:
                continue
            if _evaluate(flow, view, self.engine.now):
                return [flow]
        if node.default_flow is not None:
            return [node.default_flow]
        if not outgoing:
            return []
        raise ConditionFailed(NO_FLOW)


class InclusiveGatewayProcessor(ExclusiveGatewayProcessor):
    def choose(self, instance: ElementInstance) -> list[SequenceFlow]:
        node = instance.node
        outgoing = node.outgoing
        if len(outgoing) <= 1 and all(f.condition is None for f in outgoing):
            return list(outgoing)
        view = self.vars.view(instance.flow_scope_key)
        chosen = [f for f in outgoing if f is not node.default_flow and f.condition is not None
                  and _evaluate(f, view, self.engine.now)]
        if chosen:
            return chosen
        if node.default_flow is not None:
            return [node.default_flow]
        raise ConditionFailed(NO_FLOW)

    def can_still_arrive(self, scope: ElementInstance, gateway: FlowNode, waiting: dict[str, int]) -> bool:
        """Could a token still reach one of the gateway's incoming flows that has none yet?

        Looks for an active element in the scope (or a token waiting at another join) from which such a
        flow is reachable, not passing through the gateway itself.
        """
        missing = {f.id for f in gateway.incoming if waiting.get(f.id, 0) < 1}
        if not missing:
            return False
        elements = self.engine.processes[scope.process_definition_key].elements
        stack: list[FlowNode] = [c.node for c in self.lc.children(scope) if c.node is not None]
        stack.extend(elements[g] for g in (scope.join_tokens or {}) if g != gateway.id)
        seen: set[str] = set()
        while stack:
            node = stack.pop()
            if node.id in seen or node is gateway:
                continue
            seen.add(node.id)
            for flow in node.outgoing:
                if flow.id in missing:
                    return True
                stack.append(flow.target)
            for boundary in node.boundary_events:
                stack.append(boundary)
        return False


def _evaluate(flow: SequenceFlow, view: Any, clock: Any) -> bool:
    try:
        return flow.condition.evaluate_bool(view, clock)
    except ExpressionError as error:
        raise ConditionFailed(str(error)) from error


class ParallelGatewayProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        self.lc.transition(instance, ACTIVATED)
        self.lc.transition(instance, COMPLETING)
        self.lc.completed(instance)


class EventBasedGatewayProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)

    def on_event_chosen(self, instance: ElementInstance, catch: FlowNode, variables: dict[str, Any]) -> None:
        """The first event wins: the gateway completes and the chosen event continues with its variables."""
        self.lc.transition(instance, COMPLETING)
        flow = next(f for f in instance.node.outgoing if f.target is catch)
        self.lc.completed(instance, [flow], trigger={"kind": "event", "variables": variables})


PROCESSORS = {
    ElementType.EXCLUSIVE_GATEWAY: ExclusiveGatewayProcessor,
    ElementType.INCLUSIVE_GATEWAY: InclusiveGatewayProcessor,
    ElementType.PARALLEL_GATEWAY: ParallelGatewayProcessor,
    ElementType.EVENT_BASED_GATEWAY: EventBasedGatewayProcessor,
}
