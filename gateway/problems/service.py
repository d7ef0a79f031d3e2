"""Reading problems within the caller's scope, and reporting one (the problem-handling model starts on it)."""

from __future__ import annotations

import uuid
from typing import Any

from gateway.announce import announce
from gateway.auth.principal import Caller
from gateway.common import page_out
from gateway.context import Services
from gateway.errors import NotFoundProblem
from gateway.problems import schemas as s
from gateway.projects.schemas import FlagBrief
from gateway.projects.service import visible_project
from gateway.scope import scope_of
from shared.documents.models import NewProblem, PageRequest, Problem, ProblemFilter, ProblemOrigin, Role


def problem_out(problem: Problem) -> s.ProblemOut:
    return s.ProblemOut.model_validate(problem.model_dump(exclude={"units", "history", "rev"}))


async def list_problems(services: Services, caller: Caller, f: ProblemFilter, page: PageRequest) -> dict[str, Any]:
    scope = await scope_of(services, caller.principal, projects=False)
    found = await services.store.problems.list(f.model_copy(update={"visible_to": scope.problems()}), page)
    return page_out(found, [problem_out(p) for p in found.items])


async def detail(services: Services, caller: Caller, problem_id: str) -> s.ProblemDetail:
    scope = await scope_of(services, caller.principal, projects=False)
    problem = await services.store.problems.get(problem_id)
    if problem is None or not scope.sees_problem(problem):
        raise NotFoundProblem(f"problem {problem_id} does not exist or is not visible to you")
    project = await services.store.projects.get(problem.project_code)
    names = {u.id: u.name for u in await services.store.units.list()}
    flags = [f for unit_id in problem.unit_ids
             for f in (await services.store.flags.list(unit_id=unit_id, page=PageRequest(page=1, size=500))).items
             if f.problem_id == problem.id]
    return s.ProblemDetail(
        **problem_out(problem).model_dump(),
        project_name=project.name if project else None,
        units=[s.ResponsibleUnitOut(**u.model_dump(), unit_name=names.get(u.unit_id)) for u in problem.units],
        history=[s.HistoryEntryOut.model_validate(h.model_dump()) for h in problem.history],
        flags=[FlagBrief.model_validate(f.model_dump()) for f in flags],
    )


async def report(services: Services, caller: Caller, body: s.ProblemIn) -> s.ReportOut:
    """Raise a problem for a project the caller may see, then publish the message problem handling starts on
    (correlation key and message id derive from the problem id, so a retried report starts one handling)."""
    project = await visible_project(services, caller, body.project_code)
    origin = ProblemOrigin.INVESTOR if caller.role == Role.INVESTOR else ProblemOrigin.UNIT
    problem_id = body.id or uuid.uuid4().hex
    now = services.clock.now()
    saved = await services.store.problems.create(NewProblem(
        id=problem_id, project_code=project.project_code, county_code=project.county.code, origin=origin,
        category=body.category, title=body.title, description=body.description, raised_by=caller.username,
        raised_at=now), actor=caller.actor)
    problem = saved.item
    name = services.settings.problem_message
    key = await services.engine.publish(
        name, problem.id,
        {"problemId": problem.id, "projectCode": problem.project_code, "project_code": problem.project_code,
         "origin": problem.origin.value, "category": problem.category, "problemTitle": problem.title},
        ttl_ms=services.settings.signing_message_ttl_seconds * 1000, message_id=problem.id)
    if saved.created:
        await announce(services, "problem.created", {
            "problem_id": problem.id, "project_code": problem.project_code, "project_name": project.name,
            "title": problem.title, "category": problem.category, "origin": problem.origin.value},
            project_code=problem.project_code, county_code=problem.county_code, unit_ids=list(caller.principal.unit_ids),
            membership=True)
    return s.ReportOut(problem=problem_out(problem), created=saved.created, message_name=name, message_key=key)
