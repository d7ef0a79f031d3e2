"""Conversion between process-variable JSON values and FEEL values.

``to_feel``: int and float become ``Decimal`` exactly as written (a float through its ``repr``),
NaN and infinities become null; dicts and lists are converted recursively; FEEL values pass.

``to_json`` writes what Zeebe writes into its msgpack variables:

* integral numbers as ``int``, others as ``float``;
* date ``2026-12-01``; local date and time ``2026-12-01T09:00:00``; zoned date and time
  ``2026-12-01T09:00:00+08:00[Asia/Shanghai]`` / ``2026-12-01T09:00:00Z`` (ISO zoned form);
  local time as java.time prints it (``09:00``, ``09:00:30``); zoned time ``09:00:00+01:00`` or
  ``09:00:00@Europe/Paris``; durations in FEEL's form (``P90D``, ``PT1H30M``, ``P1Y2M``);
* contexts as dicts, lists as lists;
* ranges and functions as ``None`` (Zeebe writes nil for values it cannot serialise).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .runtime import to_feel
from .values import (
    YearMonthDuration,
    _offset_text,
    format_date,
    format_day_time_duration,
    format_time,
    format_year_month_duration,
    zone_id,
)

__all__ = ["to_feel", "to_json"]


def _number_to_json(n: Decimal) -> int | float:
    if not n.is_finite():
        return float(n)
    if n == n.to_integral_value():
        return int(n)
    return float(n)


def _iso_time(v: dt.time | dt.datetime) -> str:
    text = f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond:
        text += "." + f"{v.microsecond:06d}".rstrip("0")
    return text


def _java_local_time(v: dt.time) -> str:
    # java.time.LocalTime#toString: seconds only when non-zero, fractions in groups of three
    text = f"{v.hour:02d}:{v.minute:02d}"
    if v.second or v.microsecond:
        text += f":{v.second:02d}"
        if v.microsecond:
            text += f".{v.microsecond // 1000:03d}" if v.microsecond % 1000 == 0 else f".{v.microsecond:06d}"
    return text


def to_json(v: Any) -> Any:
    t = type(v)
    if v is None or t is str or t is bool:
        return v
    if t is Decimal:
        return _number_to_json(v)
    if t is list:
        return [to_json(i) for i in v]
    if t is dict:
        return {k: to_json(i) for k, i in v.items()}
    if t is dt.datetime:
        base = f"{format_date(v)}T{_iso_time(v)}"
        if v.tzinfo is None:
            return base
        text = base + _offset_text(v.utcoffset())
        zid = zone_id(v.tzinfo)
        return f"{text}[{zid}]" if zid else text
    if t is dt.date:
        return format_date(v)
    if t is dt.time:
        return _java_local_time(v) if v.tzinfo is None else format_time(v)
    if t is dt.timedelta:
        return format_day_time_duration(v)
    if t is YearMonthDuration:
        return format_year_month_duration(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    return None
