"""Who must act on a problem: the project's assistant unit (帮办) and the unit that grants the blocked approval.

The approval unit comes from the ``unit-assignment`` decision table (bpmn/unit-assignment.dmn: blocked stage,
industry and county → unit id), which a process designer edits; this module checks the table's answer
against the units directory and picks the assistant unit. Anything that does not resolve to an active unit
is ``NoUnitMatch``: the model catches it as the BPMN error ``NO_UNIT_MATCH`` and asks the business office to
assign by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from shared.documents.models import Project, Stage, Unit, UnitKind, UnitRole
from shared.domain import stages

NO_UNIT_MATCH = "NO_UNIT_MATCH"


class NoUnitMatch(LookupError):
    code = NO_UNIT_MATCH


class Assignment(BaseModel):
    """One responsible unit, as the models carry it (``assignments`` list, ``assignment`` element)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    unit_id: str = Field(alias="unitId")
    role: UnitRole
    unit_name: str = Field(alias="unitName")

    def as_variable(self) -> dict[str, str]:
        return self.model_dump(by_alias=True, mode="json")


def blocked_stage(category: str, project_stage: Stage | str) -> Stage:
    """The stage whose approval a problem blocks: named by its category, else the project's next stage."""
    try:
        named = Stage(category)
    except ValueError:
        named = None
    if named is not None and named not in (Stage.SIGNED, Stage.CANCELLED):
        return named
    upcoming = stages.next_stage(project_stage)
    return upcoming if upcoming is not None else Stage(project_stage)


def assistant_unit(project: Project, units: Mapping[str, Unit]) -> Unit:
    """The project's own assistant unit when it has an active one, else its county's."""
    if project.assistant_unit_id:
        unit = units.get(project.assistant_unit_id)
        if unit is not None and unit.active:
            return unit
    candidates = sorted(
        (u for u in units.values()
         if u.kind == UnitKind.ASSISTANT and u.active and u.county_code == project.county.code),
        key=lambda u: u.id,
    )
    if not candidates:
        raise NoUnitMatch(f"no active assistant unit for project {project.project_code} "
                          f"(county {project.county.code})")
    return candidates[0]


def approval_unit(decided: str | None, units: Mapping[str, Unit], *, stage: Stage, project: Project) -> Unit:
    if not decided:
        raise NoUnitMatch(f"the unit-assignment table names no approval unit for stage {stage}, industry "
                          f"{project.industry!r}, county {project.county.code}")
    unit = units.get(decided)
    if unit is None:
        raise NoUnitMatch(f"the unit-assignment table names {decided!r}, which is not in the units directory")
    if not unit.active:
        raise NoUnitMatch(f"the unit-assignment table names {decided!r} ({unit.name}), which is inactive")
    return unit


def assign(project: Project, decided_approval_unit: str | None, units: Mapping[str, Unit], *,
           stage: Stage) -> list[Assignment]:
    """The assistant unit and the approval unit (one entry if they are the same unit)."""
    assistant = assistant_unit(project, units)
    approver = approval_unit(decided_approval_unit, units, stage=stage, project=project)
    result = [Assignment(unit_id=assistant.id, role=UnitRole.ASSISTANT, unit_name=assistant.name)]
    if approver.id == assistant.id:
        return [Assignment(unit_id=approver.id, role=UnitRole.APPROVAL, unit_name=approver.name)]
    result.append(Assignment(unit_id=approver.id, role=UnitRole.APPROVAL, unit_name=approver.name))
    return result


def assign_by_hand(assistant_id: str | None, approval_id: str | None, units: Mapping[str, Unit]) -> list[Assignment]:
    """The business office's choice, checked like the table's."""
    chosen: list[Assignment] = []
    for unit_id, role in ((assistant_id, UnitRole.ASSISTANT), (approval_id, UnitRole.APPROVAL)):
        if not unit_id:
            continue
        unit = units.get(unit_id)
        if unit is None or not unit.active:
            raise NoUnitMatch(f"{role} unit {unit_id!r} is not an active unit of the directory")
        if any(a.unit_id == unit_id for a in chosen):
            continue
        chosen.append(Assignment(unit_id=unit.id, role=role, unit_name=unit.name))
    if not chosen:
        raise NoUnitMatch("choose at least one unit")
    return chosen


def by_id(units: Iterable[Unit]) -> dict[str, Unit]:
    return {u.id: u for u in units}
