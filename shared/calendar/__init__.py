"""The Chinese statutory working-day calendar: holidays, adjusted workdays, deadlines in working days."""

from shared.calendar.table import (
    DayName,
    HolidayTable,
    HolidayTableError,
    YearArrangement,
    load_table,
    parse_table,
)
from shared.calendar.working import END_OF_DAY, SHANGHAI, WorkingCalendar

__all__ = [
    "END_OF_DAY",
    "SHANGHAI",
    "DayName",
    "HolidayTable",
    "HolidayTableError",
    "WorkingCalendar",
    "YearArrangement",
    "load_table",
    "parse_table",
]
