"""Assignment: which units must act on a problem (see shared/domain/assignment.py for the rules).

| task type | reads | writes |
|---|---|---|
| ``assignment.assign-units`` | ``problemId``, ``blockedStage``, ``approvalUnitId`` (the unit-assignment table's answer) | ``assignments`` |
| ``assignment.unit-options`` | ``countyCode`` | ``assistantOptions``, ``approvalOptions`` (form select options) |
| ``assignment.assign-by-hand`` | ``problemId``, ``assistantUnitId``, ``approvalUnitId`` | ``assignments`` |

No match throws the BPMN error ``NO_UNIT_MATCH``; the model sends the problem to the business office to
assign by hand. Both tasks record the units on the problem (status assigned).
"""

from typing import Any

from pyzeebe import ZeebeTaskRouter
from pyzeebe.errors import BusinessError

from services.workers.escalation import problem_of
from services.workers.runtime import PermanentFailure, WorkerContext, require
from shared.documents.models import ProblemStatus, ResponsibleUnit, Stage, UnitKind
from shared.domain import assignment as rules

FAMILY = "assignment"


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    async def record(problem_id: str, chosen: list[rules.Assignment], how: str) -> dict[str, Any]:
        problem = await problem_of(ctx, problem_id)
        if problem.status == ProblemStatus.CLOSED:
            raise PermanentFailure(f"problem {problem.id} is closed; it cannot be assigned")
        new = [ResponsibleUnit(unit_id=a.unit_id, role=a.role) for a in chosen if problem.unit(a.unit_id) is None]
        if new or problem.status == ProblemStatus.OPEN:
            names = "、".join(a.unit_name for a in chosen)
            await ctx.store.problems.transition(
                problem.id, status=ProblemStatus.ASSIGNED if problem.status == ProblemStatus.OPEN else problem.status,
                action="assigned", note=f"{how}：{names}", actor=actor, at=ctx.now(), add_units=new,
                expected_status=problem.status)
            await ctx.emit("problem.assigned", {"problemId": problem.id, "unitIds": [a.unit_id for a in chosen]},
                           project_code=problem.project_code, unit_ids=tuple(a.unit_id for a in chosen),
                           county_code=problem.county_code)
        return {"assignments": [a.as_variable() for a in chosen]}

    @r.task(task_type="assignment.assign-units")
    async def assign_units(problemId: str | None = None, blockedStage: str | None = None,
                           approvalUnitId: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        project = await ctx.store.projects.get(problem.project_code)
        if project is None:
            raise PermanentFailure(f"problem {problem.id} names project {problem.project_code}, which is unknown")
        try:
            stage = Stage(blockedStage) if blockedStage else project.stage
        except ValueError:
            raise PermanentFailure(f"variable 'blockedStage' = {blockedStage!r} is not a stage") from None
        units = rules.by_id(await ctx.store.units.list())
        try:
            chosen = rules.assign(project, approvalUnitId, units, stage=stage)
        except rules.NoUnitMatch as error:
            raise BusinessError(rules.NO_UNIT_MATCH, str(error)) from None
        return await record(problem.id, chosen, "按规则指派")

    @r.task(task_type="assignment.unit-options")
    async def unit_options(countyCode: str | None = None) -> dict[str, Any]:
        units = [u for u in await ctx.store.units.list() if u.active]

        def options(kinds: set[UnitKind]) -> list[dict[str, str]]:
            chosen = [u for u in units if u.kind in kinds]
            # The project's own county first: that is where the office usually looks.
            chosen.sort(key=lambda u: (u.county_code != countyCode, u.county_code or "", u.id))
            return [{"label": u.name, "value": u.id} for u in chosen]

        return {"assistantOptions": options({UnitKind.ASSISTANT}),
                "approvalOptions": options({UnitKind.DEPARTMENT, UnitKind.COUNTY})}

    @r.task(task_type="assignment.assign-by-hand")
    async def assign_by_hand(problemId: str | None = None, assistantUnitId: str | None = None,
                             approvalUnitId: str | None = None) -> dict[str, Any]:
        units = rules.by_id(await ctx.store.units.list())
        try:
            chosen = rules.assign_by_hand(assistantUnitId, approvalUnitId, units)
        except rules.NoUnitMatch as error:
            raise BusinessError(rules.NO_UNIT_MATCH, str(error)) from None
        return await record(require(problemId, "problemId"), chosen, "营商办人工指派")

    return r
