"""Service evaluations (服务评价): whom to ask, what they scored, and the aggregate.

| task type | reads | writes |
|---|---|---|
| ``evaluation.request`` | ``problemId``, ``projectCode`` | ``evaluationRequested`` (publishes ``evaluation-requested``) |
| ``evaluation.invitations`` | ``problemId`` (absent: a scheduled round over every supervised project) | ``invitations`` |
| ``evaluation.record`` | ``invitation``, ``countyScore``, ``mainDepartmentScore``, ``generalDepartmentScore``, ``comment`` | ``evaluationId`` |
| ``evaluation.aggregate`` | ``rules`` (``evaluationPeriod``) | ``scores`` (``county``, ``mainDepartment``, ``generalDepartment``, ``count``), ``scoresByCounty`` |

Each evaluation's id is ``<process instance>:<project>:<investor>``, so a redelivered record job stores it once.
"""

from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from pyzeebe import Job, ZeebeTaskRouter
from pyzeebe.errors import MessageAlreadyExistsError

from services.workers.escalation import problem_of
from services.workers.lifecycle import rules_of
from services.workers.runtime import PermanentFailure, WorkerContext
from shared.documents.models import Evaluation, Period, ProjectFilter, Stage, every_item
from shared.domain import assignment, evaluation

FAMILY = "evaluation"
REQUEST_MESSAGE = "evaluation-requested"
SUPERVISED = [s for s in Stage if s != Stage.CANCELLED]


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type="evaluation.request")
    async def request(problemId: str | None = None, projectCode: str | None = None) -> dict[str, Any]:
        problem = await problem_of(ctx, problemId)
        try:
            await ctx.zeebe.publish_message(REQUEST_MESSAGE, problem.id,
                                            variables={"problemId": problem.id, "projectCode": problem.project_code},
                                            time_to_live_in_milliseconds=3_600_000,
                                            message_id=f"evaluation:{problem.id}")
        except MessageAlreadyExistsError:
            pass
        return {"evaluationRequested": True}

    @r.task(task_type="evaluation.invitations")
    async def invitations(problemId: str | None = None) -> dict[str, Any]:
        units = assignment.by_id(await ctx.store.units.list())
        if problemId:
            problem = await problem_of(ctx, problemId)
            project = await ctx.store.projects.get(problem.project_code)
            chosen = evaluation.invitations(project, units, problem) if project else []
        else:
            chosen = []
            async for project in every_item(lambda page: ctx.store.projects.list(ProjectFilter(stages=SUPERVISED),
                                                                                 page)):
                if project.signed_at <= ctx.now():
                    chosen.extend(evaluation.invitations(project, units))
        return {"invitations": [i.as_variable() for i in chosen]}

    @r.task(task_type="evaluation.record")
    async def record(job: Job, invitation: dict | None = None, countyScore: Any = None,
                     mainDepartmentScore: Any = None, generalDepartmentScore: Any = None,
                     comment: str | None = None) -> dict[str, Any]:
        try:
            invited = evaluation.Invitation.model_validate(invitation or {})
        except ValidationError as error:
            raise PermanentFailure(f"variable 'invitation' is not an invitation: {error}") from None
        evaluation_id = f"{job.process_instance_key}:{invited.project_code}:{invited.investor_user}"
        try:
            saved = await ctx.store.evaluations.add(Evaluation(
                id=evaluation_id, project_code=invited.project_code, investor_user_id=invited.investor_user,
                county_code=invited.county_code, problem_id=invited.problem_id,
                main_department_unit_id=invited.main_unit_id, general_department_unit_id=invited.general_unit_id,
                county_score=_score(countyScore, "countyScore"),
                main_department_score=_score(mainDepartmentScore, "mainDepartmentScore"),
                general_department_score=_score(generalDepartmentScore, "generalDepartmentScore"),
                comment=(comment or "")[:2000], at=ctx.now(),
            ), actor=actor)
        except ValidationError as error:
            raise PermanentFailure(f"the scores are not valid: {error}") from None
        if saved.created:
            e = saved.item
            await ctx.emit("evaluation.recorded", {
                "projectCode": e.project_code, "countyCode": e.county_code, "county": e.county_score,
                "mainDepartment": e.main_department_score, "generalDepartment": e.general_department_score,
            }, project_code=e.project_code, county_code=e.county_code,
                unit_ids=tuple(u for u in (e.main_department_unit_id, e.general_department_unit_id) if u))
        return {"evaluationId": saved.item.id}

    @r.task(task_type="evaluation.aggregate")
    async def aggregate(rules: dict | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        now = ctx.now()
        period = Period(start=knobs.evaluation_window.subtract_from(now), end=now + timedelta(milliseconds=1))
        summary = await ctx.store.evaluations.summary(period)
        return {"scores": evaluation.three_scores(summary),
                "scoresByCounty": {code: round(a.average, 3) for code, a in summary.by_county.items()}}

    return r


def _score(value: Any, name: str) -> int:
    if isinstance(value, bool) or value is None:
        raise PermanentFailure(f"variable '{name}' must be a score from 1 to 5, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a form's number field sends 4.0
    try:
        number = int(str(value))
    except ValueError:
        raise PermanentFailure(f"variable '{name}' must be a score from 1 to 5, got {value!r}") from None
    if not 1 <= number <= 5:
        raise PermanentFailure(f"variable '{name}' must be a score from 1 to 5, got {number}")
    return number
