"""Escalation: the red light on a stalled project, yellow flags on units that sit on a problem, the
chase of overdue work orders, and lifting all of it when the problem is resolved.

| task type | reads | writes |
|---|---|---|
| ``escalation.check-stall`` | ``projectCode``, ``rules``, ``stallCheckAt`` | ``stalled``, ``problemId``, ``stallCheckAt`` |
| ``escalation.raise-yellow-flag`` | ``problemId``, ``assignment`` | ``flagRaised`` |
| ``escalation.escalate-overdue`` | ``problemId``, ``assignment``, ``dueAt`` | ``escalated`` |
| ``escalation.lift`` | ``problemId`` | ``flagsLifted``, ``lightLifted`` |

``check-stall`` raises at most one warning problem per stall: the problem id is derived from the check's
instant (a redelivered job finds the problem it created and answers the same), and a project that already
has an open warning problem is not warned about again until that problem closes.
"""

from typing import Any

from pyzeebe import ZeebeTaskRouter

from services.workers.lifecycle import OPEN_PROBLEMS, project_of, rules_of
from services.workers.runtime import PermanentFailure, WorkerContext, iso, parse_time, require
from shared.calendar import SHANGHAI
from shared.documents.models import (
    Light,
    NewProblem,
    PageRequest,
    Problem,
    ProblemFilter,
    ProblemOrigin,
    UnitTaskStatus,
)
from shared.domain import stall

FAMILY = "escalation"
UNRESOLVED = (UnitTaskStatus.ASSIGNED, UnitTaskStatus.SENT_BACK)


def warning_problem_id(project_code: str, check_at: str) -> str:
    day = parse_time(check_at, "stallCheckAt").astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"W-{project_code}-{day}"


async def problem_of(ctx: WorkerContext, problem_id: Any) -> Problem:
    problem_id = require(problem_id, "problemId")
    problem = await ctx.store.problems.get(problem_id)
    if problem is None:
        raise PermanentFailure(f"problem {problem_id} is not in the documents store")
    return problem


def unit_of(assignment: Any) -> str:
    if not isinstance(assignment, dict) or not isinstance(assignment.get("unitId"), str):
        raise PermanentFailure(f"variable 'assignment' must be a context with a unitId, got {assignment!r}")
    return assignment["unitId"]


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type="escalation.check-stall")
    async def check_stall(projectCode: str | None = None, rules: dict | None = None,
                          stallCheckAt: str | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        check_at = require(stallCheckAt, "stallCheckAt")
        project = await project_of(ctx, projectCode)
        # The timer fired at check_at; domain time can only be later, whatever the clock measured.
        now = max(ctx.now(), parse_time(check_at, "stallCheckAt"))
        following = iso(stall.next_check(now=now, signed_at=project.signed_at,
                                         last_progress_at=project.last_progress_at, rules=knobs).astimezone(SHANGHAI))
        problem_id = warning_problem_id(project.project_code, check_at)
        if await ctx.store.problems.get(problem_id) is not None:
            return {"stalled": True, "problemId": problem_id, "stallCheckAt": following}
        if not stall.is_stalled(now=now, last_progress_at=project.last_progress_at, rules=knobs):
            return {"stalled": False, "problemId": None, "stallCheckAt": following}
        days = (now - project.last_progress_at).days
        await ctx.store.projects.set_light(project.project_code, Light.RED, at=now,
                                           reason=f"{days} 天无审批进展", actor=actor)
        already = await ctx.store.problems.list(
            ProblemFilter(project_code=project.project_code, origin=ProblemOrigin.WARNING, statuses=OPEN_PROBLEMS),
            PageRequest(size=1))
        if already.total:
            return {"stalled": False, "problemId": None, "stallCheckAt": following}
        await ctx.store.problems.create(NewProblem(
            id=problem_id, project_code=project.project_code, county_code=project.county.code,
            origin=ProblemOrigin.WARNING, category="stall", title=f"项目连续 {days} 天无审批进展",
            description=f"{project.name}（{project.project_code}）自 "
                        f"{project.last_progress_at.astimezone(SHANGHAI):%Y-%m-%d} 起无审批进展，已亮红灯预警。",
            raised_by=actor.user, raised_at=now,
        ), actor=actor)
        scope = {"project_code": project.project_code, "county_code": project.county.code}
        await ctx.emit("project.red_light", {"projectCode": project.project_code, "days": days,
                                             "problemId": problem_id}, **scope)
        await ctx.emit("problem.raised", {"problemId": problem_id, "projectCode": project.project_code,
                                          "origin": ProblemOrigin.WARNING.value, "title": f"项目连续 {days} 天无审批进展"},
                       **scope)
        return {"stalled": True, "problemId": problem_id, "stallCheckAt": following}

    @r.task(task_type="escalation.raise-yellow-flag")
    async def raise_yellow_flag(problemId: str | None = None, assignment: dict | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        unit_id = unit_of(assignment)
        unit = problem.unit(unit_id)
        if unit is None:
            raise PermanentFailure(f"unit {unit_id} is not responsible for problem {problem.id}")
        if unit.status not in UNRESOLVED or problem.closed_at is not None:
            return {"flagRaised": False}
        now = ctx.now()
        days = (now - (unit.assigned_at or problem.raised_at)).days
        saved = await ctx.store.flags.raise_flag(unit_id=unit_id, problem_id=problem.id,
                                                 project_code=problem.project_code,
                                                 reason=f"问题“{problem.title}”{days} 天未办结", at=now, actor=actor)
        if saved.created:
            await ctx.emit("flag.raised", {"flagId": saved.item.id, "unitId": unit_id, "problemId": problem.id,
                                           "projectCode": problem.project_code},
                           project_code=problem.project_code, unit_ids=(unit_id,), county_code=problem.county_code)
        return {"flagRaised": True}

    @r.task(task_type="escalation.escalate-overdue")
    async def escalate_overdue(problemId: str | None = None, assignment: dict | None = None,
                               dueAt: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        unit_id = unit_of(assignment)
        unit = problem.unit(unit_id)
        if unit is None or unit.status not in UNRESOLVED or problem.closed_at is not None:
            return {"escalated": False}
        note = f"{unit_id} 超过办理期限 {dueAt or ''} 未办结，提请领导督办"
        if any(h.action == "escalated" and h.note == note for h in problem.history):
            return {"escalated": True}  # a redelivered job
        # Conflict (the status moved meanwhile) fails the job; the retry reads the problem again.
        await ctx.store.problems.transition(problem.id, status=problem.status, action="escalated", note=note,
                                            actor=actor, at=ctx.now(), expected_status=problem.status)
        return {"escalated": True}

    @r.task(task_type="escalation.lift")
    async def lift(problemId: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        now = ctx.now()
        lifted = 0
        for flag in await ctx.store.flags.list_open(project_code=problem.project_code):
            if flag.problem_id == problem.id:
                await ctx.store.flags.lift(flag.id, at=now, actor=actor)
                lifted += 1
                await ctx.emit("flag.lifted", {"flagId": flag.id, "unitId": flag.unit_id, "problemId": problem.id},
                               project_code=problem.project_code, unit_ids=(flag.unit_id,),
                               county_code=problem.county_code)
        light_lifted = False
        if problem.origin == ProblemOrigin.WARNING:
            project = await ctx.store.projects.get(problem.project_code)
            still_open = await ctx.store.problems.list(
                ProblemFilter(project_code=problem.project_code, origin=ProblemOrigin.WARNING,
                              statuses=OPEN_PROBLEMS), PageRequest(size=1))
            if project is not None and project.light == Light.RED and not still_open.total:
                await ctx.store.projects.set_light(project.project_code, Light.GREEN, at=now,
                                                   reason="预警问题已解决", actor=actor)
                light_lifted = True
                await ctx.emit("project.green_light", {"projectCode": project.project_code, "reason": "resolved"},
                               project_code=project.project_code, county_code=project.county.code)
        return {"flagsLifted": lifted, "lightLifted": light_lifted}

    return r
