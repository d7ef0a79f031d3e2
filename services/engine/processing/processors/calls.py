"""Call activities and multi-instance bodies: elements that run other instances and wait for them."""

from __future__ import annotations

import re
from typing import Any

from services.engine.expressions import Expr, ExpressionError
from services.engine.processing.lifecycle import ACTIVATED, TERMINATING
from services.engine.processing.modification import EMPTIED
from services.engine.processing.processors.base import ElementProcessor
from services.engine.protocol import ElementType, ErrorType
from services.engine.state.entities import ElementInstance


class CallActivityProcessor(ElementProcessor):
    def on_activate(self, instance: ElementInstance) -> None:
        node = instance.node
        assert node.call is not None
        if not self.apply_inputs(instance):
            return
        view = self.vars.view(instance.key)
        try:
            process_id = node.call.process_id.evaluate_string(view, self.engine.now) \
                if not node.call.process_id.is_static else node.call.process_id.static
        except ExpressionError as error:
            self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
            return
        process = self.engine.deployments.latest_process(process_id or "")
        if process is None:
            self.incident(instance, ErrorType.CALLED_ELEMENT_ERROR,
                          f"Expected process with BPMN process id '{process_id}' to be deployed, but not found.",
                          "activate")
            return
        if process.root.none_start is None:
            self.incident(instance, ErrorType.CALLED_ELEMENT_ERROR,
                          f"Expected process with BPMN process id '{process_id}' to have a none start event, but "
                          "not found.", "activate")
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
        variables = (self.vars.visible(instance.key) if node.call.propagate_all_parent_variables
                     else self.vars.local(instance.key))
        child = self.engine.processors[ElementType.PROCESS].create_instance(process, variables, parent=instance)
        instance.called_child_key = child.key
        self.state.touch_element(instance)

    def child_completed(self, child: ElementInstance, variables: dict[str, Any]) -> None:
        parent = self.state.elements.get(child.parent_element_instance_key) \
            if child.parent_element_instance_key > 0 else None
        if parent is None or parent.state != ACTIVATED:
            return
        parent.called_child_key = 0
        self.state.touch_element(parent)
        spec = parent.node.call
        if spec is not None and (spec.propagate_all_child_variables or parent.node.outputs):
            self.vars.merge_result(parent, variables)
        self.engine.enqueue("complete", parent.key)

    def child_terminated(self, child: ElementInstance) -> None:
        parent = self.state.elements.get(child.parent_element_instance_key) \
            if child.parent_element_instance_key > 0 else None
        if parent is None:
            return
        parent.called_child_key = 0
        self.state.touch_element(parent)
        if parent.state == TERMINATING:
            self.lc.terminated(parent)

    def on_terminate(self, instance: ElementInstance) -> None:
        self.cleanup(instance)
        child = self.state.elements.get(instance.called_child_key) if instance.called_child_key else None
        if child is not None:
            self.engine.enqueue("terminate", child.key)  # finishes in child_terminated
        else:
            self.lc.terminated(instance)


class MultiInstanceBodyProcessor(ElementProcessor):
    """Runs its inner activity once per item of the input collection, in sequence or in parallel."""

    def on_activate(self, instance: ElementInstance) -> None:
        loop = instance.node.loop
        assert loop is not None
        try:
            items = loop.input_collection.evaluate_list(self.vars.view(instance.flow_scope_key), self.engine.now)
        except ExpressionError as error:
            self.incident(instance, ErrorType.EXTRACT_VALUE_ERROR, str(error), "activate")
            return
        if not self.open_events(instance):
            return
        self.lc.transition(instance, ACTIVATED)
        instance.loop = {"items": items, "next": 0, "completed": 0, "terminated": 0}
        self.state.touch_element(instance)
        if loop.output_collection:
            self.vars.set_local(instance.key, loop.output_collection, [None] * len(items))
        if not items:
            self.lc.complete_now(instance)
            return
        count = 1 if loop.sequential else len(items)
        for _ in range(count):
            self.start_next(instance)

    def start_next(self, instance: ElementInstance) -> None:
        state = instance.loop
        index = state["next"]
        state["next"] = index + 1
        self.state.touch_element(instance)
        inner = self.lc.create(instance, instance.node.inner)
        loop = instance.node.loop
        if loop.input_element:
            self.vars.set_local(inner.key, loop.input_element, state["items"][index])
        output = _variable_of(loop.output_element)
        if output and output not in (loop.input_element, "loopCounter"):
            # the instance's result lands in its own scope, not in a variable all instances share
            self.vars.set_local(inner.key, output, None)
        self.vars.set_local(inner.key, "loopCounter", index + 1)
        self.engine.enqueue("activate", inner.key)

    def before_child_completed(self, body: ElementInstance, inner: ElementInstance) -> bool:
        """While the completing instance still exists: put its output into the collection and evaluate the
        completion condition in its scope. A failure is an incident on the instance (False)."""
        loop = body.node.loop
        state = body.loop
        try:
            if loop.output_collection and loop.output_element:
                value = loop.output_element.evaluate(self.vars.view(inner.key), self.engine.now)
                counter = self.vars.local(inner.key).get("loopCounter", 0)
                collection = list(self.vars.local(body.key).get(loop.output_collection) or [])
                if 1 <= counter <= len(collection):
                    collection[counter - 1] = value
                    self.vars.set_local(body.key, loop.output_collection, collection)
            met = False
            if loop.completion_condition is not None:
                counters = {  # as they will be once this instance has completed
                    "numberOfInstances": len(state["items"]),
                    "numberOfActiveInstances": len(body.children) - 1,
                    "numberOfCompletedInstances": state["completed"] + 1,
                    "numberOfTerminatedInstances": state.get("terminated", 0),
                }
                met = loop.completion_condition.evaluate_bool(self.vars.view(inner.key, counters), self.engine.now)
        except ExpressionError as error:
            self.incident(inner, ErrorType.EXTRACT_VALUE_ERROR, str(error), "complete")
            return False
        if met:
            state["met"] = True
            self.state.touch_element(body)
        return True

    def on_child_completed(self, scope: ElementInstance, child: ElementInstance) -> None:
        if scope.state != ACTIVATED:
            self._maybe_finish(scope)
            return
        state = scope.loop
        state["completed"] += 1
        self.state.touch_element(scope)
        if state.pop("met", False):
            state["done"] = True
        if state.get("done"):
            if not self.lc.terminate_children(scope):
                return  # completes when the last of them is terminated
        elif scope.node.loop.sequential and state["next"] < len(state["items"]):
            self.start_next(scope)
            return
        if not scope.children:
            self.engine.enqueue("complete", scope.key)

    def on_child_terminated(self, scope: ElementInstance, child: ElementInstance) -> None:
        if scope.loop is not None:
            scope.loop["terminated"] = scope.loop.get("terminated", 0) + 1
        self._maybe_finish(scope)

    def _maybe_finish(self, scope: ElementInstance) -> None:
        if scope.children:
            return
        if scope.state == TERMINATING:
            self.lc.terminated(scope)
        elif scope.state == ACTIVATED and scope.interrupt is not None and scope.interrupt.get("kind") == EMPTIED:
            self.engine.enqueue("terminate", scope.key)  # a modification terminated every instance in it
        elif scope.state == ACTIVATED and scope.loop and scope.loop.get("done"):
            self.engine.enqueue("complete", scope.key)

    def on_complete(self, instance: ElementInstance) -> None:
        loop = instance.node.loop
        if loop.output_collection:
            collection = self.vars.local(instance.key).get(loop.output_collection)
            self.vars.propagate(instance.flow_scope_key, {loop.output_collection: collection})
        self.lc.completed(instance)

    def on_terminate(self, instance: ElementInstance) -> None:
        self.cleanup(instance)
        if self.lc.terminate_children(instance):
            self.lc.terminated(instance)


PROCESSORS = {
    ElementType.CALL_ACTIVITY: CallActivityProcessor,
    ElementType.MULTI_INSTANCE_BODY: MultiInstanceBodyProcessor,
}


_PLAIN_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _variable_of(expression: Expr | None) -> str | None:
    """The variable an output element reads when it is just a variable or a path into one (`=result`)."""
    if expression is None:
        return None
    text = expression.text.strip()
    return text.split(".", 1)[0] if _PLAIN_PATH.match(text) else None
