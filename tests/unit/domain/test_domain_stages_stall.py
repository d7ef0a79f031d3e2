"""Stage order and the stall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.documents.models import Stage
from shared.domain import stages, stall
from shared.domain.rules import Rules

T0 = datetime(2024, 2, 1, 2, 0, tzinfo=UTC)
LAST_PROGRESS = Rules()
SIGNING = Rules(stallClockFrom="signing")


def test_stages_move_forward_only() -> None:
    assert stages.next_stage(Stage.SIGNED) == Stage.FILING
    assert stages.next_stage(Stage.COMPLETED) == Stage.IN_PRODUCTION
    assert stages.next_stage(Stage.IN_PRODUCTION) is None
    assert stages.next_stage(Stage.CANCELLED) is None
    assert stages.advances(Stage.FILING, Stage.CONSTRUCTION_PERMIT)
    assert not stages.advances(Stage.CONSTRUCTION_PERMIT, Stage.LAND)  # a late record never moves it back
    assert not stages.advances(Stage.LAND, Stage.LAND)
    assert not stages.advances(Stage.LAND, None)
    assert not stages.advances(Stage.CANCELLED, Stage.STARTED)
    assert not stages.advances(Stage.IN_PRODUCTION, Stage.IN_PRODUCTION)
    with pytest.raises(ValueError):
        stages.position(Stage.CANCELLED)


def test_last_progress_clock_counts_from_the_latest_progress() -> None:
    assert stall.first_check(signed_at=T0, last_progress_at=T0, rules=LAST_PROGRESS) == T0 + timedelta(90)
    progress = T0 + timedelta(days=60)
    assert stall.first_check(signed_at=T0, last_progress_at=progress, rules=LAST_PROGRESS) == progress + timedelta(90)
    assert stall.next_check(now=progress, signed_at=T0, last_progress_at=progress,
                            rules=LAST_PROGRESS) == progress + timedelta(90)
    assert not stall.is_stalled(now=T0 + timedelta(days=90), last_progress_at=progress, rules=LAST_PROGRESS)
    assert stall.is_stalled(now=progress + timedelta(days=90), last_progress_at=progress, rules=LAST_PROGRESS)
    assert not stall.is_stalled(now=progress + timedelta(days=90) - timedelta(seconds=1), last_progress_at=progress,
                                rules=LAST_PROGRESS)


def test_after_a_warning_the_next_check_is_a_full_period_later() -> None:
    warned = T0 + timedelta(days=90)
    assert stall.next_check(now=warned, signed_at=T0, last_progress_at=T0, rules=LAST_PROGRESS) == warned + timedelta(90)


def test_signing_clock_checks_fixed_periods_from_signing() -> None:
    progress = T0 + timedelta(days=60)
    assert stall.first_check(signed_at=T0, last_progress_at=T0, rules=SIGNING) == T0 + timedelta(90)
    # registered after progress at day 60: the first period without it ends at day 180
    assert stall.first_check(signed_at=T0, last_progress_at=progress, rules=SIGNING) == T0 + timedelta(180)
    # progress does not move the check ...
    assert stall.next_check(now=progress, signed_at=T0, last_progress_at=progress, rules=SIGNING) == T0 + timedelta(90)
    # ... and at the check, the period with progress is no stall, the next one without is
    assert not stall.is_stalled(now=T0 + timedelta(days=90), last_progress_at=progress, rules=SIGNING)
    assert stall.next_check(now=T0 + timedelta(days=90), signed_at=T0, last_progress_at=progress,
                            rules=SIGNING) == T0 + timedelta(180)
    assert stall.is_stalled(now=T0 + timedelta(days=180), last_progress_at=progress, rules=SIGNING)


def test_a_project_that_stalled_before_supervision_is_checked_at_once() -> None:
    old = T0 + timedelta(days=100)
    for rules in (LAST_PROGRESS, SIGNING):
        due = stall.first_check(signed_at=T0, last_progress_at=old, rules=rules)
        assert due < T0 + timedelta(days=365)  # in the past when registered a year on
        assert stall.is_stalled(now=T0 + timedelta(days=365), last_progress_at=old, rules=rules)


def test_after_a_check_the_next_is_in_the_future_not_one_per_missed_period() -> None:
    now = T0 + timedelta(days=1000)
    assert stall.next_check(now=now, signed_at=T0, last_progress_at=T0, rules=SIGNING) == T0 + timedelta(days=1080)
    assert stall.next_check(now=now, signed_at=T0, last_progress_at=T0, rules=LAST_PROGRESS) == now + timedelta(90)
