"""Units (counties, departments, assistants, the office) and the people who log in."""

from __future__ import annotations

from shared.documents.driver import CollectionSpec, Condition, Contains, Eq, Index, Transaction
from shared.documents.errors import Conflict, InvalidInput, NotFound
from shared.documents.models import Actor, Page, PageRequest, Role, Saved, Unit, UnitKind, User
from shared.documents.repositories.base import Repository, Stale, from_doc, to_doc

UNITS = "units"
USERS = "users"
SPECS = (
    CollectionSpec(UNITS, (Index(("kind", "county_code")), Index(("parent_id",)))),
    CollectionSpec(USERS, (Index(("roles", "username")), Index(("unit_ids", "username")))),
)


class UnitRepository(Repository):
    async def save(self, unit: Unit, *, actor: Actor) -> Saved[Unit]:
        """Create or replace a unit; saving identical data changes nothing and audits nothing."""
        if not isinstance(unit, Unit):
            raise InvalidInput(f"expected Unit, got {type(unit).__name__}")
        unit = Unit.model_validate(unit.model_dump())

        async def work(tx: Transaction) -> Saved[Unit]:
            before = await self.driver.get(UNITS, unit.id, tx)
            after = to_doc(unit, unit.id)
            if before is not None and from_doc(Unit, before) == unit:
                return Saved[Unit](item=unit, created=False)
            await self.driver.put(UNITS, after, tx)
            await self.audit(tx, actor, "unit.save", "unit", unit.id, before, after)
            return Saved[Unit](item=unit, created=before is None)

        return await self.unit_of_work(work, actor)

    async def get(self, unit_id: str) -> Unit | None:
        doc = await self.driver.get(UNITS, unit_id)
        return from_doc(Unit, doc) if doc else None

    async def list(
        self, *, kind: UnitKind | None = None, county_code: str | None = None, parent_id: str | None = None
    ) -> list[Unit]:
        c: list[Condition] = []
        if kind is not None:
            c.append(Eq("kind", UnitKind(kind)))
        if county_code is not None:
            c.append(Eq("county_code", county_code))
        if parent_id is not None:
            c.append(Eq("parent_id", parent_id))
        return [from_doc(Unit, d) for d in await self.driver.find(UNITS, c, sort=[("name", 1)])]


class UserRepository(Repository):
    async def create(self, user: User, *, actor: Actor) -> User:
        """Add a user; an existing username is a ``Conflict``."""
        user = _check(user)

        async def work(tx: Transaction) -> User:
            if await self.driver.get(USERS, user.username, tx) is not None:
                raise Conflict(f"user {user.username!r} already exists")
            doc = to_doc(user, user.username)
            if not await self.driver.insert(USERS, doc, tx):
                raise Stale("user created concurrently")
            await self.audit(tx, actor, "user.create", "user", user.username, None, doc)
            return user

        return await self.unit_of_work(work, actor)

    async def save(self, user: User, *, actor: Actor) -> Saved[User]:
        """Create or replace a user (seeding, profile edits)."""
        user = _check(user)

        async def work(tx: Transaction) -> Saved[User]:
            before = await self.driver.get(USERS, user.username, tx)
            if before is not None and from_doc(User, before) == user:
                return Saved[User](item=user, created=False)
            after = to_doc(user, user.username)
            await self.driver.put(USERS, after, tx)
            await self.audit(tx, actor, "user.save", "user", user.username, before, after)
            return Saved[User](item=user, created=before is None)

        return await self.unit_of_work(work, actor)

    async def set_active(self, username: str, active: bool, *, actor: Actor) -> User:
        async def work(tx: Transaction) -> User:
            before = await self.driver.get(USERS, username, tx)
            if before is None:
                raise NotFound("user", username)
            user = from_doc(User, before)
            if user.active == active:
                return user
            user.active = active
            after = to_doc(user, username)
            await self.driver.put(USERS, after, tx)
            await self.audit(tx, actor, "user.activate" if active else "user.deactivate", "user", username,
                             before, after)
            return user

        return await self.unit_of_work(work, actor)

    async def get(self, username: str) -> User | None:
        doc = await self.driver.get(USERS, username)
        return from_doc(User, doc) if doc else None

    async def list(
        self, *, role: Role | None = None, unit_id: str | None = None, active: bool | None = None,
        page: PageRequest | None = None,
    ) -> Page[User]:
        c: list[Condition] = []
        if role is not None:
            c.append(Contains("roles", Role(role)))
        if unit_id is not None:
            c.append(Contains("unit_ids", unit_id))
        if active is not None:
            c.append(Eq("active", active))
        return await self.page(USERS, User, c, page, sort=[("username", 1)])

    async def members_of(self, unit_id: str) -> list[User]:
        """Active users of a unit (whom to notify)."""
        docs = await self.driver.find(USERS, [Contains("unit_ids", unit_id), Eq("active", True)])
        return [from_doc(User, d) for d in docs]


def _check(user: User) -> User:
    if not isinstance(user, User):
        raise InvalidInput(f"expected User, got {type(user).__name__}")
    return User.model_validate(user.model_dump())
