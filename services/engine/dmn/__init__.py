"""DMN 1.5 decisions for the engine: parse a DRG once, evaluate decisions as Zeebe reports them.

    drg = parse_dmn(xml_bytes, "risk.dmn")
    result = evaluate_decision(drg, "risk", {"amount": 1200})
    result.output                 # JSON-shaped value (single output: the value; several: a dict)
    result.evaluated_decisions    # dependencies first, with inputs and matched rules
    result.failed_decision_id, result.failure_message   # set when the evaluation failed
"""

from __future__ import annotations

from .evaluator import (
    DecisionResult,
    EvaluatedDecision,
    EvaluatedInput,
    EvaluatedOutput,
    MatchedRule,
    evaluate_decision,
)
from .model import Decision, DecisionRequirements, DmnError
from .parser import parse_dmn

__all__ = [
    "Decision",
    "DecisionRequirements",
    "DecisionResult",
    "DmnError",
    "EvaluatedDecision",
    "EvaluatedInput",
    "EvaluatedOutput",
    "MatchedRule",
    "evaluate_decision",
    "parse_dmn",
]
