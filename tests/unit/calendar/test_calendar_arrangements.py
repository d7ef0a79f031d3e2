"""The bundled calendar against the State Council's published arrangements.

Dates below are from the notices 《国务院办公厅关于2025年部分节假日安排的通知》 and 《…2026年…》:
- 2025 National Day + Mid-Autumn: off 10-01 (Wed) to 10-08 (Wed); worked 09-28 (Sun) and 10-11 (Sat).
- 2026 New Year: off 01-01 (Thu) to 01-03 (Sat); worked 01-04 (Sun).
- 2026 Spring Festival: off 02-15 (Sun) to 02-23 (Mon); worked 02-14 (Sat) and 02-28 (Sat).
- 2026 Mid-Autumn: off 09-25 (Fri) to 09-27 (Sun). National Day: off 10-01 (Thu) to 10-07 (Wed);
  worked 09-20 (Sun) and 10-10 (Sat).
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar import constants

from shared.calendar import SHANGHAI, WorkingCalendar


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar.default()


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_shanghai_zone_is_available():
    # zoneinfo reads the system tz database (tzdata is not in the venv); +08:00 all year, no DST since 1991.
    assert ZoneInfo("Asia/Shanghai").utcoffset(datetime(2025, 7, 1)) == timedelta(hours=8)
    assert SHANGHAI.utcoffset(datetime(2025, 1, 1)) == timedelta(hours=8)


@pytest.mark.parametrize(
    ("first", "last", "name_zh"),
    [
        (date(2025, 10, 1), date(2025, 10, 5), "国庆节"),
        (date(2025, 10, 7), date(2025, 10, 8), "国庆节"),
        (date(2026, 1, 1), date(2026, 1, 3), "元旦"),
        (date(2026, 2, 15), date(2026, 2, 23), "春节"),
        (date(2026, 9, 25), date(2026, 9, 27), "中秋节"),
        (date(2026, 10, 1), date(2026, 10, 7), "国庆节"),
    ],
)
def test_holiday_periods_are_rest_days(cal, first, last, name_zh):
    for d in days(first, last):
        assert cal.is_holiday(d), d
        assert not cal.is_working_day(d), d
        assert cal.holiday_name(d) == name_zh, d


def test_mid_autumn_inside_national_day_2025_keeps_its_name(cal):
    assert cal.holiday_name(date(2025, 10, 6)) == "中秋节"
    assert cal.holiday_name(date(2025, 10, 6), lang="en") == "Mid-autumn Festival"
    assert cal.holiday_name(date(2025, 10, 1), lang="en") == "National Day"


@pytest.mark.parametrize(
    "d",
    [date(2025, 9, 28), date(2025, 10, 11), date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
     date(2026, 9, 20), date(2026, 10, 10)],
)
def test_adjusted_workdays_are_working_days(cal, d):
    assert d.weekday() >= 5
    assert cal.is_working_day(d)
    assert cal.is_adjusted_workday(d)
    assert not cal.is_holiday(d)
    assert cal.holiday_name(d) is None


def test_ordinary_days_around_the_holidays(cal):
    assert cal.is_working_day(date(2025, 9, 30))  # Tuesday before National Day
    assert cal.is_working_day(date(2025, 10, 9))  # first day back
    assert not cal.is_working_day(date(2025, 9, 27))  # plain Saturday
    assert not cal.is_holiday(date(2025, 9, 27))  # a weekend is a rest day but not a holiday
    assert not cal.is_working_day(date(2025, 10, 12))  # Sunday after the make-up Saturday
    assert not cal.is_adjusted_workday(date(2025, 10, 9))  # a Thursday is a working day anyway


def test_work_order_before_national_day_2025(cal):
    # Raised Fri 2025-09-26; the 26th itself is not counted:
    #   09-27 Sat rest | 09-28 Sun worked = 1 | 09-29 Mon = 2 | 09-30 Tue = 3 | 10-01..10-08 holiday
    #   10-09 Thu = 4 | 10-10 Fri = 5 | 10-11 Sat worked = 6 | 10-12 Sun rest | 10-13 Mon = 7
    assert cal.add_working_days(date(2025, 9, 26), 7) == date(2025, 10, 13)
    assert cal.working_days_between(date(2025, 9, 26), date(2025, 10, 13)) == 7


def test_work_order_across_spring_festival_2026_lands_on_a_make_up_saturday(cal):
    # Raised Thu 2026-02-12: 02-13 Fri = 1 | 02-14 Sat worked = 2 | 02-15..02-23 holiday
    #   02-24 Tue = 3 | 25 = 4 | 26 = 5 | 27 Fri = 6 | 02-28 Sat worked = 7
    assert cal.add_working_days(date(2026, 2, 12), 7) == date(2026, 2, 28)


def test_work_order_across_mid_autumn_and_national_day_2026(cal):
    # Raised Thu 2026-09-24: 09-25..09-27 Mid-Autumn | 09-28 Mon = 1 | 29 = 2 | 30 = 3 | 10-01..10-07 holiday
    #   10-08 Thu = 4 | 10-09 Fri = 5 | 10-10 Sat worked = 6 | 10-11 Sun rest | 10-12 Mon = 7
    assert cal.add_working_days(date(2026, 9, 24), 7) == date(2026, 10, 12)


def test_work_order_across_the_year_boundary(cal):
    # Raised Mon 2025-12-29: 12-30 = 1 | 12-31 = 2 | 2026-01-01..01-03 New Year | 01-04 Sun worked = 3
    #   01-05 Mon = 4 | 01-06 = 5 | 01-07 = 6 | 01-08 Thu = 7
    assert cal.add_working_days(date(2025, 12, 29), 7) == date(2026, 1, 8)
    assert cal.working_days_between(date(2025, 12, 29), date(2026, 1, 8)) == 7


def test_counting_backwards(cal):
    assert cal.add_working_days(date(2025, 10, 13), -7) == date(2025, 9, 26)
    assert cal.working_days_between(date(2025, 10, 13), date(2025, 9, 26)) == -7
    assert cal.previous_working_day(date(2025, 10, 9)) == date(2025, 9, 30)
    assert cal.previous_working_day(date(2025, 10, 13)) == date(2025, 10, 11)


def test_next_working_day_skips_holidays_and_finds_make_up_days(cal):
    assert cal.next_working_day(date(2025, 9, 30)) == date(2025, 10, 9)
    assert cal.next_working_day(date(2025, 9, 26)) == date(2025, 9, 28)
    assert cal.next_working_day(date(2025, 10, 3)) == date(2025, 10, 9)


def test_zero_days_is_the_day_itself_or_the_next_working_day(cal):
    assert cal.add_working_days(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert cal.add_working_days(date(2025, 10, 3), 0) == date(2025, 10, 9)
    assert cal.add_working_days(date(2025, 9, 27), 0) == date(2025, 9, 28)


def test_working_days_between_spring_festival_2025(cal):
    # 2025 Spring Festival: off 01-28..02-04, worked 01-26 (Sun) and 02-08 (Sat).
    # (Fri 01-24, Sat 02-08]: 01-26 Sun, 01-27 Mon, 02-05, 02-06, 02-07, 02-08 Sat = 6
    assert cal.working_days_between(date(2025, 1, 24), date(2025, 2, 8)) == 6
    assert cal.working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0
    assert cal.working_days_between(date(2025, 10, 9), date(2025, 10, 9)) == 0


def test_datetime_counts_from_its_day_in_shanghai(cal):
    # 16:30 UTC on the 25th is 00:30 on Fri the 26th in Huai'an.
    raised = datetime(2025, 9, 25, 16, 30, tzinfo=UTC)
    assert cal.add_working_days(raised, 7) == date(2025, 10, 13)
    # Counting from the UTC day instead would give a different deadline, so the zone matters here.
    assert cal.add_working_days(date(2025, 9, 25), 7) == date(2025, 10, 11)
    new_york = datetime(2025, 9, 25, 12, 30, tzinfo=ZoneInfo("America/New_York"))  # 00:30 on the 26th
    assert cal.add_working_days(new_york, 7) == date(2025, 10, 13)
    assert cal.is_working_day(datetime(2025, 9, 30, 17, 0, tzinfo=UTC)) is False  # 10-01 01:00 Beijing


def test_bad_arguments_are_refused(cal):
    with pytest.raises(ValueError, match="naive datetime 2025-09-26T10:00:00"):
        cal.add_working_days(datetime(2025, 9, 26, 10, 0), 7)
    with pytest.raises(TypeError, match="expected a date or an aware datetime, got str"):
        cal.is_working_day("2025-09-26")
    with pytest.raises(TypeError, match="n must be an int"):
        cal.add_working_days(date(2025, 9, 26), 7.0)
    with pytest.raises(TypeError, match="n must be an int"):
        cal.add_working_days(date(2025, 9, 26), True)


def test_due_at_is_the_last_second_of_the_due_day_in_beijing_time(cal):
    due = cal.due_at(datetime(2025, 9, 26, 10, 0, tzinfo=SHANGHAI), 7)
    assert due.isoformat() == "2025-10-13T23:59:59+08:00"
    assert due.tzinfo == SHANGHAI
    assert cal.due_at(date(2025, 9, 26)).isoformat() == "2025-10-13T23:59:59+08:00"  # 7 by default
    assert cal.due_at(date(2025, 9, 26), 7, at=time(18, 0)).isoformat() == "2025-10-13T18:00:00+08:00"
    with pytest.raises(ValueError, match="local wall-clock time"):
        cal.due_at(date(2025, 9, 26), 7, at=time(18, 0, tzinfo=UTC))


def test_bundled_table_agrees_with_chinesecalendar_on_every_covered_day(cal):
    disagreements = [
        d for d in days(date(2004, 1, 1), date(2026, 12, 31))
        if cal.is_working_day(d) != chinese_calendar.is_workday(d)
        or cal.is_holiday(d) != (d in constants.holidays)
    ]
    assert disagreements == []


def test_years_without_data_fall_back_to_monday_to_friday_and_say_so(cal):
    assert [y for y in range(2000, 2030) if cal.covered(y)] == list(range(2004, 2027))
    # 2027-01-01 will surely be a holiday, but until the table has 2027 it is an ordinary Friday.
    assert cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_holiday(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 1, 2))
    assert cal.add_working_days(date(2026, 12, 31), 2) == date(2027, 1, 4)
    assert cal.uncovered_years(date(2026, 12, 20), date(2027, 1, 10)) == [2027]
    assert cal.uncovered_years(date(2027, 1, 10), date(2026, 12, 20)) == [2027]
    assert cal.uncovered_years(date(2025, 1, 1), date(2026, 12, 31)) == []
    assert cal.is_working_day(date(2003, 10, 1))  # a Wednesday, data starts in 2004


def test_a_table_passed_in_replaces_the_bundled_one():
    # A hand-made table for illustration, not the published 2027 arrangement.
    table = {
        "format": 1,
        "years": {
            "2027": {
                "source": "test table",
                "holidays": [{"date": "2027-01-01", "zh": "元旦"}],
                "workdays": [{"date": "2027-01-09", "zh": "元旦"}],
            }
        },
    }
    cal = WorkingCalendar(table)
    assert cal.covered(2027) and not cal.covered(2026)
    assert not cal.is_working_day(date(2027, 1, 1))
    assert cal.holiday_name(date(2027, 1, 1)) == "元旦"
    assert cal.holiday_name(date(2027, 1, 1), lang="en") is None
    assert cal.is_working_day(date(2027, 1, 9))  # Saturday worked
    # Thu 2026-12-31: 2027-01-01 holiday | 01-04 Mon = 1 | 05 = 2 | 06 = 3 | 07 = 4 | 08 = 5 | 01-09 Sat = 6
    assert cal.add_working_days(date(2026, 12, 31), 6) == date(2027, 1, 9)
    # 2026 is not in this table, so 2026-10-01 is an ordinary Thursday here.
    assert cal.is_working_day(date(2026, 10, 1))


def test_default_is_loaded_once():
    assert WorkingCalendar.default() is WorkingCalendar.default()
