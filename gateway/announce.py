"""After a write: tell the live stream (SSE, other gateways' caches) and drop this gateway's cached figures.

The write has happened when this runs, so a Redis failure here is logged, not raised: the caller's change
stands, the dashboards catch up at their cache's expiry.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from gateway.context import Services
from gateway.dashboards.cache import invalidate
from gateway.scope import forget as forget_scopes
from shared.events import EventScope
from shared.logging import get_logger

_log = get_logger(__name__)


async def announce(services: Services, event_type: str, payload: dict[str, Any], *,
                   project_code: str | None = None, unit_ids: list[str] | tuple[str, ...] = (),
                   county_code: str | None = None, membership: bool = False) -> None:
    """``membership``: the write may change who sees what (a project's owners or assistant, a new problem),
    so the kept scopes go too; claims, completions and approvals leave them be."""
    if membership:
        forget_scopes(services)
    scope = EventScope(project_code=project_code, unit_ids=tuple(unit_ids), county_code=county_code)
    try:
        await invalidate(services)
        await services.bus.publish(event_type, payload, scope=scope)
    except (RedisError, OSError) as exc:
        _log.warning("event not published", event_type=event_type, error=str(exc))
