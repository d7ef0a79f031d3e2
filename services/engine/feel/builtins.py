"""FEEL built-in functions (DMN 1.5 section 10.3.4 plus Camunda FEEL's additions).

Each built-in is a Python function ``(ctl, *args)``; a name may have several signatures
(``date(from)`` and ``date(year, month, day)``), tried in registration order. Raising
``InvocationFailure`` (or any error on a value of the wrong type) makes the call give null with
a warning, as in Camunda FEEL.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import random
import re
import uuid
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
)
from typing import Any

from . import runtime as rt
from .errors import FeelAssertionError
from .regex import compile_xpath_regex
from .temporal import months_between, parse_date, parse_datetime, parse_duration, parse_time, zone
from .values import (
    NUMBER_CONTEXT,
    UTC,
    FeelFunction,
    Range,
    YearMonthDuration,
    compare_kind,
    repr_value,
    to_string,
)

BUILTINS: dict[str, list[FeelFunction]] = {}

Fail = rt.InvocationFailure


def builtin(name: str, params: str = "", optional: int = 0, varargs: bool = False, aliases: tuple[str, ...] = ()):
    names = [p.strip() for p in params.split(",") if p.strip()]

    def register(f: Callable[..., Any]) -> Callable[..., Any]:
        for n in (name, *aliases):
            BUILTINS.setdefault(n, []).append(FeelFunction(n, names, f, optional, varargs))
        return f

    return register


def _single(v: Any) -> Any:
    # a list of one item where a single value is expected is that item (DMN 1.5 10.3.2.9.4)
    return v[0] if type(v) is list and len(v) == 1 else v


def _num(v: Any, what: str = "number") -> Decimal:
    v = _single(v)
    if type(v) is not Decimal:
        raise Fail(f"expected {what} but found '{repr_value(v)}'")
    return v


def _int(v: Any, what: str = "number") -> int:
    d = _num(v, what)
    if d != d.to_integral_value():
        raise Fail(f"expected an integer {what} but found '{d}'")
    if abs(d) > 10**9:
        raise Fail(f"{what} out of range: '{d}'")
    return int(d)


def _str(v: Any, what: str = "string") -> str:
    v = _single(v)
    if type(v) is not str:
        raise Fail(f"expected {what} but found '{repr_value(v)}'")
    return v


def _list(v: Any) -> list[Any]:
    if type(v) is not list:
        if v is None:
            raise Fail("expected list but found 'null'")
        return [v]  # a single value where a list is expected is a list of one (DMN 1.5 10.3.2.9.4)
    return v


def _ctx(v: Any) -> dict[str, Any]:
    if type(v) is not dict:
        raise Fail(f"expected context but found '{repr_value(v)}'")
    return v


def _dec(x: Any) -> Decimal:
    return NUMBER_CONTEXT.create_decimal(x)


# ---------------------------------------------------------------------------------------------
# boolean


@builtin("not", "negand")
def _not(ctl, v):
    return (not v) if type(v) is bool else None


@builtin("is defined", "value")
def _is_defined(ctl, v):
    return v is not None


@builtin("get or else", "value, default")
def _get_or_else(ctl, v, default):
    return default if v is None else v


@builtin("assert", "value, condition")
def _assert(ctl, v, cond):
    if cond is True:
        return v
    raise FeelAssertionError("The condition is not fulfilled")


@builtin("assert", "value, condition, cause")
def _assert_cause(ctl, v, cond, cause):
    if cond is True:
        return v
    raise FeelAssertionError(cause if type(cause) is str else "The condition is not fulfilled")


# ---------------------------------------------------------------------------------------------
# conversion


@builtin("date", "from")
def _date(ctl, v):
    t = type(v)
    if t is str:
        return parse_date(v)
    if t is dt.datetime:
        return v.date()
    if t is dt.date:
        return v
    raise Fail(f"expected string or date and time but found '{repr_value(v)}'")


@builtin("date", "year, month, day")
def _date3(ctl, y, m, d):
    try:
        return dt.date(_int(y), _int(m), _int(d))
    except ValueError as e:
        raise Fail(str(e)) from None


@builtin("date and time", "from")
def _datetime(ctl, v):
    t = type(v)
    if t is str:
        return parse_datetime(v)
    if t is dt.datetime:
        return v
    if t is dt.date:
        return dt.datetime(v.year, v.month, v.day)
    raise Fail(f"expected string but found '{repr_value(v)}'")


@builtin("date and time", "date, time")
def _datetime2(ctl, d, t):
    if type(t) is str:
        return _datetime_in_zone(ctl, d, t)
    if type(d) not in (dt.date, dt.datetime) or type(t) is not dt.time:
        raise Fail(f"expected date and time but found '{repr_value(d)}' and '{repr_value(t)}'")
    return dt.datetime.combine(dt.date(d.year, d.month, d.day), t.replace(tzinfo=None), tzinfo=t.tzinfo)


@builtin("date and time", "from, timezone")
def _datetime_in_zone(ctl, v, tz_name):
    # Camunda extension: the same instant in another zone (a local value is placed in the zone)
    tz = zone(_str(tz_name, "timezone"))
    if tz is None:
        raise Fail(f"unknown timezone '{tz_name}'")
    if type(v) is not dt.datetime:
        raise Fail(f"expected date and time but found '{repr_value(v)}'")
    if v.tzinfo is None:
        return v.replace(tzinfo=tz)
    return v.astimezone(tz)


@builtin("time", "from")
def _time(ctl, v):
    t = type(v)
    if t is str:
        return parse_time(v)
    if t is dt.datetime:
        return v.timetz()
    if t is dt.time:
        return v
    if t is dt.date:
        return dt.time(0, 0, 0, tzinfo=UTC)
    raise Fail(f"expected string or date and time but found '{repr_value(v)}'")


@builtin("time", "hour, minute, second, offset", optional=1)
def _time4(ctl, h, m, s, offset):
    sec = _num(s)
    whole = int(sec)
    us = int(((sec - whole) * 1_000_000).to_integral_value())
    tz = None
    if offset is not None:
        if type(offset) is not dt.timedelta:
            raise Fail(f"expected days and time duration but found '{repr_value(offset)}'")
        if abs(offset) > dt.timedelta(hours=18):
            raise Fail("offset out of range")
        tz = UTC if not offset else dt.timezone(offset)
    try:
        return dt.time(_int(h), _int(m), whole, us, tzinfo=tz)
    except ValueError as e:
        raise Fail(str(e)) from None


_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@builtin("number", "from, grouping separator, decimal separator", optional=2)
def _number(ctl, v, grouping, decimal_sep):
    text = _str(v)
    if grouping is not None and grouping not in (" ", ",", "."):
        raise Fail(f"illegal grouping separator '{grouping}'")
    if decimal_sep is not None and decimal_sep not in (".", ","):
        raise Fail(f"illegal decimal separator '{decimal_sep}'")
    if grouping is not None and grouping == decimal_sep:
        raise Fail("grouping and decimal separator are the same")
    if grouping is not None:
        text = text.replace(grouping, "")
    if decimal_sep is not None and decimal_sep != ".":
        if "." in text:
            return None
        text = text.replace(decimal_sep, ".")
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    return _dec(text)


@builtin("string", "from")
def _string(ctl, v):
    if v is None:
        return None
    return to_string(v)


@builtin("duration", "from")
def _duration(ctl, v):
    return parse_duration(_str(v))


@builtin("years and months duration", "from, to")
def _ym_duration(ctl, a, b):
    if type(a) not in (dt.date, dt.datetime) or type(b) not in (dt.date, dt.datetime):
        raise Fail(f"expected dates but found '{repr_value(a)}' and '{repr_value(b)}'")
    # only the dates count (DMN 1.5: the time of day does not shorten a month)
    return YearMonthDuration(months_between(dt.date(a.year, a.month, a.day), dt.date(b.year, b.month, b.day)))


@builtin("context", "entries")
def _context(ctl, entries):
    if type(entries) is dict:
        entries = [entries]
    result: dict[str, Any] = {}
    for e in _list(entries):
        if type(e) is not dict or "key" not in e or "value" not in e or type(e["key"]) is not str:
            raise Fail(f"expected a context with 'key' and 'value' but found '{repr_value(e)}'")
        if e["key"] in result:
            raise Fail(f"duplicate key '{e['key']}'")
        result[e["key"]] = e["value"]
    return result


# ---------------------------------------------------------------------------------------------
# string


def _pos_substring(s: str, start: Decimal, length: Decimal | None) -> str:
    chars = list(s)  # code points (Python strings already are)
    n = len(chars)
    st = int(start.to_integral_value(ROUND_HALF_EVEN)) if start == start else 0
    if st == 0:
        raise Fail("start position must not be 0")
    begin = st - 1 if st > 0 else n + st
    begin = max(begin, 0)
    if length is None:
        return "".join(chars[begin:])
    ln = int(length)
    if ln < 0:
        raise Fail("length must not be negative")
    return "".join(chars[begin : begin + ln])


@builtin("substring", "string, start position")
def _substring(ctl, s, start):
    return _pos_substring(_str(s), _num(start), None)


@builtin("substring", "string, start position, length")
def _substring_length(ctl, s, start, length):
    return _pos_substring(_str(s), _num(start), _num(length))


@builtin("string length", "string")
def _string_length(ctl, s):
    return Decimal(len(_str(s)))


@builtin("upper case", "string")
def _upper(ctl, s):
    return _str(s).upper()


@builtin("lower case", "string")
def _lower(ctl, s):
    return _str(s).lower()


@builtin("substring before", "string, match")
def _before(ctl, s, m):
    s, m = _str(s), _str(m)
    i = s.find(m)
    return "" if i < 0 else s[:i]


@builtin("substring after", "string, match")
def _after(ctl, s, m):
    s, m = _str(s), _str(m)
    i = s.find(m)
    return "" if i < 0 else s[i + len(m) :]


@builtin("contains", "string, match")
def _contains(ctl, s, m):
    return _str(m) in _str(s)


@builtin("starts with", "string, match")
def _starts_with(ctl, s, m):
    return _str(s).startswith(_str(m))


@builtin("ends with", "string, match")
def _ends_with(ctl, s, m):
    return _str(s).endswith(_str(m))


@builtin("matches", "input, pattern, flags", optional=1)
def _matches(ctl, s, pattern, flags):
    rx = compile_xpath_regex(_str(pattern), None if flags is None else _str(flags))
    return rx.search(_str(s), ctl)


def _replacement(rep: str) -> str:
    # XPath replacement strings use $1 for groups and \$ / \\ for literals
    out = []
    i = 0
    while i < len(rep):
        c = rep[i]
        if c == "\\" and i + 1 < len(rep) and rep[i + 1] in "\\$":
            out.append("\\\\" if rep[i + 1] == "\\" else "$")
            i += 2
        elif c == "$" and i + 1 < len(rep) and rep[i + 1].isdigit():
            j = i + 1
            while j < len(rep) and rep[j].isdigit():
                j += 1
            out.append("\\g<" + rep[i + 1 : j] + ">")
            i = j
        elif c == "$":
            raise Fail("invalid replacement string")
        elif c == "\\":
            out.append("\\\\")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


@builtin("replace", "input, pattern, replacement, flags", optional=1)
def _replace(ctl, s, pattern, rep, flags):
    rx = compile_xpath_regex(_str(pattern), None if flags is None else _str(flags))
    s = _str(s)
    if rx.search("", ctl):
        raise Fail("pattern matches the empty string")
    literal = flags is not None and "q" in flags
    repl = _str(rep).replace("\\", "\\\\") if literal else _replacement(_str(rep))
    try:
        return rx.sub(repl, s, ctl)
    except (re.error, IndexError) as e:
        raise Fail(str(e)) from None


@builtin("split", "string, delimiter")
def _split(ctl, s, delimiter):
    s = _str(s)
    rx = compile_xpath_regex(_str(delimiter), None)
    return rx.split(s, ctl)


@builtin("extract", "input, pattern")
def _extract(ctl, s, pattern):
    rx = compile_xpath_regex(_str(pattern), None)
    return rx.findall(_str(s), ctl)


@builtin("trim", "string")
def _trim(ctl, s):
    return _str(s).strip()


@builtin("uuid")
def _uuid(ctl):
    return str(uuid.uuid4())


@builtin("to base64", "value")
def _to_base64(ctl, s):
    return base64.b64encode(_str(s).encode("utf-8")).decode("ascii")


@builtin("is blank", "string")
def _is_blank(ctl, s):
    return _str(s).strip() == ""


# ---------------------------------------------------------------------------------------------
# list


@builtin("list contains", "list, element")
def _list_contains(ctl, items, x):
    return rt.list_contains(_list(items), x)


@builtin("count", "list")
def _count(ctl, items):
    return Decimal(len(_list(items)))


def _comparable(items: list[Any]) -> list[Any]:
    kinds = {compare_kind(i) for i in items}
    if None in kinds or len(kinds) > 1:
        raise Fail(f"expected comparable values but found '{repr_value(items)}'")
    return items


@builtin("min", "list", varargs=True)
def _min(ctl, items):
    items = _list(items)
    if not items:
        return None
    return min(_comparable(items))


@builtin("max", "list", varargs=True)
def _max(ctl, items):
    items = _list(items)
    if not items:
        return None
    return max(_comparable(items))


def _numbers(items: Any) -> list[Decimal]:
    items = _list(items)
    for i in items:
        _num(i)
    return items


@builtin("sum", "list", varargs=True)
def _sum(ctl, items):
    items = _numbers(items)
    if not items:
        return None
    total = Decimal(0)
    for i in items:
        total = NUMBER_CONTEXT.add(total, i)
    return total


@builtin("product", "list", varargs=True)
def _product(ctl, items):
    items = _numbers(items)
    if not items:
        return None
    total = Decimal(1)
    for i in items:
        total = NUMBER_CONTEXT.multiply(total, i)
    return total


@builtin("mean", "list", varargs=True)
def _mean(ctl, items):
    items = _numbers(items)
    if not items:
        return None
    return NUMBER_CONTEXT.divide(_sum(ctl, items), Decimal(len(items)))


@builtin("median", "list", varargs=True)
def _median(ctl, items):
    items = sorted(_numbers(items))
    if not items:
        return None
    n = len(items)
    if n % 2:
        return items[n // 2]
    return NUMBER_CONTEXT.divide(NUMBER_CONTEXT.add(items[n // 2 - 1], items[n // 2]), Decimal(2))


@builtin("stddev", "list", varargs=True)
def _stddev(ctl, items):
    items = _numbers(items)
    if len(items) < 2:
        return None
    n = Decimal(len(items))
    mean = NUMBER_CONTEXT.divide(sum(items, Decimal(0)), n)
    var = NUMBER_CONTEXT.divide(sum(((i - mean) ** 2 for i in items), Decimal(0)), n - 1)
    return NUMBER_CONTEXT.sqrt(var)


@builtin("mode", "list", varargs=True)
def _mode(ctl, items):
    items = _numbers(items)
    if not items:
        return []
    counts: dict[Decimal, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    top = max(counts.values())
    return sorted(k for k, c in counts.items() if c == top)


@builtin("all", "list", varargs=True, aliases=("and",))
def _all(ctl, items):
    items = _list(items)
    result: Any = True
    for i in items:
        if i is False:
            return False
        if i is not True:
            result = None
    return result


@builtin("any", "list", varargs=True, aliases=("or",))
def _any(ctl, items):
    items = _list(items)
    result: Any = False
    for i in items:
        if i is True:
            return True
        if i is not False:
            result = None
    return result


@builtin("sublist", "list, start position, length", optional=1)
def _sublist(ctl, items, start, length):
    items = _list(items)
    st = _int(start)
    n = len(items)
    if st == 0 or abs(st) > n:
        raise Fail(f"start position {st} out of range for a list of {n}")
    begin = st - 1 if st > 0 else n + st
    if length is None:
        return items[begin:]
    ln = _int(length)
    if ln < 0 or begin + ln > n:
        raise Fail("length out of range")
    return items[begin : begin + ln]


@builtin("append", "list, items", varargs=True)
def _append(ctl, items, more):
    return [*_list(items), *more]


@builtin("concatenate", "lists", varargs=True)
def _concatenate(ctl, lists):
    out: list[Any] = []
    for li in lists:
        out.extend(_list(li))
    return out


@builtin("insert before", "list, position, newItem")
def _insert_before(ctl, items, position, new):
    items = list(_list(items))
    p = _int(position)
    n = len(items)
    if p == 0 or abs(p) > n:
        raise Fail(f"position {p} out of range")
    items.insert(p - 1 if p > 0 else n + p, new)
    return items


@builtin("remove", "list, position")
def _remove(ctl, items, position):
    items = list(_list(items))
    p = _int(position)
    n = len(items)
    if p == 0 or abs(p) > n:
        raise Fail(f"position {p} out of range")
    del items[p - 1 if p > 0 else n + p]
    return items


@builtin("reverse", "list")
def _reverse(ctl, items):
    return list(reversed(_list(items)))


@builtin("index of", "list, match")
def _index_of(ctl, items, x):
    return [Decimal(i + 1) for i, v in enumerate(_list(items)) if rt.equal(v, x) is True]


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in items:
        if not rt.list_contains(out, i):
            out.append(i)
    return out


@builtin("union", "lists", varargs=True)
def _union(ctl, lists):
    return _distinct(_concatenate(ctl, lists))


@builtin("distinct values", "list")
def _distinct_values(ctl, items):
    return _distinct(_list(items))


@builtin("duplicate values", "list")
def _duplicate_values(ctl, items):
    items = _list(items)
    out: list[Any] = []
    for n, i in enumerate(items):
        if rt.list_contains(items[n + 1 :], i) and not rt.list_contains(out, i):
            out.append(i)
    return out


@builtin("flatten", "list")
def _flatten(ctl, items):
    out: list[Any] = []

    def walk(v: list[Any], depth: int) -> None:
        if depth > 100:
            raise Fail("list nested too deeply")
        for i in v:
            if type(i) is list:
                walk(i, depth + 1)
            else:
                out.append(i)

    walk(_list(items), 0)
    return out


@builtin("sort", "list, precedes", optional=1)
def _sort(ctl, items, precedes):
    items = _list(items)
    if precedes is None:
        return sorted(_comparable(items))
    if type(precedes) is not FeelFunction:
        raise Fail(f"expected function but found '{repr_value(precedes)}'")
    ctl.spend(len(items) * max(1, len(items).bit_length()))

    def before(a: Any, b: Any) -> bool:
        r = rt.call(ctl, precedes, [a, b])
        if type(r) is not bool:
            raise Fail(f"sort function returned '{repr_value(r)}' instead of a boolean")
        return r

    # merge sort: a stable sort that only asks "does a precede b"
    def msort(v: list[Any]) -> list[Any]:
        if len(v) <= 1:
            return v
        mid = len(v) // 2
        left, right = msort(v[:mid]), msort(v[mid:])
        out = []
        i = j = 0
        while i < len(left) and j < len(right):
            if before(right[j], left[i]) and not before(left[i], right[j]):
                out.append(right[j])
                j += 1
            else:
                out.append(left[i])
                i += 1
        out.extend(left[i:])
        out.extend(right[j:])
        return out

    return msort(list(items))


@builtin("string join", "list")
def _string_join1(ctl, items):
    return _string_join(ctl, items, "", None, None)


@builtin("string join", "list, delimiter")
def _string_join2(ctl, items, delimiter):
    return _string_join(ctl, items, _str(delimiter) if delimiter is not None else None, None, None)


@builtin("string join", "list, delimiter, prefix, suffix")
def _string_join(ctl, items, delimiter, prefix, suffix):
    items = _list(items)
    parts = []
    for i in items:
        if i is None:
            continue
        parts.append(_str(i, "a list of strings"))
    d = "" if delimiter is None else _str(delimiter)
    return ("" if prefix is None else _str(prefix)) + d.join(parts) + ("" if suffix is None else _str(suffix))


@builtin("list replace", "list, position, newItem")
def _list_replace(ctl, items, position, new):
    items = list(_list(items))
    if type(position) is FeelFunction:
        if len(position.params) != 2:
            raise Fail("the match function needs the parameters (item, newItem)")
        out = []
        for i in items:
            hit = rt.call(ctl, position, [i, new])
            if type(hit) is not bool:
                raise Fail(f"the match function returned '{repr_value(hit)}' instead of a boolean")
            out.append(new if hit else i)
        return out
    p = int(_num(position, "position"))
    n = len(items)
    if p == 0 or abs(p) > n:
        raise Fail(f"position {p} out of range for a list of {n}")
    items[p - 1 if p > 0 else n + p] = new
    return items


BUILTINS["list replace"].append(FeelFunction("list replace", ["list", "match", "newItem"], _list_replace))


@builtin("is empty", "list")
def _is_empty(ctl, items):
    return len(_list(items)) == 0


@builtin("partition", "list, size")
def _partition(ctl, items, size):
    items = _list(items)
    n = _int(size)
    if n <= 0:
        raise Fail("size must be positive")
    return [items[i : i + n] for i in range(0, len(items), n)]


# ---------------------------------------------------------------------------------------------
# numeric


def _scale(scale: Any) -> int:
    s = int(_num(scale, "scale"))
    if not -6111 <= s <= 6176:
        raise Fail(f"scale out of range: {s}")
    return s


def _round(n: Any, scale: Any, mode: str) -> Decimal:
    d = _num(n)
    s = _scale(scale)
    if d.is_zero() or -d.as_tuple().exponent <= s:
        return d  # already has at most `scale` decimals (also avoids exceeding 34 digits)
    return d.quantize(Decimal(1).scaleb(-s), rounding=mode, context=NUMBER_CONTEXT)


@builtin("decimal", "n, scale")
def _decimal(ctl, n, scale):
    return _round(n, scale, ROUND_HALF_EVEN)


def _register_rounding(name: str, mode: str) -> None:
    # each rounding function comes as `name(n)` (to a whole number) and `name(n, scale)`, in that order
    @builtin(name, "n")
    def whole(ctl, n):
        return _round(n, Decimal(0), mode)

    @builtin(name, "n, scale")
    def scaled(ctl, n, scale):
        return _round(n, scale, mode)


for _name, _mode in (
    ("floor", ROUND_FLOOR),
    ("ceiling", ROUND_CEILING),
    ("round up", ROUND_UP),
    ("round down", ROUND_DOWN),
    ("round half up", ROUND_HALF_UP),
    ("round half down", ROUND_HALF_DOWN),
):
    _register_rounding(_name, _mode)


@builtin("abs", "n")
def _abs(ctl, n):
    if type(n) is dt.timedelta:
        return abs(n)
    if type(n) is YearMonthDuration:
        return YearMonthDuration(abs(n.months))
    return abs(_num(n))


@builtin("modulo", "dividend, divisor")
def _modulo(ctl, a, b):
    a, b = _num(a), _num(b)
    if b == 0:
        raise Fail("division by zero")
    # result has the sign of the divisor (floored division)
    r = NUMBER_CONTEXT.remainder(a, b)
    if r != 0 and (r < 0) != (b < 0):
        r = NUMBER_CONTEXT.add(r, b)
    return r


@builtin("sqrt", "number")
def _sqrt(ctl, n):
    n = _num(n)
    if n < 0:
        raise Fail("square root of a negative number")
    return NUMBER_CONTEXT.sqrt(n)


@builtin("log", "number")
def _log(ctl, n):
    n = _num(n)
    if n <= 0:
        raise Fail("logarithm of a number that is not positive")
    return NUMBER_CONTEXT.ln(n)


@builtin("exp", "number")
def _exp(ctl, n):
    return NUMBER_CONTEXT.exp(_num(n))


@builtin("odd", "number")
def _odd(ctl, n):
    n = _num(n)
    if n != n.to_integral_value():
        return False
    return int(n) % 2 == 1


@builtin("even", "number")
def _even(ctl, n):
    n = _num(n)
    if n != n.to_integral_value():
        return False
    return int(n) % 2 == 0


@builtin("random number")
def _random_number(ctl):
    return _dec(repr(random.random()))


# ---------------------------------------------------------------------------------------------
# context


@builtin("get value", "context, keys")
@builtin("get value", "m, key")
@builtin("get value", "context, key")
def _get_value(ctl, c, key):
    c = _ctx(c)
    if type(key) is list:
        return _get_value_path(c, key)
    return c.get(_str(key, "key"))


def _get_value_path(c: dict[str, Any], keys: list[Any]) -> Any:
    cur: Any = c
    if not keys:
        return None
    for k in keys:
        if type(cur) is not dict or type(k) is not str:
            return None
        cur = cur.get(k)
    return cur


@builtin("get entries", "m")
@builtin("get entries", "context")
def _get_entries(ctl, c):
    return [{"key": k, "value": v} for k, v in _ctx(c).items()]


@builtin("context put", "context, key, value", aliases=("put",))
def _context_put(ctl, c, key, value):
    c = _ctx(c)
    if type(key) is list:
        return _context_put_path(c, key, value)
    out = dict(c)
    out[_str(key, "key")] = value
    return out


@builtin("context put", "context, keys, value")
def _context_put_keys(ctl, c, keys, value):
    return _context_put_path(_ctx(c), _list(keys), value)


def _context_put_path(c: dict[str, Any], keys: list[Any], value: Any) -> Any:
    if not keys or any(type(k) is not str for k in keys):
        return None
    out = dict(c)
    head = keys[0]
    if len(keys) == 1:
        out[head] = value
        return out
    inner = out.get(head)
    out[head] = _context_put_path(inner if type(inner) is dict else {}, keys[1:], value)
    return out


@builtin("context merge", "contexts", varargs=True, aliases=("put all",))
def _context_merge(ctl, contexts):
    out: dict[str, Any] = {}
    for c in contexts:
        out.update(_ctx(c))
    return out


# ---------------------------------------------------------------------------------------------
# temporal


def _now(ctl: rt.Ctl) -> dt.datetime:
    ms = ctl.now_millis()
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


@builtin("now")
def _now_fn(ctl):
    return _now(ctl)


@builtin("today")
def _today(ctl):
    return _now(ctl).date()


def _date_of(v: Any) -> dt.date:
    if type(v) is dt.datetime:
        return v.date()
    if type(v) is dt.date:
        return v
    raise Fail(f"expected date but found '{repr_value(v)}'")


_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]  # fmt: skip


@builtin("day of year", "date")
def _day_of_year(ctl, d):
    return Decimal(_date_of(d).timetuple().tm_yday)


@builtin("day of week", "date")
def _day_of_week(ctl, d):
    return _WEEKDAYS[_date_of(d).weekday()]


@builtin("month of year", "date")
def _month_of_year(ctl, d):
    return _MONTHS[_date_of(d).month - 1]


@builtin("week of year", "date")
def _week_of_year(ctl, d):
    return Decimal(_date_of(d).isocalendar()[1])


@builtin("last day of month", "date")
def _last_day_of_month(ctl, d):
    d = _date_of(d)
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


@builtin("is", "value1, value2", optional=2)
def _is(ctl, a, b):
    if a is None or b is None:
        return False
    if type(a) is not type(b):
        return False
    if type(a) in (dt.datetime, dt.time):
        return a == b and a.utcoffset() == b.utcoffset() and a.tzinfo == b.tzinfo
    return rt.equal(a, b) is True


# ---------------------------------------------------------------------------------------------
# Zeebe's own function for timer cycles: cycle(duration("PT1H")) is "R/PT1H"


def _cycle_text(repetitions: Any, interval: Any) -> str:
    if type(interval) not in (dt.timedelta, YearMonthDuration):
        raise Fail(f"expected a duration but found '{repr_value(interval)}'")
    if repetitions is None:
        return f"R/{to_string(interval)}"
    return f"R{_int(repetitions, 'repetitions')}/{to_string(interval)}"


@builtin("cycle", "interval")
def _cycle(ctl, interval):
    return _cycle_text(None, interval)


@builtin("cycle", "repetitions, interval")
def _cycle2(ctl, repetitions, interval):
    return _cycle_text(repetitions, interval)


# ---------------------------------------------------------------------------------------------
# ranges (DMN 1.5 10.3.4.9): points and ranges


@builtin("range", "from")
def _range(ctl, text):
    """DMN 1.5: a range from its literal text; endpoints must be literals (no variables)."""
    from . import compile_expression
    from .errors import FeelSyntaxError

    try:
        expr = compile_expression(_str(text).strip())
    except FeelSyntaxError as e:
        raise Fail(f"not a range literal: {e.expected}") from None
    tree = getattr(expr, "tree", None)
    if tree is None or tree[0] not in ("range", "open_range") or not _literal_endpoints(tree):
        raise Fail(f"not a range literal: '{text}'")
    value = expr.evaluate({})
    if type(value) is not Range:
        raise Fail(f"not a range literal: '{text}'")
    if value.start is not None and value.end is not None and rt.compare(">", value.start, value.end, None):
        raise Fail(f"the range starts after its end: '{text}'")
    return value


def _literal_endpoints(tree: tuple) -> bool:
    ends = [tree[3]] if tree[0] == "open_range" else [tree[3], tree[4]]
    return all(_is_literal(e) for e in ends)


def _is_literal(node: tuple) -> bool:
    tag = node[0]
    if tag in ("num", "str", "bool", "const"):
        return True
    if tag == "neg":
        return _is_literal(node[2])
    if tag == "call" and not node[4] and len(node[3]) == 1:
        fn = node[2]
        return fn[0] == "name" and fn[2] in ("date", "time", "date and time", "duration") and node[3][0][0] == "str"
    return False


def _r(v: Any) -> Range:
    return v if type(v) is Range else Range(v, v, True, True)


def _lt(a: Any, b: Any) -> bool:
    r = rt.compare("<", a, b, None)
    if r is None:
        raise Fail(f"can't compare '{repr_value(a)}' with '{repr_value(b)}'")
    return r


def _eq(a: Any, b: Any) -> bool:
    r = rt.equal(a, b)
    if r is None:
        raise Fail(f"can't compare '{repr_value(a)}' with '{repr_value(b)}'")
    return r


def _range_args(a: Any, b: Any) -> tuple[Range, Range]:
    for v in (a, b):
        if v is None or (type(v) is not Range and compare_kind(v) is None):
            raise Fail(f"expected point or range but found '{repr_value(v)}'")
    return _r(a), _r(b)


@builtin("before", "point1, point2")
def _before_pp(ctl, a, b):
    if type(a) is not Range and type(b) is not Range:
        return _lt(a, b)
    x, y = _range_args(a, b)
    if x.end is None or y.start is None:
        return False
    return _lt(x.end, y.start) or (_eq(x.end, y.start) and not (x.end_included and y.start_included))


@builtin("before", "range1, range2")
def _before_rr(ctl, a, b):
    return _before_pp(ctl, a, b)


@builtin("before", "point, range")
def _before_pr(ctl, a, b):
    return _before_pp(ctl, a, b)


@builtin("before", "range, point")
def _before_rp(ctl, a, b):
    return _before_pp(ctl, a, b)


def _after_impl(ctl: Any, a: Any, b: Any) -> bool:
    return _before_pp(ctl, b, a)


for _names in (("point1", "point2"), ("range1", "range2"), ("point", "range"), ("range", "point")):
    BUILTINS.setdefault("after", []).append(FeelFunction("after", list(_names), _after_impl))


def _pairs(name: str, impl: Callable[[Range, Range], bool], signatures: tuple[tuple[str, str], ...]) -> None:
    def call(ctl: Any, a: Any, b: Any) -> bool:
        x, y = _range_args(a, b)
        return impl(x, y)

    for s in signatures:
        BUILTINS.setdefault(name, []).append(FeelFunction(name, list(s), call))


def _meets(x: Range, y: Range) -> bool:
    return x.end_included and y.start_included and x.end is not None and y.start is not None and _eq(x.end, y.start)


def _overlaps(x: Range, y: Range) -> bool:
    def starts_before_end(a: Range, b: Range) -> bool:  # a.start <= b.end
        if a.start is None or b.end is None:
            return True
        return _lt(a.start, b.end) or (_eq(a.start, b.end) and a.start_included and b.end_included)

    return starts_before_end(x, y) and starts_before_end(y, x)


def _overlaps_before(x: Range, y: Range) -> bool:
    if x.start is None or y.start is None or x.end is None or y.end is None:
        return False
    starts = _lt(x.start, y.start) or (_eq(x.start, y.start) and x.start_included and not y.start_included)
    ends_after_start = _lt(y.start, x.end) or (_eq(x.end, y.start) and x.end_included and y.start_included)
    ends_before = _lt(x.end, y.end) or (_eq(x.end, y.end) and (not x.end_included or y.end_included))
    return starts and ends_after_start and ends_before


def _finishes(x: Range, y: Range) -> bool:
    # x finishes y: same end, x starts within y
    if x.end is None or y.end is None:
        return False
    if not (_eq(x.end, y.end) and x.end_included == y.end_included):
        return False
    if y.start is None:
        return True
    if x.start is None:
        return False
    return _lt(y.start, x.start) or (_eq(x.start, y.start) and (y.start_included or not x.start_included))


def _includes(x: Range, y: Range) -> bool:
    # y lies within x
    if x.start is not None:
        if y.start is None:
            return False
        if not (_lt(x.start, y.start) or (_eq(x.start, y.start) and (x.start_included or not y.start_included))):
            return False
    if x.end is not None:
        if y.end is None:
            return False
        if not (_lt(y.end, x.end) or (_eq(y.end, x.end) and (x.end_included or not y.end_included))):
            return False
    return True


def _starts(x: Range, y: Range) -> bool:
    if x.start is None or y.start is None:
        return x.start is None and y.start is None and _includes(y, x)
    if not (_eq(x.start, y.start) and x.start_included == y.start_included):
        return False
    if y.end is None:
        return True
    if x.end is None:
        return False
    return _lt(x.end, y.end) or (_eq(x.end, y.end) and (y.end_included or not x.end_included))


def _coincides(x: Range, y: Range) -> bool:
    return (
        x.start_included == y.start_included
        and x.end_included == y.end_included
        and _eq_or_none(x.start, y.start)
        and _eq_or_none(x.end, y.end)
    )


def _eq_or_none(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _eq(a, b)


_pairs("meets", _meets, (("range1", "range2"),))
_pairs("met by", lambda x, y: _meets(y, x), (("range1", "range2"),))
_pairs("overlaps", _overlaps, (("range1", "range2"),))
_pairs("overlaps before", _overlaps_before, (("range1", "range2"),))
_pairs("overlaps after", lambda x, y: _overlaps_before(y, x), (("range1", "range2"),))
_pairs("finishes", _finishes, (("point", "range"), ("range1", "range2")))
_pairs("finished by", lambda x, y: _finishes(y, x), (("range", "point"), ("range1", "range2")))
_pairs("includes", _includes, (("range", "point"), ("range1", "range2")))
_pairs("during", lambda x, y: _includes(y, x), (("point", "range"), ("range1", "range2")))
_pairs("starts", _starts, (("point", "range"), ("range1", "range2")))
_pairs("started by", lambda x, y: _starts(y, x), (("range", "point"), ("range1", "range2")))
_pairs("coincides", _coincides, (("point1", "point2"), ("range1", "range2")))

