"""Property tests: arbitrary text never makes the parser or evaluator fail with anything but a
FEEL error, and never hangs (hypothesis' deadline is the hang guard, generously 2 s)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.engine.feel import (
    FeelEvaluationError,
    FeelSyntaxError,
    compile_expression,
    compile_unary_tests,
    to_json,
)

HANG_GUARD = settings(
    deadline=timedelta(seconds=2),
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow],
)

TOKENS = [
    "x", "y", "items", "name", "item", "partial", "?", "1", "0", "-1", "2.5", "100", '"a"', '""', '"\\d+"',
    "true", "false", "null", "+", "-", "*", "/", "**", "=", "!=", "<", "<=", ">", ">=", "and", "or",
    "not", "(", ")", "[", "]", "{", "}", ",", ":", ".", "..", "if", "then", "else", "for", "in",
    "return", "some", "every", "satisfies", "between", "instance", "of", "number", "string", "function",
    "date", "time", "date and time", "duration", '"P1D"', '"2026-01-01"', "@", "sum", "count", "substring",
    "string length", "matches", "replace", "sort", "list contains", "get value", "context put", "now",
    "today", "abs", "floor", "`a b`", "//", "/*", "*/", "\n", " ",
]  # fmt: skip

VARIABLES: dict[str, Any] = {
    "x": 5,
    "y": "text",
    "items": [{"name": "a", "price": 3}, {"name": "b", "price": 12}],
    "name": None,
    "a b": [1, 2, 3],
}


def _check(source: str) -> None:
    try:
        expr = compile_expression(source)
    except FeelSyntaxError as e:
        assert e.line >= 1 and e.column >= 1
        assert "internal error" not in str(e), str(e)  # a defect caught by the safety net
        return
    try:
        result = expr.evaluate_detailed(VARIABLES, clock=lambda: 1_700_000_000_000)
    except FeelEvaluationError as e:
        assert "internal error" not in str(e), str(e)
        return
    assert isinstance(result.warnings, list)
    to_json(result.value)  # every FEEL value converts


def _check_tests(source: str) -> None:
    try:
        tests = compile_unary_tests(source)
    except FeelSyntaxError as e:
        assert "internal error" not in str(e), str(e)
        return
    try:
        assert tests.matches(Decimal(5), VARIABLES) in (True, False, None)
    except FeelEvaluationError as e:
        assert "internal error" not in str(e), str(e)
        return


@HANG_GUARD
@given(st.text(max_size=60))
def test_random_text(source: str) -> None:
    _check(source)
    _check_tests(source)


@HANG_GUARD
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup(tokens: list[str]) -> None:
    source = " ".join(tokens)
    _check(source)
    _check_tests(source)


@HANG_GUARD
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_token_soup_without_spaces(tokens: list[str]) -> None:
    _check("".join(tokens))


@HANG_GUARD
@given(st.recursive(
    st.sampled_from(["1", "x", '"s"', "null", "true", "[1, 2]", "{a: 1}", 'date("2026-01-01")']),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "=", "<", "and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        inner.map(lambda e: f"[{e}, {e}][1]"),
        inner.map(lambda e: f"if {e} then {e} else null"),
        inner.map(lambda e: f"for i in [{e}] return i"),
        inner.map(lambda e: f"string({e})"),
        inner.map(lambda e: f"{e}.a"),
    ),
    max_leaves=12,
))
def test_well_formed_expressions_evaluate(source: str) -> None:
    compile_expression(source)  # well-formed by construction: must parse
    _check(source)
