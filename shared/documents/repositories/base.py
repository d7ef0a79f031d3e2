"""What every repository shares: unit-of-work retries, document <-> model mapping, the audit append."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.clock import Clock
from shared.documents.driver import Condition, Doc, Driver, Transaction, WriteConflict, plain
from shared.documents.errors import Conflict, InvalidInput
from shared.documents.models import Actor, AuditEntry, Page, PageRequest

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

AUDIT = "audit"
MAX_ATTEMPTS = 8
# Bookkeeping that would only repeat itself in an audit summary.
_NOT_SUMMARISED = {"rev", "updated_at", "history", "stage_history", "variables", "raw", "password_hash", "_id",
                   "content"}


class Stale(Exception):
    """A document changed between read and write; the unit of work runs again on fresh state."""


def to_doc(model: BaseModel, id: str | int, **internal: Any) -> Doc:
    doc: Doc = plain(model.model_dump())
    doc["_id"] = id
    doc.update(internal)
    return doc


def from_doc(model: type[M], doc: Doc) -> M:
    # Keys starting with "_" are the store's own (the id, uniqueness helpers); the model never sees them.
    return model.model_validate({k: v for k, v in doc.items() if not k.startswith("_")})


def aware(at: datetime, name: str = "at") -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InvalidInput(f"{name} must be a timezone-aware datetime, got {at!r}")
    return at


def validated(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {what}: {exc}") from exc


def _comparable(value: Any) -> Any:
    # Adapters hand back datetimes as objects (MongoDB) or as fixed-width UTC text (SQLite); the audit
    # compares and keeps them in the text form so both adapters record the same summary.
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def summary(before: Doc | None, after: Doc | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The top-level fields that changed, as before/after halves (whole documents for create/delete)."""
    before, after = _comparable(before), _comparable(after)
    if before is None or after is None:
        side = before if after is None else after
        return (None, _trim(side)) if before is None else (_trim(side), None)
    keys = [
        k for k in after.keys() | before.keys()
        if k not in _NOT_SUMMARISED and not k.startswith("_") and before.get(k) != after.get(k)
    ]
    return ({k: before.get(k) for k in sorted(keys)}, {k: after.get(k) for k in sorted(keys)})


def _trim(doc: Doc | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in _NOT_SUMMARISED and not k.startswith("_")}


def _check_actor(actor: object) -> None:
    if not isinstance(actor, Actor):
        raise InvalidInput(f"actor must be an Actor, got {type(actor).__name__}")


class Repository:
    def __init__(self, driver: Driver, clock: Clock) -> None:
        self.driver = driver
        self.clock = clock

    async def unit_of_work(
        self, work: Callable[[Transaction], Awaitable[R]], actor: Actor | None = None, *, audited: bool = True
    ) -> R:
        """Run ``work`` in a transaction, again on a write conflict or a stale ``rev``.

        ``actor`` is checked before anything is written, so a bad one cannot leave an unaudited change.
        Only writes that are their own record (outbox deliveries, exported engine state) pass
        ``audited=False``.
        """
        if audited:
            _check_actor(actor)
        for _attempt in range(MAX_ATTEMPTS):
            try:
                async with self.driver.transaction() as tx:
                    return await work(tx)
            except (WriteConflict, Stale):
                continue
        raise Conflict(f"gave up after {MAX_ATTEMPTS} attempts: the document kept changing under us")

    async def audit(
        self,
        tx: Transaction,
        actor: Actor,
        action: str,
        target_kind: str,
        target_id: str | int,
        before: Doc | None,
        after: Doc | None,
    ) -> None:
        _check_actor(actor)
        old, new = summary(before, after)
        entry = AuditEntry(
            # Wall-clock nanoseconds first: ids sort in writing order even when the domain clock stands still.
            id=f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}",
            at=self.clock.now(),
            user=actor.user,
            role=actor.role,
            action=action,
            target_kind=target_kind,
            target_id=str(target_id),
            before=old,
            after=new,
            request_id=actor.request_id,
        )
        # Audit is written after the change it describes: without atomic transactions (standalone
        # MongoDB) a crash loses at most the entry, never records a change that did not happen.
        await self.driver.insert(AUDIT, to_doc(entry, entry.id), tx)

    async def page(
        self,
        coll: str,
        model: type[M],
        conditions: Sequence[Condition],
        page: PageRequest | None,
        sort: Sequence[tuple[str, int]],
    ) -> Page[M]:
        page = page or PageRequest()
        docs = await self.driver.find(coll, conditions, sort=sort, skip=page.offset, limit=page.size)
        total = await self.driver.count(coll, conditions)
        return Page[model](items=[from_doc(model, d) for d in docs], total=total, page=page.page,  # type: ignore[valid-type]
                           size=page.size)

    async def replace(self, coll: str, tx: Transaction, before: Doc, after: Doc) -> None:
        after["rev"] = before["rev"] + 1
        if not await self.driver.replace(coll, after, expected_rev=before["rev"], tx=tx):
            raise Stale(f"{coll} {before['_id']!r} changed concurrently")
