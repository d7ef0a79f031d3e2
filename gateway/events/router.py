"""``GET /api/events``: a Server-Sent Events stream of the event bus, scoped by role, resumable.

A browser's EventSource reconnects with ``Last-Event-ID`` (the stream entry id), and gets what it missed as
far back as the stream keeps. EventSource cannot send an Authorization header, so the access token may
also come as the ``access_token`` query parameter (only on this endpoint).

Who sees what: admins and leaders everything; process designers the engine's events; unit staff events of
their units, their counties and the projects they may see; investors events of their projects.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from gateway.auth.dependencies import CurrentPrincipal
from gateway.auth.principal import Principal
from gateway.auth.tokens import TokenInvalid
from gateway.context import Services, ServicesDep
from gateway.errors import Unauthorized, Unprocessable, problem_responses
from gateway.scope import Scope, scope_of
from shared.documents.models import Role
from shared.events import Event, EventScope

router = APIRouter(prefix="/api/events", tags=["live events"], responses=problem_responses(401, 422))

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
ENGINE_PREFIX = "engine."


class Visibility:
    """What one connection may see. A person's projects change while they watch (a project imported for
    them, a problem assigned to their unit), so events that can change membership mark the scope stale, and
    an event outside a stale scope makes it be read again before it is refused. Reading is throttled to a
    small share of the time (at least 0.2 s apart, and ten times as long as the last read took)."""

    MEMBERSHIP = ("project.", "problem.", "approval.", "task.")
    STALE_AFTER = 30.0

    def __init__(self, principal: Principal, scope: Scope) -> None:
        self.principal = principal
        self.scope = scope
        self.read_at = time.monotonic()
        self.read_cost = 0.0
        self.stale = False

    def note(self, event: Event) -> None:
        if event.type.startswith(self.MEMBERSHIP):
            self.stale = True

    async def refreshed_allows(self, services: Services, event: Event) -> bool:
        if self.principal.sees_everything:
            return False
        age = time.monotonic() - self.read_at
        if not (self.stale or age > self.STALE_AFTER) or age < max(0.2, 10 * self.read_cost):
            return False
        started = time.monotonic()
        self.scope = await scope_of(services, self.principal, fresh=True)
        self.read_at = time.monotonic()
        self.read_cost = self.read_at - started
        self.stale = False
        return self.allows(event)

    def allows(self, event: Event) -> bool:
        p = self.principal
        if p.has(Role.ADMIN, Role.LEADER):
            return True
        if event.type.startswith(ENGINE_PREFIX) and p.has(Role.PROCESS_DESIGNER):
            return True
        return self._in_scope(event.scope)

    def _in_scope(self, scope: EventScope) -> bool:
        s = self.scope
        if scope.project_code is not None and scope.project_code in s.project_codes:
            return True
        if s.unit_ids.intersection(scope.unit_ids):
            return True
        return scope.county_code is not None and scope.county_code in s.county_codes


class EventOut(BaseModel):
    id: str
    type: str
    occurred_at: str
    scope: dict[str, Any]
    payload: dict[str, Any]


async def _principal(services: Services, authorization: str | None, access_token: str | None) -> Principal:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    token = token or access_token
    if not token:
        raise Unauthorized("the event stream needs a bearer token (header or access_token query parameter)")
    try:
        return services.tokens.principal(token)
    except TokenInvalid as exc:
        raise Unauthorized(str(exc)) from exc


def _cursor(last_event_id: str | None, query_last: str | None) -> str | None:
    value = last_event_id or query_last
    if value is None or value == "":
        return None
    if value != "$" and not STREAM_ID.match(value):
        raise Unprocessable(f"Last-Event-ID {value!r} is not a stream id such as 1700000000000-0")
    return None if value == "$" else value


async def _stream(request: Request, services: Services, visibility: Visibility, cursor: str | None
                  ) -> AsyncIterator[str]:
    heartbeat = services.settings.sse_heartbeat_seconds
    yield f"retry: 3000\n: connected as {visibility.principal.username}\n\n"
    queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=1000)

    async def pump() -> None:
        try:
            async for event in services.bus.follow(cursor, block_ms=int(heartbeat * 1000)):
                await queue.put(event)
        finally:
            await queue.put(None)

    task = asyncio.get_running_loop().create_task(pump())
    try:
        while True:
            if await request.is_disconnected():
                return
            try:
                event = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event is None:
                return
            visibility.note(event)
            if visibility.allows(event) or await visibility.refreshed_allows(services, event):
                yield event.to_sse()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@router.get("", response_class=StreamingResponse, summary="Live events (text/event-stream), resumable with Last-Event-ID",
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "Server-Sent Events: id (stream id), event (type), data (JSON)"}})
async def events(
    request: Request, services: ServicesDep,
    authorization: Annotated[str | None, Header(max_length=4096)] = None,
    access_token: Annotated[str | None, Query(max_length=4096, description="for EventSource, which cannot send headers")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)] = None,
    last_id: Annotated[str | None, Query(max_length=64, description="resume after this stream id ($: only new events)")] = None,
) -> StreamingResponse:
    principal = await _principal(services, authorization, access_token)
    cursor = _cursor(last_event_id, last_id)
    visibility = Visibility(principal, await scope_of(services, principal))
    return StreamingResponse(_stream(request, services, visibility, cursor), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/recent", response_model=list[EventOut], summary="The latest events the caller may see (newest last)")
async def recent(
    services: ServicesDep,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    types: Annotated[str | None, Query(max_length=500, description="comma-separated type prefixes, e.g. project.,problem.")] = None,
) -> list[EventOut]:
    visibility = Visibility(principal, await scope_of(services, principal))
    prefixes = tuple(t.strip() for t in (types or "").split(",") if t.strip())
    out: list[EventOut] = []
    newest = "+"
    # Walk back through the stream in pages until enough visible events are found (bounded).
    for _ in range(20):
        entries = await services.redis.xrevrange(services.bus.stream, max=newest, count=200)
        if not entries:
            break
        for entry_id, fields in entries:
            try:
                event = Event.from_entry(entry_id, fields)
            except ValueError:
                continue
            if prefixes and not event.type.startswith(prefixes):
                continue
            if visibility.allows(event):
                out.append(EventOut(id=event.id, type=event.type, occurred_at=event.occurred_at.isoformat(),
                                    scope=event.scope.model_dump(mode="json"), payload=event.payload))
                if len(out) >= limit:
                    break
        if len(out) >= limit or len(entries) < 200:
            break
        newest = f"({entries[-1][0]}"
    return list(reversed(out))
