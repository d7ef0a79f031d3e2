"""Work-order deadlines on the statutory working-day calendar, in Beijing time.

A unit has ``resolutionWorkingDays`` working days after the day it was assigned (that day never counts, see
shared/calendar/README.md); the deadline is the due day's last second. The reminder goes out at nine in the
morning ``reminderWorkingDaysBefore`` working days before the due day; when that morning is already past at
assignment (a short deadline), at nine on the due day instead, which is always still ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from shared.calendar import SHANGHAI, WorkingCalendar

REMINDER_TIME = time(9, 0)


@dataclass(frozen=True, slots=True)
class Deadline:
    due_at: datetime  # aware, Asia/Shanghai
    remind_at: datetime  # aware, Asia/Shanghai; after the assignment
    provisional: bool  # the span reaches a year the holiday table does not cover yet


def deadline(
    assigned_at: datetime, *, working_days: int, remind_before: int, calendar: WorkingCalendar
) -> Deadline:
    if assigned_at.tzinfo is None:
        raise ValueError("assigned_at must be timezone-aware")
    if working_days < 1:
        raise ValueError(f"working_days must be at least 1, got {working_days}")
    if remind_before < 0:
        raise ValueError(f"remind_before must not be negative, got {remind_before}")
    due_at = calendar.due_at(assigned_at, working_days)
    due_day = due_at.date()
    remind_day = calendar.add_working_days(due_day, -remind_before) if remind_before else due_day
    remind_at = datetime.combine(remind_day, REMINDER_TIME, tzinfo=SHANGHAI)
    if remind_at <= assigned_at:
        remind_at = datetime.combine(due_day, REMINDER_TIME, tzinfo=SHANGHAI)
    return Deadline(
        due_at=due_at,
        remind_at=remind_at,
        provisional=bool(calendar.uncovered_years(assigned_at, due_day)),
    )
