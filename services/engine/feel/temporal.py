"""Parsing of FEEL temporal literals and temporal arithmetic helpers.

Parsers return ``None`` for text that is not a valid value of the type (the FEEL conversion
functions give null in that case).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .values import UTC, YearMonthDuration

_DATE = re.compile(r"(-?(?:[1-9]\d{4,8}|\d{4}))-(\d{2})-(\d{2})")
_TIME = re.compile(
    r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:\d{2}(?::\d{2})?|@[A-Za-z][A-Za-z0-9_+\-/]*)?(?:\[([A-Za-z][A-Za-z0-9_+\-/]*)\])?"
)
_DURATION = re.compile(
    r"(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{0,9}))?S)?)?"
)

_MAX_DURATION_DAYS = 999_999_999


@lru_cache(maxsize=512)
def zone(name: str) -> dt.tzinfo | None:
    """Zone for an offset (``Z``, ``+01:00``) or a region id; None if unknown."""
    if name in ("Z", "UTC", "z"):
        return UTC if name != "UTC" else _zoneinfo("UTC")
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})(?::(\d{2}))?", name)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        h, mi, s = int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)
        if h > 18 or mi > 59 or s > 59:
            return None
        off = dt.timedelta(hours=h, minutes=mi, seconds=s) * sign
        return UTC if not off else dt.timezone(off)
    return _zoneinfo(name)


def _zoneinfo(name: str) -> dt.tzinfo | None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", name) or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except Exception:  # unknown zone, bad key
        return None


def parse_date(text: str) -> dt.date | None:
    m = _DATE.fullmatch(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _parse_time_parts(m: re.Match[str]) -> tuple[dt.time, dt.tzinfo | None] | None:
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    frac = m.group(4) or ""
    us = int((frac + "000000")[:6]) if frac else 0
    if h > 23 or mi > 59 or s > 59:
        return None
    tzinfo: dt.tzinfo | None = None
    ztext = m.group(5)
    if ztext:
        tzinfo = zone(ztext[1:] if ztext.startswith("@") else ztext)
        if tzinfo is None:
            return None
    if m.group(6):
        # ISO form "+08:00[Asia/Shanghai]" (what Zeebe writes into variables): the id wins.
        region = zone(m.group(6))
        if region is None:
            return None
        tzinfo = region
    return dt.time(h, mi, s, us), tzinfo


def parse_time(text: str) -> dt.time | None:
    if text.startswith("T"):
        text = text[1:]
    m = _TIME.fullmatch(text)
    if not m:
        return None
    parts = _parse_time_parts(m)
    if parts is None:
        return None
    t, tz = parts
    return t.replace(tzinfo=tz) if tz is not None else t


def parse_datetime(text: str) -> dt.datetime | None:
    if "T" not in text:
        d = parse_date(text)
        return dt.datetime(d.year, d.month, d.day) if d is not None else None
    date_text, _, time_text = text.partition("T")
    d = parse_date(date_text)
    if d is None:
        return None
    m = _TIME.fullmatch(time_text)
    if not m:
        return None
    parts = _parse_time_parts(m)
    if parts is None:
        return None
    t, tz = parts
    value = dt.datetime.combine(d, t)
    if tz is not None:
        value = value.replace(tzinfo=tz)
        if m.group(6) and m.group(5) and not m.group(5).startswith("@"):
            # The offset given with a region id selects the instant in DST overlaps.
            off = zone(m.group(5))
            if off is not None and value.utcoffset() != off.utcoffset(None):
                value = value.replace(fold=1)
    return value


def parse_duration(text: str) -> dt.timedelta | YearMonthDuration | None:
    m = _DURATION.fullmatch(text)
    if not m or text.endswith(("P", "T")):
        return None
    neg, y, mo, w, d, h, mi, s, frac = m.groups()
    sign = -1 if neg else 1
    if y is not None or mo is not None:
        if w or d or h or mi or s:
            return None
        total = int(y or 0) * 12 + int(mo or 0)
        return YearMonthDuration(sign * total)
    days = int(w or 0) * 7 + int(d or 0)
    try:
        value = dt.timedelta(
            days=days,
            hours=int(h or 0),
            minutes=int(mi or 0),
            seconds=int(s or 0),
            microseconds=int((frac + "000000")[:6]) if frac else 0,
        )
    except OverflowError:
        return None
    return -value if sign < 0 else value


def parse_temporal(text: str) -> Any:
    """Value of an ``@"..."`` literal: date, time, date and time or duration."""
    if text.startswith(("P", "-P")):
        return parse_duration(text)
    if "T" in text.split("@", 1)[0]:
        return parse_datetime(text)
    if _DATE.fullmatch(text):
        return parse_date(text)
    return parse_time(text)


# ---------------------------------------------------------------------------------------------
# arithmetic


def add_months(value: Any, months: int) -> Any:
    """Add calendar months, clamping the day to the end of the month (as java.time does)."""
    year, month0 = divmod(value.year * 12 + value.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("date out of range")
    day = min(value.day, calendar.monthrange(year, month0 + 1)[1])
    return value.replace(year=year, month=month0 + 1, day=day)


def add_duration(value: dt.datetime, d: dt.timedelta) -> dt.datetime:
    """Instant-based addition for zoned values (Python adds wall-clock time for ZoneInfo)."""
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo):
        return (value.astimezone(UTC) + d).astimezone(tz)
    return value + d


def add_to_time(t: dt.time, d: dt.timedelta) -> dt.time:
    base = dt.datetime.combine(dt.date(2000, 1, 1), t.replace(tzinfo=None))
    return (base + d).time().replace(tzinfo=t.tzinfo)


def months_between(a: dt.date, b: dt.date) -> int:
    """Whole months from a to b (java.time Period semantics), sign follows the direction."""
    months = (b.year - a.year) * 12 + (b.month - a.month)
    a_rest = _rest(a)
    b_rest = _rest(b)
    if months > 0 and b_rest < a_rest:
        months -= 1
    elif months < 0 and b_rest > a_rest:
        months += 1
    return months


def _rest(v: dt.date) -> tuple[int, ...]:
    if isinstance(v, dt.datetime):
        return (v.day, v.hour, v.minute, v.second, v.microsecond)
    return (v.day,)


def duration_seconds(d: dt.timedelta) -> Decimal:
    return Decimal(d.days * 86400 + d.seconds) + Decimal(d.microseconds) / Decimal(1_000_000)


def seconds_duration(seconds: Decimal) -> dt.timedelta:
    us = int((seconds * 1_000_000).to_integral_value())
    days, rem = divmod(us, 86_400_000_000)
    if abs(days) > _MAX_DURATION_DAYS:
        raise OverflowError("duration out of range")
    return dt.timedelta(days=days, microseconds=rem)
