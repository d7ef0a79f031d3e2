"""Table-driven FEEL expression tests written from DMN 1.5 chapter 10 and Camunda FEEL 1.18.

Each case: expression, variables, expected result in JSON form (as ``to_json`` writes it).
``NULL`` expects null; ``ERROR`` expects FeelEvaluationError.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.engine.feel import FeelEvaluationError, compile_expression, to_json

NULL = None
ERROR = object()

# a fixed clock: 2026-03-15T10:30:00Z
CLOCK_MS = 1773570600000

CASES: list[tuple[str, dict[str, Any], Any]] = [
    # --- literals ------------------------------------------------------------------------
    ("1", {}, 1),
    ("-1", {}, -1),
    ("1.5", {}, 1.5),
    (".5", {}, 0.5),
    ("0.1 + 0.2", {}, 0.3),
    ('"abc"', {}, "abc"),
    ('"a\\"b"', {}, 'a"b'),
    ('"line\\nbreak"', {}, "line\nbreak"),
    ('"tab\\there"', {}, "tab\there"),
    ('"\\u269D"', {}, "\u269d"),
    ('"\\U01F40E"', {}, "\U0001f40e"),
    ('"back\\\\slash"', {}, "back\\slash"),
    ('"\\d+"', {}, "\\d+"),
    ("true", {}, True),
    ("false", {}, False),
    ("null", {}, NULL),
    ("[]", {}, []),
    ("[1, 2, 3]", {}, [1, 2, 3]),
    ('[1, "a", true, null]', {}, [1, "a", True, None]),
    ("[[1, 2], [3]]", {}, [[1, 2], [3]]),
    ("{}", {}, {}),
    ("{a: 1}", {}, {"a": 1}),
    ('{"a b": 1}', {}, {"a b": 1}),
    ("{first name: 1}", {}, {"first name": 1}),
    ("{a: 1, b: a + 1}", {}, {"a": 1, "b": 2}),
    ("{a: {b: 2}}", {}, {"a": {"b": 2}}),
    ("{a+b: 1}", {}, {"a+b": 1}),
    ('@"2026-01-01"', {}, "2026-01-01"),
    ('@"10:30:00"', {}, "10:30"),
    ('@"2026-01-01T10:30:00"', {}, "2026-01-01T10:30:00"),
    ('@"2026-01-01T10:30:00Z"', {}, "2026-01-01T10:30:00Z"),
    ('@"2026-01-01T10:30:00@Europe/Berlin"', {}, "2026-01-01T10:30:00+01:00[Europe/Berlin]"),
    ('@"P1Y2M"', {}, "P1Y2M"),
    ('@"P2DT3H"', {}, "P2DT3H"),
    ("1 // comment", {}, 1),
    ("1 /* inline */ + 2", {}, 3),
    ("// leading\n1 + 1", {}, 2),
    # --- arithmetic ----------------------------------------------------------------------
    ("1 + 2", {}, 3),
    ("5 - 7", {}, -2),
    ("3 * 4", {}, 12),
    ("10 / 4", {}, 2.5),
    ("1 / 3", {}, 0.3333333333333333),
    ("2 ** 10", {}, 1024),
    ("2 ** -1", {}, 0.5),
    ("1 + 2 * 3", {}, 7),
    ("(1 + 2) * 3", {}, 9),
    ("10 - 2 - 3", {}, 5),
    ("-x", {"x": 5}, -5),
    ("- -1", {}, 1),
    ("1 / 0", {}, NULL),
    ("0 / 0", {}, NULL),
    ('1 + "a"', {}, NULL),
    ("1 + null", {}, NULL),
    ("null - 1", {}, NULL),
    ('"a" + "b"', {}, "ab"),
    ("x * 1.13 + fee", {"x": 100, "fee": 3}, 116),
    ("0.1 * 3", {}, 0.3),
    ("12345678901234567890123456789012345 + 0", {}, 12345678901234567890123456789012340),
    ("x + 1", {"x": 1.5}, 2.5),
    ("x + 0.1", {"x": 0.2}, 0.3),
    # --- temporal arithmetic ---------------------------------------------------------------
    ('date("2026-01-01") + duration("P90D")', {}, "2026-04-01"),
    ('date("2026-01-31") + duration("P1M")', {}, "2026-02-28"),
    ('date("2026-03-31") - duration("P1M")', {}, "2026-02-28"),
    ('date("2026-03-01") - date("2026-01-01")', {}, "P59D"),
    ('date and time("2026-01-01T10:00:00") + duration("PT2H30M")', {}, "2026-01-01T12:30:00"),
    ('date and time("2026-12-01T09:00:00@Asia/Shanghai") + duration("P1D")', {},
     "2026-12-02T09:00:00+08:00[Asia/Shanghai]"),
    ('date and time("2026-03-28T12:00:00@Europe/Berlin") + duration("PT24H")', {},
     "2026-03-29T13:00:00+02:00[Europe/Berlin]"),
    ('date and time("2026-01-02T00:00:00Z") - date and time("2026-01-01T12:00:00Z")', {}, "PT12H"),
    ('date and time("2026-01-01T10:00:00+02:00") - date and time("2026-01-01T10:00:00Z")', {}, "-PT2H"),
    ('date and time("2026-01-01T10:00:00") - date and time("2026-01-01T10:00:00Z")', {}, NULL),
    ('time("10:00:00") + duration("PT90M")', {}, "11:30"),
    ('time("23:00:00") + duration("PT2H")', {}, "01:00"),
    ('time("12:00:00") - time("10:30:00")', {}, "PT1H30M"),
    ('duration("P1D") + duration("PT12H")', {}, "P1DT12H"),
    ('duration("P1Y") + duration("P6M")', {}, "P1Y6M"),
    ('duration("P1Y") - duration("P18M")', {}, "-P6M"),
    ('duration("PT1H") * 2', {}, "PT2H"),
    ('2 * duration("P1D")', {}, "P2D"),
    ('duration("P1Y") * 2', {}, "P2Y"),
    ('duration("PT1H") / 2', {}, "PT30M"),
    ('duration("P1D") / duration("PT1H")', {}, 24),
    ('duration("P1Y") / duration("P1M")', {}, 12),
    ('-duration("P1D")', {}, "-P1D"),
    ('date("2026-01-01") + duration("P1Y")', {}, "2027-01-01"),
    ('date and time("2024-02-29T10:00:00") + duration("P1Y")', {}, "2025-02-28T10:00:00"),
    ('date("2026-01-01") + 1', {}, NULL),
    ('-2.5 * duration("P1Y11M")', {}, "-P4Y9M"),
    ('@"2021-01-02T10:10:10@Europe/Paris" - @"2021-01-01"', {}, "P1DT9H10M10S"),
    ('@"2021-01-02" - @"2021-01-01T10:10:10"', {}, NULL),
    # --- comparison ----------------------------------------------------------------------
    ("1 = 1", {}, True),
    ("1 = 1.0", {}, True),
    ("1 != 2", {}, True),
    ("1 < 2", {}, True),
    ("2 <= 2", {}, True),
    ("3 > 2", {}, True),
    ("3 >= 4", {}, False),
    ('"a" < "b"', {}, True),
    ('"abc" = "abc"', {}, True),
    ('1 = "1"', {}, NULL),
    ('1 < "a"', {}, NULL),
    ("null = null", {}, True),
    ("1 = null", {}, False),
    ("null != 1", {}, True),
    ("null < 1", {}, NULL),
    ("true = true", {}, True),
    ("[1, 2] = [1, 2]", {}, True),
    ("[1, 2] = [2, 1]", {}, False),
    ("{a: 1} = {a: 1}", {}, True),
    ("{a: 1} = {a: 2}", {}, False),
    ('date("2026-01-01") < date("2026-01-02")', {}, True),
    ('date("2026-01-01") = date("2026-01-01")', {}, True),
    ('date and time("2026-01-01T10:00:00+01:00") = date and time("2026-01-01T09:00:00Z")', {}, True),
    ('time("10:00:00") < time("11:00:00")', {}, True),
    ('duration("P1D") > duration("PT23H")', {}, True),
    ('duration("P1Y") > duration("P11M")', {}, True),
    ('date("2026-01-01") < 5', {}, NULL),
    ("x > 90", {"x": 95}, True),
    ("x > 90", {"x": 90}, False),
    ("x > 90", {"x": "95"}, NULL),
    ("x > 90", {}, NULL),
    # --- logic ----------------------------------------------------------------------------
    ("true and true", {}, True),
    ("true and false", {}, False),
    ("true and null", {}, NULL),
    ("false and null", {}, False),
    ("null and false", {}, False),
    ("true or null", {}, True),
    ("null or true", {}, True),
    ("false or null", {}, NULL),
    ("false or false", {}, False),
    ('true and "a"', {}, NULL),
    ("not(true)", {}, False),
    ("not(null)", {}, NULL),
    ('not("a")', {}, NULL),
    ('x > 90 and status = "open"', {"x": 95, "status": "open"}, True),
    ('x > 90 and status = "open"', {"x": 95, "status": "closed"}, False),
    ('x > 90 and status = "open"', {"status": "open"}, NULL),
    ('x > 90 or status = "open"', {"status": "open"}, True),
    # --- between / in ------------------------------------------------------------------------
    ("5 between 1 and 10", {}, True),
    ("1 between 1 and 10", {}, True),
    ("11 between 1 and 10", {}, False),
    ('"b" between "a" and "c"', {}, True),
    ('5 between "a" and 10', {}, NULL),
    ("5 in [1..10]", {}, True),
    ("10 in [1..10)", {}, False),
    ("1 in (1..10]", {}, False),
    ("1 in ]1..10]", {}, False),
    ("10 in [1..10[", {}, False),
    ("5 in (1, 5, 7)", {}, True),
    ("6 in (1, 5, 7)", {}, False),
    ("5 in < 10", {}, True),
    ("5 in (< 3, > 4)", {}, True),
    ("5 in [1, 2, 5]", {}, True),
    ("5 in [1, 2]", {}, False),
    ('"a" in ("a", "b")', {}, True),
    ("5 in 5", {}, True),
    ("x in (1..3)", {"x": 2}, True),
    ("5 in (>= 5)", {}, True),
    ("null in (1, null)", {}, True),
    ('date("2026-01-05") in [date("2026-01-01")..date("2026-01-31")]', {}, True),
    ("5 in ? > 3", {}, True),
    # --- if / for / quantifiers ----------------------------------------------------------------
    ("if true then 1 else 2", {}, 1),
    ("if false then 1 else 2", {}, 2),
    ("if null then 1 else 2", {}, 2),
    ('if "x" then 1 else 2', {}, 2),
    ("if x > 5 then \"big\" else \"small\"", {"x": 7}, "big"),
    ("if a then if b then 1 else 2 else 3", {"a": True, "b": False}, 2),
    ("for i in [1, 2, 3] return i * 2", {}, [2, 4, 6]),
    ("for i in 1..3 return i", {}, [1, 2, 3]),
    ("for i in 3..1 return i", {}, [3, 2, 1]),
    ("for i in 1..2, j in [10, 20] return i + j", {}, [11, 21, 12, 22]),
    ("for i in 1..3, j in 1..i return j", {}, [1, 1, 2, 1, 2, 3]),
    ("for i in 1..5 return if i = 1 then 1 else i + partial[-1]", {}, [1, 3, 6, 10, 15]),
    ("for i in [] return i", {}, []),
    ("for i in null return i", {}, NULL),
    ("for x in items return x.price", {"items": [{"price": 1}, {"price": 2}]}, [1, 2]),
    ("some x in [1, 2, 3] satisfies x > 2", {}, True),
    ("some x in [1, 2, 3] satisfies x > 5", {}, False),
    ("every x in [1, 2, 3] satisfies x > 0", {}, True),
    ("every x in [1, 2, 3] satisfies x > 1", {}, False),
    ("every x in [] satisfies x > 1", {}, True),
    ("some x in [] satisfies x > 1", {}, False),
    ("some x in [1, 2], y in [2, 3] satisfies x = y", {}, True),
    ('some x in [1, "a"] satisfies x > 0', {}, True),
    ('every x in [1, "a"] satisfies x > 0', {}, NULL),
    # --- filters and paths -----------------------------------------------------------------
    ("[1, 2, 3, 4][item > 2]", {}, [3, 4]),
    ("[1, 2, 3, 4][item > 10]", {}, []),
    ("[1, 2, 3][1]", {}, 1),
    ("[1, 2, 3][3]", {}, 3),
    ("[1, 2, 3][-1]", {}, 3),
    ("[1, 2, 3][-3]", {}, 1),
    ("[1, 2, 3][4]", {}, NULL),
    ("[1, 2, 3][0]", {}, NULL),
    ("[1, 2, 3][i]", {"i": 2}, 2),
    ("[{a: 1}, {a: 2}][a > 1]", {}, [{"a": 2}]),
    ("[{a: 1}, {a: 2}][item.a = 1]", {}, [{"a": 1}]),
    ("[{a: 1}, {a: 2}].a", {}, [1, 2]),
    ("[[1, 2], [3, 4]][1][2]", {}, 2),
    ("orders[amount > 100].id", {"orders": [{"id": "a", "amount": 50}, {"id": "b", "amount": 150}]}, ["b"]),
    ("orders[1].id", {"orders": [{"id": "a"}]}, "a"),
    ("[][1]", {}, NULL),
    ("5[item > 3]", {}, [5]),
    ("{a: {b: {c: 1}}}.a.b.c", {}, 1),
    ("x.y", {"x": {"y": "z"}}, "z"),
    ("x.missing", {"x": {"y": "z"}}, NULL),
    ("x.y", {"x": None}, NULL),
    ("x.y", {"x": 5}, NULL),
    ("x.y.z", {"x": {"y": {"z": [1, {"w": 2.5}]}}}, [1, {"w": 2.5}]),
    ("x.y.z", {"x": {"y": 3}}, NULL),
    ("x.y[-1].w", {"x": {"y": [{"w": 1}, {"w": 2}]}}, 2),
    ("x.y[3]", {"x": {"y": [1]}}, NULL),
    ("x.y[1]", {"x": {"y": "s"}}, "s"),
    ("x.d.year", {"x": {"d": "2026-01-01"}}, NULL),
    ('date("2026-03-15").year', {}, 2026),
    ('date("2026-03-15").month', {}, 3),
    ('date("2026-03-15").day', {}, 15),
    ('date("2026-03-15").weekday', {}, 7),
    ('date and time("2026-03-15T10:20:30Z").hour', {}, 10),
    ('date and time("2026-03-15T10:20:30Z").minute', {}, 20),
    ('date and time("2026-03-15T10:20:30Z").second', {}, 30),
    ('date and time("2026-03-15T10:20:30+02:00").time offset', {}, "PT2H"),
    ('date and time("2026-03-15T10:20:30@Europe/Paris").timezone', {}, "Europe/Paris"),
    ('date and time("2026-03-15T10:20:30").timezone', {}, NULL),
    ('time("10:20:30").hour', {}, 10),
    ('duration("P2DT3H4M5S").days', {}, 2),
    ('duration("P2DT3H4M5S").hours', {}, 3),
    ('duration("P2DT3H4M5S").minutes', {}, 4),
    ('duration("P2DT3H4M5S").seconds', {}, 5),
    ('duration("P1Y2M").years', {}, 1),
    ('duration("P1Y2M").months', {}, 2),
    ("[1..5].start", {}, 1),
    ("[1..5).end included", {}, False),
    # --- names ---------------------------------------------------------------------------------
    ("`a b` + 1", {"a b": 1}, 2),
    ("first name", {"first name": "Li"}, "Li"),
    ('first name + " " + last name', {"first name": "Li", "last name": "Wei"}, "Li Wei"),
    ("`x-y`", {"x-y": 3}, 3),
    ("Person.Gender", {"Person.Gender": "F"}, "F"),  # a dotted variable name when no 'Person' exists
    ("Person.Gender", {"Person": {"Gender": "M"}, "Person.Gender": "F"}, "M"),
    ("x", {"x": {"k": [1, {"z": True}]}}, {"k": [1, {"z": True}]}),
    ("missing", {}, NULL),
    # --- instance of ---------------------------------------------------------------------------
    ("1 instance of number", {}, True),
    ('"a" instance of string', {}, True),
    ("true instance of boolean", {}, True),
    ('date("2026-01-01") instance of date', {}, True),
    ('date and time("2026-01-01T00:00:00") instance of date and time', {}, True),
    ('time("10:00:00") instance of time', {}, True),
    ('duration("P1D") instance of days and time duration', {}, True),
    ('duration("P1Y") instance of years and months duration', {}, True),
    ("[1] instance of list", {}, True),
    ("{} instance of context", {}, True),
    ("null instance of Any", {}, False),
    ("1 instance of Any", {}, True),
    ('1 instance of string', {}, False),
    ("[1, 2] instance of list<number>", {}, True),
    ('[1, "a"] instance of list<number>', {}, False),
    ("(function(x) x) instance of function", {}, True),
    ("[1..2] instance of range", {}, True),
    # --- functions -----------------------------------------------------------------------------
    ("(function(a, b) a + b)(1, 2)", {}, 3),
    ("{f: function(x) x * 2}.f(4)", {}, 8),
    ("{f: function(x) x * 2, r: f(5)}.r", {}, 10),
    ("{f: function(n) if n <= 1 then 1 else n * f(n - 1)}.f(10)", {}, 3628800),
    ("{f: function(a, b) a - b}.f(b: 1, a: 5)", {}, 4),
    ("{f: function(a, b) b}.f(a: 1)", {}, NULL),
    ("{f: function(a, b) a}.f(1)", {}, NULL),
    ("{f: function(x: number) x + 1}.f(1)", {}, 2),
    ("{add: function(a) function(b) a + b}.add(1)(2)", {}, 3),
    ("unknown fn(1)", {}, NULL),
    ("x(1)", {"x": 5}, NULL),
    ('substring(string: "foobar", start position: 3)', {}, "obar"),
    ('substring(start position: 3, string: "foobar")', {}, "obar"),
    ('substring(string: "foobar", start: 3)', {}, NULL),
    ("abs(1, 2)", {}, NULL),
    ("abs()", {}, NULL),
    # --- errors that raise ---------------------------------------------------------------------
    ('assert(x, x > 0)', {"x": -1}, ERROR),
    ('assert(x, x > 0)', {"x": 1}, 1),
    ('assert(x, x > 0, "x must be positive")', {"x": -1}, ERROR),
    ("? > 1", {}, ERROR),
    ("{f: function(n) f(n + 1)}.f(1)", {}, ERROR),
    ("for i in 1..10000000 return i", {}, ERROR),
    # --- resource guards -----------------------------------------------------------------------
    ('{f: function(s, n) if n = 0 then s else f(s + s, n - 1)}.f("a", 60)', {}, NULL),
    ("{f: function(l, n) if n = 0 then l else f(concatenate(l, l), n - 1)}.f([1], 60)", {}, ERROR),
    ("count(for i in 1..200000 return i)", {}, 200000),
    ("count(for i in 1..3000 return partial)", {}, ERROR),
]


def _ids() -> list[str]:
    return [f"{n:03d}:{c[0][:40]}" for n, c in enumerate(CASES)]


@pytest.mark.parametrize(("source", "variables", "expected"), CASES, ids=_ids())
def test_expression(source: str, variables: dict[str, Any], expected: Any) -> None:
    expr = compile_expression(source)
    if expected is ERROR:
        with pytest.raises(FeelEvaluationError):
            expr.evaluate(variables, clock=lambda: CLOCK_MS)
        return
    result = expr.evaluate(variables, clock=lambda: CLOCK_MS)
    assert to_json(result) == expected


def test_path_warnings_name_the_missing_key() -> None:
    r = compile_expression("order.customer.city").evaluate_detailed({"order": {"id": 1, "total": 2}})
    assert r.value is None
    # as in Camunda, the null then reaches the next step, which reports it too
    assert r.warnings == [
        "No context entry found with key 'customer'. Available keys: 'id', 'total'",
        "No context entry found with key 'city'. The context is null",
    ]


def test_missing_variable_warns() -> None:
    r = compile_expression("x + 1").evaluate_detailed({})
    assert r.value is None
    assert r.warnings == ["No variable found with name 'x'"]


def test_assert_message() -> None:
    with pytest.raises(FeelEvaluationError) as info:
        compile_expression('assert(x, x > 0, "x must be positive")').evaluate({"x": -1})
    assert str(info.value) == (
        "Assertion failure on evaluate the expression 'assert(x, x > 0, \"x must be positive\")': x must be positive"
    )
    with pytest.raises(FeelEvaluationError, match="The condition is not fulfilled"):
        compile_expression("list contains(assert(l, l != null), 2)").evaluate({})


def test_question_mark_message() -> None:
    with pytest.raises(FeelEvaluationError) as info:
        compile_expression("? < 10").evaluate({})
    assert str(info.value) == (
        "failed to evaluate expression '? < 10': No input value available. "
        "'?' can only be used inside an unary-test expression."
    )


def test_variables_are_looked_up_lazily() -> None:
    class Recording(dict):
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            self.asked: list[str] = []

        def __getitem__(self, key: str) -> Any:
            self.asked.append(key)
            return super().__getitem__(key)

    vars_ = Recording({"a": 1, "b": 2, "c": 3})
    assert compile_expression("a + 1").evaluate(vars_) == 2
    assert vars_.asked == ["a"]


def test_compiled_expressions_are_cached() -> None:
    assert compile_expression("1 + x") is compile_expression("1 + x")
    assert compile_expression("1 + x").source == "1 + x"


def test_feel_values_in_mapping_are_accepted() -> None:
    import datetime as dt
    from decimal import Decimal

    r = compile_expression("d + duration(\"P1D\")").evaluate({"d": dt.date(2026, 1, 1)})
    assert r == dt.date(2026, 1, 2)
    assert compile_expression("n * 2").evaluate({"n": Decimal("1.5")}) == Decimal("3.0")
