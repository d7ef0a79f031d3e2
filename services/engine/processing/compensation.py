"""Compensation: undoing activities that completed, as Zeebe does it.

An activity with a compensation boundary event leaves an entry in its flow scope each time it completes
(`ElementInstance.compensations`). A completed embedded sub-process (or multi-instance body, or event
sub-process) hands its entries up to its own scope, so compensation reaches into completed sub-processes;
a called process keeps its own. A compensation throw or end event takes the entries of its scope (the scope
around it when it sits in an event sub-process) — all of them, or those of its `activityRef` — starts one
handler per entry beside itself, and completes once every handler has completed.

Handlers run in the thrower's scope: the scope of a nested compensated activity may be long gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.engine.protocol import ElementState, ElementType, ValueType
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine


class Compensation:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    def activity_completed(self, instance: ElementInstance, scope: ElementInstance) -> None:
        """Called as `instance` completes in `scope`, when it has a handler or carries entries."""
        node = instance.node
        if node.compensation_handler is not None:
            entry = {"activity": node.id, "handler": node.compensation_handler.id, "key": instance.key}
            scope.compensations.append(entry)
            self._write("CREATED", scope, entry)
        if instance.compensations:
            scope.compensations.extend({**e, "nested": True} for e in instance.compensations)
            instance.compensations = []
        self.state.touch_element(scope)

    def throw(self, thrower: ElementInstance) -> bool:
        """Start the handlers a compensation throw event calls for; False when there are none to wait for."""
        elements = self.state.elements
        scope = elements.get(thrower.flow_scope_key)
        if scope is None:
            return False
        target = scope
        if scope.node.element_type == ElementType.EVENT_SUB_PROCESS:
            target = elements.get(scope.flow_scope_key) or scope
        ref = thrower.node.activity_ref
        chosen = [e for e in target.compensations if ref is None or (e["activity"] == ref and not e.get("nested"))]
        if not chosen:
            return False
        target.compensations = [e for e in target.compensations if not any(e is c for c in chosen)]
        self.state.touch_element(target)
        process = self.engine.processes[thrower.process_definition_key]
        for entry in chosen:
            handler = self.engine.lifecycle.create(scope, process.elements[entry["handler"]])
            handler.compensating = thrower.key
            self._write("TRIGGERED", target, entry, thrower=thrower, handler=handler)
            self.engine.enqueue("activate", handler.key)
        thrower.loop = {"compensation": len(chosen)}
        self.state.touch_element(thrower)
        return True

    def handler_left(self, handler: ElementInstance, *, terminated: bool) -> None:
        thrower = self.state.elements.get(handler.compensating)
        if terminated or thrower is None or thrower.state != ElementState.ACTIVATED or not thrower.loop:
            return  # the thrower goes with its scope
        self._write("COMPLETED", thrower, {"activity": "", "handler": handler.element_id, "key": -1},
                    thrower=thrower, handler=handler)
        thrower.loop["compensation"] -= 1
        self.state.touch_element(thrower)
        if thrower.loop["compensation"] <= 0:
            self.engine.enqueue("complete", thrower.key)

    def _write(self, intent: str, scope: ElementInstance, entry: dict[str, Any], *,
               thrower: ElementInstance | None = None, handler: ElementInstance | None = None) -> None:
        self.engine.write(self.state.new_key(), ValueType.COMPENSATION_SUBSCRIPTION, intent, {
            "processInstanceKey": scope.process_instance_key,
            "processDefinitionKey": scope.process_definition_key,
            "compensableActivityId": entry["activity"], "compensableActivityInstanceKey": entry["key"],
            "compensableActivityScopeKey": scope.key, "compensationHandlerId": entry["handler"],
            "compensationHandlerInstanceKey": handler.key if handler else -1,
            "throwEventId": thrower.element_id if thrower else "", "throwEventInstanceKey": thrower.key if thrower else -1,
            "variables": {}, "tenantId": "<default>",
        })
