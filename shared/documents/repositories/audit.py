"""The audit trail: entries are written by every other repository, inside their changes; ``record`` writes one
for a change made elsewhere (an operation on the engine), after it happened."""

from __future__ import annotations

from typing import Any

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Range, Transaction
from shared.documents.models import Actor, AuditEntry, Page, PageRequest, Period
from shared.documents.repositories.base import AUDIT, Repository

SPECS = (CollectionSpec(AUDIT, (Index(("target_kind", "target_id", "at")), Index(("user", "at")), Index(("at",)))),)


class AuditRepository(Repository):
    async def list(
        self,
        *,
        target_kind: str | None = None,
        target_id: str | int | None = None,
        user: str | None = None,
        period: Period | None = None,
        page: PageRequest | None = None,
    ) -> Page[AuditEntry]:
        """Newest first."""
        c: list[Condition] = []
        if target_kind is not None:
            c.append(Eq("target_kind", target_kind))
        if target_id is not None:
            c.append(Eq("target_id", str(target_id)))
        if user is not None:
            c.append(Eq("user", user))
        if period is not None:
            c.append(Range("at", gte=period.start, lt=period.end))
        return await self.page(AUDIT, AuditEntry, c, page, sort=[("at", -1), ("_id", -1)])

    async def record(self, actor: Actor, action: str, target_kind: str, target_id: str | int,
                     details: dict[str, Any] | None = None) -> None:
        """An entry for a change the documents don't hold (a process instance cancelled in the engine, a version
        deleted): who, when, what, and ``details`` as its "after" half."""

        async def work(tx: Transaction) -> None:
            await self.audit(tx, actor, action, target_kind, target_id, None, details or {})

        await self.unit_of_work(work, actor)
