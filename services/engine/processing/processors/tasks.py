"""Tasks: job workers (service, send, user, business-rule and script tasks with a job, message throw
events), scripts and decisions evaluated by the engine, receive tasks, and tasks that just pass."""

from __future__ import annotations

from services.engine.expressions import ExpressionError
from services.engine.processing.lifecycle import ACTIVATED
from services.engine.processing.processors.base import ElementProcessor
from services.engine.protocol import ErrorType
from services.engine.state.entities import ElementInstance


class JobWorkerProcessor(ElementProcessor):
    """An element whose work is a job: it waits in ACTIVATED until a worker completes the job."""

    def on_activate(self, instance: ElementInstance) -> None:
        node = instance.node
        if node.job is None:
            self.script_or_decision(instance)
            return
        if not self.apply_inputs(instance):
            return
        if not self.open_events(instance):
            return
        try:
            self.engine.jobs.create(instance)
        except ExpressionError as error:
            self.engine.events.close_all(instance)
            error_type = ErrorType.FORM_NOT_FOUND if "form with id" in str(error) else ErrorType.EXTRACT_VALUE_ERROR
            self.incident(instance, error_type, str(error), "activate")
            return
        self.lc.transition(instance, ACTIVATED)

    def on_terminate(self, instance: ElementInstance) -> None:
        self.cleanup(instance)
        self.lc.terminated(instance)

    # -- evaluated by the engine itself ---------------------------------------------------------------------

    def script_or_decision(self, instance: ElementInstance) -> None:
        node = instance.node
        if not self.apply_inputs(instance):
            return
        if not self.open_events(instance):
            return
        view = self.vars.view(instance.key)
        if node.script is not None:
            try:
                result = node.script.evaluate(view, self.engine.now)
            except ExpressionError as error:
                self.engine.events.close_all(instance)
                self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
                return
        elif node.decision_id is not None:
            try:
                result = self.engine.deployments.evaluate_called_decision(instance, node, view)
            except ExpressionError as error:
                self.engine.events.close_all(instance)
                error_type = (ErrorType.CALLED_DECISION_ERROR if "no decision found" in str(error)
                              else ErrorType.DECISION_EVALUATION_ERROR)
                self.incident(instance, error_type, str(error), "activate")
                return
        else:  # a task without implementation: nothing to do
            self.lc.transition(instance, ACTIVATED)
            self.lc.complete_now(instance)
            return
        self.lc.transition(instance, ACTIVATED)
        if node.result_variable:
            self.vars.merge_result(instance, {node.result_variable: result})
        self.lc.complete_now(instance)


class ReceiveTaskProcessor(ElementProcessor):
    """Waits for its message (the subscription is opened with the boundary events)."""

    def on_activate(self, instance: ElementInstance) -> None:
        if not self.apply_inputs(instance):
            return
        if instance.trigger is not None:  # chosen by an event-based gateway: the message is already here
            self.complete_triggered(instance)
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
