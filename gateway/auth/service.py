"""Logging in, refreshing and logging out."""

from __future__ import annotations

import time

from gateway.auth.passwords import verify_password
from gateway.auth.tokens import TokenInvalid, TokenPair
from gateway.context import Services
from gateway.errors import TooManyRequests, Unauthorized

_USED = "qly:gw:refresh-used:"


def _invalid_grant(detail: str) -> Unauthorized:
    return Unauthorized(detail, error="invalid_grant")


async def login(services: Services, username: str, password: str, address: str) -> TokenPair:
    wait = await services.throttle.retry_after(username, address)
    if wait is not None:
        raise TooManyRequests(f"too many failed logins; try again in {wait} s", headers={"Retry-After": str(wait)})
    user = await services.store.users.get(username)
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        await services.throttle.failed(username, address)
        # One message for every failure: the response must not tell which usernames exist.
        raise _invalid_grant("wrong username or password, or the account is disabled")
    await services.throttle.succeeded(username)
    return services.tokens.issue(user)


async def refresh(services: Services, refresh_token: str) -> TokenPair:
    """Rotate: the refresh token is spent, a new pair is issued. A spent token used again is refused."""
    try:
        claims = services.tokens.refresh_claims(refresh_token)
    except TokenInvalid as exc:
        raise _invalid_grant(str(exc)) from exc
    if not await _spend(services, claims.jti, claims.expires_at):
        raise _invalid_grant("this refresh token has already been used or revoked")
    user = await services.store.users.get(claims.username)
    if user is None or not user.active:
        raise _invalid_grant("the account no longer exists or is disabled")
    return services.tokens.issue(user)


async def logout(services: Services, refresh_token: str) -> None:
    try:
        claims = services.tokens.refresh_claims(refresh_token)
    except TokenInvalid as exc:
        raise _invalid_grant(str(exc)) from exc
    await _spend(services, claims.jti, claims.expires_at)


async def _spend(services: Services, jti: str, expires_at: int) -> bool:
    ttl = max(expires_at - int(time.time()), 1)
    return bool(await services.redis.set(_USED + jti, "1", nx=True, ex=ttl))
