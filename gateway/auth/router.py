from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, status

from gateway.auth import service
from gateway.auth.dependencies import AnyUser
from gateway.auth.schemas import Me, TokenResponse
from gateway.context import ServicesDep
from gateway.errors import BadRequest, problem_responses

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", response_model=TokenResponse, responses=problem_responses(400, 401, 422, 429),
             summary="Log in (OAuth2 password grant) or refresh (refresh_token grant)")
async def token(
    request: Request,
    services: ServicesDep,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    refresh_token: Annotated[str | None, Form(max_length=4096)] = None,
    scope: Annotated[str, Form(max_length=1024)] = "",
) -> TokenResponse:
    if grant_type == "password":
        if not username or not password:
            raise BadRequest("the password grant needs username and password", error="invalid_request")
        address = request.client.host if request.client else "unknown"
        pair = await service.login(services, username, password, address)
    else:
        if not refresh_token:
            raise BadRequest("the refresh_token grant needs refresh_token", error="invalid_request")
        pair = await service.refresh(services, refresh_token)
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token,
                         refresh_expires_in=pair.refresh_expires_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 422),
             summary="Revoke a refresh token")
async def logout(services: ServicesDep, refresh_token: Annotated[str, Form(max_length=4096)]) -> None:
    await service.logout(services, refresh_token)


@router.get("/me", response_model=Me, responses=problem_responses(401, 403), summary="Who am I")
async def me(caller: AnyUser, services: ServicesDep) -> Me:
    user = await services.store.users.get(caller.username)
    p = caller.principal
    return Me(username=p.username, display_name=p.display_name, roles=sorted(p.roles), unit_ids=list(p.unit_ids),
              project_codes=list(user.project_codes) if user else [])
