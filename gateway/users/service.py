"""Managing people and units (administrators)."""

from __future__ import annotations

import asyncio

from gateway.auth.passwords import hash_password
from gateway.auth.principal import Caller
from gateway.context import Services
from gateway.errors import FieldError, NotFoundProblem, Unprocessable
from gateway.users.schemas import UnitIn, UserCreate, UserOut, UserPatch
from shared.documents.models import Role, Unit, User


def user_out(user: User) -> UserOut:
    return UserOut.model_validate(user.model_dump(exclude={"password_hash"}))


def _check_roles(roles: list[Role]) -> None:
    if Role.SYSTEM in roles:
        raise Unprocessable("'system' is the role of services, not of people",
                            errors=[FieldError(pointer="#/body/roles", field="roles", message="'system' is not allowed")])


async def _check_units(services: Services, unit_ids: list[str]) -> None:
    missing = [u for u in unit_ids if await services.store.units.get(u) is None]
    if missing:
        raise Unprocessable(f"unknown unit(s): {', '.join(missing)}",
                            errors=[FieldError(pointer="#/body/unit_ids", field="unit_ids",
                                               message=f"unknown unit(s): {', '.join(missing)}")])


async def create(services: Services, caller: Caller, body: UserCreate) -> UserOut:
    _check_roles(body.roles)
    await _check_units(services, body.unit_ids)
    password_hash = await asyncio.to_thread(hash_password, body.password)
    user = User(username=body.username, display_name=body.display_name, password_hash=password_hash,
                roles=sorted(set(body.roles)), unit_ids=body.unit_ids, project_codes=body.project_codes,
                phone=body.phone, email=body.email)
    return user_out(await services.store.users.create(user, actor=caller.actor))


async def update(services: Services, caller: Caller, username: str, body: UserPatch) -> UserOut:
    user = await services.store.users.get(username)
    if user is None:
        raise NotFoundProblem(f"user {username!r} does not exist")
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    if "roles" in changes:
        _check_roles(body.roles or [])
        changes["roles"] = sorted(set(body.roles or []))
    if "unit_ids" in changes:
        await _check_units(services, body.unit_ids or [])
    if body.password is not None:
        changes["password_hash"] = await asyncio.to_thread(hash_password, body.password)
    updated = User.model_validate({**user.model_dump(), **changes})
    saved = await services.store.users.save(updated, actor=caller.actor)
    return user_out(saved.item)


async def save_unit(services: Services, caller: Caller, unit_id: str, body: UnitIn) -> tuple[Unit, bool]:
    if body.parent_id is not None and body.parent_id != unit_id and await services.store.units.get(body.parent_id) is None:
        raise Unprocessable(f"unknown parent unit {body.parent_id!r}",
                            errors=[FieldError(pointer="#/body/parent_id", field="parent_id", message="unknown unit")])
    saved = await services.store.units.save(Unit(id=unit_id, **body.model_dump()), actor=caller.actor)
    return saved.item, saved.created
