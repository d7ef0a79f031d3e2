"""Signed bearer tokens (HS256 JWT): short-lived access tokens and rotating refresh tokens.

Token times use the wall clock, never the domain clock: demos move the engine's clock by months, and that
must not expire everyone's session. An access token carries the roles and units, so checking it costs no
database read; a change of roles reaches the person at their next refresh (at most the access lifetime).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from gateway.auth.principal import Principal
from shared.documents.models import Role, User

ISSUER = "qianliyan-gateway"
ALGORITHM = "HS256"


class TokenInvalid(Exception):
    pass


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


@dataclass(frozen=True)
class RefreshClaims:
    username: str
    jti: str
    expires_at: int


class TokenService:
    def __init__(self, secret: bytes, *, access_seconds: int, refresh_seconds: int) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret
        self.access_seconds = access_seconds
        self.refresh_seconds = refresh_seconds

    def issue(self, user: User) -> TokenPair:
        now = int(time.time())
        access = {
            "iss": ISSUER, "sub": user.username, "typ": "access", "iat": now, "exp": now + self.access_seconds,
            "jti": uuid.uuid4().hex, "name": user.display_name, "roles": [r.value for r in user.roles if r != Role.SYSTEM],
            "units": list(user.unit_ids),
        }
        refresh = {"iss": ISSUER, "sub": user.username, "typ": "refresh", "iat": now,
                   "exp": now + self.refresh_seconds, "jti": uuid.uuid4().hex}
        return TokenPair(jwt.encode(access, self._secret, ALGORITHM), jwt.encode(refresh, self._secret, ALGORITHM),
                         self.access_seconds, self.refresh_seconds)

    def _decode(self, token: str, typ: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "typ", "jti"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenInvalid(f"the {typ} token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"the {typ} token is not valid: {exc}") from exc
        if claims.get("typ") != typ:
            raise TokenInvalid(f"expected an {typ} token, got a {claims.get('typ')!r} token")
        return claims

    def principal(self, access_token: str) -> Principal:
        claims = self._decode(access_token, "access")
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", ()))
        except ValueError as exc:
            raise TokenInvalid(f"the access token names an unknown role: {exc}") from exc
        return Principal(username=claims["sub"], display_name=claims.get("name") or claims["sub"], roles=roles,
                         unit_ids=tuple(claims.get("units", ())))

    def refresh_claims(self, refresh_token: str) -> RefreshClaims:
        claims = self._decode(refresh_token, "refresh")
        return RefreshClaims(claims["sub"], claims["jti"], int(claims["exp"]))
