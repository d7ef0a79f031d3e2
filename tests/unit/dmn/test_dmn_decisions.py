"""DMN decision tables, literal expressions and requirements, from DMN 1.5 chapter 8 (tables)
and Zeebe's conventions for results (single output: the value; several: a context; collect: a
list; no match: null)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import pytest

from services.engine.dmn import DmnError, evaluate_decision, parse_dmn

NS = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def definitions(body: str, *, id: str = "defs", name: str = "Definitions") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<definitions xmlns="{NS}" id="{id}" name="{name}" namespace="http://qianliyan/dmn">{body}</definitions>'
    ).encode()


def table(
    decision_id: str,
    inputs: list[str],
    outputs: list[str],
    rules: list[tuple[list[str], list[str]]],
    *,
    hit_policy: str = "UNIQUE",
    aggregation: str | None = None,
    output_values: dict[str, str] | None = None,
    defaults: dict[str, str] | None = None,
    requires: list[str] = (),
) -> str:
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    parts = [f'<decision id="{decision_id}" name="{decision_id} name">']
    for r in requires:
        parts.append(f'<informationRequirement><requiredDecision href="#{r}"/></informationRequirement>')
    parts.append(f'<decisionTable id="{decision_id}_table" hitPolicy="{hit_policy}"{agg}>')
    for n, expr in enumerate(inputs):
        parts.append(
            f'<input id="in{n + 1}" label="Input {n + 1}"><inputExpression><text>{escape(expr)}</text>'
            "</inputExpression></input>"
        )
    for n, out in enumerate(outputs):
        parts.append(f'<output id="out{n + 1}" name="{out}">')
        if output_values and out in output_values:
            parts.append(f"<outputValues><text>{escape(output_values[out])}</text></outputValues>")
        if defaults and out in defaults:
            parts.append(f"<defaultOutputEntry><text>{escape(defaults[out])}</text></defaultOutputEntry>")
        parts.append("</output>")
    for n, (ins, outs) in enumerate(rules):
        parts.append(f'<rule id="r{n + 1}">')
        parts += [f"<inputEntry><text>{escape(i)}</text></inputEntry>" for i in ins]
        parts += [f"<outputEntry><text>{escape(o)}</text></outputEntry>" for o in outs]
        parts.append("</rule>")
    parts.append("</decisionTable></decision>")
    return "".join(parts)


def literal(decision_id: str, text: str, requires: list[str] = (), knowledge: list[str] = ()) -> str:
    reqs = "".join(f'<informationRequirement><requiredDecision href="#{r}"/></informationRequirement>' for r in requires)
    kreqs = "".join(f'<knowledgeRequirement><requiredKnowledge href="#{k}"/></knowledgeRequirement>' for k in knowledge)
    return (
        f'<decision id="{decision_id}" name="{decision_id}">{reqs}{kreqs}'
        f"<literalExpression><text>{escape(text)}</text></literalExpression></decision>"
    )


def run(body: str, decision: str, variables: dict[str, Any]) -> Any:
    drg = parse_dmn(definitions(body), "test.dmn")
    return evaluate_decision(drg, decision, variables)


RISK = table(
    "risk",
    ["amount", "country"],
    ["level"],
    [
        (["< 1000", "-"], ['"low"']),
        (["[1000..10000]", '"CN"'], ['"medium"']),
        (["[1000..10000]", 'not("CN")'], ['"high"']),
        (["> 10000", "-"], ['"high"']),
    ],
)


# --- single hit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "country", "expected"),
    [(500, "CN", "low"), (5000, "CN", "medium"), (5000, "US", "high"), (20000, "CN", "high"), (None, "CN", None)],
)
def test_unique_table(amount: Any, country: str, expected: str | None) -> None:
    result = run(RISK, "risk", {"amount": amount, "country": country})
    assert result.failed_decision_id is None, result.failure_message
    assert result.output == expected


def test_unique_reports_inputs_and_matched_rule() -> None:
    result = run(RISK, "risk", {"amount": 5000, "country": "US"})
    [evaluated] = result.evaluated_decisions
    assert evaluated.decision_id == "risk"
    assert evaluated.decision_name == "risk name"
    assert evaluated.decision_type == "DECISION_TABLE"
    assert evaluated.output == "high"
    assert evaluated.evaluated_inputs == [("in1", "Input 1", 5000), ("in2", "Input 2", "US")]
    assert evaluated.matched_rules == [("r3", 3, [("out1", "level", "high")])]


def test_unique_with_two_matches_fails() -> None:
    body = table("d", ["x"], ["o"], [(["> 1"], ['"a"']), (["> 2"], ['"b"'])])
    result = run(body, "d", {"x": 5})
    assert result.output is None
    assert result.failed_decision_id == "d"
    assert "UNIQUE" in result.failure_message and "'r1', 'r2'" in result.failure_message


def test_first() -> None:
    body = table("d", ["x"], ["o"], [(["> 1"], ['"a"']), (["> 2"], ['"b"'])], hit_policy="FIRST")
    assert run(body, "d", {"x": 5}).output == "a"
    assert run(body, "d", {"x": 0}).output is None


def test_priority_uses_output_values_order() -> None:
    body = table(
        "d", ["x"], ["o"],
        [(["> 1"], ['"low"']), (["> 2"], ['"high"']), (["> 3"], ['"medium"'])],
        hit_policy="PRIORITY", output_values={"o": '"high","medium","low"'},
    )  # fmt: skip
    result = run(body, "d", {"x": 5})
    assert result.output == "high"
    assert [r.rule_id for r in result.evaluated_decisions[0].matched_rules] == ["r2"]


def test_any_with_equal_outputs() -> None:
    body = table("d", ["x"], ["o"], [(["> 1"], ['"a"']), (["> 2"], ['"a"'])], hit_policy="ANY")
    assert run(body, "d", {"x": 5}).output == "a"


def test_any_with_different_outputs_fails() -> None:
    body = table("d", ["x"], ["o"], [(["> 1"], ['"a"']), (["> 2"], ['"b"'])], hit_policy="ANY")
    result = run(body, "d", {"x": 5})
    assert result.failed_decision_id == "d"
    assert "ANY" in result.failure_message


# --- multiple hits -----------------------------------------------------------------------------------

COLLECT_RULES = [(["> 1"], ["10"]), (["> 2"], ["20"]), (["> 3"], ["5"]), (["> 100"], ["1"])]


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [(None, [10, 20, 5]), ("SUM", 35), ("MIN", 5), ("MAX", 20), ("COUNT", 3)],
)
def test_collect(aggregation: str | None, expected: Any) -> None:
    body = table("d", ["x"], ["o"], COLLECT_RULES, hit_policy="COLLECT", aggregation=aggregation)
    result = run(body, "d", {"x": 5})
    assert result.output == expected
    assert [r.rule_index for r in result.evaluated_decisions[0].matched_rules] == [1, 2, 3]


@pytest.mark.parametrize("aggregation", [None, "SUM", "COUNT"])
def test_collect_without_match_is_null(aggregation: str | None) -> None:
    # Zeebe's engine gives null (or the default outputs) when no rule matches, whatever the policy
    body = table("d", ["x"], ["o"], COLLECT_RULES, hit_policy="COLLECT", aggregation=aggregation)
    result = run(body, "d", {"x": 0})
    assert result.failed_decision_id is None
    assert result.output is None
    assert result.evaluated_decisions[0].matched_rules == []


def test_rule_order() -> None:
    body = table("d", ["x"], ["o"], [(["> 3"], ['"c"']), (["> 1"], ['"a"'])], hit_policy="RULE ORDER")
    assert run(body, "d", {"x": 5}).output == ["c", "a"]


def test_output_order() -> None:
    body = table(
        "d", ["x"], ["o"],
        [(["> 1"], ['"low"']), (["> 2"], ['"high"']), (["> 3"], ['"medium"'])],
        hit_policy="OUTPUT ORDER", output_values={"o": '"high","medium","low"'},
    )  # fmt: skip
    assert run(body, "d", {"x": 5}).output == ["high", "medium", "low"]


def test_several_outputs_give_contexts() -> None:
    body = table(
        "d", ["x"], ["label", "score"],
        [(["> 1"], ['"a"', "1"]), (["> 2"], ['"b"', "2"])],
        hit_policy="COLLECT",
    )  # fmt: skip
    assert run(body, "d", {"x": 5}).output == [{"label": "a", "score": 1}, {"label": "b", "score": 2}]
    single = table("s", ["x"], ["label", "score"], [(["-"], ['"a"', "x * 2"])])
    assert run(single, "s", {"x": 5}).output == {"label": "a", "score": 10}


def test_default_output_when_nothing_matches() -> None:
    body = table("d", ["x"], ["o"], [(["> 10"], ['"big"'])], defaults={"o": '"none"'})
    assert run(body, "d", {"x": 5}).output == "none"
    assert run(body, "d", {"x": 50}).output == "big"


def test_input_entries_can_use_variables_and_question_mark() -> None:
    body = table("d", ["amount"], ["o"], [(["? > limit"], ['"over"']), (["<= limit"], ['"ok"'])])
    assert run(body, "d", {"amount": 50, "limit": 10}).output == "over"
    assert run(body, "d", {"amount": 5, "limit": 10}).output == "ok"


def test_dates_in_tables() -> None:
    body = table(
        "d", ["date(due)"], ["o"],
        [(['< date("2026-01-01")'], ['"overdue"']), (['>= date("2026-01-01")'], ['"open"'])],
    )  # fmt: skip
    assert run(body, "d", {"due": "2025-12-31"}).output == "overdue"


# --- literal expressions and requirements ----------------------------------------------------------


def test_literal_expression() -> None:
    result = run(literal("total", "sum(for i in items return i.qty * i.price)"), "total",
                 {"items": [{"qty": 2, "price": 1.5}, {"qty": 1, "price": 2}]})  # fmt: skip
    assert result.output == 5
    assert result.evaluated_decisions[0].decision_type == "LITERAL_EXPRESSION"
    assert result.evaluated_decisions[0].matched_rules == []


def test_required_decisions_are_evaluated_first() -> None:
    body = (
        literal("base", "amount * 2")
        + literal("bonus", "base + 1", requires=["base"])
        + table("final", ["bonus"], ["o"], [(["> 10"], ['"big"']), (["<= 10"], ['"small"'])], requires=["bonus"])
    )
    result = run(body, "final", {"amount": 10})
    assert result.output == "big"
    assert [d.decision_id for d in result.evaluated_decisions] == ["base", "bonus", "final"]
    assert [d.output for d in result.evaluated_decisions] == [20, 21, "big"]


def test_required_decision_results_by_id() -> None:
    body = '<decision id="d_base" name="Base Amount"><literalExpression><text>7</text></literalExpression></decision>'
    body += literal("uses", "d_base + Base Amount", requires=["d_base"])
    assert run(body, "uses", {}).output == 14


def test_bkm_invocation() -> None:
    body = (
        '<businessKnowledgeModel id="fee" name="fee"><encapsulatedLogic>'
        '<formalParameter name="amount"/><formalParameter name="rate"/>'
        "<literalExpression><text>amount * rate</text></literalExpression>"
        "</encapsulatedLogic></businessKnowledgeModel>"
        + literal("d", "fee(100, 0.05)", knowledge=["fee"])
        + '<decision id="inv" name="inv"><knowledgeRequirement><requiredKnowledge href="#fee"/></knowledgeRequirement>'
        "<invocation><literalExpression><text>fee</text></literalExpression>"
        '<binding><parameter name="amount"/><literalExpression><text>x</text></literalExpression></binding>'
        '<binding><parameter name="rate"/><literalExpression><text>0.1</text></literalExpression></binding>'
        "</invocation></decision>"
    )
    assert run(body, "d", {}).output == 5
    result = run(body, "inv", {"x": 30})
    assert result.output == 3
    assert result.evaluated_decisions[0].decision_type == "INVOCATION"


def test_context_decision() -> None:
    body = (
        '<decision id="c" name="c"><context>'
        '<contextEntry><variable name="net"/><literalExpression><text>gross / 1.13</text></literalExpression></contextEntry>'
        '<contextEntry><variable name="tax"/><literalExpression><text>gross - net</text></literalExpression></contextEntry>'
        "</context></decision>"
    )
    out = run(body, "c", {"gross": 113}).output
    assert out == {"net": 100, "tax": 13}


def test_failure_names_the_failing_decision() -> None:
    body = literal("base", 'assert(amount, amount > 0, "amount must be positive")') + literal(
        "top", "base * 2", requires=["base"]
    )
    result = run(body, "top", {"amount": -1})
    assert result.output is None
    assert result.failed_decision_id == "base"
    assert "amount must be positive" in result.failure_message
    assert result.evaluated_decisions == []


def test_missing_variable_gives_null_not_failure() -> None:
    result = run(literal("d", "missing + 1"), "d", {})
    assert result.failed_decision_id is None
    assert result.output is None


def test_decision_by_name_and_unknown_decision() -> None:
    drg = parse_dmn(definitions(RISK), "risk.dmn")
    assert evaluate_decision(drg, "risk name", {"amount": 1}).output == "low"
    with pytest.raises(DmnError, match=r"risk\.dmn.*'nope'"):
        evaluate_decision(drg, "nope", {})


def test_model_names_with_keywords_and_dashes() -> None:
    # FEEL alone would read "days in weekend" as an 'in' test and "Employee-ID" as a subtraction
    body = (
        '<decision id="w" name="days in weekend"><literalExpression><text>["sat", "sun"]</text>'
        "</literalExpression></decision>"
        '<inputData id="e" name="Employee-ID"/>'
        '<decision id="d" name="d"><informationRequirement><requiredDecision href="#w"/></informationRequirement>'
        '<informationRequirement><requiredInput href="#e"/></informationRequirement>'
        '<literalExpression><text>for x in days in weekend return x + "-" + Employee-ID</text></literalExpression>'
        "</decision>"
    )
    assert run(body, "d", {"Employee-ID": "E7"}).output == ["sat-E7", "sun-E7"]


def test_instance_of_item_definitions() -> None:
    body = (
        '<itemDefinition name="tScore"><typeRef>number</typeRef>'
        "<allowedValues><text>[0..100]</text></allowedValues></itemDefinition>"
        '<itemDefinition name="tNames" isCollection="true"><typeRef>string</typeRef></itemDefinition>'
        + literal("a", "[150 instance of tScore, \"x\" instance of tScore, [\"a\"] instance of tNames, 1 instance of tNope]")
        + literal("b", "(function(s: tScore) s + 1)(5)")
    )
    # instance of checks the type, not the allowed values (DMN 1.5 10.3.2.9.1)
    assert run(body, "a", {}).output == [True, False, True, False]
    assert run(body, "b", {}).output == 6


def _boxed(decision_id: str, xml: str) -> str:
    return f'<decision id="{decision_id}" name="{decision_id}">{xml}</decision>'


def _lit(text: str) -> str:
    return f"<literalExpression><text>{escape(text)}</text></literalExpression>"


def test_boxed_conditional_filter_and_iterators() -> None:
    big, small, yes = _lit('"big"'), _lit('"small"'), _lit('"yes"')
    in_list = "<in>" + _lit("[1, 2, 3]") + "</in>"
    body = (
        _boxed("cond", f"<conditional><if>{_lit('x > 1')}</if><then>{big}</then><else>{small}</else></conditional>")
        + _boxed("filt", f"<filter><in>{_lit('items')}</in><match>{_lit('price > 10')}</match></filter>")
        + _boxed("for", f'<for iteratorVariable="i">{in_list}<return>{_lit("i * x")}</return></for>')
        + _boxed("some", f'<some iteratorVariable="i">{in_list}<satisfies>{_lit("i > x")}</satisfies></some>')
        + _boxed("every", f'<every iteratorVariable="i">{in_list}<satisfies>{_lit("i > x")}</satisfies></every>')
        + _boxed("bad", f"<conditional><if>{yes}</if><then>{_lit('1')}</then><else>{_lit('2')}</else></conditional>")
    )
    variables = {"x": 2, "items": [{"price": 5}, {"price": 20}]}
    assert run(body, "cond", variables).output == "big"
    assert run(body, "filt", variables).output == [{"price": 20}]
    assert run(body, "for", variables).output == [2, 4, 6]
    assert run(body, "some", variables).output is True
    assert run(body, "every", variables).output is False
    bad = run(body, "bad", variables)
    assert bad.failed_decision_id == "bad"
    assert "not a boolean" in bad.failure_message
    assert run(body, "cond", variables).evaluated_decisions[0].decision_type == "CONDITIONAL"
