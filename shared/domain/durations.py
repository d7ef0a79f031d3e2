"""ISO 8601 durations (``P90D``, ``P1M``, ``PT12H``) and repeating intervals (``R/P30D``, ``R3/P30D``).

The models' timers read the same strings, so a knob means the same thing to a worker and to the engine:
years and months are calendar months (31 January + P1M is 28/29 February), days are calendar days.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)
_CYCLE = re.compile(r"^R(?P<n>\d*)/(?P<duration>P\S+)$")


class DurationError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Duration:
    months: int = 0
    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> Duration:
        if not isinstance(text, str):
            raise DurationError(f"expected an ISO 8601 duration such as 'P90D', got {text!r}")
        match = _DURATION.match(text.strip())
        if match is None:
            raise DurationError(f"{text!r} is not an ISO 8601 duration such as 'P90D', 'P1M' or 'PT12H'")
        part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        duration = cls(
            months=part["y"] * 12 + part["mo"],
            days=part["w"] * 7 + part["d"],
            seconds=part["h"] * 3600 + part["mi"] * 60 + part["s"],
        )
        if duration.is_zero:
            raise DurationError(f"{text!r} is a zero duration; a rule needs a positive one")
        return duration

    @property
    def is_zero(self) -> bool:
        return not (self.months or self.days or self.seconds)

    def times(self, factor: int) -> Duration:
        return Duration(self.months * factor, self.days * factor, self.seconds * factor)

    def add_to(self, moment: datetime) -> datetime:
        return _add_months(moment, self.months) + timedelta(days=self.days, seconds=self.seconds)

    def subtract_from(self, moment: datetime) -> datetime:
        return _add_months(moment - timedelta(days=self.days, seconds=self.seconds), -self.months)

    def __str__(self) -> str:
        years, months = divmod(self.months, 12)
        date_part = "".join(f"{v}{u}" for v, u in ((years, "Y"), (months, "M"), (self.days, "D")) if v)
        hours, rest = divmod(self.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        time_part = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v)
        return "P" + date_part + (f"T{time_part}" if time_part else "")


def _add_months(moment: datetime, months: int) -> datetime:
    if not months:
        return moment
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True, slots=True)
class Cycle:
    """``R/P30D`` (for ever) or ``Rn/P30D`` (n times): how often a repeating timer fires."""

    repetitions: int | None  # None: for ever
    interval: Duration

    @classmethod
    def parse(cls, text: str) -> Cycle:
        if not isinstance(text, str):
            raise DurationError(f"expected a repeating interval such as 'R/P30D', got {text!r}")
        match = _CYCLE.match(text.strip())
        if match is None:
            raise DurationError(f"{text!r} is not a repeating interval such as 'R/P30D' or 'R2/P30D'")
        n = match.group("n")
        if n == "0":
            raise DurationError(f"{text!r} repeats zero times")
        return cls(repetitions=int(n) if n else None, interval=Duration.parse(match.group("duration")))
