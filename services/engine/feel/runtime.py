"""Evaluation state and the operations shared by compiled expressions and built-in functions.

Every operation follows Camunda FEEL 1.18: a type mismatch gives ``None`` (null) and records a
warning on the evaluation (its "suppressed failures") instead of raising.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, DecimalException
from typing import Any

from .errors import FeelEvaluationError
from .temporal import add_duration, add_months, add_to_time, duration_seconds, seconds_duration
from .values import (
    NUMBER_CONTEXT,
    FeelFunction,
    Range,
    YearMonthDuration,
    compare_kind,
    repr_value,
    time_key,
)

MISSING = object()
EMPTY: dict[str, Any] = {}

MAX_CALL_DEPTH = 150
MAX_ITEMS = 3_000_000  # items one evaluation may produce in iterations (guards against hangs)
MAX_STRING = 10_000_000  # characters of one string value (doubling in a recursion would exhaust memory)

_ctx_add = NUMBER_CONTEXT.add
_ctx_sub = NUMBER_CONTEXT.subtract
_ctx_mul = NUMBER_CONTEXT.multiply
_ctx_div = NUMBER_CONTEXT.divide


class Ctl:
    """Per-evaluation control: clock, warnings, recursion and work budgets."""

    __slots__ = ("clock", "depth", "items", "sandbox_seconds", "warnings")

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.warnings: list[str] = []
        self.depth = 0
        self.items = 0
        self.sandbox_seconds = 0.0  # time spent in sandboxed regular expressions (regex.SANDBOX_BUDGET)

    def warn(self, message: str) -> None:
        if len(self.warnings) < 100:
            self.warnings.append(message)

    def spend(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise FeelEvaluationError(f"evaluation exceeded the limit of {MAX_ITEMS} iterations")

    def now_millis(self) -> int:
        if self.clock is None:
            import time

            return time.time_ns() // 1_000_000
        return int(self.clock())


class Env:
    """A scope: local variables, the enclosing scope and the engine's variable mapping."""

    __slots__ = ("ctl", "parent", "root", "vars")

    def __init__(self, vars: dict[str, Any], parent: Env | None, root: Mapping[str, Any], ctl: Ctl) -> None:
        self.vars = vars
        self.parent = parent
        self.root = root
        self.ctl = ctl

    def child(self, vars: dict[str, Any]) -> Env:
        return Env(vars, self, self.root, self.ctl)


def lookup(env: Env, name: str) -> Any:
    e: Env | None = env
    while e is not None:
        v = e.vars.get(name, MISSING)
        if v is not MISSING:
            return v
        e = e.parent
    try:
        raw = env.root[name]
    except KeyError:
        return MISSING
    except Exception:  # a lazy mapping that fails is a missing variable for FEEL
        return MISSING
    return to_feel(raw)


def lookup_local(env: Env, name: str) -> Any:
    e: Env | None = env
    while e is not None:
        v = e.vars.get(name, MISSING)
        if v is not MISSING:
            return v
        e = e.parent
    return MISSING


# ---------------------------------------------------------------------------------------------
# conversion from JSON-shaped values


def to_feel(v: Any) -> Any:
    t = type(v)
    if t is str or t is bool or v is None or t is Decimal:
        return v
    if t is int:
        return Decimal(v)
    if t is float:
        if v != v or v in (float("inf"), float("-inf")):
            return None
        return NUMBER_CONTEXT.create_decimal(repr(v))
    if t is dict:
        return {str(k): to_feel(i) for k, i in v.items()}
    if t is list or t is tuple:
        return [to_feel(i) for i in v]
    if t in _FEEL_TYPES:
        return v
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return Decimal(int(v))
    if isinstance(v, float):
        return to_feel(float(v))
    if isinstance(v, str):
        return str(v)
    if isinstance(v, Mapping):
        return {str(k): to_feel(i) for k, i in v.items()}
    if isinstance(v, list | tuple):
        return [to_feel(i) for i in v]
    if isinstance(v, dt.datetime | dt.date | dt.time | dt.timedelta | Decimal):
        return v
    return None


_FEEL_TYPES = frozenset({dt.date, dt.datetime, dt.time, dt.timedelta, YearMonthDuration, Range, FeelFunction})


# ---------------------------------------------------------------------------------------------
# equality and ordering


def equal(x: Any, y: Any, ctl: Ctl | None = None) -> bool | None:
    """FEEL ``=``: null only equals null; values of different types are not comparable (null)."""
    if x is None or y is None:
        return x is None and y is None
    tx, ty = type(x), type(y)
    if tx is ty:
        if tx is list:
            if len(x) != len(y):
                return False
            return all(equal(a, b) is True for a, b in zip(x, y, strict=True))
        if tx is dict:
            if x.keys() != y.keys():
                return False
            return all(equal(x[k], y[k]) is True for k in x)
        if tx is dt.datetime and (x.tzinfo is None) != (y.tzinfo is None):
            return _not_comparable(x, y, ctl)
        if tx is dt.time:
            if (x.tzinfo is None) != (y.tzinfo is None):
                return _not_comparable(x, y, ctl)
            if x.tzinfo is not None:
                return time_key(x) == time_key(y)
        return x == y
    return _not_comparable(x, y, ctl)


def _not_comparable(x: Any, y: Any, ctl: Ctl | None) -> None:
    if ctl is not None:
        ctl.warn(f"Can't compare '{repr_value(x)}' with '{repr_value(y)}'")
    return None


def compare(op: str, x: Any, y: Any, ctl: Ctl | None) -> bool | None:
    """Ordering comparisons; null when the values are not of one ordered type."""
    if op == "=":
        return equal(x, y, ctl)
    if op == "!=":
        r = equal(x, y, ctl)
        return None if r is None else not r
    kx = compare_kind(x)
    if kx is None or kx != compare_kind(y):
        return _not_comparable(x, y, ctl)
    if kx == "zoned time":
        x, y = time_key(x), time_key(y)
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def in_range(x: Any, r: Range, ctl: Ctl | None) -> bool | None:
    if r.start is not None:
        c = compare(">=" if r.start_included else ">", x, r.start, ctl)
        if c is not True:
            return c
    if r.end is not None:
        return compare("<=" if r.end_included else "<", x, r.end, ctl)
    return True


def list_contains(items: list[Any], x: Any) -> bool:
    return any(equal(i, x) is True for i in items)


# ---------------------------------------------------------------------------------------------
# arithmetic


def add(x: Any, y: Any, ctl: Ctl) -> Any:
    tx, ty = type(x), type(y)
    try:
        if tx is Decimal and ty is Decimal:
            return _ctx_add(x, y)
        if x is None or y is None:
            return None
        if tx is str and ty is str:
            if len(x) + len(y) > MAX_STRING:
                raise ValueError(f"string longer than {MAX_STRING} characters")
            return x + y
        if tx is dt.timedelta:
            if ty is dt.timedelta:
                return x + y
            x, y, tx, ty = y, x, ty, tx
        elif tx is YearMonthDuration and ty is not YearMonthDuration:
            x, y, tx, ty = y, x, ty, tx
        if ty is dt.timedelta:
            if tx is dt.datetime:
                return add_duration(x, y)
            if tx is dt.date:
                return (dt.datetime(x.year, x.month, x.day) + y).date()
            if tx is dt.time:
                return add_to_time(x, y)
        if ty is YearMonthDuration:
            if tx is YearMonthDuration:
                return YearMonthDuration(x.months + y.months)
            if tx is dt.datetime or tx is dt.date:
                return add_months(x, y.months)
    except (OverflowError, ValueError, DecimalException) as e:
        ctl.warn(f"Can't add '{repr_value(y)}' to '{repr_value(x)}': {e}")
        return None
    ctl.warn(f"Can't add '{repr_value(y)}' to '{repr_value(x)}'")
    return None


def subtract(x: Any, y: Any, ctl: Ctl) -> Any:
    tx, ty = type(x), type(y)
    try:
        if tx is Decimal and ty is Decimal:
            return _ctx_sub(x, y)
        if x is None or y is None:
            return None
        # a date against a zoned date and time counts as midnight UTC (DMN 1.5); against a
        # local one it stays incomparable
        if tx is dt.date and ty is dt.datetime and y.tzinfo is not None:
            x, tx = dt.datetime(x.year, x.month, x.day, tzinfo=dt.UTC), dt.datetime
        elif tx is dt.datetime and ty is dt.date and x.tzinfo is not None:
            y, ty = dt.datetime(y.year, y.month, y.day, tzinfo=dt.UTC), dt.datetime
        if tx is ty and tx in (dt.datetime, dt.date, dt.time, dt.timedelta):
            if tx is dt.time:
                if (x.tzinfo is None) != (y.tzinfo is None):
                    raise TypeError("local and zoned times")
                if x.tzinfo is None:
                    return _time_td(x) - _time_td(y)
                return time_key(x) - time_key(y)
            if tx is dt.datetime and (x.tzinfo is None) != (y.tzinfo is None):
                raise TypeError("local and zoned date and times")
            if tx is dt.date:
                return dt.timedelta(days=(x - y).days)
            return x - y
        if ty is dt.timedelta:
            return add(x, -y, ctl)
        if ty is YearMonthDuration:
            if tx is YearMonthDuration:
                return YearMonthDuration(x.months - y.months)
            if tx is dt.datetime or tx is dt.date:
                return add_months(x, -y.months)
    except (OverflowError, ValueError, TypeError, DecimalException) as e:
        ctl.warn(f"Can't subtract '{repr_value(y)}' from '{repr_value(x)}': {e}")
        return None
    ctl.warn(f"Can't subtract '{repr_value(y)}' from '{repr_value(x)}'")
    return None


def _time_td(t: dt.time) -> dt.timedelta:
    return dt.timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def multiply(x: Any, y: Any, ctl: Ctl) -> Any:
    tx, ty = type(x), type(y)
    try:
        if tx is Decimal and ty is Decimal:
            return _ctx_mul(x, y)
        if x is None or y is None:
            return None
        if tx is Decimal:
            x, y, tx, ty = y, x, ty, tx
        if ty is Decimal:
            if tx is dt.timedelta:
                return seconds_duration(_ctx_mul(duration_seconds(x), y))
            if tx is YearMonthDuration:
                # whole months, toward zero: -2.5 * P1Y11M is -P4Y9M
                return YearMonthDuration(int(_ctx_mul(Decimal(x.months), y)))
    except (OverflowError, ValueError, DecimalException) as e:
        ctl.warn(f"Can't multiply '{repr_value(x)}' by '{repr_value(y)}': {e}")
        return None
    ctl.warn(f"Can't multiply '{repr_value(x)}' by '{repr_value(y)}'")
    return None


def divide(x: Any, y: Any, ctl: Ctl) -> Any:
    tx, ty = type(x), type(y)
    try:
        if tx is Decimal and ty is Decimal:
            return _ctx_div(x, y)
        if x is None or y is None:
            return None
        if tx is dt.timedelta:
            if ty is dt.timedelta:
                return _ctx_div(duration_seconds(x), duration_seconds(y))
            if ty is Decimal:
                return seconds_duration(_ctx_div(duration_seconds(x), y))
        if tx is YearMonthDuration:
            if ty is YearMonthDuration:
                return _ctx_div(Decimal(x.months), Decimal(y.months))
            if ty is Decimal:
                return YearMonthDuration(int(_ctx_div(Decimal(x.months), y)))
    except (OverflowError, ValueError, DecimalException, ZeroDivisionError) as e:
        ctl.warn(f"Can't divide '{repr_value(x)}' by '{repr_value(y)}': {type(e).__name__}")
        return None
    ctl.warn(f"Can't divide '{repr_value(x)}' by '{repr_value(y)}'")
    return None


def power(x: Any, y: Any, ctl: Ctl) -> Any:
    if type(x) is Decimal and type(y) is Decimal:
        try:
            if y == y.to_integral_value():
                if abs(y) > 999_999_999:
                    raise OverflowError("exponent too large")
                return NUMBER_CONTEXT.power(x, y)
            return NUMBER_CONTEXT.create_decimal(repr(float(x) ** float(y)))
        except (OverflowError, ValueError, DecimalException, ZeroDivisionError, TypeError) as e:
            ctl.warn(f"Can't raise '{repr_value(x)}' to '{repr_value(y)}': {type(e).__name__}")
            return None
    if x is not None and y is not None:
        ctl.warn(f"Can't raise '{repr_value(x)}' to '{repr_value(y)}'")
    return None


def negate(x: Any, ctl: Ctl) -> Any:
    t = type(x)
    if t is Decimal:
        return NUMBER_CONTEXT.minus(x)
    if t is dt.timedelta:
        return -x
    if t is YearMonthDuration:
        return YearMonthDuration(-x.months)
    if x is not None:
        ctl.warn(f"Expected number but found '{repr_value(x)}'")
    return None


# ---------------------------------------------------------------------------------------------
# functions


class InvocationFailure(Exception):
    """Raised inside a built-in to give null plus the warning 'Failed to invoke function'."""


def call(ctl: Ctl, fn: FeelFunction, args: list[Any]) -> Any:
    """Invoke a FEEL function with positional arguments; failures give null plus a warning."""
    n = len(args)
    if fn.varargs:
        fixed = len(fn.params) - 1
        if n < fixed or n == 0:
            return _no_function(ctl, fn.name, n)
        rest = args[fixed:]
        if len(rest) == 1 and type(rest[0]) is list and fixed == 0:
            rest = rest[0]
        args = [*args[:fixed], rest]
    else:
        total = len(fn.params)
        if n > total or n < total - fn.optional:
            return _no_function(ctl, fn.name, n)
        if n < total:
            args = [*args, *([None] * (total - n))]
    return invoke(ctl, fn, args)


def invoke(ctl: Ctl, fn: FeelFunction, args: list[Any]) -> Any:
    ctl.depth += 1
    try:
        if ctl.depth > MAX_CALL_DEPTH:
            raise FeelEvaluationError(f"maximum call depth of {MAX_CALL_DEPTH} exceeded in '{fn.name}'")
        result = fn.invoke(ctl, *args)
        t = type(result)
        if t is list:
            ctl.spend(len(result))
        elif t is str and len(result) > MAX_STRING:
            raise InvocationFailure(f"result longer than {MAX_STRING} characters")
        return result
    except InvocationFailure as e:
        ctl.warn(f"Failed to invoke function '{fn.name}': {e}")
        return None
    except (FeelEvaluationError, RecursionError):
        raise
    except Exception as e:  # a built-in hit a value it cannot handle: null, as Camunda does
        ctl.warn(f"Failed to invoke function '{fn.name}': Illegal arguments: {type(e).__name__}: {e}")
        return None
    finally:
        ctl.depth -= 1


def _no_function(ctl: Ctl, name: str, n: int) -> None:
    ctl.warn(f"No function found with name '{name}' and {n} parameters")
    return None


def bind_named(fn: FeelFunction, named: dict[str, Any]) -> list[Any] | None:
    params = fn.params
    if not set(named) <= set(params):
        return None
    required = params[: len(params) - fn.optional] if not fn.varargs else params[:-1]
    if not fn.user and not set(required) <= set(named):
        # user functions get null for missing parameters; built-ins need their required ones
        return None
    args = [named.get(p) for p in params]
    if fn.varargs and args[-1] is not None and type(args[-1]) is not list:
        args[-1] = [args[-1]]
    return args

