"""Events: start, end, intermediate catch and throw, boundary."""

from __future__ import annotations

from services.engine.expressions import ExpressionError
from services.engine.processing.lifecycle import ACTIVATED
from services.engine.processing.processors.base import ElementProcessor
from services.engine.processing.processors.tasks import JobWorkerProcessor
from services.engine.protocol import ElementType, ErrorType, EventType
from services.engine.state.entities import ElementInstance


class StartEventProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        self.complete_triggered(instance)


class BoundaryEventProcessor(StartEventProcessor):
    """Activated once its event occurred (and, when interrupting, its activity is gone)."""


class IntermediateCatchEventProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        node = instance.node
        if node.event_type == EventType.LINK or instance.trigger is not None:
            # a link is caught as it is thrown; an event chosen by an event-based gateway has already occurred
            self.complete_triggered(instance)
            return
        if not self.apply_inputs(instance):
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)


class ThrowEventProcessor(JobWorkerProcessor):
    """End and intermediate throw events. Message throws are job-based, like send tasks."""

    def on_activate(self, instance: ElementInstance) -> None:
        node = instance.node
        kind = node.event_type
        if kind == EventType.MESSAGE and node.job is not None:
            super().on_activate(instance)
            return
        if not self.apply_inputs(instance):
            return
        view = self.vars.view(instance.key)
        if kind == EventType.ERROR:
            try:
                code = node.error_code.evaluate_string(view, self.engine.now) if node.error_code else ""
            except ExpressionError as error:
                self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
                return
            if not self.engine.events.throw_error(instance, code, "", {}):
                self.incident(
                    instance, ErrorType.UNHANDLED_ERROR_EVENT,
                    f"Expected to throw an error event with the code '{code}', but it was not caught. No error "
                    "events are available in the scope.", "activate")
            # caught: the catch event's scope terminates this end event with everything else in it
            return
        if kind == EventType.ESCALATION:
            try:
                code = node.escalation_code.evaluate_string(view, self.engine.now) if node.escalation_code else ""
            except ExpressionError as error:
                self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
                return
            if self.engine.events.throw_escalation(instance, code):
                return  # an interrupting catch takes over; this event is terminated with its scope
        elif kind == EventType.COMPENSATION:
            self.lc.transition(instance, ACTIVATED)
            if not self.engine.compensation.throw(instance):
                self.lc.complete_now(instance)
            return  # else it completes when its handlers have
        elif kind == EventType.SIGNAL:
            try:
                name = node.signal_name.evaluate_string(view, self.engine.now)
            except ExpressionError as error:
                self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
                return
            self.lc.transition(instance, ACTIVATED)
            self.engine.events.broadcast_signal(name, self.vars.local(instance.key))
            self.lc.complete_now(instance)
            return
        self.lc.transition(instance, ACTIVATED)
        self.lc.complete_now(instance)

    def on_complete(self, instance: ElementInstance) -> None:
        node = instance.node
        if not self.apply_outputs(instance):
            return
        if node.event_type == EventType.LINK and node.element_type == ElementType.INTERMEDIATE_THROW_EVENT:
            scope = self.state.elements.get(instance.flow_scope_key)
            if scope is not None:
                # the catch exists before the throw leaves, so the scope never looks finished in between
                catch = next(c for c in node.flow_scope.children
                             if c.event_type == EventType.LINK and c.element_type == ElementType.INTERMEDIATE_CATCH_EVENT
                             and c.link_name == node.link_name)
                self.lc.activate_child(scope, catch)
            self.lc.completed(instance, [])
            return
        if node.event_type == EventType.TERMINATE:
            scope = self.state.elements.get(instance.flow_scope_key)
            if scope is not None:
                # everything else in the scope ends; the scope completes once it is alone
                scope.interrupt = {"kind": "terminate"}
                self.state.touch_element(scope)
                for child in self.lc.children(scope):
                    if child is not instance:
                        if child.state is None:
                            self.lc.discard_silently(scope, child)
                        else:
                            self.engine.enqueue("terminate", child.key)
            self.lc.completed(instance, [])
            return
        self.lc.completed(instance, None if node.element_type != ElementType.END_EVENT else [])


PROCESSORS = {
    ElementType.START_EVENT: StartEventProcessor,
    ElementType.BOUNDARY_EVENT: BoundaryEventProcessor,
    ElementType.INTERMEDIATE_CATCH_EVENT: IntermediateCatchEventProcessor,
    ElementType.INTERMEDIATE_THROW_EVENT: ThrowEventProcessor,
    ElementType.END_EVENT: ThrowEventProcessor,
}

