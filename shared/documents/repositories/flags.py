"""Yellow flags: at most one open flag per (unit, problem), enforced by a unique index, not by luck."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Range, Transaction
from shared.documents.errors import InvalidInput, NotFound
from shared.documents.models import Actor, Flag, Page, PageRequest, Period, Saved
from shared.documents.repositories.base import Repository, Stale, aware, from_doc, to_doc

FLAGS = "flags"
# "_open" is "<unit>|<problem>" while the flag is open and the flag's own id once lifted, so the unique
# index allows any number of lifted flags but only one open one per pair. "_state" (open/lifted) lets
# queries select open flags by a string rather than by lifted_at being null.
SPECS = (
    CollectionSpec(FLAGS, (
        Index(("_open",), unique=True),
        Index(("_state", "unit_id")),
        Index(("project_code",)),
        Index(("raised_at",)),
    )),
)


def _open_key(unit_id: str, problem_id: str) -> str:
    return f"{unit_id}|{problem_id}"


class FlagRepository(Repository):
    async def raise_flag(
        self, *, unit_id: str, problem_id: str, project_code: str, reason: str, at: datetime, actor: Actor
    ) -> Saved[Flag]:
        """Flag a unit for a problem; if an open flag for the pair exists it is returned (created=False)."""
        if not unit_id or not problem_id or not project_code:
            raise InvalidInput("unit_id, problem_id and project_code must be non-empty")
        key = _open_key(unit_id, problem_id)
        flag = Flag(id=uuid.uuid4().hex, unit_id=unit_id, problem_id=problem_id, project_code=project_code,
                    reason=reason, raised_at=aware(at))

        async def work(tx: Transaction) -> Saved[Flag]:
            existing = await self.driver.find(FLAGS, [Eq("_open", key)], limit=1, tx=tx)
            if existing:
                return Saved[Flag](item=from_doc(Flag, existing[0]), created=False)
            doc = to_doc(flag, flag.id, _open=key, _state="open")
            if not await self.driver.insert(FLAGS, doc, tx):
                raise Stale("flag raised concurrently")
            await self.audit(tx, actor, "flag.raise", "flag", flag.id, None, doc)
            return Saved[Flag](item=flag, created=True)

        return await self.unit_of_work(work, actor)

    async def lift(self, flag_id: str, *, at: datetime, actor: Actor) -> Flag:
        """Lift a flag; lifting a lifted flag returns it unchanged."""
        at = aware(at)

        async def work(tx: Transaction) -> Flag:
            before = await self.driver.get(FLAGS, flag_id, tx)
            if before is None:
                raise NotFound("flag", flag_id)
            flag = from_doc(Flag, before)
            if not flag.open:
                return flag
            if at < flag.raised_at:
                raise InvalidInput(f"flag {flag_id} cannot be lifted at {at.isoformat()}, before it was raised")
            flag.lifted_at = at
            after = to_doc(flag, flag_id, _open=flag_id, _state="lifted")
            # No rev on flags: two concurrent lifts write the same state, so a plain put is safe.
            await self.driver.put(FLAGS, after, tx)
            await self.audit(tx, actor, "flag.lift", "flag", flag_id, before, after)
            return flag

        return await self.unit_of_work(work, actor)

    async def lift_for(self, *, unit_id: str, problem_id: str, at: datetime, actor: Actor) -> Flag | None:
        """Lift the open flag of a (unit, problem) pair, if there is one."""
        existing = await self.driver.find(FLAGS, [Eq("_open", _open_key(unit_id, problem_id))], limit=1)
        if not existing:
            return None
        return await self.lift(existing[0]["_id"], at=at, actor=actor)

    async def get(self, flag_id: str) -> Flag | None:
        doc = await self.driver.get(FLAGS, flag_id)
        return from_doc(Flag, doc) if doc else None

    async def list_open(self, *, unit_id: str | None = None, project_code: str | None = None) -> list[Flag]:
        """Open flags, oldest first."""
        c: list[Condition] = [Eq("_state", "open")]
        if unit_id is not None:
            c.append(Eq("unit_id", unit_id))
        if project_code is not None:
            c.append(Eq("project_code", project_code))
        return [from_doc(Flag, d) for d in await self.driver.find(FLAGS, c, sort=[("raised_at", 1)])]

    async def list(
        self, *, unit_id: str | None = None, raised: Period | None = None, page: PageRequest | None = None
    ) -> Page[Flag]:
        c: list[Condition] = []
        if unit_id is not None:
            c.append(Eq("unit_id", unit_id))
        if raised is not None:
            c.append(Range("raised_at", gte=raised.start, lt=raised.end))
        return await self.page(FLAGS, Flag, c, page, sort=[("raised_at", -1)])

    async def count_open_by_unit(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        async for doc in self.driver.iterate(FLAGS, [Eq("_state", "open")]):
            counts[doc["unit_id"]] += 1
        return dict(counts)
