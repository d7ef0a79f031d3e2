"""Variables and their scopes, as Zeebe defines them.

- Each element instance is a scope; a scope sees its own variables and those of its flow scopes, up to
  the process instance (a local variable hides one of the same name further up).
- Input mappings create local variables of the element.
- Merging variables into an instance (job completion, message correlation, ...) propagates each one from
  a starting scope upwards: it is updated in the nearest scope that has it, or created in the process
  instance scope when none has it.
- Output mappings are evaluated in the element's scope and merged starting at its flow scope.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from services.engine.expressions import ExpressionError
from services.engine.model.elements import Mapping as IoMapping
from services.engine.protocol import ElementType, ValueType
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine


class MappingError(Exception):
    """An input or output mapping failed: the message is the incident's."""


class ScopeView(Mapping[str, Any]):
    """The variables visible from a scope, looked up lazily (FEEL reads only the names it uses)."""

    __slots__ = ("_elements", "_overlay", "_scope_key", "_variables")

    def __init__(self, engine: Engine, scope_key: int, overlay: dict[str, Any] | None = None) -> None:
        self._variables = engine.state.variables
        self._elements = engine.state.elements
        self._scope_key = scope_key
        self._overlay = overlay

    def _chain(self) -> Iterator[dict[str, list[Any]]]:
        key = self._scope_key
        variables, elements = self._variables, self._elements
        while key > 0:
            scope = variables.get(key)
            if scope:
                yield scope
            instance = elements.get(key)
            if instance is None:
                return
            key = instance.flow_scope_key

    def __getitem__(self, name: str) -> Any:
        overlay = self._overlay
        if overlay is not None and name in overlay:
            return overlay[name]
        for scope in self._chain():
            slot = scope.get(name)
            if slot is not None:
                return slot[1]
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def collect(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for scope in self._chain():
            for name, slot in scope.items():
                result.setdefault(name, slot[1])
        if self._overlay:
            result.update(self._overlay)
        return result

    def __iter__(self) -> Iterator[str]:
        return iter(self.collect())

    def __len__(self) -> int:
        return len(self.collect())


class Variables:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    def view(self, scope_key: int, overlay: dict[str, Any] | None = None) -> ScopeView:
        return ScopeView(self.engine, scope_key, overlay)

    def local(self, scope_key: int) -> dict[str, Any]:
        return {name: slot[1] for name, slot in (self.state.variables.get(scope_key) or {}).items()}

    def visible(self, scope_key: int, names: list[str] | None = None) -> dict[str, Any]:
        view = self.view(scope_key)
        if not names:
            return view.collect()
        result = {}
        for name in names:
            try:
                result[name] = view[name]
            except KeyError:
                continue
        return result

    # -- writing -------------------------------------------------------------------------------------------

    def set_local(self, scope_key: int, name: str, value: Any) -> None:
        scope = self.state.variables.get(scope_key)
        if scope is not None:
            slot = scope.get(name)
            if slot is not None and slot[1] == value and type(slot[1]) is type(value):
                return  # Zeebe writes no record for an unchanged value
        variable_key, created = self.state.set_variable(scope_key, name, value)
        self._record(variable_key, "CREATED" if created else "UPDATED", scope_key, name, value)

    def _record(self, variable_key: int, intent: str, scope_key: int, name: str, value: Any) -> None:
        from services.engine.values import dumps_text

        instance = self.state.elements.get(scope_key)
        if instance is not None:
            process = self.engine.processes[instance.process_definition_key]
            process_instance_key, definition_key, process_id = (
                instance.process_instance_key, process.key, process.bpmn_process_id)
        else:
            process_instance_key, definition_key, process_id = scope_key, -1, ""
        self.engine.write(variable_key, ValueType.VARIABLE, intent, {
            "name": name, "value": dumps_text(value), "scopeKey": scope_key,
            "processInstanceKey": process_instance_key, "processDefinitionKey": definition_key,
            "bpmnProcessId": process_id, "tenantId": "<default>",
        })

    def set_locals(self, scope_key: int, variables: Mapping[str, Any]) -> None:
        for name, value in variables.items():
            self.set_local(scope_key, name, value)

    def propagate(self, start_scope_key: int, variables: Mapping[str, Any]) -> None:
        """Merge variables: update each in the nearest scope that has it, else create it at the root."""
        if not variables:
            return
        elements = self.state.elements
        all_vars = self.state.variables
        for name, value in variables.items():
            key = start_scope_key
            target = None
            root = start_scope_key
            while key > 0:
                scope = all_vars.get(key)
                if scope is not None and name in scope:
                    target = key
                    break
                instance = elements.get(key)
                if instance is None:
                    break
                root = key
                if instance.flow_scope_key <= 0:
                    break
                key = instance.flow_scope_key
            self.set_local(target if target is not None else root, name, value)

    # -- mappings ----------------------------------------------------------------------------------------------

    def apply_inputs(self, instance: ElementInstance, mappings: list[IoMapping] | None = None) -> None:
        mappings = instance.node.inputs if mappings is None else mappings
        if not mappings:
            return
        results: dict[str, Any] = {}
        # the element's own scope: a multi-instance activity already holds its input element there
        view = self.view(instance.key, results)
        for mapping in mappings:
            value = self._evaluate(mapping, view)
            _assign(results, mapping.target_path, value, view)
        self.set_locals(instance.key, results)

    def output_results(self, instance: ElementInstance, mappings: list[IoMapping] | None = None) -> dict[str, Any]:
        mappings = instance.node.outputs if mappings is None else mappings
        results: dict[str, Any] = {}
        view = self.view(instance.key, results)
        for mapping in mappings:
            value = self._evaluate(mapping, view)
            _assign(results, mapping.target_path, value, view)
        return results

    def apply_outputs(self, instance: ElementInstance) -> None:
        """Output mappings, merged from the flow scope; without mappings nothing happens here. An instance of
        a multi-instance activity merges from its own scope, where its output element lives (as in Zeebe)."""
        if instance.node.outputs:
            start = instance.key if is_multi_instance_inner(instance) else instance.flow_scope_key
            self.propagate(start, self.output_results(instance))

    def merge_result(self, instance: ElementInstance, variables: Mapping[str, Any]) -> None:
        """Variables an element receives (job completion, message, ...): local when output mappings will
        pick from them, otherwise propagated from the element's own scope."""
        if not variables:
            return
        if instance.node.outputs:
            self.set_locals(instance.key, variables)
        else:
            self.propagate(instance.key, variables)

    def _evaluate(self, mapping: IoMapping, view: ScopeView) -> Any:
        try:
            return mapping.source.evaluate(view, self.engine.now)
        except ExpressionError as error:
            raise MappingError(str(error)) from error


def _assign(results: dict[str, Any], path: tuple[str, ...], value: Any, view: ScopeView) -> None:
    """Write `value` at a dotted target, keeping the other entries of an existing context."""
    if len(path) == 1:
        results[path[0]] = value
        return
    root = path[0]
    current = results.get(root)
    if current is None:
        existing = view.get(root)
        current = copy.deepcopy(existing) if isinstance(existing, dict) else {}
    elif not isinstance(current, dict):
        current = {}
    node = current
    for part in path[1:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[path[-1]] = value
    results[root] = current


def is_multi_instance_inner(instance: ElementInstance) -> bool:
    scope = instance.node.flow_scope
    return scope is not None and scope.element_type == ElementType.MULTI_INSTANCE_BODY
