"""Timer definitions as Zeebe reads them: ISO 8601 durations, dates and repeating intervals, and cron.

- timeDuration: `PT10S`, `P90D`, `P1Y2M`, `P2W` (fractions allowed on the smallest unit).
- timeDate: `2026-12-01T09:00:00+08:00`, `...Z`, `...+08:00[Asia/Shanghai]`, `...[Asia/Shanghai]`.
- timeCycle: `R5/PT10S`, `R/P1D`, `R3/2026-12-01T09:00:00Z/PT1H` (the start is the first occurrence), or a
  Spring-style cron expression with seconds, `0 0 9 * * MON-FRI`, and the `@daily`-style macros.

Calendar units (years, months, days) are added in UTC, as the engine keeps time in UTC.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
INFINITE = -1


class TimerDefinitionError(ValueError):
    pass


_DURATION = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration: a calendar part (years, months) and an exact part."""

    months: int = 0
    exact: dt.timedelta = dt.timedelta(0)

    def add_to(self, moment: dt.datetime) -> dt.datetime:
        return add_months(moment, self.months) + self.exact

    def is_zero(self) -> bool:
        return self.months == 0 and not self.exact

    def __str__(self) -> str:
        return format_duration(self)


def parse_duration(text: str) -> Duration:
    match = _DURATION.match(text.strip())
    if not match:
        raise TimerDefinitionError(f"Invalid duration format '{text}' for a timer")
    parts = match.groupdict()
    sign = -1 if parts["sign"] else 1
    months = int(parts["years"] or 0) * 12 + int(parts["months"] or 0)
    seconds = float((parts["seconds"] or "0").replace(",", "."))
    exact = dt.timedelta(
        weeks=int(parts["weeks"] or 0), days=int(parts["days"] or 0), hours=int(parts["hours"] or 0),
        minutes=int(parts["minutes"] or 0), seconds=seconds,
    )
    return Duration(months=sign * months, exact=sign * exact)


def format_duration(duration: Duration) -> str:
    out = "P"
    years, months = divmod(abs(duration.months), 12)
    if years:
        out += f"{years}Y"
    if months:
        out += f"{months}M"
    total = duration.exact
    days = total.days
    seconds = total.seconds + total.microseconds / 1e6
    if days:
        out += f"{days}D"
    if seconds:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        out += "T"
        if hours:
            out += f"{int(hours)}H"
        if minutes:
            out += f"{int(minutes)}M"
        if secs:
            out += f"{secs:g}S"
    return out if out != "P" else "PT0S"


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    if not months:
        return moment
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


_ZONED = re.compile(r"^(?P<base>[^\[]+)(?:\[(?P<zone>[^\]]+)\])?$")


def parse_datetime(text: str) -> dt.datetime:
    """An ISO 8601 date-time with an offset and/or a zone id; a bare local time is taken as UTC."""
    match = _ZONED.match(text.strip())
    if not match:
        raise TimerDefinitionError(f"Invalid date-time format '{text}' for a timer")
    base, zone = match.group("base"), match.group("zone")
    try:
        moment = dt.datetime.fromisoformat(base.replace("z", "Z"))
    except ValueError as error:
        raise TimerDefinitionError(f"Invalid date-time format '{text}' for a timer") from error
    if zone:
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise TimerDefinitionError(f"Unknown time zone '{zone}' in '{text}'") from error
        moment = moment.astimezone(tz) if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True, slots=True)
class Cycle:
    """A repeating interval (R<n>/[start/]duration) or a cron schedule."""

    repetitions: int  # INFINITE for R/ and for cron
    interval: Duration | None = None
    start: dt.datetime | None = None
    cron: CronSchedule | None = None

    def first_due(self, now_ms: int) -> int | None:
        if self.cron is not None:
            return self.cron.next_after(now_ms)
        assert self.interval is not None
        if self.start is not None:
            return max(to_ms(self.start), now_ms)
        return to_ms(self.interval.add_to(from_ms(now_ms)))

    def next_due(self, last_due_ms: int, now_ms: int) -> int | None:
        """The occurrence after one that fired at `last_due_ms`; never at or before `now_ms` (missed cycles
        are not replayed one by one)."""
        if self.cron is not None:
            return self.cron.next_after(max(last_due_ms, now_ms))
        assert self.interval is not None
        natural = to_ms(self.interval.add_to(from_ms(last_due_ms)))
        if natural > now_ms:
            return natural
        return to_ms(self.interval.add_to(from_ms(now_ms)))


def parse_cycle(text: str) -> Cycle:
    text = text.strip()
    if text.startswith("@") or (not text.startswith("R") and " " in text):
        return Cycle(repetitions=INFINITE, cron=CronSchedule.parse(text))
    if not text.startswith("R"):
        raise TimerDefinitionError(f"Invalid time cycle '{text}': a repetition must start with R, or be a cron "
                                   "expression")
    head, _, rest = text.partition("/")
    if not rest:
        raise TimerDefinitionError(f"Invalid time cycle '{text}': no interval given")
    if head == "R":
        repetitions = INFINITE
    else:
        try:
            repetitions = int(head[1:])
        except ValueError as error:
            raise TimerDefinitionError(f"Invalid time cycle '{text}': can't read the repetition count") from error
        if repetitions < 0:
            raise TimerDefinitionError(f"Invalid time cycle '{text}': negative repetitions")
    parts = rest.split("/")
    if len(parts) == 1:
        return Cycle(repetitions=repetitions, interval=_positive(parse_duration(parts[0]), text))
    if len(parts) == 2:
        first, second = parts
        if first.startswith("P"):  # duration/end: not something Zeebe schedules from
            raise TimerDefinitionError(f"Invalid time cycle '{text}': expected start/duration")
        return Cycle(repetitions=repetitions, start=parse_datetime(first),
                     interval=_positive(parse_duration(second), text))
    raise TimerDefinitionError(f"Invalid time cycle '{text}'")


def _positive(duration: Duration, text: str) -> Duration:
    if duration.months < 0 or duration.exact < dt.timedelta(0) or duration.is_zero():
        raise TimerDefinitionError(f"Invalid time cycle '{text}': the interval must be positive")
    return duration


def validate_static_timer(kind: str, text: str) -> None:
    if kind == "duration":
        parse_duration(text)
    elif kind == "date":
        parse_datetime(text)
    else:
        parse_cycle(text)


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000) if moment.microsecond % 1000 else int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=UTC)


def iso_ms(ms: int) -> str:
    return from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- cron ----------------------------------------------------------------------------------------------

_MACROS = {
    "@yearly": "0 0 0 1 1 *", "@annually": "0 0 0 1 1 *", "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0", "@daily": "0 0 0 * * *", "@midnight": "0 0 0 * * *", "@hourly": "0 0 * * * *",
}
_MONTHS = {name: i + 1 for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Six fields, as Spring reads them: second minute hour day-of-month month day-of-week (UTC)."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: '?' or '*' (any)
    last_day: bool
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 0 = Sunday; None: any

    @staticmethod
    def parse(text: str) -> CronSchedule:
        expression = _MACROS.get(text.strip().lower(), text.strip())
        fields = expression.split()
        if len(fields) != 6:
            raise TimerDefinitionError(
                f"Invalid cron expression '{text}': expected 6 fields (second minute hour day-of-month month "
                f"day-of-week), found {len(fields)}"
            )
        try:
            seconds = _field(fields[0], 0, 59)
            minutes = _field(fields[1], 0, 59)
            hours = _field(fields[2], 0, 23)
            last_day = fields[3].upper() == "L"
            days = None if fields[3] in ("*", "?") or last_day else _field(fields[3], 1, 31)
            months = _field(fields[4], 1, 12, _MONTHS)
            weekdays = None if fields[5] in ("*", "?") else frozenset(
                d % 7 for d in _field(fields[5], 0, 7, _DAYS))
        except ValueError as error:
            raise TimerDefinitionError(f"Invalid cron expression '{text}': {error}") from error
        return CronSchedule(text, seconds, minutes, hours, days, last_day, months, weekdays)

    def _day_matches(self, day: dt.date) -> bool:
        if self.last_day and day.day != calendar.monthrange(day.year, day.month)[1]:
            return False
        dom = self.days is None or day.day in self.days
        dow = self.weekdays is None or (day.isoweekday() % 7) in self.weekdays
        return dom and dow

    def next_after(self, after_ms: int) -> int | None:
        moment = from_ms(after_ms).replace(microsecond=0) + dt.timedelta(seconds=1)
        limit = moment.year + 8
        day = moment.date()
        first = True
        while day.year <= limit:
            if day.month not in self.months:
                day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
                first = False
                continue
            if self._day_matches(day):
                start = moment.time() if first else dt.time(0, 0, 0)
                for hour in sorted(h for h in self.hours if h >= start.hour):
                    for minute in sorted(self.minutes):
                        if hour == start.hour and minute < start.minute:
                            continue
                        for second in sorted(self.seconds):
                            if hour == start.hour and minute == start.minute and second < start.second:
                                continue
                            found = dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=UTC)
                            return to_ms(found)
            day += dt.timedelta(days=1)
            first = False
        return None


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError(f"step must be positive in '{text}'")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if "/" in text else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ValueError(f"'{part}' is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)
