"""Service evaluations (服务评价): which departments an investor scores, and what the three scores are.

The investor scores the county (县区), the main service department (主要服务部门) and the general service
department (综合服务部门). After a problem closes, the main department is the problem's approval unit and
the general department its assistant unit: the two that served the investor. In a scheduled round, the
main department is the project's assistant unit and the general department the county's business office,
the two the investor deals with day to day.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from shared.documents.models import (
    EvaluationSummary,
    Problem,
    Project,
    ScoreAggregate,
    Unit,
    UnitKind,
    UnitRole,
)


class Invitation(BaseModel):
    """One investor asked to score one project's service (the ``invitation`` element of the model)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    project_code: str = Field(alias="projectCode")
    project_name: str = Field(alias="projectName")
    investor_user: str = Field(alias="investorUser")
    county_code: str = Field(alias="countyCode")
    county_name: str = Field(alias="countyName")
    main_unit_id: str | None = Field(None, alias="mainUnitId")
    main_unit_name: str | None = Field(None, alias="mainUnitName")
    general_unit_id: str | None = Field(None, alias="generalUnitId")
    general_unit_name: str | None = Field(None, alias="generalUnitName")
    problem_id: str | None = Field(None, alias="problemId")

    def as_variable(self) -> dict[str, str | None]:
        return self.model_dump(by_alias=True, mode="json")


def departments(project: Project, units: Mapping[str, Unit], problem: Problem | None = None
                ) -> tuple[Unit | None, Unit | None]:
    """(main, general) service departments for an evaluation."""
    if problem is not None:
        main = next((units.get(u.unit_id) for u in problem.units if u.role == UnitRole.APPROVAL), None)
        general = next((units.get(u.unit_id) for u in problem.units if u.role == UnitRole.ASSISTANT), None)
        return main, general
    main = units.get(project.assistant_unit_id) if project.assistant_unit_id else None
    if main is None:
        main = next((u for u in sorted(units.values(), key=lambda u: u.id)
                     if u.kind == UnitKind.ASSISTANT and u.county_code == project.county.code), None)
    general = next((u for u in sorted(units.values(), key=lambda u: u.id)
                    if u.kind == UnitKind.OFFICE and u.county_code == project.county.code), None)
    return main, general


def invitations(project: Project, units: Mapping[str, Unit], problem: Problem | None = None) -> list[Invitation]:
    main, general = departments(project, units, problem)
    return [
        Invitation(
            project_code=project.project_code, project_name=project.name, investor_user=user,
            county_code=project.county.code, county_name=project.county.name,
            main_unit_id=main.id if main else None, main_unit_name=main.name if main else None,
            general_unit_id=general.id if general else None, general_unit_name=general.name if general else None,
            problem_id=problem.id if problem else None,
        )
        for user in project.investor_user_ids
    ]


def three_scores(summary: EvaluationSummary) -> dict[str, float | int | None]:
    """The city-wide averages of the three items, weighted by evaluation, and how many evaluations."""

    def mean(groups: Mapping[str, ScoreAggregate]) -> float | None:
        total = sum(g.average * g.count for g in groups.values())
        count = sum(g.count for g in groups.values())
        return round(total / count, 3) if count else None

    return {
        "county": mean(summary.by_county),
        "mainDepartment": mean(summary.by_main_department),
        "generalDepartment": mean(summary.by_general_department),
        "count": summary.count,
    }
