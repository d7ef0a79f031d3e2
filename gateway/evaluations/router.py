from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from gateway.announce import announce
from gateway.auth.dependencies import require
from gateway.auth.principal import Caller
from gateway.common import DateOrTime, Out, PageOut, Pagination, page_out, period_from_query, year_period
from gateway.context import ServicesDep
from gateway.errors import FieldError, Forbidden, NotFoundProblem, Unprocessable, problem_responses
from gateway.projects.counties import county_names
from gateway.scope import investor_projects
from shared.documents.models import Code, Evaluation, Role, Score, ScoreAggregate

router = APIRouter(prefix="/api/evaluations", tags=["evaluations"], responses=problem_responses(401, 403, 422))

EvaluationReader = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER, Role.INVESTOR))]
Investor = Annotated[Caller, Depends(require(Role.INVESTOR))]
SummaryReader = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER))]


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="give one to make a retried submission idempotent")
    project_code: Code
    problem_id: str | None = Field(default=None, max_length=128)
    main_department_unit_id: Code | None = None
    general_department_unit_id: Code | None = None
    county_score: Score
    main_department_score: Score
    general_department_score: Score
    comment: str = Field(default="", max_length=2000)


class EvaluationOut(Out):
    id: str
    project_code: str
    investor_user_id: str
    county_code: str
    problem_id: str | None = None
    main_department_unit_id: str | None = None
    general_department_unit_id: str | None = None
    county_score: int
    main_department_score: int
    general_department_score: int
    comment: str
    at: datetime


class NamedScore(BaseModel):
    id: str
    name: str | None
    count: int
    average: float


class SummaryOut(BaseModel):
    count: int
    by_county: list[NamedScore]
    by_department: list[NamedScore]
    by_main_department: list[NamedScore]
    by_general_department: list[NamedScore]


@router.post("", response_model=EvaluationOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": EvaluationOut, "description": "the same submission again (same id)"},
                        **problem_responses(404)},
             summary="An investor scores the service on one of their projects")
async def submit(caller: Investor, services: ServicesDep, body: EvaluationIn, response: Response) -> EvaluationOut:
    owned = await investor_projects(services, caller.username)
    project = await services.store.projects.get(body.project_code) if body.project_code in owned else None
    if project is None:
        raise NotFoundProblem(f"project {body.project_code} does not exist or is not yours")
    for field in ("main_department_unit_id", "general_department_unit_id"):
        unit_id = getattr(body, field)
        if unit_id is not None and await services.store.units.get(unit_id) is None:
            raise Unprocessable(f"unknown unit {unit_id!r}", errors=[FieldError(pointer=f"#/body/{field}", field=field,
                                                                              message="unknown unit")])
    evaluation = Evaluation(**body.model_dump(), investor_user_id=caller.username, county_code=project.county.code,
                            at=services.clock.now())
    saved = await services.store.evaluations.add(evaluation, actor=caller.actor)
    if not saved.created:
        if saved.item.investor_user_id != caller.username:
            raise NotFoundProblem(f"evaluation {body.id} is not yours")
        response.status_code = status.HTTP_200_OK
    else:
        await announce(services, "evaluation.submitted", {"project_code": project.project_code,
                                                          "project_name": project.name},
                       project_code=project.project_code, county_code=project.county.code)
    return EvaluationOut.model_validate(saved.item.model_dump())


@router.get("", response_model=PageOut[EvaluationOut], summary="Evaluations (investors: their own)")
async def list_evaluations(
    caller: EvaluationReader, services: ServicesDep, page: Pagination,
    project_code: Annotated[str | None, Query(max_length=64)] = None,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    at_from: Annotated[DateOrTime | None, Query(alias="from")] = None,
    at_to: Annotated[DateOrTime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    period = period_from_query(at_from, at_to, year_period(services.clock.now())) if at_from or at_to else None
    if caller.principal.has(Role.ADMIN, Role.LEADER):
        found = await services.store.evaluations.list(project_code=project_code, county_code=county_code,
                                                      period=period, page=page)
        return page_out(found, [EvaluationOut.model_validate(e.model_dump()) for e in found.items])
    owned = sorted(await investor_projects(services, caller.username))
    if project_code is not None and project_code not in owned:
        raise Forbidden(f"project {project_code} is not yours")
    items: list[Evaluation] = []
    for code in [project_code] if project_code else owned:
        found = await services.store.evaluations.list(project_code=code, county_code=county_code, period=period)
        items += [e for e in found.items if e.investor_user_id == caller.username]
    items.sort(key=lambda e: e.at, reverse=True)
    chosen = items[page.offset:page.offset + page.size]
    return {"items": [EvaluationOut.model_validate(e.model_dump()) for e in chosen], "total": len(items),
            "page": page.page, "size": page.size, "pages": (len(items) + page.size - 1) // page.size}


@router.get("/summary", response_model=SummaryOut, summary="Average scores by county and by department")
async def summary(
    caller: SummaryReader, services: ServicesDep,
    at_from: Annotated[DateOrTime | None, Query(alias="from")] = None,
    at_to: Annotated[DateOrTime | None, Query(alias="to")] = None,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> SummaryOut:
    period = period_from_query(at_from, at_to, year_period(services.clock.now()))
    found = await services.store.evaluations.summary(period, county_code=county_code)
    names = {u.id: u.name for u in await services.store.units.list()}
    counties = await county_names(services)

    def named(scores: dict[str, ScoreAggregate], table: dict[str | None, str]) -> list[NamedScore]:
        rows = [NamedScore(id=k, name=table.get(k), count=v.count, average=round(v.average, 3)) for k, v in scores.items()]
        return sorted(rows, key=lambda r: (-r.average, r.id))

    return SummaryOut(count=found.count, by_county=named(found.by_county, counties),  # type: ignore[arg-type]
                      by_department=named(found.by_department, names),  # type: ignore[arg-type]
                      by_main_department=named(found.by_main_department, names),  # type: ignore[arg-type]
                      by_general_department=named(found.by_general_department, names))  # type: ignore[arg-type]
