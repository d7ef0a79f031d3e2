"""Problem (work order) tasks of ``problem-handling``: load it, record each unit's report, record the
reporter's decision.

| task type | reads | writes |
|---|---|---|
| ``problems.load`` | ``problemId`` | ``projectCode``, ``projectName``, ``problemTitle``, ``countyCode``, ``industry``, ``blockedStage``, ``origin``, ``reporterGroups``, ``reporterUsers`` |
| ``problems.record-report`` | ``problemId``, ``assignment``, ``resolution`` | ``reported`` |
| ``problems.decide`` | ``problemId``, ``decision`` (``confirm`` / ``sendBack`` / ``confirmByDefault``), ``confirmComment`` | ``closed`` |

Who confirms: the investor who reported the problem; the unit that reported it; for a warning, the county's
business office (营商办), or the city's when the county has none.
"""

from typing import Any

from pyzeebe import ZeebeTaskRouter

from services.workers.escalation import problem_of, unit_of
from services.workers.runtime import PermanentFailure, WorkerContext
from shared.documents import Conflict
from shared.documents.models import ProblemOrigin, ProblemStatus, UnitTaskStatus
from shared.domain import assignment as rules

FAMILY = "problems"
CITY_OFFICE = "office-city"
DECISIONS = {"confirm": "confirmed", "confirmByDefault": "confirmed_by_default", "sendBack": "sent_back"}


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    async def office_for(county_code: str | None) -> str:
        if county_code:
            office = await ctx.store.units.get(f"office-{county_code}")
            if office is not None and office.active:
                return office.id
        return CITY_OFFICE

    @r.task(task_type="problems.load")
    async def load(problemId: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        project = await ctx.store.projects.get(problem.project_code)
        if project is None:
            raise PermanentFailure(f"problem {problem.id} names project {problem.project_code}, which is unknown")
        groups: list[str] = []
        users: list[str] = []
        if problem.origin == ProblemOrigin.INVESTOR:
            users = [problem.raised_by]
        elif problem.origin == ProblemOrigin.UNIT:
            reporter = await ctx.store.users.get(problem.raised_by)
            groups = list(reporter.unit_ids[:1]) if reporter is not None and reporter.unit_ids else []
        if not groups and not users:
            groups = [await office_for(project.county.code)]
        return {
            "projectCode": project.project_code, "projectName": project.name, "problemTitle": problem.title,
            "countyCode": project.county.code, "industry": project.industry,
            "blockedStage": rules.blocked_stage(problem.category, project.stage).value,
            "origin": problem.origin.value, "reporterGroups": groups, "reporterUsers": users,
        }

    @r.task(task_type="problems.record-report")
    async def record_report(problemId: str | None = None, assignment: dict | None = None,
                            resolution: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        unit_id = unit_of(assignment)
        unit = problem.unit(unit_id)
        if unit is None:
            raise PermanentFailure(f"unit {unit_id} is not responsible for problem {problem.id}")
        text = (resolution or "").strip()
        if not text:
            raise PermanentFailure("variable 'resolution' is empty: the unit must say how it resolved the problem")
        now = ctx.now()
        if unit.status not in (UnitTaskStatus.REPORTED, UnitTaskStatus.DONE):
            problem = await ctx.store.problems.update_unit(
                problem.id, unit_id, unit_status=UnitTaskStatus.REPORTED, action="reported", actor=actor, at=now,
                note=text, resolution=text, expected_unit_status=(UnitTaskStatus.ASSIGNED, UnitTaskStatus.SENT_BACK))
            await ctx.emit("problem.reported", {"problemId": problem.id, "unitId": unit_id},
                           project_code=problem.project_code, unit_ids=(unit_id,), county_code=problem.county_code)
        everyone = all(u.status in (UnitTaskStatus.REPORTED, UnitTaskStatus.DONE) for u in problem.units)
        if everyone and problem.status in (ProblemStatus.ASSIGNED, ProblemStatus.SENT_BACK):
            try:
                await ctx.store.problems.transition(problem.id, status=ProblemStatus.REPORTED, action="all_reported",
                                                    actor=actor, at=now, expected_status=problem.status)
            except Conflict:
                pass  # another unit's report got there first
        return {"reported": True}

    @r.task(task_type="problems.decide")
    async def decide(problemId: str | None = None, decision: str | None = None,
                     confirmComment: str | None = None) -> dict[str, Any]:
        if decision not in DECISIONS:
            raise PermanentFailure(f"variable 'decision' must be one of {list(DECISIONS)}, got {decision!r}")
        problem = await problem_of(ctx, problemId)
        now = ctx.now()
        comment = (confirmComment or "").strip() or None
        if decision == "sendBack":
            if problem.status == ProblemStatus.SENT_BACK:
                return {"closed": False}  # a redelivered job
            if problem.status == ProblemStatus.CLOSED:
                raise PermanentFailure(f"problem {problem.id} is already closed and cannot be sent back")
            problem = await ctx.store.problems.transition(
                problem.id, status=ProblemStatus.SENT_BACK, action="sent_back", note=comment, actor=actor, at=now,
                expected_status=(ProblemStatus.REPORTED, ProblemStatus.ASSIGNED))
            for unit in problem.units:
                if unit.status == UnitTaskStatus.REPORTED:
                    await ctx.store.problems.update_unit(problem.id, unit.unit_id, unit_status=UnitTaskStatus.SENT_BACK,
                                                         action="unit_sent_back", actor=actor, at=now)
            await ctx.emit("problem.sent_back", {"problemId": problem.id}, project_code=problem.project_code,
                           unit_ids=tuple(problem.unit_ids), county_code=problem.county_code)
            return {"closed": False}
        if problem.status != ProblemStatus.CLOSED:
            await ctx.store.problems.transition(
                problem.id, status=ProblemStatus.CLOSED, action=DECISIONS[decision], note=comment, actor=actor,
                at=now, expected_status=(ProblemStatus.REPORTED, ProblemStatus.ASSIGNED, ProblemStatus.SENT_BACK))
            await ctx.emit("problem.closed", {"problemId": problem.id, "decision": decision},
                           project_code=problem.project_code, unit_ids=tuple(problem.unit_ids),
                           county_code=problem.county_code)
        return {"closed": True}

    return r
