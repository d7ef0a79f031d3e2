"""Properties of the counting rules, over covered years and the Monday-Friday fallback around them."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import SHANGHAI, WorkingCalendar

CAL = WorkingCalendar.default()
# 2002-2029 straddles both edges of the data (2004-2026), so the fallback years are exercised too.
DAYS = st.dates(min_value=date(2002, 1, 1), max_value=date(2029, 12, 31))
STEPS = st.integers(min_value=-300, max_value=300)
ZONES = st.sampled_from([ZoneInfo(z) for z in ("UTC", "Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati")])
examples = settings(max_examples=300, deadline=None)


def count_by_walking(a: date, b: date) -> int:
    """The definition of working_days_between, day by day: a excluded, b included, signed by direction."""
    step = timedelta(days=1 if b >= a else -1)
    sign = 1 if b >= a else -1
    total, d = 0, a
    while d != b:
        if sign > 0:
            d += step
            total += CAL.is_working_day(d)
        else:
            total += CAL.is_working_day(d + step)
            d += step
    return sign * total


@examples
@given(DAYS, STEPS.filter(lambda n: n != 0))
def test_adding_then_counting_gives_n_back(d, n):
    result = CAL.add_working_days(d, n)
    assert CAL.is_working_day(result)
    assert (result > d) == (n > 0)
    assert CAL.working_days_between(d, result) == n


@examples
@given(DAYS)
def test_zero_days_rolls_a_rest_day_forward(d):
    result = CAL.add_working_days(d, 0)
    assert CAL.is_working_day(result)
    if CAL.is_working_day(d):
        assert result == d
    else:
        assert result == CAL.next_working_day(d)
        assert CAL.working_days_between(d, result) == 1


@examples
@given(DAYS)
def test_next_and_previous_are_adjacent_working_days(d):
    nxt, prev = CAL.next_working_day(d), CAL.previous_working_day(d)
    assert CAL.is_working_day(nxt) and CAL.is_working_day(prev)
    assert prev < d < nxt
    assert not any(CAL.is_working_day(d + timedelta(days=i)) for i in range(1, (nxt - d).days))
    assert not any(CAL.is_working_day(d - timedelta(days=i)) for i in range(1, (d - prev).days))


@examples
@given(DAYS, st.integers(min_value=-120, max_value=120))
def test_counting_by_bisection_matches_walking(a, offset):
    b = a + timedelta(days=offset)
    assert CAL.working_days_between(a, b) == count_by_walking(a, b)


@examples
@given(DAYS, DAYS, DAYS)
def test_forward_counts_add_up(a, b, c):
    a, b, c = sorted((a, b, c))
    assert CAL.working_days_between(a, b) + CAL.working_days_between(b, c) == CAL.working_days_between(a, c)


@examples
@given(st.datetimes(min_value=datetime(2002, 1, 1), max_value=datetime(2029, 12, 31), timezones=ZONES), STEPS)
def test_a_datetime_counts_from_its_shanghai_day(moment, n):
    shanghai_day = moment.astimezone(SHANGHAI).date()
    assert CAL.add_working_days(moment, n) == CAL.add_working_days(shanghai_day, n)
    due = CAL.due_at(moment, n)
    assert due.date() == CAL.add_working_days(shanghai_day, n)
    assert due.time() == time(23, 59, 59)
    assert due.tzinfo is SHANGHAI
    assert due.utcoffset() == timedelta(hours=8)
