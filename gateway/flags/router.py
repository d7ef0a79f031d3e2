"""Flags are raised and lifted by the escalation worker; the gateway only shows them.

Leaders and admins see every unit's flags; unit staff see their own units' (another unit is 403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from gateway.auth.dependencies import require
from gateway.auth.principal import Caller
from gateway.common import DateOrTime, Out, PageOut, Pagination, period_from_query, year_period
from gateway.context import ServicesDep
from gateway.errors import Forbidden, problem_responses
from shared.documents.models import Flag, PageRequest, Role

router = APIRouter(prefix="/api/flags", tags=["flags"], responses=problem_responses(401, 403, 422))

FlagReader = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER, Role.UNIT_STAFF))]


class FlagOut(Out):
    id: str
    unit_id: str
    unit_name: str | None
    problem_id: str
    project_code: str
    project_name: str | None
    reason: str
    raised_at: datetime
    lifted_at: datetime | None
    open: bool
    days: int


@router.get("", response_model=PageOut[FlagOut], summary="Yellow flags by unit (open ones, or all raised in a period)")
async def list_flags(
    caller: FlagReader, services: ServicesDep, page: Pagination,
    unit_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal["open", "all"], Query(description="open: currently flagged; all: raised in the period")] = "open",
    raised_from: Annotated[DateOrTime | None, Query(alias="from")] = None,
    raised_to: Annotated[DateOrTime | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    everything = caller.principal.has(Role.ADMIN, Role.LEADER)
    if unit_id is not None and not everything and unit_id not in caller.principal.unit_ids:
        raise Forbidden(f"unit {unit_id} is not one of your units")
    units: list[str | None] = [unit_id] if unit_id is not None else (
        [None] if everything else list(caller.principal.unit_ids))
    flags: list[Flag] = []
    if state == "open":
        for u in units:
            flags += await services.store.flags.list_open(unit_id=u)
    else:
        period = period_from_query(raised_from, raised_to, year_period(services.clock.now()))
        for u in units:
            number = 1
            while True:
                found = await services.store.flags.list(unit_id=u, raised=period, page=PageRequest(page=number, size=500))
                flags += found.items
                if number >= found.pages:
                    break
                number += 1
    flags.sort(key=lambda f: (f.raised_at, f.id), reverse=True)
    chosen = flags[page.offset:page.offset + page.size]
    names = {u.id: u.name for u in await services.store.units.list()}
    now = services.clock.now()
    items = []
    for f in chosen:
        project = await services.store.projects.get(f.project_code)
        items.append(FlagOut(**f.model_dump(), unit_name=names.get(f.unit_id),
                             project_name=project.name if project else None, open=f.open,
                             days=max(0, ((f.lifted_at or now) - f.raised_at).days)))
    return {"items": items, "total": len(flags), "page": page.page, "size": page.size,
            "pages": (len(flags) + page.size - 1) // page.size}
