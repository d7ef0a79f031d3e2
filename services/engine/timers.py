"""Timer definitions as Zeebe reads them: ISO 8601 durations, dates and repeating intervals, and cron.

- timeDuration: `PT10S`, `P90D`, `P1Y2M`, `P2W` (fractions allowed on the smallest unit).
- timeDate: `2026-12-01T09:00:00+08:00`, `...Z`, `...+08:00[Asia/Shanghai]`, `...[Asia/Shanghai]`.
- timeCycle: `R5/PT10S`, `R/P1D`, `R3/2026-12-01T09:00:00Z/PT1H` (the start is the first occurrence), or a
  Spring 5.3 cron expression with seconds, `0 0 9 * * MON-FRI`, with `L`, `L-2`, `LW`, `15W`, `FRI#2`,
  `5L` and the `@daily`-style macros.

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
        try:
            return add_months(moment, self.months) + self.exact
        except (OverflowError, ValueError) as error:  # past year 9999 (or before year 1)
            raise TimerDefinitionError(f"The duration '{self}' from {moment.isoformat()} ends outside the years "
                                       "1-9999") from error

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
    try:
        exact = dt.timedelta(
            weeks=int(parts["weeks"] or 0), days=int(parts["days"] or 0), hours=int(parts["hours"] or 0),
            minutes=int(parts["minutes"] or 0), seconds=seconds,
        )
    except OverflowError as error:
        raise TimerDefinitionError(f"Invalid duration '{text}' for a timer: longer than 999,999,999 days") from error
    if months > 12 * 9999:
        raise TimerDefinitionError(f"Invalid duration '{text}' for a timer: longer than 9999 years")
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
    # the interval follows the last '/': a zone id in the start may hold one too (Europe/Berlin)
    first, _, second = rest.rpartition("/")
    if not first:
        return Cycle(repetitions=repetitions, interval=_positive(parse_duration(second), text))
    if first.startswith("P"):  # duration/end: not something Zeebe schedules from
        raise TimerDefinitionError(f"Invalid time cycle '{text}': expected start/duration")
    return Cycle(repetitions=repetitions, start=parse_datetime(first), interval=_positive(parse_duration(second), text))


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


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: dt.datetime) -> int:
    """Exact epoch milliseconds (no float rounding), truncating sub-millisecond parts like Java's Instant."""
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def from_ms(ms: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=ms)


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
class _Days:
    """A day-of-month or day-of-week field: plain values, or Spring's special forms.

    Special forms (kind, a, b): ("L", n, 0) the n-th day before the month's last (L, L-3); ("LW", 0, 0) the
    last weekday; ("W", d, 0) the weekday nearest day d (15W); ("DL", dow, 0) the last such weekday of the
    month (5L, FRIL); ("#", dow, k) the k-th such weekday (FRI#2).
    """

    plain: frozenset[int] | None  # None: any day ('*' or '?')
    special: tuple[tuple[str, int, int], ...] = ()

    def restricted(self) -> bool:
        return self.plain is not None or bool(self.special)

    def month_matches(self, day: dt.date) -> bool:
        if self.plain is None and not self.special:
            return True
        if self.plain and day.day in self.plain:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        for kind, a, _ in self.special:
            if kind == "L" and day.day == last - a:
                return True
            if kind == "LW" and day == _nearest_weekday(day.replace(day=last)):
                return True
            if kind == "W" and a <= last and day == _nearest_weekday(day.replace(day=a)):
                return True
        return False

    def week_matches(self, day: dt.date) -> bool:
        if self.plain is None and not self.special:
            return True
        weekday = day.isoweekday() % 7  # 0 = Sunday
        if self.plain and weekday in self.plain:
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        for kind, dow, nth in self.special:
            if weekday != dow:
                continue
            if kind == "DL" and day.day + 7 > last:
                return True
            if kind == "#" and (day.day - 1) // 7 + 1 == nth:
                return True
        return False


def _nearest_weekday(day: dt.date) -> dt.date:
    """The weekday nearest to `day` within its month (Saturday → Friday, Sunday → Monday, never crossing)."""
    if day.isoweekday() == 6:
        return day - dt.timedelta(days=1) if day.day > 1 else day + dt.timedelta(days=2)
    if day.isoweekday() == 7:
        last = calendar.monthrange(day.year, day.month)[1]
        return day + dt.timedelta(days=1) if day.day < last else day - dt.timedelta(days=2)
    return day


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Six fields, as Spring 5.3 reads them (Zeebe's cron): second minute hour day-of-month month
    day-of-week, in UTC. Day-of-month and day-of-week must both match when both are given."""

    text: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: _Days
    months: frozenset[int]
    weekdays: _Days

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
            days = _day_of_month(fields[3])
            months = _field(fields[4], 1, 12, _MONTHS)
            weekdays = _day_of_week(fields[5])
        except ValueError as error:
            raise TimerDefinitionError(f"Invalid cron expression '{text}': {error}") from error
        return CronSchedule(text, seconds, minutes, hours, days, months, weekdays)

    def _day_matches(self, day: dt.date) -> bool:
        return self.days.month_matches(day) and self.weekdays.week_matches(day)

    def next_after(self, after_ms: int) -> int | None:
        """The first occurrence strictly after `after_ms`, or None within the next eight years."""
        moment = from_ms(after_ms).replace(microsecond=0) + dt.timedelta(seconds=1)
        limit = moment.year + 8
        day = moment.date()
        first = True
        hours, minutes, seconds = sorted(self.hours), sorted(self.minutes), sorted(self.seconds)
        while day.year <= limit:
            if day.month not in self.months:
                day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
                first = False
                continue
            if self._day_matches(day):
                start = moment.time() if first else dt.time(0, 0, 0)
                for hour in hours:
                    if hour < start.hour:
                        continue
                    for minute in minutes:
                        if hour == start.hour and minute < start.minute:
                            continue
                        for second in seconds:
                            if hour == start.hour and minute == start.minute and second < start.second:
                                continue
                            return to_ms(dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=UTC))
            day += dt.timedelta(days=1)
            first = False
        return None


def _day_of_month(text: str) -> _Days:
    if text in ("*", "?"):
        return _Days(None)
    plain: set[int] = set()
    special: list[tuple[str, int, int]] = []
    for part in text.upper().split(","):
        if part == "L":
            special.append(("L", 0, 0))
        elif part.startswith("L-"):
            offset = int(part[2:])
            if not 0 <= offset <= 30:
                raise ValueError(f"'{part}' is outside L-0..L-30")
            special.append(("L", offset, 0))
        elif part == "LW":
            special.append(("LW", 0, 0))
        elif part.endswith("W"):
            day = int(part[:-1])
            if not 1 <= day <= 31:
                raise ValueError(f"'{part}' is outside 1-31")
            special.append(("W", day, 0))
        else:
            plain |= _field(part, 1, 31)
    return _Days(frozenset(plain), tuple(special))


def _day_of_week(text: str) -> _Days:
    if text in ("*", "?"):
        return _Days(None)
    plain: set[int] = set()
    special: list[tuple[str, int, int]] = []
    for part in text.upper().split(","):
        if "#" in part:
            name, _, nth = part.partition("#")
            dow, k = _value(name, _DAYS) % 7, int(nth)
            if not 1 <= k <= 5:
                raise ValueError(f"'{part}': the occurrence must be 1-5")
            special.append(("#", dow, k))
        elif len(part) > 1 and part.endswith("L"):
            special.append(("DL", _value(part[:-1], _DAYS) % 7, 0))
        else:
            plain |= {d % 7 for d in _field(part, 0, 7, _DAYS)}
    return _Days(frozenset(plain), tuple(special))


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        stepped = "/" in part
        if stepped:
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
            end = high if stepped else start  # 5/15: from 5 on, every 15
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ValueError(f"'{part}' is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)
