"""Assignment rules, deadlines and evaluation departments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.calendar import SHANGHAI, WorkingCalendar
from shared.documents.models import (
    County,
    EvaluationSummary,
    Investor,
    Problem,
    ProblemOrigin,
    ProblemStatus,
    Project,
    ResponsibleUnit,
    ScoreAggregate,
    Stage,
    Unit,
    UnitKind,
    UnitRole,
)
from shared.domain import assignment, evaluation
from shared.domain.deadlines import deadline

NOW = datetime(2024, 6, 1, tzinfo=UTC)
UNITS = assignment.by_id([
    Unit(id="assist-320812", name="清江浦区项目帮办", kind=UnitKind.ASSISTANT, county_code="320812"),
    Unit(id="assist-320812-b", name="清江浦区二号帮办", kind=UnitKind.ASSISTANT, county_code="320812"),
    Unit(id="assist-320803", name="淮安区项目帮办", kind=UnitKind.ASSISTANT, county_code="320803", active=False),
    Unit(id="xzsp-320812", name="清江浦区行政审批局", kind=UnitKind.DEPARTMENT, county_code="320812"),
    Unit(id="dept-zrzy", name="淮安市自然资源和规划局", kind=UnitKind.DEPARTMENT),
    Unit(id="dept-old", name="撤并单位", kind=UnitKind.DEPARTMENT, active=False),
    Unit(id="office-320812", name="清江浦区营商办", kind=UnitKind.OFFICE, county_code="320812"),
])


def project(county: str = "320812", assistant: str | None = None, stage: Stage = Stage.SIGNED) -> Project:
    return Project(project_code="P-1", name="液压件厂", investor=Investor(company="某液压公司"),
                   county=County(code=county, name="x"), industry="machinery", amount_cny=1, signed_at=NOW,
                   assistant_unit_id=assistant, investor_user_ids=["inv1", "inv2"], stage=stage,
                   last_progress_at=NOW, created_at=NOW, updated_at=NOW)


def test_blocked_stage() -> None:
    assert assignment.blocked_stage("stall", Stage.LAND) == Stage.PLANNING
    assert assignment.blocked_stage("construction_permit", Stage.FILING) == Stage.CONSTRUCTION_PERMIT
    assert assignment.blocked_stage("signed", Stage.FILING) == Stage.LAND
    assert assignment.blocked_stage("other", Stage.IN_PRODUCTION) == Stage.IN_PRODUCTION


def test_assign_picks_the_county_assistant_and_the_decided_unit() -> None:
    chosen = assignment.assign(project(), "xzsp-320812", UNITS, stage=Stage.FILING)
    assert [(a.unit_id, a.role) for a in chosen] == [("assist-320812", UnitRole.ASSISTANT),
                                                     ("xzsp-320812", UnitRole.APPROVAL)]
    assert chosen[0].as_variable() == {"unitId": "assist-320812", "role": "assistant", "unitName": "清江浦区项目帮办"}
    own = assignment.assign(project(assistant="assist-320812-b"), "dept-zrzy", UNITS, stage=Stage.LAND)
    assert own[0].unit_id == "assist-320812-b"


def test_same_unit_in_both_roles_is_assigned_once() -> None:
    chosen = assignment.assign(project(), "assist-320812", UNITS, stage=Stage.FILING)
    assert [(a.unit_id, a.role) for a in chosen] == [("assist-320812", UnitRole.APPROVAL)]


@pytest.mark.parametrize(("county", "decided", "message"), [
    ("320812", None, "names no approval unit"),
    ("320812", "dept-nowhere", "not in the units directory"),
    ("320812", "dept-old", "inactive"),
    ("320803", "dept-zrzy", "no active assistant unit"),
])
def test_no_match(county: str, decided: str | None, message: str) -> None:
    with pytest.raises(assignment.NoUnitMatch, match=message):
        assignment.assign(project(county), decided, UNITS, stage=Stage.LAND)


def test_assign_by_hand() -> None:
    chosen = assignment.assign_by_hand("assist-320812", "dept-zrzy", UNITS)
    assert [a.unit_id for a in chosen] == ["assist-320812", "dept-zrzy"]
    with pytest.raises(assignment.NoUnitMatch):
        assignment.assign_by_hand("dept-old", None, UNITS)
    with pytest.raises(assignment.NoUnitMatch, match="at least one"):
        assignment.assign_by_hand(None, "", UNITS)


def test_deadline_crosses_national_day() -> None:
    cal = WorkingCalendar.default()
    # Assigned Friday 26 September 2025: the 28th (Sunday) is worked, 1-8 October are off.
    result = deadline(datetime(2025, 9, 26, 10, tzinfo=SHANGHAI), working_days=7, remind_before=2, calendar=cal)
    assert result.due_at == datetime(2025, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert result.remind_at == datetime(2025, 10, 10, 9, 0, tzinfo=SHANGHAI)
    assert not result.provisional
    short = deadline(datetime(2025, 9, 26, 10, tzinfo=SHANGHAI), working_days=1, remind_before=2, calendar=cal)
    assert short.due_at.date() == date(2025, 9, 28) and short.remind_at == datetime(2025, 9, 28, 9, tzinfo=SHANGHAI)
    with pytest.raises(ValueError):
        deadline(datetime(2025, 9, 26, 10), working_days=7, remind_before=2, calendar=cal)


def test_evaluation_departments() -> None:
    p = project()
    main, general = evaluation.departments(p, UNITS)
    assert (main.id, general.id) == ("assist-320812", "office-320812")  # type: ignore[union-attr]
    problem = Problem(id="X", project_code="P-1", origin=ProblemOrigin.WARNING, category="stall", title="t",
                      raised_by="s", raised_at=NOW, status=ProblemStatus.CLOSED, updated_at=NOW,
                      units=[ResponsibleUnit(unit_id="assist-320812", role=UnitRole.ASSISTANT),
                             ResponsibleUnit(unit_id="dept-zrzy", role=UnitRole.APPROVAL)])
    invites = evaluation.invitations(p, UNITS, problem)
    assert [i.investor_user for i in invites] == ["inv1", "inv2"]
    assert (invites[0].main_unit_id, invites[0].general_unit_id, invites[0].problem_id) == (
        "dept-zrzy", "assist-320812", "X")


def test_three_scores_weight_by_evaluation() -> None:
    summary = EvaluationSummary(
        count=3, by_county={"a": ScoreAggregate(count=2, average=4.5), "b": ScoreAggregate(count=1, average=3)},
        by_department={}, by_main_department={"m": ScoreAggregate(count=3, average=4)},
        by_general_department={})
    assert evaluation.three_scores(summary) == {"county": 4.0, "mainDepartment": 4.0, "generalDepartment": None,
                                                "count": 3}
