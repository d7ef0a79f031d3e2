"""The rule knobs: durations as the models write them, validation naming the knob, the models' defaults."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.domain.durations import Cycle, Duration, DurationError
from shared.domain.rules import DEFAULTS, Rules, RulesError

BPMN = Path(__file__).resolve().parents[3] / "bpmn"


@pytest.mark.parametrize(("text", "months", "days", "seconds"), [
    ("P90D", 0, 90, 0), ("P1M", 1, 0, 0), ("P1Y2M", 14, 0, 0), ("P2W", 0, 14, 0), ("PT12H", 0, 0, 43200),
    ("P1DT1H30M5S", 0, 1, 5405),
])
def test_durations_parse(text: str, months: int, days: int, seconds: int) -> None:
    d = Duration.parse(text)
    assert (d.months, d.days, d.seconds) == (months, days, seconds)
    assert Duration.parse(str(d)) == d


@pytest.mark.parametrize("text", ["90D", "P", "PT", "P0D", "P1.5D", "p90d", "P90D ", "PT1D", ""])
def test_bad_durations_are_refused(text: str) -> None:
    if text == "P90D ":  # surrounding blanks are tolerated: the Modeler's fields keep them
        assert Duration.parse(text).days == 90
        return
    with pytest.raises(DurationError):
        Duration.parse(text)


def test_month_arithmetic_clamps_to_the_end_of_the_month() -> None:
    assert Duration.parse("P1M").add_to(datetime(2024, 1, 31, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)
    assert Duration.parse("P1M").subtract_from(datetime(2024, 3, 31, tzinfo=UTC)) == datetime(2024, 2, 29,
                                                                                                tzinfo=UTC)
    assert Duration.parse("P90D").add_to(datetime(2024, 2, 1, tzinfo=UTC)) == datetime(2024, 5, 1, tzinfo=UTC)


def test_cycles() -> None:
    assert Cycle.parse("R/P30D") == Cycle(None, Duration(days=30))
    assert Cycle.parse("R2/P30D").repetitions == 2
    for bad in ("P30D", "R0/P30D", "R/30D", "RX/P30D"):
        with pytest.raises(DurationError):
            Cycle.parse(bad)


def test_rules_default_and_override() -> None:
    assert Rules.from_variable(None).as_variable() == DEFAULTS
    rules = Rules.from_variable({"stallWarningAfter": "P60D", "resolutionWorkingDays": 5, "someoneElses": 1})
    assert rules.stall_period == Duration(days=60)
    assert rules.resolution_working_days == 5


def test_bad_rules_name_every_bad_knob() -> None:
    with pytest.raises(RulesError) as caught:
        Rules.from_variable({"stallWarningAfter": "90 days", "resolutionWorkingDays": 0, "stallClockFrom": "x"})
    message = str(caught.value)
    for knob in ("rules.stallWarningAfter", "rules.resolutionWorkingDays", "rules.stallClockFrom"):
        assert knob in message
    with pytest.raises(RulesError, match="context"):
        Rules.from_variable(["P90D"])


@pytest.mark.parametrize("model", ["project-lifecycle", "problem-handling", "service-evaluation",
                                   "approval-docking"])
def test_every_model_applies_the_same_defaults(model: str) -> None:
    text = (BPMN / f"{model}.bpmn").read_text()
    match = re.search(r'<zeebe:script expression="=context merge\(\[\{(.*?)\}, if rules = null', text)
    assert match, f"{model} has no rules script task"
    pairs = dict(p.split(": ", 1) for p in match.group(1).replace("&quot;", '"').split(", "))
    assert {k: v.strip('"') for k, v in pairs.items()} == {k: str(v) for k, v in DEFAULTS.items()}
