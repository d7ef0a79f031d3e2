"""Audit entries for what a person does to the engine through the gateway (start, cancel, modify, retry, delete a
version, move the clock, sign or cancel a project's life cycle): the documents don't hold those changes, so no
repository writes an entry for them on its own.

The entry is written after the engine accepted the command. If the store can't take it, the operation still
stands and the caller is told it succeeded (a retry would act twice, or fail on what already happened); the gap
is logged as an error with everything the entry would have said.
"""

from __future__ import annotations

from typing import Any

from gateway.auth.principal import Caller
from gateway.context import Services
from shared.logging import get_logger

_log = get_logger(__name__)


async def audited(services: Services, caller: Caller, action: str, target_kind: str, target_id: str | int,
                  details: dict[str, Any] | None = None) -> None:
    try:
        await services.store.audit.record(caller.actor, action, target_kind, target_id, details)
    except Exception as exc:
        _log.error("audit entry not written", action=action, target_kind=target_kind, target_id=str(target_id),
                   user=caller.username, details=details, error=f"{type(exc).__name__}: {exc}"[:300])
