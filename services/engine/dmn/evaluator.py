"""Evaluates decisions of a parsed DRG the way Zeebe's DMN engine reports them.

Required decisions are evaluated first and their results are visible to the requiring decision
by variable name and by decision id; business knowledge models and decision services are
visible as FEEL functions. A failure stops the evaluation and is reported with the id of the
decision that failed, like Zeebe's EvaluateDecisionResponse.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from services.engine.feel import FeelError, FeelSyntaxError, to_feel, to_json
from services.engine.feel import runtime as rt
from services.engine.feel.compiler import TYPES_VAR
from services.engine.feel.values import NUMBER_CONTEXT, FeelFunction, repr_value

from .model import (
    BusinessKnowledgeModel,
    ConditionalExpr,
    ContextExpr,
    Decision,
    DecisionRequirements,
    DecisionService,
    DecisionTable,
    DmnError,
    FilterExpr,
    FunctionDefExpr,
    InvocationExpr,
    IterationExpr,
    ListExpr,
    LiteralExpr,
    RelationExpr,
    Rule,
)
from .types import coerce, conforms

Clock = Callable[[], int] | None
MAX_DEPTH = 64


class EvaluatedInput(NamedTuple):
    input_id: str
    input_name: str
    value: Any  # JSON


class EvaluatedOutput(NamedTuple):
    output_id: str
    output_name: str
    value: Any  # JSON


class MatchedRule(NamedTuple):
    rule_id: str
    rule_index: int  # 1-based
    evaluated_outputs: list[EvaluatedOutput]


class EvaluatedDecision(NamedTuple):
    decision_id: str
    decision_name: str
    decision_type: str
    output: Any  # JSON
    evaluated_inputs: list[EvaluatedInput]
    matched_rules: list[MatchedRule]


class DecisionResult(NamedTuple):
    decision_id: str
    decision_name: str
    output: Any  # JSON, None when the evaluation failed
    evaluated_decisions: list[EvaluatedDecision]
    failed_decision_id: str | None = None
    failure_message: str | None = None
    value: Any = None  # the FEEL value of the output

    @property
    def failed(self) -> bool:
        return self.failed_decision_id is not None


class _Failure(Exception):
    def __init__(self, decision_id: str, message: str) -> None:
        super().__init__(message)
        self.decision_id = decision_id
        self.message = message


class _Evaluation:
    def __init__(
        self,
        drg: DecisionRequirements,
        variables: Mapping[str, Any],
        clock: Clock,
        strict_types: bool,
        depth: int = 0,
    ) -> None:
        self.drg = drg
        self.variables = variables
        self.clock = clock
        self.strict = strict_types
        self.results: dict[str, Any] = {}
        self.evaluated: list[EvaluatedDecision] = []
        self.depth = depth
        self.current = ""
        self._knowledge: dict[str, Any] | None = None

    # -- scope ------------------------------------------------------------------------------

    def knowledge(self) -> dict[str, Any]:
        """BKMs and decision services as FEEL functions, by name."""
        if self._knowledge is None:
            self._knowledge = {}
            for b in self.drg.bkms:
                self._knowledge[b.name] = self.bkm_function(b)
            for s in self.drg.decision_services:
                self._knowledge[s.name] = self.service_function(s)
        return self._knowledge

    def scope_for(self, decision: Decision) -> Mapping[str, Any]:
        local: dict[str, Any] = {}
        for rid in decision.required_decisions:
            req = self.drg.element(rid)
            value = self.results[rid]
            local[req.name] = value
            local[req.id] = value
        return ChainMap(local, self.knowledge(), self.types(), _Inputs(self.drg, self.variables, self.strict))

    def types(self) -> dict[str, Any]:
        """Lets FEEL's 'instance of' see the model's item definitions."""
        items = self.drg.item_definitions

        def is_instance(name: str, value: Any) -> bool:
            if name not in items:
                return False
            return value is not None and conforms(value, name, items, check_allowed=False)

        return {TYPES_VAR: is_instance}

    def coerce(self, value: Any, type_ref: str | None) -> Any:
        if not self.strict or not type_ref:
            return value
        return coerce(value, type_ref, self.drg.item_definitions)

    # -- decisions ----------------------------------------------------------------------------

    def decision(self, d: Decision) -> Any:
        if d.id in self.results:
            return self.results[d.id]
        for rid in d.required_decisions:
            if rid not in self.results:
                self.decision(self.drg.element(rid))
        scope = self.scope_for(d)
        previous, self.current = self.current, d.id
        try:
            inputs: list[EvaluatedInput] = []
            rules: list[MatchedRule] = []
            if isinstance(d.logic, DecisionTable):
                value = self.table(d.logic, scope, inputs, rules)
            elif d.logic is None:
                raise _Failure(d.id, f"decision '{d.id}' has no decision logic")
            else:
                value = self.expression(d.logic, scope)
            value = self.coerce(value, d.type_ref)
        finally:
            self.current = previous
        self.results[d.id] = value
        self.evaluated.append(EvaluatedDecision(d.id, d.name, d.decision_type, to_json(value), inputs, rules))
        return value

    # -- boxed expressions ---------------------------------------------------------------------

    def feel(self, lit: LiteralExpr, scope: Mapping[str, Any]) -> Any:
        compiled = lit.compiled
        if compiled is None:
            return None
        if isinstance(compiled, FeelSyntaxError):
            raise _Failure(self.current, str(compiled))
        try:
            return compiled.evaluate(scope, self.clock)
        except FeelError as e:
            raise _Failure(self.current, str(e)) from None

    def expression(self, expr: Any, scope: Mapping[str, Any]) -> Any:
        if expr is None:
            return None
        if isinstance(expr, LiteralExpr):
            return self.coerce(self.feel(expr, scope), expr.type_ref)
        if isinstance(expr, ContextExpr):
            result: dict[str, Any] = {}
            inner = ChainMap(result, scope)
            for name, type_ref, e in expr.entries:
                value = self.coerce(self.expression(e, inner), type_ref)
                if name is None:
                    return value
                result[name] = value
            return result
        if isinstance(expr, InvocationExpr):
            return self.invocation(expr, scope)
        if isinstance(expr, FunctionDefExpr):
            return self.function(expr, scope, "anonymous function")
        if isinstance(expr, ListExpr):
            return [self.expression(i, scope) for i in expr.items]
        if isinstance(expr, RelationExpr):
            return [
                {c: self.expression(cell, scope) for c, cell in zip(expr.columns, row, strict=True)}
                for row in expr.rows
            ]
        if isinstance(expr, DecisionTable):
            return self.table(expr, scope, [], [])
        if isinstance(expr, ConditionalExpr):
            chosen = expr.then if self.boolean(expr.condition, scope, "if") else expr.otherwise
            return self.coerce(self.expression(chosen, scope), expr.type_ref)
        if isinstance(expr, FilterExpr | IterationExpr):
            return self.coerce(self.iterate(expr, scope), expr.type_ref)
        raise _Failure(self.current, f"unsupported expression {type(expr).__name__}")

    def iterate(self, expr: FilterExpr | IterationExpr, scope: Mapping[str, Any]) -> Any:
        items = self.expression(expr.source, scope)
        if items is None:
            return None
        if not isinstance(items, list):
            items = [items]
        if isinstance(expr, FilterExpr):
            out = []
            for item in items:
                local = {"item": item, **item} if isinstance(item, dict) else {"item": item}
                if self.boolean(expr.match, ChainMap(local, scope), "match"):
                    out.append(item)
            return out
        if expr.kind == "for":
            return [self.expression(expr.body, ChainMap({expr.variable: i}, scope)) for i in items]
        results = [self.boolean(expr.body, ChainMap({expr.variable: i}, scope), "satisfies") for i in items]
        return any(results) if expr.kind == "some" else all(results)

    def boolean(self, expr: Any, scope: Mapping[str, Any], part: str) -> bool:
        # boxed expressions are stricter than FEEL's 'if': a non-boolean is an error (DMN 1.5)
        value = self.expression(expr, scope)
        if not isinstance(value, bool):
            raise _Failure(self.current, f"the '{part}' of a boxed expression gave '{repr_value(value)}', not a boolean")
        return value

    def invocation(self, expr: InvocationExpr, scope: Mapping[str, Any]) -> Any:
        fn = self.feel(expr.callee, scope)
        if not isinstance(fn, FeelFunction):
            raise _Failure(self.current, f"'{expr.callee.text}' is not a function")
        named = {p: self.expression(e, scope) for p, e in expr.bindings}
        args = rt.bind_named(fn, named)
        if args is None:
            raise _Failure(self.current, f"function '{expr.callee.text}' has no parameters {list(named)}")
        ctl = rt.Ctl(self.clock)
        try:
            return rt.invoke(ctl, fn, args)
        except FeelError as e:
            raise _Failure(self.current, str(e)) from None

    def function(self, expr: FunctionDefExpr, scope: Mapping[str, Any], name: str) -> FeelFunction:
        if expr.kind.upper() != "FEEL":
            def unsupported(ctl: Any, *args: Any) -> Any:
                raise rt.InvocationFailure(f"{expr.kind} functions are not supported")

            return FeelFunction(name, [p for p, _ in expr.params], unsupported, user=True)
        params = expr.params

        def invoke(ctl: Any, *args: Any) -> Any:
            if self.depth > MAX_DEPTH:
                raise rt.InvocationFailure("functions nested too deeply")
            local = {}
            for (p, type_ref), a in zip(params, args, strict=False):
                value = self.coerce(a, type_ref)
                if value is None and a is not None:
                    raise rt.InvocationFailure(f"parameter '{p}' does not conform to type '{type_ref}'")
                local[p] = value
            self.depth += 1
            try:
                return self.expression(expr.body, ChainMap(local, scope))
            except _Failure as f:
                raise rt.InvocationFailure(f.message) from None
            finally:
                self.depth -= 1

        return FeelFunction(name, [p for p, _ in params], invoke, user=True)

    def bkm_function(self, bkm: BusinessKnowledgeModel) -> FeelFunction:
        if bkm.logic is None:
            return FeelFunction(bkm.name, [], lambda ctl: None, user=True)
        scope = _LazyKnowledge(self)
        return self.function(bkm.logic, ChainMap(scope, _Inputs(self.drg, self.variables, self.strict)), bkm.name)

    def service_function(self, svc: DecisionService) -> FeelFunction:
        # input data first, then input decisions (the order the TCK's positional calls use)
        params = [self.drg.element(i).name for i in (*svc.input_data, *svc.input_decisions) if self.drg.element(i)]

        def invoke(ctl: Any, *args: Any) -> Any:
            values = dict(zip(params, args, strict=False))
            sub = _Evaluation(self.drg, values, self.clock, self.strict, self.depth + 1)
            if sub.depth > MAX_DEPTH:
                raise rt.InvocationFailure("decision services nested too deeply")
            for did in svc.input_decisions:
                d = self.drg.element(did)
                sub.results[did] = values.get(d.name)
            try:
                outs = {}
                for did in svc.output_decisions:
                    d = self.drg.element(did)
                    outs[d.name] = sub.decision(d)
            except _Failure as f:
                raise rt.InvocationFailure(f.message) from None
            if len(outs) == 1:
                return next(iter(outs.values()))
            return outs

        return FeelFunction(svc.name, params, invoke, user=True)

    # -- decision tables -----------------------------------------------------------------------

    def table(
        self,
        table: DecisionTable,
        scope: Mapping[str, Any],
        evaluated_inputs: list[EvaluatedInput],
        matched: list[MatchedRule],
    ) -> Any:
        values = []
        for i in table.inputs:
            v = self.coerce(self.feel(i.expression, scope), i.type_ref)
            values.append(v)
            evaluated_inputs.append(EvaluatedInput(i.id, i.label, to_json(v)))
        hits: list[tuple[int, Rule, list[Any]]] = []
        scopes: list[Any] = [None] * len(values)  # one '?' scope per input, made when first needed
        for n, rule in enumerate(table.rules):
            if self.rule_matches(rule, values, scope, scopes):
                outs = [self.coerce(self.feel(o, scope), out.type_ref) for o, out in zip(rule.output_entries, table.outputs, strict=True)]
                hits.append((n, rule, outs))
                if table.hit_policy == "FIRST":
                    break
        names = [o.name for o in table.outputs]
        hits = self.apply_hit_policy(table, hits)
        for n, rule, outs in hits:
            matched.append(
                MatchedRule(
                    rule.id,
                    n + 1,
                    [EvaluatedOutput(o.id, o.name, to_json(v)) for o, v in zip(table.outputs, outs, strict=True)],
                )
            )
        single = table.hit_policy in ("UNIQUE", "FIRST", "PRIORITY", "ANY")

        def shape(outs: list[Any]) -> Any:
            return outs[0] if len(names) == 1 else dict(zip(names, outs, strict=True))

        if not hits:
            # as Zeebe's engine: the default output entries, or null, whatever the hit policy
            with_default = [(o.name, self.feel(o.default, scope)) for o in table.outputs if o.default]
            if not with_default:
                return None
            return with_default[0][1] if len(with_default) == 1 else dict(with_default)
        if single:
            return shape(hits[0][2])
        if table.aggregation:
            if len(names) != 1:
                raise _Failure(self.current, "an aggregation needs a table with a single output")
            return self.aggregate(table.aggregation, [outs[0] for _, _, outs in hits])
        return [shape(outs) for _, _, outs in hits]

    def rule_matches(self, rule: Rule, values: list[Any], scope: Mapping[str, Any], scopes: list[Any]) -> bool:
        for i, (tests, v) in enumerate(zip(rule.input_entries, values, strict=True)):
            if isinstance(tests, FeelSyntaxError):
                raise _Failure(self.current, str(tests))
            try:
                if scopes[i] is None:
                    scopes[i] = tests.input_scope(v, scope, self.clock)
                if tests.matches_in(scopes[i]) is not True:
                    return False
            except FeelError as e:
                raise _Failure(self.current, f"rule '{rule.id}': {e}") from None
        return True

    def apply_hit_policy(self, table: DecisionTable, hits: list[Any]) -> list[Any]:
        policy = table.hit_policy
        if policy == "UNIQUE" and len(hits) > 1:
            ids = ", ".join(f"'{r.id}'" for _, r, _ in hits)
            raise _Failure(self.current, f"Hit policy 'UNIQUE' only allows a single rule to match. Multiple rules matched: [{ids}]")
        if policy == "ANY" and len(hits) > 1:
            first = hits[0][2]
            for _, r, outs in hits[1:]:
                if any(rt.equal(a, b) is not True for a, b in zip(first, outs, strict=True)):
                    raise _Failure(
                        self.current,
                        f"Hit policy 'ANY' only allows multiple matched rules with equal output. Rule '{r.id}' differs",
                    )
            return hits[:1]
        if policy in ("PRIORITY", "OUTPUT ORDER"):
            def priority(hit: Any) -> tuple[int, ...]:
                key = []
                for out, v in zip(table.outputs, hit[2], strict=True):
                    allowed = out.allowed_values
                    idx = next((k for k, a in enumerate(allowed) if rt.equal(a, v) is True), len(allowed))
                    key.append(idx)
                return (*key, hit[0])

            hits = sorted(hits, key=priority)
            return hits[:1] if policy == "PRIORITY" else hits
        return hits

    def aggregate(self, agg: str, values: list[Any]) -> Any:
        present = [v for v in values if v is not None]
        if agg == "COUNT":
            return Decimal(len(present))
        if not present:
            return None
        try:
            if agg == "SUM":
                total = Decimal(0)
                for v in present:
                    if not isinstance(v, Decimal):
                        raise TypeError(repr_value(v))
                    total = NUMBER_CONTEXT.add(total, v)
                return total
            kinds = {type(v) for v in present}
            if len(kinds) > 1:
                raise TypeError("values of different types")
            return min(present) if agg == "MIN" else max(present)
        except TypeError as e:
            raise _Failure(self.current, f"can't aggregate with {agg}: {e}") from None


class _Inputs(Mapping[str, Any]):
    """The caller's variables as FEEL values (input data is read from them by name)."""

    def __init__(self, drg: DecisionRequirements, variables: Mapping[str, Any], strict: bool) -> None:
        self.variables = variables
        self.types = {i.name: i.type_ref for i in drg.input_data} if strict else {}
        self.items = drg.item_definitions

    def __getitem__(self, key: str) -> Any:
        value = to_feel(self.variables[key])
        type_ref = self.types.get(key)
        if type_ref:
            value = coerce(value, type_ref, self.items)
        return value

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.variables)

    def __len__(self) -> int:
        return len(self.variables)


class _LazyKnowledge(Mapping[str, Any]):
    """BKM bodies see the other BKMs (and themselves, for recursion) once all are defined."""

    def __init__(self, ev: _Evaluation) -> None:
        self.ev = ev

    def __getitem__(self, key: str) -> Any:
        return self.ev.knowledge()[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.ev.knowledge())

    def __len__(self) -> int:
        return len(self.ev.knowledge())


def evaluate_decision(
    drg: DecisionRequirements,
    decision_id: str,
    variables: Mapping[str, Any] | None = None,
    clock: Clock = None,
    *,
    strict_types: bool = False,
) -> DecisionResult:
    """Evaluate a decision (by id, or by name if no id matches) and the decisions it requires.

    ``strict_types`` applies DMN type conformance (a value that does not conform to the
    declared typeRef becomes null); Zeebe does not, so the engine leaves it off.
    """
    decision = drg.decision(decision_id)
    if decision is None:
        raise DmnError(f"{drg.resource_name}: no decision with id '{decision_id}'")
    ev = _Evaluation(drg, variables if variables is not None else {}, clock, strict_types)
    try:
        value = ev.decision(decision)
    except _Failure as f:
        return DecisionResult(decision.id, decision.name, None, ev.evaluated, f.decision_id or decision.id, f.message)
    except RecursionError:
        return DecisionResult(decision.id, decision.name, None, ev.evaluated, ev.current or decision.id, "evaluation nested too deeply")
    except Exception as e:  # a defect of ours becomes a failed evaluation (an incident), not a crash
        message = f"internal error: {type(e).__name__}: {e}"
        return DecisionResult(decision.id, decision.name, None, ev.evaluated, ev.current or decision.id, message)
    return DecisionResult(decision.id, decision.name, to_json(value), ev.evaluated, value=value)
