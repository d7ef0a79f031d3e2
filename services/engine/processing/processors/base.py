"""What every element processor shares: the life-cycle steps, and the incident on a failed step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.expressions import ExpressionError
from services.engine.processing.lifecycle import ACTIVATED, COMPLETING
from services.engine.processing.variables import MappingError
from services.engine.protocol import ErrorType
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.model.elements import SequenceFlow
    from services.engine.processing.engine import Engine


class ElementProcessor:
    """Default behaviour of an element that passes through: activate, complete, take all outgoing flows."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lc = engine.lifecycle
        self.vars = engine.variables
        self.state = engine.state

    # -- life cycle steps (override what differs) -----------------------------------------------------------

    def on_activate(self, instance: ElementInstance) -> None:
        if not self.apply_inputs(instance):
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
        self.lc.complete_now(instance)

    def on_complete(self, instance: ElementInstance) -> None:
        if self.apply_outputs(instance):
            self.lc.completed(instance, self.outgoing(instance))

    def on_terminate(self, instance: ElementInstance) -> None:
        self.cleanup(instance)
        self.lc.terminated(instance)

    def outgoing(self, instance: ElementInstance) -> list[SequenceFlow] | None:
        return None  # all outgoing flows

    # events and jobs reaching the element
    def on_event(self, instance: ElementInstance, variables: dict[str, Any]) -> None:
        self.vars.merge_result(instance, variables)
        self.engine.enqueue("complete", instance.key)

    def on_job_completed(self, instance: ElementInstance, variables: dict[str, Any]) -> None:
        self.vars.merge_result(instance, variables)
        self.engine.enqueue("complete", instance.key)

    # containers
    def on_child_completed(self, scope: ElementInstance, child: ElementInstance) -> None:
        raise AssertionError(f"{scope.node!r} has no children")

    def on_child_terminated(self, scope: ElementInstance, child: ElementInstance) -> None:
        raise AssertionError(f"{scope.node!r} has no children")

    def retry(self, instance: ElementInstance, retry: dict[str, Any]) -> None:
        """Run the step that raised a (now resolved) incident again."""
        op = retry.get("op")
        if op == "activate" and instance.state is not None and instance.state.name == "ACTIVATING":
            self.on_activate(instance)
        elif op == "complete" and instance.state == COMPLETING:
            self.on_complete(instance)

    # -- helpers -----------------------------------------------------------------------------------------------

    def cleanup(self, instance: ElementInstance) -> None:
        if instance.job_key:
            self.engine.jobs.cancel(instance)
        if instance.key in self.state.incidents_by_element:
            self.engine.incidents.resolve_all(instance)

    def incident(self, instance: ElementInstance, error_type: str, message: str, op: str) -> None:
        self.engine.incidents.raise_for_step(instance, error_type, message, op)

    def apply_inputs(self, instance: ElementInstance) -> bool:
        if not instance.node.inputs:
            return True
        try:
            self.vars.apply_inputs(instance)
        except MappingError as error:
            self.incident(instance, ErrorType.IO_MAPPING_ERROR, str(error), "activate")
            return False
        return True

    def apply_outputs(self, instance: ElementInstance) -> bool:
        if not instance.node.outputs:
            return True
        try:
            self.vars.apply_outputs(instance)
        except MappingError as error:
            self.incident(instance, ErrorType.IO_MAPPING_ERROR, str(error), "complete")
            return False
        return True

    def open_events(self, instance: ElementInstance) -> bool:
        try:
            self.engine.events.open_for(instance)
        except ExpressionError as error:
            self.engine.events.close_all(instance)
            self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
            return False
        return True

    def complete_triggered(self, instance: ElementInstance) -> None:
        """The element's event has already occurred: take the variables it brought and complete at once."""
        self.lc.transition(instance, ACTIVATED)
        self.apply_trigger_variables(instance)
        self.lc.complete_now(instance)

    def apply_trigger_variables(self, instance: ElementInstance) -> None:
        trigger = instance.trigger
        if trigger is not None:
            variables = trigger.get("variables")
            instance.trigger = None
            self.state.touch_element(instance)
            if variables:
                self.vars.merge_result(instance, variables)
