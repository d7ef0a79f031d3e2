"""Working days on the Chinese statutory calendar (see README.md for the counting rules)."""

from __future__ import annotations

import bisect
import functools
import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.calendar.table import HolidayTable, load_table, parse_table

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A deadline is met by anything done on the due day, Beijing time, so it expires at the day's last second.
END_OF_DAY = time(23, 59, 59)
BUNDLED_TABLE = "holidays_cn.json"

# An aware datetime is read as its Asia/Shanghai day; a naive one is refused.
DayLike = date | datetime


class WorkingCalendar:
    """Answers working-day questions from one holiday table.

    Years the table does not cover fall back to Monday-Friday; `covered` and `uncovered_years`
    tell callers when a result rests on that fallback.
    """

    def __init__(self, table: HolidayTable | Mapping[str, Any]) -> None:
        self.table = table if isinstance(table, HolidayTable) else parse_table(table)
        holidays = {d: n for arr in self.table.years.values() for d, n in arr.holidays.items()}
        workdays = {d: n for arr in self.table.years.values() for d, n in arr.workdays.items()}
        self._holidays = holidays
        # Only the days that differ from Monday-Friday matter for counting; keeping them sorted lets
        # working_days_between count any span with two bisections instead of walking it.
        self._weekday_off = sorted(d for d in holidays if d.weekday() < 5)
        self._weekend_on = sorted(d for d in workdays if d.weekday() >= 5 and d not in holidays)
        self._weekday_off_set = frozenset(self._weekday_off)
        self._weekend_on_set = frozenset(self._weekend_on)

    @classmethod
    def default(cls) -> WorkingCalendar:
        """The calendar from the table bundled with this package, loaded once per process."""
        return _bundled()

    @classmethod
    def from_file(cls, path: str) -> WorkingCalendar:
        return cls(load_table(path))

    # -- what the table says ------------------------------------------------------------------

    def covered(self, year: int) -> bool:
        return year in self.table.years

    def uncovered_years(self, a: DayLike, b: DayLike) -> list[int]:
        """Years between a and b (inclusive, either order) whose answers are only Monday-Friday guesses."""
        lo, hi = sorted((_day(a), _day(b)))
        return [y for y in range(lo.year, hi.year + 1) if not self.covered(y)]

    def is_holiday(self, d: DayLike) -> bool:
        """A day of a statutory holiday period (weekend days inside the period included); not ordinary weekends."""
        return _day(d) in self._holidays

    def is_adjusted_workday(self, d: DayLike) -> bool:
        """A Saturday or Sunday worked to make up for a holiday (调休上班日)."""
        return _day(d) in self._weekend_on_set

    def holiday_name(self, d: DayLike, lang: Literal["zh", "en"] = "zh") -> str | None:
        name = self._holidays.get(_day(d))
        if name is None:
            return None
        return name.zh if lang == "zh" else name.en

    def is_working_day(self, d: DayLike) -> bool:
        day = _day(d)
        if day.weekday() < 5:
            return day not in self._weekday_off_set
        return day in self._weekend_on_set

    # -- counting -------------------------------------------------------------------------------

    def next_working_day(self, d: DayLike) -> date:
        """The first working day strictly after d."""
        return self.add_working_days(d, 1)

    def previous_working_day(self, d: DayLike) -> date:
        """The last working day strictly before d."""
        return self.add_working_days(d, -1)

    def add_working_days(self, start: DayLike, n: int) -> date:
        """The n-th working day after the day of `start` (that day itself is never counted).

        n > 0 counts forward, n < 0 backward; the result is always a working day. n == 0 returns the
        day itself if it is a working day, else the next working day ("due today" on a holiday means
        the first day back).
        """
        _check_int(n)
        day = _day(start)
        if n == 0:
            return day if self.is_working_day(day) else self.add_working_days(day, 1)
        step = timedelta(days=1 if n > 0 else -1)
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: DayLike, b: DayLike) -> int:
        """The working days passed going from a to b: a excluded, b included; negative when b is before a.

        So working_days_between(d, add_working_days(d, n)) == n for every n != 0.
        """
        da, db = _day(a), _day(b)
        if da <= db:
            return self._cumulative(db) - self._cumulative(da)
        # Backward, "b included, a excluded" is the span [b, a): shift both ends one day back.
        return -(self._cumulative(da - timedelta(days=1)) - self._cumulative(db - timedelta(days=1)))

    def due_at(self, start: DayLike, n: int = 7, at: time = END_OF_DAY) -> datetime:
        """The deadline of something raised at `start` and due in n working days, as an aware Asia/Shanghai
        datetime: the due day (add_working_days) at `at` local time, 23:59:59 unless told otherwise.
        Its isoformat() ("2025-10-13T23:59:59+08:00") is what BPMN timers and due dates take.
        """
        if at.tzinfo is not None:
            raise ValueError(f"at must be a local wall-clock time without tzinfo, got {at!r}")
        return datetime.combine(self.add_working_days(start, n), at, tzinfo=SHANGHAI)

    def _cumulative(self, d: date) -> int:
        """Working days from an arbitrary origin up to and including d (only differences are meaningful)."""
        ordinal = d.toordinal()  # ordinal 1 (0001-01-01) is a Monday
        mon_fri = 5 * (ordinal // 7) + min(ordinal % 7, 5)
        off = bisect.bisect_right(self._weekday_off, d)
        on = bisect.bisect_right(self._weekend_on, d)
        return mon_fri - off + on


@functools.cache
def _bundled() -> WorkingCalendar:
    text = resources.files(__package__).joinpath(BUNDLED_TABLE).read_text(encoding="utf-8")
    return WorkingCalendar(json.loads(text))


def _day(value: DayLike) -> date:
    """The calendar day of a date, or of an aware datetime as seen in Asia/Shanghai."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()}: give it a timezone (the day is taken in Asia/Shanghai)"
            )
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"expected a date or an aware datetime, got {type(value).__name__}")


def _check_int(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int number of working days, got {n!r}")
