"""Life-cycle tasks of ``project-lifecycle``: register a signed project, apply progress, close the life cycle.

| task type | reads | writes |
|---|---|---|
| ``lifecycle.register`` | ``projectCode``, ``project`` (optional ProjectData, upserted), ``rules`` | ``stage``, ``stallCheckAt``, ``projectName``, ``countyCode`` |
| ``lifecycle.progress`` | ``projectCode``, ``rules``, ``stallCheckAt`` | ``stage``, ``stallCheckAt`` (the red light goes out) |
| ``lifecycle.close`` | ``projectCode``, ``outcome`` (``in_production`` / ``cancelled``, an input mapping) | ``outcome`` |

Closing also closes the project's open problems and withdraws their inbox tasks: the terminate end event
cancels their problem-handling instances, and nobody should be chased about a finished project.
"""

# No "from __future__ import annotations" here: pyzeebe finds the job parameter by its evaluated annotation.

from typing import Any

from pydantic import ValidationError
from pyzeebe import Job, ZeebeTaskRouter

from services.workers.runtime import PermanentFailure, WorkerContext, iso, parse_time, require
from shared.calendar import SHANGHAI
from shared.documents import NotFound
from shared.documents.models import (
    Light,
    PageRequest,
    ProblemFilter,
    ProblemStatus,
    Project,
    ProjectData,
    Stage,
    TaskFilter,
    TaskStatus,
)
from shared.domain import stall
from shared.domain.rules import Rules, RulesError

FAMILY = "lifecycle"
PROBLEM_PROCESS = "problem-handling"
OPEN_PROBLEMS = [ProblemStatus.OPEN, ProblemStatus.ASSIGNED, ProblemStatus.REPORTED, ProblemStatus.SENT_BACK]


def rules_of(value: Any) -> Rules:
    try:
        return Rules.from_variable(value)
    except RulesError as error:
        raise PermanentFailure(str(error)) from None


async def project_of(ctx: WorkerContext, code: Any) -> Project:
    code = require(code, "projectCode")
    project = await ctx.store.projects.get(code)
    if project is None:
        raise PermanentFailure(f"project {code} is not in the documents store")
    return project


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type="lifecycle.register")
    async def register(job: Job, projectCode: str | None = None, project: dict | None = None,
                       rules: dict | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        code = require(projectCode, "projectCode")
        if project is not None:
            try:
                data = ProjectData.model_validate(project)
            except ValidationError as error:
                raise PermanentFailure(f"variable 'project' is not a valid project: {error}") from None
            if data.project_code != code:
                raise PermanentFailure(f"variable 'project' is project {data.project_code}, not {code}")
            await ctx.store.projects.upsert(data, actor=actor)
        found = await project_of(ctx, code)
        await ctx.store.projects.set_process_instance(code, job.process_instance_key, actor=actor)
        check = stall.first_check(signed_at=found.signed_at, last_progress_at=found.last_progress_at, rules=knobs)
        return {"stage": found.stage.value, "stallCheckAt": iso(check.astimezone(SHANGHAI)),
                "projectName": found.name, "countyCode": found.county.code}

    @r.task(task_type="lifecycle.progress")
    async def progress(projectCode: str | None = None, rules: dict | None = None,
                       stallCheckAt: str | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        found = await project_of(ctx, projectCode)
        now = ctx.now()
        if found.light == Light.RED:
            await ctx.store.projects.set_light(found.project_code, Light.GREEN, at=now, reason="进展恢复",
                                               actor=actor)
            await ctx.emit("project.green_light", {"projectCode": found.project_code, "reason": "progress"},
                           project_code=found.project_code, county_code=found.county.code)
        current = parse_time(stallCheckAt, "stallCheckAt") if stallCheckAt else None
        if knobs.stall_clock_from == "signing" and current is not None and current > now:
            check = current  # the signing clock does not reset on progress
        else:
            check = stall.first_check(signed_at=found.signed_at, last_progress_at=found.last_progress_at,
                                      rules=knobs)
        return {"stage": found.stage.value, "stallCheckAt": iso(check.astimezone(SHANGHAI))}

    @r.task(task_type="lifecycle.close")
    async def close(job: Job, projectCode: str | None = None, outcome: str | None = None) -> dict[str, Any]:
        if outcome not in (Stage.IN_PRODUCTION, Stage.CANCELLED):
            raise PermanentFailure(f"variable 'outcome' must be in_production or cancelled, got {outcome!r}")
        found = await project_of(ctx, projectCode)
        now = ctx.now()
        if outcome == Stage.CANCELLED and found.stage != Stage.CANCELLED:
            await ctx.store.projects.record_stage(found.project_code, Stage.CANCELLED, at=now,
                                                  source=f"lifecycle:{job.process_instance_key}", actor=actor)
        if found.light == Light.RED:
            await ctx.store.projects.set_light(found.project_code, Light.GREEN, at=now, reason="生命周期结束",
                                               actor=actor)
        await close_open_problems(ctx, found.project_code, outcome)
        await ctx.emit("project.closed", {"projectCode": found.project_code, "outcome": outcome},
                       project_code=found.project_code, county_code=found.county.code)
        return {"outcome": outcome}

    return r


async def close_open_problems(ctx: WorkerContext, project_code: str, outcome: str) -> None:
    """Close the project's open problems, lift their flags and withdraw their inbox tasks (their
    problem-handling instances end with the life cycle; other tasks, such as evaluations, stay)."""
    actor = ctx.actor(FAMILY)
    now = ctx.now()
    note = "项目已投产，问题随生命周期关闭" if outcome == Stage.IN_PRODUCTION else "项目已取消，问题随生命周期关闭"
    problems = await ctx.store.problems.list(ProblemFilter(project_code=project_code, statuses=OPEN_PROBLEMS),
                                             PageRequest(size=500))
    for problem in problems.items:
        try:
            await ctx.store.problems.transition(problem.id, status=ProblemStatus.CLOSED, action="closed_with_project",
                                                note=note, actor=actor, at=now, expected_status=OPEN_PROBLEMS)
        except NotFound:
            continue
        for flag in await ctx.store.flags.list_open(project_code=project_code):
            if flag.problem_id == problem.id:
                await ctx.store.flags.lift(flag.id, at=now, actor=actor)
    tasks = await ctx.store.tasks.list(TaskFilter(status=TaskStatus.OPEN, project_code=project_code,
                                                  bpmn_process_id=PROBLEM_PROCESS), PageRequest(size=500))
    for task in tasks.items:
        problem = await ctx.store.problems.get(task.problem_id) if task.problem_id else None
        if problem is not None and problem.status == ProblemStatus.CLOSED:
            await ctx.store.tasks.cancel(task.job_key, at=now, actor=actor)
