"""services/engine/timers.py: ISO 8601 durations, dates and cycles, and Spring 5.3 cron as Zeebe reads them."""

from __future__ import annotations

import datetime as dt

import pytest

from services.engine.timers import (
    INFINITE,
    CronSchedule,
    TimerDefinitionError,
    format_duration,
    from_ms,
    parse_cycle,
    parse_datetime,
    parse_duration,
    to_ms,
)

UTC = dt.UTC


def ms(*args: int) -> int:
    return to_ms(dt.datetime(*args, tzinfo=UTC))


def utc(value: int) -> dt.datetime:
    return from_ms(value)


# -- durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "months", "seconds"), [
    ("PT15S", 0, 15), ("PT1H30M", 0, 5400), ("P14D", 0, 14 * 86400), ("P14DT1H30M", 0, 14 * 86400 + 5400),
    ("P3Y6M4DT12H30M5S", 42, 4 * 86400 + 12 * 3600 + 30 * 60 + 5), ("P2W", 0, 14 * 86400), ("PT0.5S", 0, 0.5),
    ("PT1,5S", 0, 1.5), ("-PT5M", 0, -300), ("PT0S", 0, 0),
])
def test_durations(text: str, months: int, seconds: float) -> None:
    duration = parse_duration(text)
    assert duration.months == months
    assert duration.exact.total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "15S", "P1H", "PT1D", "P1.5D", "P1DT", "xPT1S", "PT1S junk"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(TimerDefinitionError):
        parse_duration(text)


def test_calendar_units_keep_the_day_of_month_when_they_can() -> None:
    start = dt.datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    assert parse_duration("P1M").add_to(start) == dt.datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    assert parse_duration("P1Y").add_to(dt.datetime(2028, 2, 29, tzinfo=UTC)) == dt.datetime(2029, 2, 28, tzinfo=UTC)
    assert parse_duration("P1M1D").add_to(start) == dt.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_duration_text_round_trips() -> None:
    for text in ("P1Y2M", "P3D", "PT1H30M", "P1DT2H", "PT0S"):
        assert format_duration(parse_duration(text)) == text


# -- dates -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01T09:00:00Z", ms(2026, 12, 1, 9)),
    ("2026-12-01T09:00:00+08:00", ms(2026, 12, 1, 1)),
    ("2026-12-01T09:00:00[Asia/Shanghai]", ms(2026, 12, 1, 1)),
    ("2026-12-01T09:00:00+08:00[Asia/Shanghai]", ms(2026, 12, 1, 1)),
    ("2026-07-01T09:00:00[Europe/Berlin]", ms(2026, 7, 1, 7)),  # summer time
    ("2026-12-01T09:00:00[Europe/Berlin]", ms(2026, 12, 1, 8)),
    ("2026-12-01T09:00:00", ms(2026, 12, 1, 9)),  # no zone: UTC, as Camunda reads it
    ("2026-12-01T09:00:00.250Z", ms(2026, 12, 1, 9) + 250),
])
def test_dates(text: str, expected: int) -> None:
    assert to_ms(parse_datetime(text)) == expected


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01T00:00:00Z", "2026-12-01T09:00:00[Mars/Olympus]", ""])
def test_invalid_dates(text: str) -> None:
    with pytest.raises(TimerDefinitionError):
        parse_datetime(text)


def test_millisecond_conversions_are_exact() -> None:
    for value in (0, 1, 999, 1_700_000_000_123, 4_102_444_800_001, -1):
        assert to_ms(from_ms(value)) == value


# -- repeating intervals ------------------------------------------------------------------------------------------------


def test_repeating_interval_without_start() -> None:
    cycle = parse_cycle("R5/PT10S")
    assert cycle.repetitions == 5
    now = ms(2026, 1, 1)
    assert cycle.first_due(now) == now + 10_000
    assert cycle.next_due(now + 10_000, now + 10_000) == now + 20_000
    assert parse_cycle("R/P1D").repetitions == INFINITE


def test_repeating_interval_with_start_fires_first_at_the_start() -> None:
    cycle = parse_cycle("R3/2026-04-27T17:20:00Z/P1D")
    assert cycle.repetitions == 3
    before = ms(2026, 4, 1)
    assert cycle.first_due(before) == ms(2026, 4, 27, 17, 20)
    # a start in the past is due at once
    assert cycle.first_due(ms(2026, 5, 1)) == ms(2026, 5, 1)
    assert cycle.next_due(ms(2026, 4, 27, 17, 20), ms(2026, 4, 27, 17, 20)) == ms(2026, 4, 28, 17, 20)


def test_repeating_interval_with_zoned_start() -> None:
    cycle = parse_cycle("R/2022-01-01T10:00:00+02:00[Europe/Berlin]/P1D")
    assert cycle.first_due(ms(2021, 1, 1)) == ms(2022, 1, 1, 8)


def test_missed_occurrences_are_not_replayed() -> None:
    cycle = parse_cycle("R/PT1H")
    last = ms(2026, 1, 1, 0)
    late = ms(2026, 1, 1, 5, 30)  # five occurrences missed while the engine was down
    assert cycle.next_due(last, late) == late + 3_600_000


@pytest.mark.parametrize("text", ["R5", "5/PT10S", "Rx/PT1S", "R-1/PT1S", "R/PT0S", "R/-PT1S", "R2/PT1S/2026-01-01T00:00:00Z",
                                  "R/P1D/junk/more"])
def test_invalid_cycles(text: str) -> None:
    with pytest.raises(TimerDefinitionError):
        parse_cycle(text)


# -- cron -------------------------------------------------------------------------------------------------------------------


def next_cron(expression: str, after: int, count: int = 1) -> list[dt.datetime]:
    schedule = CronSchedule.parse(expression)
    found = []
    for _ in range(count):
        due = schedule.next_after(after)
        assert due is not None
        found.append(utc(due))
        after = due
    return found


def test_cron_weekdays_and_hours() -> None:
    # Friday 2026-01-02 16:30 → 17:00 that day, then Monday 9:00
    times = next_cron("0 0 9-17 * * MON-FRI", ms(2026, 1, 2, 16, 30), 2)
    assert times == [dt.datetime(2026, 1, 2, 17, tzinfo=UTC), dt.datetime(2026, 1, 5, 9, tzinfo=UTC)]


def test_cron_is_strictly_after() -> None:
    assert next_cron("0 0 9 * * *", ms(2026, 1, 1, 9)) == [dt.datetime(2026, 1, 2, 9, tzinfo=UTC)]


def test_cron_steps_and_lists() -> None:
    assert next_cron("*/20 * * * * *", ms(2026, 1, 1, 0, 0, 5), 3) == [
        dt.datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, 0, 40, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 0, 1, 0, tzinfo=UTC)]
    assert next_cron("0 5/15 * * * *", ms(2026, 1, 1), 2) == [
        dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, 20, tzinfo=UTC)]
    assert next_cron("0 0 8,12 * * *", ms(2026, 1, 1, 9)) == [dt.datetime(2026, 1, 1, 12, tzinfo=UTC)]


def test_cron_names_and_sunday_as_0_or_7() -> None:
    assert next_cron("0 0 0 1 JAN *", ms(2026, 6, 1)) == [dt.datetime(2027, 1, 1, tzinfo=UTC)]
    # 2026-03-01 is a Sunday
    assert next_cron("0 0 0 * * 0", ms(2026, 2, 27)) == [dt.datetime(2026, 3, 1, tzinfo=UTC)]
    assert next_cron("0 0 0 * * 7", ms(2026, 2, 27)) == [dt.datetime(2026, 3, 1, tzinfo=UTC)]
    assert next_cron("0 0 0 * * SUN", ms(2026, 2, 27)) == [dt.datetime(2026, 3, 1, tzinfo=UTC)]


def test_cron_macros() -> None:
    after = ms(2026, 5, 17, 10, 30)
    assert next_cron("@hourly", after) == [dt.datetime(2026, 5, 17, 11, tzinfo=UTC)]
    assert next_cron("@daily", after) == [dt.datetime(2026, 5, 18, tzinfo=UTC)]
    assert next_cron("@midnight", after) == [dt.datetime(2026, 5, 18, tzinfo=UTC)]
    assert next_cron("@weekly", after) == [dt.datetime(2026, 5, 24, tzinfo=UTC)]  # Sunday
    assert next_cron("@monthly", after) == [dt.datetime(2026, 6, 1, tzinfo=UTC)]
    assert next_cron("@yearly", after) == next_cron("@annually", after) == [dt.datetime(2027, 1, 1, tzinfo=UTC)]


def test_cron_last_days() -> None:
    assert next_cron("0 0 0 L * *", ms(2026, 2, 1), 2) == [
        dt.datetime(2026, 2, 28, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC)]
    assert next_cron("0 0 0 L-2 * *", ms(2026, 2, 1)) == [dt.datetime(2026, 2, 26, tzinfo=UTC)]
    # the last weekday: 2026-05-31 is a Sunday, so Friday the 29th
    assert next_cron("0 0 0 LW * *", ms(2026, 5, 1)) == [dt.datetime(2026, 5, 29, tzinfo=UTC)]


def test_cron_nearest_weekday() -> None:
    # 2026-08-15 is a Saturday → Friday the 14th; 2026-11-15 is a Sunday → Monday the 16th
    assert next_cron("0 0 0 15W * *", ms(2026, 8, 1)) == [dt.datetime(2026, 8, 14, tzinfo=UTC)]
    assert next_cron("0 0 0 15W * *", ms(2026, 11, 1)) == [dt.datetime(2026, 11, 16, tzinfo=UTC)]
    # 2026-08-01 is a Saturday: never into the previous month, so Monday the 3rd
    assert next_cron("0 0 0 1W * *", ms(2026, 7, 20)) == [dt.datetime(2026, 8, 3, tzinfo=UTC)]


def test_cron_nth_and_last_weekday_of_the_month() -> None:
    assert next_cron("0 0 10 * * FRI#2", ms(2026, 1, 1), 2) == [
        dt.datetime(2026, 1, 9, 10, tzinfo=UTC), dt.datetime(2026, 2, 13, 10, tzinfo=UTC)]
    assert next_cron("0 0 10 ? * 5L", ms(2026, 1, 1)) == [dt.datetime(2026, 1, 30, 10, tzinfo=UTC)]
    assert next_cron("0 0 10 ? * FRIL", ms(2026, 1, 1)) == [dt.datetime(2026, 1, 30, 10, tzinfo=UTC)]


def test_cron_day_of_month_and_week_must_both_match() -> None:
    # Friday the 13th: the next one after 2026-01-01 is in February 2026
    assert next_cron("0 0 0 13 * FRI", ms(2026, 1, 1)) == [dt.datetime(2026, 2, 13, tzinfo=UTC)]


def test_cron_that_never_fires() -> None:
    assert CronSchedule.parse("0 0 0 30 FEB *").next_after(ms(2026, 1, 1)) is None


@pytest.mark.parametrize("text", [
    "0 0 9 * *", "0 0 9 * * * *", "60 0 9 * * *", "0 60 9 * * *", "0 0 24 * * *", "0 0 0 32 * *", "0 0 0 0 * *",
    "0 0 0 * 13 *", "0 0 0 * * 8", "0 0 0 * * FUN", "0 0 0 * * FRI#6", "0 */0 * * * *", "0 0 0 L-31 * *",
    "0 0 0 32W * *", "a b c d e f", "@sometimes",
])
def test_invalid_cron(text: str) -> None:
    with pytest.raises(TimerDefinitionError):
        parse_cycle(text)


def test_cron_cycle_is_infinite() -> None:
    cycle = parse_cycle("0 0 9 * * MON-FRI")
    assert cycle.repetitions == INFINITE and cycle.cron is not None
    friday_evening = ms(2026, 1, 2, 18)
    assert cycle.first_due(friday_evening) == ms(2026, 1, 5, 9)
    # the next occurrence is after now, whatever was missed
    assert cycle.next_due(ms(2026, 1, 5, 9), ms(2026, 1, 7, 12)) == ms(2026, 1, 8, 9)
