"""FEEL value model.

FEEL values are plain Python objects so that the engine can hand them around without wrapping:

==========================  ==========================================================
FEEL type                   Python representation
==========================  ==========================================================
null                        ``None``
number                      ``decimal.Decimal`` (34 significant digits, see ``NUMBER_CONTEXT``)
string / boolean            ``str`` / ``bool``
date                        ``datetime.date``
time                        ``datetime.time`` (naive = local time; tzinfo = offset or zone id)
date and time               ``datetime.datetime`` (naive = local; ``timezone`` = offset;
                            ``ZoneInfo`` = zone id)
days and time duration      ``datetime.timedelta`` (microsecond precision, FEEL allows nanos)
years and months duration   ``YearMonthDuration``
list / context              ``list`` / ``dict`` (str keys, insertion ordered)
range                       ``Range``
function                    ``FeelFunction``
==========================  ==========================================================
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

# DECIMAL128: 34 digits, half-even rounding. Traps turn overflow and invalid operations into
# exceptions that the evaluator maps to null.
NUMBER_CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=6144,
    Emin=-6143,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

UTC = dt.UTC


@dataclass(frozen=True, slots=True)
class YearMonthDuration:
    """A years-and-months duration, normalised to a signed total of months."""

    months: int

    @property
    def years_part(self) -> int:
        return int(self.months / 12)

    @property
    def months_part(self) -> int:
        return self.months - 12 * int(self.months / 12)

    def __lt__(self, other: YearMonthDuration) -> bool:
        return self.months < other.months

    def __le__(self, other: YearMonthDuration) -> bool:
        return self.months <= other.months

    def __gt__(self, other: YearMonthDuration) -> bool:
        return self.months > other.months

    def __ge__(self, other: YearMonthDuration) -> bool:
        return self.months >= other.months


@dataclass(frozen=True, slots=True)
class Range:
    """A FEEL range; ``start``/``end`` of ``None`` with ``*_included`` False means unbounded."""

    start: Any
    end: Any
    start_included: bool = True
    end_included: bool = True


class FeelFunction:
    """A callable FEEL value (built-in or defined with ``function(...)``).

    ``invoke`` receives the evaluation control object and the positional arguments (already in
    parameter order; missing named arguments are ``None``).
    """

    __slots__ = ("invoke", "name", "optional", "params", "user", "varargs")

    def __init__(
        self,
        name: str,
        params: list[str],
        invoke: Callable[..., Any],
        optional: int = 0,
        varargs: bool = False,
        user: bool = False,
    ) -> None:
        self.name = name
        self.params = params
        self.invoke = invoke
        self.optional = optional
        self.varargs = varargs
        self.user = user  # defined in FEEL: missing named arguments are null

    def __repr__(self) -> str:
        return f"function({', '.join(self.params)})"


# ---------------------------------------------------------------------------------------------
# type names


def type_name(v: Any) -> str:
    t = type(v)
    name = _TYPE_NAMES.get(t)
    if name is not None:
        return name
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dt.datetime):
        return "date and time"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, dt.time):
        return "time"
    if isinstance(v, dt.timedelta):
        return "days and time duration"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "context"
    return "unknown"


_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    Decimal: "number",
    str: "string",
    dt.date: "date",
    dt.time: "time",
    dt.datetime: "date and time",
    dt.timedelta: "days and time duration",
    YearMonthDuration: "years and months duration",
    list: "list",
    dict: "context",
    Range: "range",
    FeelFunction: "function",
}


def compare_kind(v: Any) -> str | None:
    """The class of values that can be ordered against each other, or None if unordered.

    Local and zoned temporal values are different kinds (as in Camunda FEEL): comparing them
    gives null.
    """
    t = type(v)
    if t is Decimal:
        return "number"
    if t is str:
        return "string"
    if t is dt.datetime:
        return "date and time" if v.tzinfo is None else "zoned date and time"
    if t is dt.date:
        return "date"
    if t is dt.time:
        return "time" if v.tzinfo is None else "zoned time"
    if t is dt.timedelta:
        return "days and time duration"
    if t is YearMonthDuration:
        return "years and months duration"
    return None


# ---------------------------------------------------------------------------------------------
# zones


def time_offset(t: dt.time) -> dt.timedelta | None:
    """UTC offset of a time value; a zone id uses the zone's standard offset (no date known)."""
    tz = t.tzinfo
    if tz is None:
        return None
    if isinstance(tz, ZoneInfo):
        return tz.utcoffset(dt.datetime(2000, 1, 1, 12))
    return tz.utcoffset(None)


def time_key(t: dt.time) -> dt.timedelta:
    """Microseconds since midnight UTC, for ordering zoned times."""
    off = time_offset(t) or dt.timedelta(0)
    return dt.timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond) - off


def zone_id(tz: dt.tzinfo | None) -> str | None:
    if isinstance(tz, ZoneInfo):
        return tz.key
    return None


# ---------------------------------------------------------------------------------------------
# text forms


def _fraction(us: int) -> str:
    if not us:
        return ""
    return "." + f"{us:06d}".rstrip("0")


def _offset_text(off: dt.timedelta | None) -> str:
    if off is None:
        return ""
    total = int(off.total_seconds())
    if total == 0:
        return "Z"
    sign = "+" if total > 0 else "-"
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    text = f"{sign}{h:02d}:{m:02d}"
    if s:
        text += f":{s:02d}"
    return text


def format_date(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def format_local_time(t: dt.time | dt.datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}{_fraction(t.microsecond)}"


def format_time(t: dt.time) -> str:
    """FEEL text of a time: ``10:30:00``, ``10:30:00+01:00``, ``10:30:00@Europe/Paris``."""
    text = format_local_time(t)
    zid = zone_id(t.tzinfo)
    if zid is not None:
        return f"{text}@{zid}"
    if t.tzinfo is not None:
        return text + _offset_text(t.tzinfo.utcoffset(None))
    return text


def format_datetime(v: dt.datetime) -> str:
    """FEEL text of a date and time (zone ids replace the offset, as Camunda prints them)."""
    text = f"{format_date(v)}T{format_local_time(v)}"
    zid = zone_id(v.tzinfo)
    if zid is not None:
        return f"{text}@{zid}"
    if v.tzinfo is not None:
        return text + _offset_text(v.utcoffset())
    return text


def format_day_time_duration(d: dt.timedelta) -> str:
    # Java's Duration semantics: whole seconds truncated towards zero (fractions are dropped
    # in Camunda's text form too).
    total_us = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    negative = total_us < 0
    total_us = abs(total_us)
    seconds, us = divmod(total_us, 1_000_000)
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if not (days or hours or minutes or secs or us):
        return "P0D"
    text = "P"
    if days:
        text += f"{days}D"
    if hours or minutes or secs or us:
        text += "T"
        if hours:
            text += f"{hours}H"
        if minutes:
            text += f"{minutes}M"
        if secs or us:
            text += f"{secs}{_fraction(us)}S"
    return ("-" if negative else "") + text


def format_year_month_duration(d: YearMonthDuration) -> str:
    months = d.months
    if months == 0:
        return "P0Y"
    negative = months < 0
    months = abs(months)
    years, months = divmod(months, 12)
    text = "P" + (f"{years}Y" if years else "") + (f"{months}M" if months else "")
    return ("-" if negative else "") + text


def format_number(n: Decimal) -> str:
    if n.is_zero():
        return "0" if n.as_tuple().exponent >= 0 else str(n.copy_abs())
    text = str(n)
    if "E" in text:
        # FEEL has no exponent notation: write out the digits.
        text = format(n, "f")
    return text


def to_string(v: Any) -> str:
    """The text a value has in FEEL (as ``string(v)`` gives it)."""
    if v is None:
        return "null"
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is Decimal:
        return format_number(v)
    if t is dt.datetime:
        return format_datetime(v)
    if t is dt.date:
        return format_date(v)
    if t is dt.time:
        return format_time(v)
    if t is dt.timedelta:
        return format_day_time_duration(v)
    if t is YearMonthDuration:
        return format_year_month_duration(v)
    return literal_text(v)


def _is_plain_name(key: str) -> bool:
    return bool(key) and (key[0].isalpha() or key[0] == "_") and all(c.isalnum() or c in "_ " for c in key)


def literal_text(v: Any) -> str:
    """FEEL literal text of a value, as string() writes lists and contexts: {a: "x", "b c": [1]}."""
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(literal_text(i) for i in v) + "]"
    if isinstance(v, dict):
        parts = []
        for k, i in v.items():
            key = k if _is_plain_name(k) and not k.endswith(" ") else literal_text(k)
            parts.append(f"{key}: {literal_text(i)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(v, Range):
        s = "[" if v.start_included else "("
        e = "]" if v.end_included else ")"
        return f"{s}{literal_text(v.start)}..{literal_text(v.end)}{e}"
    if isinstance(v, FeelFunction):
        return repr(v)
    return to_string(v)


def repr_value(v: Any) -> str:
    """FEEL-like rendering for messages: strings are quoted; long values are cut short so that a
    warning never carries a huge value."""
    text = _repr(v, 0)
    return text if len(text) <= 200 else text[:197] + "..."


def _repr(v: Any, depth: int) -> str:
    if depth > 3:
        return "..."
    if isinstance(v, str):
        return '"' + (v if len(v) <= 200 else v[:200] + "...") + '"'
    if isinstance(v, list):
        items = [_repr(i, depth + 1) for i in v[:10]]
        return "[" + ", ".join(items) + (", ..." if len(v) > 10 else "") + "]"
    if isinstance(v, dict):
        items = [f"{k}:{_repr(i, depth + 1)}" for k, i in list(v.items())[:10]]
        return "{" + ", ".join(items) + (", ..." if len(v) > 10 else "") + "}"
    if isinstance(v, Range):
        s = "[" if v.start_included else "("
        e = "]" if v.end_included else ")"
        return f"{s}{_repr(v.start, depth + 1)}..{_repr(v.end, depth + 1)}{e}"
    if isinstance(v, FeelFunction):
        return repr(v)
    return to_string(v)
