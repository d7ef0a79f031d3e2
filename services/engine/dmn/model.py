"""The parsed form of a DMN model (decision requirements graph) and its boxed expressions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class DmnError(Exception):
    """A DMN model that cannot be parsed or a decision that cannot be evaluated."""


# --- expressions -------------------------------------------------------------------------------


@dataclass(slots=True)
class LiteralExpr:
    id: str | None
    text: str
    type_ref: str | None = None
    compiled: Any = None  # CompiledExpression, or a FeelSyntaxError kept for evaluation time


@dataclass(slots=True)
class ContextExpr:
    id: str | None
    entries: list[tuple[str | None, str | None, Any]]  # (variable name or None for result, typeRef, expr)
    type_ref: str | None = None


@dataclass(slots=True)
class InvocationExpr:
    id: str | None
    callee: LiteralExpr
    bindings: list[tuple[str, Any]]  # (parameter name, expression or None)
    type_ref: str | None = None


@dataclass(slots=True)
class FunctionDefExpr:
    id: str | None
    params: list[tuple[str, str | None]]
    body: Any
    kind: str = "FEEL"
    type_ref: str | None = None


@dataclass(slots=True)
class ListExpr:
    id: str | None
    items: list[Any]
    type_ref: str | None = None


@dataclass(slots=True)
class RelationExpr:
    id: str | None
    columns: list[str]
    rows: list[list[Any]]
    type_ref: str | None = None


@dataclass(slots=True)
class ConditionalExpr:
    """DMN 1.5 boxed conditional: if / then / else."""

    id: str | None
    condition: Any
    then: Any
    otherwise: Any
    type_ref: str | None = None


@dataclass(slots=True)
class IterationExpr:
    """DMN 1.5 boxed for / some / every (kind) over ``source`` with ``variable`` bound."""

    id: str | None
    kind: str
    variable: str
    source: Any
    body: Any
    type_ref: str | None = None


@dataclass(slots=True)
class FilterExpr:
    """DMN 1.5 boxed filter: items of ``source`` for which ``match`` holds (``item`` bound)."""

    id: str | None
    source: Any
    match: Any
    type_ref: str | None = None


@dataclass(slots=True)
class DecisionInput:
    id: str
    label: str
    expression: LiteralExpr
    type_ref: str | None = None
    allowed: Any = None  # CompiledUnaryTests for inputValues


@dataclass(slots=True)
class DecisionOutput:
    id: str
    name: str
    label: str
    type_ref: str | None = None
    default: LiteralExpr | None = None
    allowed_values: list[Any] = field(default_factory=list)  # FEEL values, in priority order


@dataclass(slots=True)
class Rule:
    id: str
    input_entries: list[Any]  # CompiledUnaryTests (or FeelSyntaxError kept for evaluation time)
    output_entries: list[LiteralExpr]


@dataclass(slots=True)
class DecisionTable:
    id: str | None
    hit_policy: str
    aggregation: str | None
    inputs: list[DecisionInput]
    outputs: list[DecisionOutput]
    rules: list[Rule]
    type_ref: str | None = None


# --- DRG elements ------------------------------------------------------------------------------


@dataclass(slots=True)
class Decision:
    id: str
    name: str
    variable_name: str
    type_ref: str | None
    logic: Any  # one of the expression classes above, or None
    required_decisions: list[str] = field(default_factory=list)  # ids
    required_knowledge: list[str] = field(default_factory=list)  # ids of BKMs / decision services
    required_inputs: list[str] = field(default_factory=list)  # ids of input data

    @property
    def decision_type(self) -> str:
        return _DECISION_TYPES.get(type(self.logic), "UNKNOWN")


_DECISION_TYPES = {
    DecisionTable: "DECISION_TABLE",
    LiteralExpr: "LITERAL_EXPRESSION",
    ContextExpr: "CONTEXT",
    InvocationExpr: "INVOCATION",
    ListExpr: "LIST",
    RelationExpr: "RELATION",
    FunctionDefExpr: "FUNCTION_DEFINITION",
    ConditionalExpr: "CONDITIONAL",
    IterationExpr: "ITERATION",
    FilterExpr: "FILTER",
}


@dataclass(slots=True)
class BusinessKnowledgeModel:
    id: str
    name: str
    logic: FunctionDefExpr | None
    required_knowledge: list[str] = field(default_factory=list)


@dataclass(slots=True)
class InputData:
    id: str
    name: str
    type_ref: str | None


@dataclass(slots=True)
class DecisionService:
    id: str
    name: str
    output_decisions: list[str]
    encapsulated_decisions: list[str]
    input_decisions: list[str]
    input_data: list[str]


@dataclass(slots=True)
class ItemDefinition:
    name: str
    type_ref: str | None
    is_collection: bool = False
    components: list[ItemDefinition] = field(default_factory=list)
    allowed_values: Any = None  # CompiledUnaryTests
    is_function: bool = False


@dataclass(slots=True)
class DecisionRequirements:
    id: str
    name: str
    namespace: str
    resource_name: str
    decisions: list[Decision]
    bkms: list[BusinessKnowledgeModel] = field(default_factory=list)
    input_data: list[InputData] = field(default_factory=list)
    decision_services: list[DecisionService] = field(default_factory=list)
    item_definitions: dict[str, ItemDefinition] = field(default_factory=dict)

    def decision(self, key: str) -> Decision | None:
        for d in self.decisions:
            if d.id == key:
                return d
        for d in self.decisions:
            if d.name == key:
                return d
        return None

    def element(self, element_id: str) -> Any:
        for group in (self.decisions, self.bkms, self.input_data, self.decision_services):
            for e in group:
                if e.id == element_id:
                    return e
        return None
