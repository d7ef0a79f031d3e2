"""Stalls: when the stall timer should fire next, and whether a project has stalled when it does.

With ``stallClockFrom = lastProgress`` (the default) a project stalls when ``stallWarningAfter`` passes
without progress since signing or its latest progress; every progress resets the clock. With ``signing``
the checks fall every ``stallWarningAfter`` counted from signing, and a check warns when its period saw no
progress. Either way a stall that has been warned about is not warned about again until another full
period passes, so a stalled project does not raise a problem per timer tick.
"""

from __future__ import annotations

from datetime import datetime

from shared.domain.rules import Rules

# A project signed years before the platform saw it would otherwise need a loop per missed period.
_MAX_PERIODS = 10_000


def first_check(*, signed_at: datetime, last_progress_at: datetime, rules: Rules) -> datetime:
    """When a project that has just been registered (or has just progressed) is first looked at for a stall.

    It may be in the past: a project that had already stalled when it came under supervision (or whose
    latest record is old news) is warned about at once.
    """
    period = rules.stall_period
    if rules.stall_clock_from == "signing":
        # the first period boundary whose whole period lies after the latest progress
        for k in range(1, _MAX_PERIODS):
            due = period.times(k).add_to(signed_at)
            if period.subtract_from(due) >= last_progress_at:
                return due
        raise ValueError(f"last progress {last_progress_at.isoformat()} is implausibly far after signing")
    return period.add_to(last_progress_at)


def next_check(*, now: datetime, signed_at: datetime, last_progress_at: datetime, rules: Rules) -> datetime:
    """After a check at ``now``: when to look again; always after ``now``, so a stall that has just been
    warned about is looked at again a full period later, not at every tick."""
    period = rules.stall_period
    if rules.stall_clock_from == "signing":
        for k in range(1, _MAX_PERIODS):
            due = period.times(k).add_to(signed_at)
            if due > now:
                return due
        raise ValueError(f"signed_at {signed_at.isoformat()} is implausibly far before {now.isoformat()}")
    due = period.add_to(last_progress_at)
    return due if due > now else period.add_to(now)


def is_stalled(*, now: datetime, last_progress_at: datetime, rules: Rules) -> bool:
    """No progress during the whole period that ends ``now``."""
    return rules.stall_period.add_to(last_progress_at) <= now
