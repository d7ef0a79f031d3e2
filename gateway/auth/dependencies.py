"""Role checks as FastAPI dependencies. Each domain's ``auth.py`` names its callers with these, e.g.

    ProjectEditor = Annotated[Caller, Depends(require(Role.ADMIN, Role.LEADER))]

so that every endpoint's signature states who may call it, and the OpenAPI document shows the bearer
requirement on every protected operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from gateway.auth.principal import ROLE_ORDER, Caller, Principal
from gateway.auth.tokens import TokenInvalid
from gateway.context import ServicesDep
from gateway.errors import Forbidden, Unauthorized
from shared.documents.models import Role

bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False,
                              description="Access token from POST /api/auth/token")


async def current_principal(
    services: ServicesDep, token: Annotated[str | None, Depends(bearer)]
) -> Principal:
    if not token:
        raise Unauthorized("this endpoint needs a bearer token (POST /api/auth/token)")
    try:
        return services.tokens.principal(token)
    except TokenInvalid as exc:
        raise Unauthorized(str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[..., Awaitable[Caller]]:
    """A dependency letting through callers with any of ``roles``; the audit names the strongest one."""
    allowed = [r for r in ROLE_ORDER if r in roles]
    names = ", ".join(r.value for r in allowed)

    async def dependency(request: Request, principal: CurrentPrincipal) -> Caller:
        for role in allowed:
            if role in principal.roles:
                return Caller(principal=principal, role=role, request_id=getattr(request.state, "request_id", None))
        raise Forbidden(f"this needs one of the roles: {names}", required_roles=[r.value for r in allowed])

    dependency.__name__ = "require_" + "_or_".join(r.value for r in allowed)
    return dependency


AnyUser = Annotated[Caller, Depends(require(*ROLE_ORDER))]
