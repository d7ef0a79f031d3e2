"""Dashboards answer cached JSON (see cache.py): the body is built once per generation and served as bytes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from gateway.auth.dependencies import require
from gateway.auth.principal import Caller
from gateway.common import DateOrTime, month_period, period_from_query, year_period
from gateway.context import ServicesDep
from gateway.dashboards import schemas as s
from gateway.dashboards import service
from gateway.dashboards.cache import cached
from gateway.errors import problem_responses
from shared.documents.models import Role

router = APIRouter(prefix="/api/dashboards", tags=["dashboards"], responses=problem_responses(401, 403, 422))

DashboardReader = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER))]
From = Annotated[DateOrTime | None, Query(alias="from", description="start of the period (default: 1 January)")]
To = Annotated[DateOrTime | None, Query(alias="to", description="end of the period, inclusive for a date "
                                                                      "(default: end of this year)")]


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, max-age=5"})


@router.get("/summary", response_model=s.Summary, summary="The big screen: map, red lights, problems, flags, funnel, ticker")
async def summary(caller: DashboardReader, services: ServicesDep, start: From = None, end: To = None) -> Response:
    period = period_from_query(start, end, year_period(services.clock.now()))

    async def compute() -> bytes:
        return (await service.summary(services, period)).model_dump_json().encode()

    return _json(await cached(services, "summary", {"p": [period.start, period.end],
                                                    "m": month_period(services.clock.now()).start}, compute))


@router.get("/problems", response_model=s.ProblemAnalysis,
            summary="Problem analysis: by category, county, unit and origin; time to resolve")
async def problems(caller: DashboardReader, services: ServicesDep, start: From = None, end: To = None) -> Response:
    period = period_from_query(start, end, year_period(services.clock.now()))

    async def compute() -> bytes:
        return (await service.problem_analysis(services, period)).model_dump_json().encode()

    return _json(await cached(services, "problems", {"p": [period.start, period.end]}, compute))


@router.get("/horse-race", response_model=s.HorseRace,
            summary="The horse race (赛马): counties and departments ranked (formula in the answer)")
async def horse_race(caller: DashboardReader, services: ServicesDep, start: From = None, end: To = None) -> Response:
    period = period_from_query(start, end, year_period(services.clock.now()))

    async def compute() -> bytes:
        return (await service.horse_race(services, period)).model_dump_json().encode()

    return _json(await cached(services, "horse-race", {"p": [period.start, period.end]}, compute))
