"""Parse errors (positions and expectations), unary tests, and JSON conversion."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.engine.feel import (
    FeelError,
    FeelEvaluationError,
    FeelSyntaxError,
    compile_expression,
    compile_unary_tests,
    to_feel,
    to_json,
)
from services.engine.feel.values import Range, YearMonthDuration

# --- parse errors --------------------------------------------------------------------------------

SYNTAX_ERRORS: list[tuple[str, int, int, str]] = [
    # source, line, column, part of the expectation
    ("", 1, 1, "an expression"),
    ("1 +", 1, 4, "an expression"),
    ("x >", 1, 4, "an expression"),
    ("(1 + 2", 1, 7, "')'"),
    ("[1, 2", 1, 6, "']'"),
    ("{a: 1", 1, 6, "'}'"),
    ("{a 1}", 1, 5, "context key"),
    ('"unclosed', 1, 1, "string closed"),
    ("if x then 1", 1, 12, "'else'"),
    ("for x in [1] x", 1, 14, "'return'"),
    ("some x in [1] x > 1", 1, 15, "'satisfies'"),
    ("1 2", 1, 3, "operator or the end"),
    ("a #", 1, 3, "unexpected character"),
    ("x +\n  * 2", 2, 3, "an expression"),
    ("/* open comment", 1, 1, "'*/'"),
    ("`unclosed", 1, 1, "'`'"),
    ("@123", 1, 2, "string after '@'"),
    ("f(a: 1, 2)", 1, 9, "a name"),
    ("x instance of", 1, 14, "type name"),
    ("[1..2", 1, 6, "close the range"),
]


@pytest.mark.parametrize(("source", "line", "column", "expected"), SYNTAX_ERRORS)
def test_syntax_error_position(source: str, line: int, column: int, expected: str) -> None:
    with pytest.raises(FeelSyntaxError) as info:
        compile_expression(source)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert expected in err.expected or expected in str(err), str(err)
    assert f"line {line}, column {column}" in str(err)


def test_syntax_error_is_a_feel_error() -> None:
    with pytest.raises(FeelError):
        compile_expression("1 +")


def test_deep_nesting_is_a_syntax_error() -> None:
    with pytest.raises(FeelSyntaxError, match="nested"):
        compile_expression("(" * 5000 + "1" + ")" * 5000)
    with pytest.raises(FeelSyntaxError):
        compile_expression("-" * 5000 + "1")
    with pytest.raises(FeelSyntaxError):
        compile_expression("[" * 3000 + "]" * 3000)


def test_long_flat_expressions_parse() -> None:
    source = " + ".join(["1"] * 300)
    assert compile_expression(source).evaluate({}) == Decimal(300)
    # much longer chains are refused as too deep rather than crashing the interpreter
    with pytest.raises(FeelSyntaxError):
        compile_expression(" + ".join(["1"] * 5000))


def test_impossible_temporal_literal_is_null() -> None:
    # Camunda parses @"2023-02-29" and evaluates it to null
    assert compile_expression('@"2023-02-29"').evaluate({}) is None
    assert compile_expression('@"not a date"').evaluate({}) is None


def test_question_mark_outside_tests_raises() -> None:
    with pytest.raises(FeelEvaluationError, match="unary-test"):
        compile_expression("? + 1").evaluate({})


# --- unary tests ---------------------------------------------------------------------------------

UNARY: list[tuple[str, Any, dict[str, Any], Any]] = [
    ("-", 5, {}, True),
    ("-", None, {}, True),
    ("5", 5, {}, True),
    ("5", 6, {}, False),
    ('"a"', "a", {}, True),
    ('"a", "b"', "b", {}, True),
    ('"a", "b"', "c", {}, False),
    ("< 10", 5, {}, True),
    ("< 10", 10, {}, False),
    ("<= 10", 10, {}, True),
    ("> 10", 11, {}, True),
    (">= 10", 9, {}, False),
    ("[1..10]", 10, {}, True),
    ("[1..10)", 10, {}, False),
    ("]1..10]", 1, {}, False),
    ("(1..10)", 5, {}, True),
    ("< 10, [20..30], \"a\"", 25, {}, True),
    ("< 10, [20..30], \"a\"", 15, {}, None),
    ("< 10, [20..30]", 15, {}, False),
    ("not(5)", 5, {}, False),
    ("not(5)", 6, {}, True),
    ("not(< 10, > 20)", 15, {}, True),
    ("not(< 10, > 20)", 5, {}, False),
    ("true", True, {}, True),
    ("false", True, {}, False),
    ("null", None, {}, True),
    ("null", 1, {}, False),
    ("< limit", 5, {"limit": 10}, True),
    ("? > limit", 50, {"limit": 10}, True),
    ("? < 5 or ? > 10", 11, {}, True),
    ('starts with(?, "INV-")', "INV-42", {}, True),
    ('starts with(?, "INV-")', "PO-42", {}, False),
    ("[1, 2, 3]", 2, {}, True),
    ("[1, 2, 3]", 4, {}, False),
    ("allowed", "x", {"allowed": ["x", "y"]}, True),
    ('date("2026-01-01")', "2026-01-01", {}, None),  # a string is not a date: not comparable
    ('> date("2026-01-01")', dt.date(2026, 3, 1), {}, True),
    ('[date("2026-01-01")..date("2026-12-31")]', dt.date(2026, 3, 1), {}, True),
    ("< 10", "a", {}, None),
    ("count(?) > 1", [1, 2], {}, True),
    ("x", 3, {"x": 3}, True),
    # a test using '?' is a condition: a non-boolean result is null (Camunda)
    ("abs(?)", 5, {}, None),
    ("? + missing", 5, {}, None),
    ("? < 10", None, {}, None),
    ("5 < ? and ? < 10", None, {}, None),
    ("?", True, {}, True),
]


@pytest.mark.parametrize(("source", "value", "variables", "expected"), UNARY)
def test_unary_tests(source: str, value: Any, variables: dict[str, Any], expected: Any) -> None:
    assert compile_unary_tests(source).matches(value, variables) is expected


def test_unary_tests_syntax_error() -> None:
    with pytest.raises(FeelSyntaxError):
        compile_unary_tests("< ")
    with pytest.raises(FeelSyntaxError):
        compile_unary_tests("[1..")


def test_unary_tests_warn_on_incomparable() -> None:
    r = compile_unary_tests("< 10").matches_detailed("a")
    assert r.value is None
    assert r.warnings == ["Can't compare '\"a\"' with '10'"]


# --- JSON conversion -----------------------------------------------------------------------------

TO_FEEL: list[tuple[Any, Any]] = [
    (1, Decimal(1)),
    (1.5, Decimal("1.5")),
    (0.1, Decimal("0.1")),
    (1e100, Decimal("1E+100")),
    (True, True),
    (None, None),
    ("s", "s"),
    ([1, "a"], [Decimal(1), "a"]),
    ({"a": {"b": 2}}, {"a": {"b": Decimal(2)}}),
    (float("nan"), None),
]


@pytest.mark.parametrize(("value", "expected"), TO_FEEL)
def test_to_feel(value: Any, expected: Any) -> None:
    result = to_feel(value)
    assert result == expected
    assert type(result) is type(expected)


TO_JSON: list[tuple[Any, Any]] = [
    (Decimal("1"), 1),
    (Decimal("1.0"), 1),
    (Decimal("1E+2"), 100),
    (Decimal("2.5"), 2.5),
    (dt.date(2026, 12, 1), "2026-12-01"),
    (dt.datetime(2026, 12, 1, 9, 0), "2026-12-01T09:00:00"),
    (dt.datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), "2026-12-01T09:00:00+08:00[Asia/Shanghai]"),
    (dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), "2026-12-01T09:00:00Z"),
    (dt.datetime(2026, 12, 1, 9, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
     "2026-12-01T09:00:00.5-03:00"),
    (dt.time(9, 0), "09:00"),
    (dt.time(9, 0, 30), "09:00:30"),
    (dt.timedelta(days=90), "P90D"),
    (dt.timedelta(hours=36, minutes=5), "P1DT12H5M"),
    (-dt.timedelta(minutes=5), "-PT5M"),
    (dt.timedelta(0), "P0D"),
    (YearMonthDuration(14), "P1Y2M"),
    (YearMonthDuration(-3), "-P3M"),
    (YearMonthDuration(0), "P0Y"),
    ([Decimal(1), {"a": None}], [1, {"a": None}]),
    (Range(Decimal(1), Decimal(2)), None),
]


@pytest.mark.parametrize(("value", "expected"), TO_JSON)
def test_to_json(value: Any, expected: Any) -> None:
    result = to_json(value)
    assert result == expected
    assert type(result) is type(expected)


def test_function_results_become_null_in_json() -> None:
    assert to_json(compile_expression("function(x) x").evaluate({})) is None


def test_json_round_trip_of_evaluation() -> None:
    variables = {"order": {"items": [{"qty": 2, "price": 9.99}, {"qty": 1, "price": 0.02}]}}
    total = compile_expression("sum(for i in order.items return i.qty * i.price)").evaluate(variables)
    assert total == Decimal("20.00")
    assert to_json(total) == 20


@pytest.mark.parametrize("ws", ["\t", "\u0085", "\u00a0", "\u1680", "\u180e", "\u2003", "\u200b", "\u2028", "\u3000", "\ufeff"])
def test_dmn_whitespace_characters(ws: str) -> None:
    assert compile_expression(f"{ws}1{ws}+{ws}x{ws}").evaluate({"x": 2}) == Decimal(3)


def test_a_failing_host_mapping_is_a_missing_variable() -> None:
    class Broken(dict):
        def __getitem__(self, key: str) -> object:
            raise RuntimeError("scope store unavailable")

    r = compile_expression("x + 1").evaluate_detailed(Broken())
    assert r.value is None
    assert r.warnings == ["No variable found with name 'x'"]
