"""The unit-assignment decision table names a unit of the demo city for every blocked stage, county and
industry, and nothing for a stage it does not know (the model then asks the business office)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.demo import city
from services.engine.dmn import evaluate_decision, parse_dmn
from shared.documents.models import Stage
from shared.domain import stages

TABLE = parse_dmn((Path(__file__).resolve().parents[3] / "bpmn" / "unit-assignment.dmn").read_bytes(),
                  "unit-assignment.dmn")
UNITS = {u.id for u in city.units()}


def decide(stage: str, industry: str, county: str) -> object:
    result = evaluate_decision(TABLE, "unit-assignment",
                               {"blockedStage": stage, "industry": industry, "countyCode": county})
    assert result.failed_decision_id is None, result.failure_message
    return result.output


@pytest.mark.parametrize("stage", [s.value for s in stages.LIFE_CYCLE[1:]])
def test_every_stage_has_a_unit_in_every_county(stage: str) -> None:
    for county in city.COUNTIES:
        for industry in city.INDUSTRIES:
            assert decide(stage, industry, county.code) in UNITS, (stage, industry, county.code)


def test_rules_that_depend_on_county_and_industry() -> None:
    assert decide("filing", "food", "320831") == "xzsp-320831"
    assert decide("land", "food", "320831") == "dept-zrzy"
    assert decide("started", "chemicals", "320812") == "dept-yjj"
    assert decide("started", "food", "320812") == "dept-zjj"
    assert decide("in_production", "pharma", "320812") == "dept-yjj"


def test_an_unknown_stage_names_no_unit() -> None:
    assert decide(Stage.SIGNED.value, "food", "320812") is None
    assert decide("moon_landing", "food", "320812") is None
