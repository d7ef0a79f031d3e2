"""Records reported by the approval systems (工改, 联合图审), unique by (source, source record id)."""

from __future__ import annotations

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Transaction
from shared.documents.errors import InvalidInput
from shared.documents.models import Actor, ApprovalRecord, ApprovalSource, Page, PageRequest, Saved
from shared.documents.repositories.base import Repository, Stale, from_doc, to_doc

APPROVALS = "approvals"
SPECS = (CollectionSpec(APPROVALS, (Index(("project_code", "occurred_at")), Index(("occurred_at",)))),)


class ApprovalRepository(Repository):
    async def record(self, record: ApprovalRecord, *, actor: Actor) -> Saved[ApprovalRecord]:
        """Store a record once. The same (source, source_record_id) again returns the stored one with
        ``created=False`` and changes nothing, whatever the second copy says: systems resend on timeouts."""
        if not isinstance(record, ApprovalRecord):
            raise InvalidInput(f"expected ApprovalRecord, got {type(record).__name__}")
        record = ApprovalRecord.model_validate(record.model_dump())
        if record.received_at is None:
            record.received_at = self.clock.now()

        async def work(tx: Transaction) -> Saved[ApprovalRecord]:
            existing = await self.driver.get(APPROVALS, record.id, tx)
            if existing is not None:
                return Saved[ApprovalRecord](item=from_doc(ApprovalRecord, existing), created=False)
            doc = to_doc(record, record.id)
            if not await self.driver.insert(APPROVALS, doc, tx):
                raise Stale("approval record inserted concurrently")
            await self.audit(tx, actor, "approval.record", "approval", record.id, None, doc)
            return Saved[ApprovalRecord](item=record, created=True)

        return await self.unit_of_work(work, actor)

    async def get(self, source: ApprovalSource | str, source_record_id: str) -> ApprovalRecord | None:
        doc = await self.driver.get(APPROVALS, f"{ApprovalSource(source)}:{source_record_id}")
        return from_doc(ApprovalRecord, doc) if doc else None

    async def list_for_project(self, project_code: str) -> list[ApprovalRecord]:
        """Oldest first: the order in which the project moved."""
        docs = await self.driver.find(APPROVALS, [Eq("project_code", project_code)], sort=[("occurred_at", 1)])
        return [from_doc(ApprovalRecord, d) for d in docs]

    async def list(
        self, *, project_code: str | None = None, source: ApprovalSource | None = None,
        page: PageRequest | None = None,
    ) -> Page[ApprovalRecord]:
        c: list[Condition] = []
        if project_code is not None:
            c.append(Eq("project_code", project_code))
        if source is not None:
            c.append(Eq("source", ApprovalSource(source)))
        return await self.page(APPROVALS, ApprovalRecord, c, page, sort=[("occurred_at", -1)])
