from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from gateway.common import PageOut, Pagination, page_out
from gateway.context import ServicesDep
from gateway.errors import NotFoundProblem, problem_responses
from gateway.users import service
from gateway.users.auth import UnitReader, UserAdmin
from gateway.users.schemas import UnitIn, UnitOut, UserCreate, UserOut, UserPatch
from shared.documents.models import Role, UnitKind

router = APIRouter(prefix="/api", tags=["people and units"], responses=problem_responses(401, 403, 422))

UsernamePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
UnitId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\s$.][^\s$]*$")]


@router.get("/users", response_model=PageOut[UserOut], summary="People (administrators)")
async def list_users(caller: UserAdmin, services: ServicesDep, page: Pagination, role: Role | None = None,
                     unit_id: str | None = None, active: bool | None = None) -> dict[str, object]:
    found = await services.store.users.list(role=role, unit_id=unit_id, active=active, page=page)
    return page_out(found, [service.user_out(u) for u in found.items])


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, responses=problem_responses(409),
             summary="Add a person")
async def create_user(caller: UserAdmin, services: ServicesDep, body: UserCreate) -> UserOut:
    return await service.create(services, caller, body)


@router.get("/users/{username}", response_model=UserOut, responses=problem_responses(404), summary="A person")
async def get_user(caller: UserAdmin, services: ServicesDep, username: UsernamePath) -> UserOut:
    user = await services.store.users.get(username)
    if user is None:
        raise NotFoundProblem(f"user {username!r} does not exist")
    return service.user_out(user)


@router.patch("/users/{username}", response_model=UserOut, responses=problem_responses(404, 409),
              summary="Change a person's roles, units, projects, password or active flag")
async def patch_user(caller: UserAdmin, services: ServicesDep, username: UsernamePath, body: UserPatch) -> UserOut:
    return await service.update(services, caller, username, body)


@router.get("/units", response_model=list[UnitOut], summary="Units (counties, departments, assistants, the office)")
async def list_units(caller: UnitReader, services: ServicesDep, kind: UnitKind | None = None,
                     county_code: str | None = None) -> list[UnitOut]:
    return [UnitOut.model_validate(u.model_dump()) for u in await services.store.units.list(kind=kind,
                                                                                              county_code=county_code)]


@router.put("/units/{unit_id}", response_model=UnitOut, responses={201: {"model": UnitOut, "description": "created"}},
            summary="Create or replace a unit")
async def put_unit(caller: UserAdmin, services: ServicesDep, unit_id: UnitId, body: UnitIn,
                   response: Response) -> UnitOut:
    unit, created = await service.save_unit(services, caller, unit_id, body)
    if created:
        response.status_code = status.HTTP_201_CREATED
    return UnitOut.model_validate(unit.model_dump())
