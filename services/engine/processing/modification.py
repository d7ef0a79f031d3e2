"""Process instance modification (Zeebe's ModifyProcessInstance): activate elements, terminate element instances.

Zeebe's rules (docs.camunda.io, "Process instance modification", 8.6):
- An element is activated as if its incoming flow were taken (input mappings, subscriptions, job), always in an
  existing instance of its flow scope; a flow scope without an active instance is created first — with its event
  subscriptions, but without entering its start event or applying its input mappings — and so on up the scopes.
  More than one instance of a flow scope and no ancestorElementInstanceKey to choose: rejected.
- Variable instructions are set before the element activates, as local variables of the named flow scope (or of
  the element itself), or in the process instance's root scope when no scope is named.
- Terminating an instance terminates its children (a call activity: its child process instance); a flow scope
  left without an active instance is terminated too, up to the process instance itself.
- All activations are applied before the terminations, and the command is all or nothing: every instruction is
  checked before anything changes, so a rejected command leaves the instance and the record log as they were.
- Rejected: start events, boundary events, events after an event-based gateway, sequence flows, elements inside
  a multi-instance sub-process, and terminating every element of a process instance a call activity started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.engine.expressions import ExpressionError
from services.engine.processing.lifecycle import ACTIVATED, ACTIVATING, COMPLETING, TERMINATING
from services.engine.protocol import (
    DEFAULT_TENANT,
    ElementType,
    RecordType,
    Rejection,
    RejectionType,
    ValueType,
)
from services.engine.state.entities import ElementInstance

if TYPE_CHECKING:
    from services.engine.model.elements import ExecutableProcess, FlowNode
    from services.engine.processing.engine import Engine

INTENT = "MODIFY"
EMPTIED = "emptied-by-modification"  # the mark of a flow scope to terminate when its last child is gone
_LIVE = (ACTIVATING, ACTIVATED, COMPLETING)  # an instance that can still be terminated
_UNSUPPORTED = (ElementType.START_EVENT, ElementType.BOUNDARY_EVENT, ElementType.SEQUENCE_FLOW, ElementType.PROCESS)


@dataclass(slots=True)
class VariableInstruction:
    variables: dict[str, Any]
    scope_id: str = ""  # "" = the process instance's root scope


@dataclass(slots=True)
class ActivateInstruction:
    element_id: str
    ancestor_key: int = -1  # <= 0: no ancestor chosen
    variables: list[VariableInstruction] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class _Scope:
    """A flow scope instance an activation goes through: an existing one, or one the command creates."""

    node: FlowNode
    parent: _Scope | None
    instance: ElementInstance | None = None  # None until a planned scope is created

    @property
    def key(self) -> int:
        return self.instance.key if self.instance is not None else 0


@dataclass(slots=True)
class _Activation:
    instruction: ActivateInstruction
    node: FlowNode
    chain: list[_Scope]  # the root first, the element's own flow scope last


class Modification:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state

    def modify(self, process_instance_key: int, activations: list[ActivateInstruction], terminations: list[int],
               operation_reference: int | None = None) -> None:
        root = self.state.elements.get(process_instance_key)
        if root is None or root.key != root.process_instance_key or root.state != ACTIVATED:
            raise Rejection(RejectionType.NOT_FOUND, "Expected to modify process instance but no process instance "
                            f"found with key '{process_instance_key}'", intent=INTENT)
        process = self.engine.processes[root.process_definition_key]
        check = _Checks(self.engine, process, root)
        check.elements(activations)
        terminated = check.terminations(terminations)
        check.variable_scopes(activations)
        check.ancestors(activations)
        check.no_activation_in_terminated_scope(activations, terminated)
        created: dict[tuple[str, int], _Scope] = {}  # scopes this command creates, by (element id, parent)
        planned = [self._plan(process, root, a, created) for a in activations]
        self._check_created_scopes(process, planned)
        direct, emptied = self._termination_targets(process, terminated, planned)
        # everything is valid: from here on the command is applied
        value = self._record_value(process_instance_key, activations, terminations, operation_reference)
        self.engine.write(process_instance_key, ValueType.PROCESS_INSTANCE_MODIFICATION, "MODIFY", value,
                          RecordType.COMMAND)
        for activation, modified in zip(planned, value["activateInstructions"], strict=True):
            modified["ancestorScopeKeys"] = self._activate(process, activation)
        value["ancestorScopeKeys"] = sorted({k for m in value["activateInstructions"] for k in m["ancestorScopeKeys"]})
        for key in emptied:
            # terminated, not completed, once its last child is gone: so the named instances go first, then the
            # scopes they leave empty, from the inside out (Zeebe's order)
            scope = self.state.elements[key]
            scope.interrupt = {"kind": EMPTIED}
            self.state.touch_element(scope)
        for key in direct:
            self.engine.enqueue("terminate", key)
        self.engine.write(process_instance_key, ValueType.PROCESS_INSTANCE_MODIFICATION, "MODIFIED", value)

    # -- planning (reads only) ---------------------------------------------------------------------------------

    def _plan(self, process: ExecutableProcess, root: ElementInstance, instruction: ActivateInstruction,
              created: dict[tuple[str, int], _Scope]) -> _Activation:
        """The flow scope instances the element will be activated in, choosing or planning each level as Zeebe
        does: reuse the only instance; with several, the one the ancestor key selects (or one of its ancestors);
        none, or only descendants of the selected ancestor: a new one."""
        node = process.elements[instruction.element_id]
        scopes: list[FlowNode] = []
        current = node.flow_scope
        while current is not None and current.element_type != ElementType.PROCESS:
            scopes.append(current)
            current = current.flow_scope
        scopes.reverse()
        chain = [_Scope(process.root, None, root)]
        ancestor = instruction.ancestor_key if instruction.ancestor_key > 0 else 0
        for scope_node in scopes:
            parent = chain[-1]
            candidates = self._instances_of(parent, scope_node, created)
            chosen = self._choose(process, scope_node, candidates, ancestor)
            if chosen is None:
                # (never a multi-instance body: elements inside one were rejected before)
                chosen = _Scope(scope_node, parent)
                created[(scope_node.id, _identity(parent))] = chosen
            elif chosen.instance is not None and chosen.instance.state != ACTIVATED:
                raise _invalid(f"Expected to modify instance of process '{process.bpmn_process_id}' but the flow "
                               f"scope instance '{chosen.key}' of element '{scope_node.id}' that the element "
                               f"'{node.id}' would be activated in is not active (it is "
                               f"{chosen.instance.state or 'not yet activated'})")
            chain.append(chosen)
        return _Activation(instruction, node, chain)

    def _instances_of(self, parent: _Scope, scope_node: FlowNode,
                      created: dict[tuple[str, int], _Scope]) -> list[_Scope]:
        found = []
        if parent.instance is not None:
            for child_key in parent.instance.children:
                child = self.state.elements.get(child_key)
                if child is not None and child.element_id == scope_node.id and child.state in _LIVE:
                    found.append(_Scope(scope_node, parent, child))
        planned = created.get((scope_node.id, _identity(parent)))
        if planned is not None:
            found.append(planned)
        return found

    def _choose(self, process: ExecutableProcess, scope_node: FlowNode, candidates: list[_Scope],
                ancestor: int) -> _Scope | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            only = candidates[0]
            if ancestor and self._descends_from(only, ancestor):
                return None  # the selected ancestor lies above: a new instance goes in it
            return only
        if not ancestor:
            raise _invalid(f"Expected to modify instance of process '{process.bpmn_process_id}' but it contains one "
                           "or more activate instructions for an element that has a flow scope with more than one "
                           f"active instance: '{scope_node.id}'. Can't decide in which instance of the flow scope the "
                           "element should be activated. Please specify an ancestor element instance key for this "
                           "activate instruction.")
        for candidate in candidates:
            if candidate.key == ancestor:
                return candidate
        if any(self._descends_from(c, ancestor) for c in candidates):
            return None
        selected = self.state.elements[ancestor]
        for candidate in candidates:
            if candidate.instance is not None and self._instance_descends_from(selected, candidate.key):
                return candidate
        raise _invalid(f"Expected to modify instance of process '{process.bpmn_process_id}' but it contains one or "
                       "more activate instructions for an element that has a flow scope with more than one active "
                       f"instance: '{scope_node.id}', and the ancestor element instance key '{ancestor}' selects "
                       "none of them")

    def _descends_from(self, scope: _Scope, ancestor_key: int) -> bool:
        parent = scope.parent
        while parent is not None:
            if parent.key == ancestor_key:
                return True
            if parent.instance is not None:
                return self._instance_descends_from(parent.instance, ancestor_key)
            parent = parent.parent
        return False

    def _instance_descends_from(self, instance: ElementInstance, ancestor_key: int) -> bool:
        key = instance.flow_scope_key
        while key > 0:
            if key == ancestor_key:
                return True
            above = self.state.elements.get(key)
            if above is None:
                return False
            key = above.flow_scope_key
        return False

    def _check_created_scopes(self, process: ExecutableProcess, planned: list[_Activation]) -> None:
        """A created scope opens its subscriptions (boundary events, event sub-process starts); an expression that
        can't be evaluated there rejects the command (as Zeebe does) — found now, before anything changes."""
        events = self.engine.events
        seen: set[int] = set()
        for activation in planned:
            overlay: dict[str, Any] = {}
            for variable in activation.instruction.variables:
                if not variable.scope_id or variable.scope_id == activation.chain[0].node.id:
                    overlay.update(variable.variables)
            base_key = activation.chain[0].key
            for scope in activation.chain[1:]:
                if scope.instance is not None:
                    base_key = scope.key
                    continue
                for variable in activation.instruction.variables:
                    if variable.scope_id == scope.node.id:
                        overlay.update(variable.variables)
                if id(scope) in seen:
                    continue
                seen.add(id(scope))
                view = self.engine.variables.view(base_key, overlay)
                probe = ElementInstance(0, scope.node.id, 0, 0, 0)
                probe.node = scope.node
                try:
                    for catch in events.catch_nodes(probe):
                        events.catch_parameters(catch, view)
                except ExpressionError as error:
                    raise _invalid(f"Expected to modify instance of process '{process.bpmn_process_id}' but the event "
                                   f"subscriptions of the flow scope '{scope.node.id}' it would create could not "
                                   f"be opened: {error}") from error

    def _termination_targets(self, process: ExecutableProcess, terminated: list[ElementInstance],
                             planned: list[_Activation]) -> tuple[list[int], list[int]]:
        """(the named instances to terminate, the flow scopes they leave without an active instance). Zeebe
        terminates those scopes too (it doesn't complete them) unless an activation of this command uses them."""
        required = {scope.key for a in planned for scope in a.chain if scope.instance is not None}
        named = {i.key for i in terminated}
        doomed: set[int] = set()
        emptied: list[int] = []
        for instance in terminated:
            self._doom(process, instance, doomed)
            scope = self.state.elements.get(instance.flow_scope_key)
            while scope is not None and scope.key not in doomed and scope.key not in required \
                    and not scope.join_tokens and not self._has_survivor(scope, doomed):
                self._doom(process, scope, doomed)
                emptied.append(scope.key)
                scope = self.state.elements.get(scope.flow_scope_key)
        # a named instance inside another named one goes with it
        direct = [i.key for i in terminated
                  if not any(self._instance_descends_from(i, k) for k in named if k != i.key)]
        return direct, [k for k in emptied if k not in named]

    def _doom(self, process: ExecutableProcess, instance: ElementInstance, doomed: set[int]) -> None:
        if instance.key == instance.process_instance_key and instance.parent_process_instance_key > 0:
            raise _invalid(f"Expected to modify instance of process '{process.bpmn_process_id}' but the given "
                           "instructions would terminate the instance. The instance was created by a call activity "
                           "in the parent process. To terminate this instance please modify the parent process "
                           "instead.")
        doomed.add(instance.key)

    def _has_survivor(self, scope: ElementInstance, doomed: set[int]) -> bool:
        for child_key in scope.children:
            child = self.state.elements.get(child_key)
            if child is not None and child.key not in doomed and child.state != TERMINATING:
                return True
        return False

    # -- applying ------------------------------------------------------------------------------------------------

    def _activate(self, process: ExecutableProcess, activation: _Activation) -> list[int]:
        lifecycle = self.engine.lifecycle
        instruction = activation.instruction
        keys = []
        for level, scope in enumerate(activation.chain):
            if scope.instance is None:
                assert scope.parent is not None and scope.parent.instance is not None
                instance = lifecycle.create(scope.parent.instance, scope.node)
                scope.instance = instance
                lifecycle.transition(instance, ACTIVATING)
                self._set_variables(instruction, scope.node.id, instance.key, root=False)
                lifecycle.transition(instance, ACTIVATED)
                self.engine.events.open_for(instance)  # checked before: does not raise
            else:
                self._set_variables(instruction, scope.node.id, scope.key, root=level == 0)
            keys.append(scope.key)
        flow_scope = activation.chain[-1].instance
        assert flow_scope is not None
        node = activation.node
        element = lifecycle.create(flow_scope, node)
        if node.element_type == ElementType.EVENT_SUB_PROCESS:
            # activated by hand, it still enters through its start event (without interrupting anything)
            start = next(c for c in node.children if c.element_type == ElementType.START_EVENT)
            element.trigger = {"kind": "start", "element": start.id, "variables": {}}
        self._set_variables(instruction, node.id, element.key, root=False)
        self.engine.enqueue("activate", element.key)
        return keys

    def _set_variables(self, instruction: ActivateInstruction, scope_id: str, key: int, *, root: bool) -> None:
        for variable in instruction.variables:
            if variable.scope_id == scope_id or (root and not variable.scope_id):
                self.engine.variables.set_locals(key, variable.variables)

    @staticmethod
    def _record_value(process_instance_key: int, activations: list[ActivateInstruction], terminations: list[int],
                      operation_reference: int | None) -> dict[str, Any]:
        value: dict[str, Any] = {
            "processInstanceKey": process_instance_key,
            "activateInstructions": [{
                "elementId": a.element_id, "ancestorScopeKey": a.ancestor_key if a.ancestor_key > 0 else -1,
                "variableInstructions": [{"variables": v.variables, "elementId": v.scope_id} for v in a.variables],
                "ancestorScopeKeys": [],
            } for a in activations],
            "terminateInstructions": [{"elementInstanceKey": k} for k in terminations],
            "ancestorScopeKeys": [],
            "tenantId": DEFAULT_TENANT,
        }
        if operation_reference is not None:
            value["operationReference"] = operation_reference
        return value


class _Checks:
    """The validations Zeebe runs before a modification changes anything, in its order."""

    def __init__(self, engine: Engine, process: ExecutableProcess, root: ElementInstance) -> None:
        self.engine = engine
        self.process = process
        self.root = root
        self.name = process.bpmn_process_id

    def _prefix(self) -> str:
        return f"Expected to modify instance of process '{self.name}' but it contains one or more"

    def elements(self, activations: list[ActivateInstruction]) -> None:
        process = self.process
        unknown = _unique(a.element_id for a in activations
                          if a.element_id not in process.elements and a.element_id not in process.flows)
        if unknown:
            raise _invalid(f"{self._prefix()} activate instructions with an element that could not be found: "
                           f"'{_join(unknown)}'")
        after_gateway = _unique(a.element_id for a in activations if a.element_id in process.elements and any(
            f.source.element_type == ElementType.EVENT_BASED_GATEWAY
            for f in process.elements[a.element_id].incoming))
        if after_gateway:
            raise _invalid(f"{self._prefix()} activate instructions for elements that are unsupported: "
                           f"'{_join(after_gateway)}'. The activation of events belonging to an event-based gateway "
                           "is not supported.")
        unsupported: dict[str, str] = {}
        for a in activations:
            element_type = (ElementType.SEQUENCE_FLOW if a.element_id in process.flows
                            else process.elements[a.element_id].element_type)
            if element_type in _UNSUPPORTED:
                unsupported.setdefault(a.element_id, element_type)
        if unsupported:
            supported = ", ".join(t for t in ElementType if t not in _UNSUPPORTED)
            raise _invalid(f"{self._prefix()} activate instructions for elements that are unsupported: "
                           f"'{_join(list(unsupported))}'. The activation of elements with type "
                           f"'{_join(_unique(unsupported.values()))}' is not supported. Supported element types are: "
                           f"[{supported}].")
        nested = _unique(a.element_id for a in activations if _inside_multi_instance(process.elements[a.element_id]))
        if nested:
            raise _invalid(f"{self._prefix()} activate instructions for elements that are unsupported: "
                           f"'{_join(nested)}'. The activation of elements inside a multi-instance sub-process is not "
                           "supported.")

    def terminations(self, keys: list[int]) -> list[ElementInstance]:
        elements = self.engine.state.elements
        missing = _unique(k for k in keys if k not in elements or elements[k].state not in _LIVE)
        if missing:
            raise _invalid(f"{self._prefix()} terminate instructions with an element instance that could not be "
                           f"found: '{_join([str(k) for k in missing])}'")
        foreign = _unique(k for k in keys if elements[k].process_instance_key != self.root.key)
        if foreign:
            raise _invalid(f"{self._prefix()} terminate instructions with an element instance that does not belong "
                           f"to the modified process instance '{self.root.key}': '{_join([str(k) for k in foreign])}'")
        return [elements[k] for k in _unique(keys)]

    def variable_scopes(self, activations: list[ActivateInstruction]) -> None:
        elements = self.process.elements
        unknown = _unique(v.scope_id for a in activations for v in a.variables
                          if v.scope_id and v.scope_id not in elements)
        if unknown:
            raise _invalid(f"{self._prefix()} variable instructions with a scope element id that could not be "
                           f"found: '{_join(unknown)}'")
        outside = _unique(v.scope_id for a in activations for v in a.variables
                          if v.scope_id and v.scope_id != a.element_id
                          and v.scope_id not in _flow_scope_ids(elements[a.element_id]))
        if outside:
            raise _invalid(f"{self._prefix()} variable instructions with a scope element that doesn't belong to the "
                           f"activating element's flow scope ('{_join(outside)}'). These variables should be set "
                           "before or after the modification.")

    def ancestors(self, activations: list[ActivateInstruction]) -> None:
        elements = self.engine.state.elements
        chosen = [a for a in activations if a.ancestor_key > 0]
        missing = _unique(str(a.ancestor_key) for a in chosen
                          if a.ancestor_key not in elements
                          or elements[a.ancestor_key].state not in (ACTIVATING, ACTIVATED))
        if missing:
            raise _invalid(f"{self._prefix()} activate instructions with an ancestor scope key that does not exist, "
                           f"or is not in an active state: '{_join(missing)}'")
        foreign = _unique(str(a.ancestor_key) for a in chosen
                          if elements[a.ancestor_key].process_instance_key != self.root.key)
        if foreign:
            raise _invalid(f"{self._prefix()} activate instructions with an ancestor scope key that does not belong "
                           f"to the modified process instance: '{_join(foreign)}'")
        wrong = [f"\n- instance '{a.ancestor_key}' of element '{elements[a.ancestor_key].element_id}' is not an "
                 f"ancestor of element '{a.element_id}'" for a in chosen
                 if elements[a.ancestor_key].element_id not in _flow_scope_ids(self.process.elements[a.element_id])]
        if wrong:
            raise _invalid(f"{self._prefix()} activate instructions with an ancestor scope key that is not an "
                           f"ancestor of the element to activate:{''.join(wrong)}")

    def no_activation_in_terminated_scope(self, activations: list[ActivateInstruction],
                                          terminated: list[ElementInstance]) -> None:
        conflicts = []
        for instance in terminated:
            for a in activations:
                inside = (a.ancestor_key == instance.key if a.ancestor_key > 0
                          else instance.element_id in _flow_scope_ids(self.process.elements[a.element_id]))
                if inside:
                    conflicts.append(f"element '{a.element_id}' requires flow scope instance '{instance.key}' which "
                                     "is being terminated")
        if conflicts:
            raise _invalid(f"{self._prefix()} activate instructions for elements whose required flow scope instance "
                           f"is also being terminated: {', '.join(conflicts)}. Please provide a valid ancestor scope "
                           "key for the activation or avoid terminating the required flow scope.")


def _invalid(reason: str) -> Rejection:
    return Rejection(RejectionType.INVALID_ARGUMENT, reason, intent=INTENT)


def _identity(scope: _Scope) -> int:
    """An existing instance by its key, a planned one by the object (the same for every instruction)."""
    return scope.key if scope.instance is not None else -id(scope)


def _unique(items: Any) -> list[Any]:
    return list(dict.fromkeys(items))


def _join(items: list[str]) -> str:
    return "', '".join(items)


def _flow_scope_ids(node: FlowNode) -> list[str]:
    ids = []
    scope = node.flow_scope
    while scope is not None:
        ids.append(scope.id)
        scope = scope.flow_scope
    return ids


def _inside_multi_instance(node: FlowNode) -> bool:
    scope = node.flow_scope
    while scope is not None:
        if scope.element_type == ElementType.MULTI_INSTANCE_BODY:
            return True
        scope = scope.flow_scope
    return False
