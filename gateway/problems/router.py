from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from gateway.common import DateOrTime, PageOut, Pagination, local_instant
from gateway.context import ServicesDep
from gateway.errors import Unprocessable, problem_responses
from gateway.problems import service
from gateway.problems.auth import ProblemReader, ProblemReporter
from gateway.problems.schemas import ProblemDetail, ProblemIn, ProblemOut, ReportOut
from shared.documents.models import Period, ProblemFilter, ProblemOrigin, ProblemStatus

router = APIRouter(prefix="/api/problems", tags=["problems"], responses=problem_responses(401, 403, 422))


@router.get("", response_model=PageOut[ProblemOut], summary="Problems the caller may see, most recently raised first")
async def list_problems(
    caller: ProblemReader, services: ServicesDep, page: Pagination,
    status_: Annotated[ProblemStatus | None, Query(alias="status")] = None,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    unit_id: Annotated[str | None, Query(max_length=64)] = None,
    project_code: Annotated[str | None, Query(max_length=64)] = None,
    origin: ProblemOrigin | None = None,
    raised_from: Annotated[DateOrTime | None, Query(alias="from", description="raised on or after")] = None,
    raised_to: Annotated[DateOrTime | None, Query(alias="to", description="raised on or before (a date: that whole day)")] = None,
) -> dict[str, object]:
    raised = None
    if raised_from is not None or raised_to is not None:
        start = local_instant(raised_from) if raised_from is not None else local_instant(date(2000, 1, 1))
        end = local_instant(raised_to, end_of_day=True) if raised_to is not None else local_instant(date(2200, 1, 1))
        if end <= start:
            raise Unprocessable("'to' must not be before 'from'")
        raised = Period(start=start, end=end)
    f = ProblemFilter(status=status_, county_code=county_code, unit_id=unit_id, project_code=project_code,
                      origin=origin, raised=raised)
    return await service.list_problems(services, caller, f, page)


@router.post("", response_model=ReportOut, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": ReportOut, "description": "the same report again (same id)"},
                        **problem_responses(404, 503)},
             summary="Report a problem on a project (investors for their projects, unit staff); starts problem handling")
async def report_problem(caller: ProblemReporter, services: ServicesDep, body: ProblemIn, response: Response) -> ReportOut:
    out = await service.report(services, caller, body)
    if not out.created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/{problem_id}", response_model=ProblemDetail, responses=problem_responses(404),
            summary="A problem with its units, history and flags")
async def get_problem(caller: ProblemReader, services: ServicesDep,
                      problem_id: Annotated[str, Path(min_length=1, max_length=128)]) -> ProblemDetail:
    return await service.detail(services, caller, problem_id)
