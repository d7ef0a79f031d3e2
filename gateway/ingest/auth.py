"""Approval systems authenticate each post with an HMAC-SHA256 signature over "<timestamp>.<raw body>".

Headers: ``X-Qly-System`` (gonggai | tuzhi), ``X-Qly-Timestamp`` (Unix seconds), ``X-Qly-Signature``
(``sha256=<hex digest>``). The key is the system's secret (INGEST_HMAC_SECRET_<SYSTEM>). The timestamp must
be within the replay window of the gateway's wall clock (not the domain clock, which demos move by months);
a replayed post inside the window is harmless because records are idempotent by their record id.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from gateway.context import ServicesDep
from gateway.errors import Unauthorized
from shared.documents.models import ApprovalSource


@dataclass(frozen=True)
class SignedPost:
    system: ApprovalSource
    body: bytes
    request_id: str | None


async def signed_post(
    request: Request,
    services: ServicesDep,
    x_qly_system: Annotated[str, Header(description="gonggai or tuzhi", max_length=32)],
    x_qly_timestamp: Annotated[str, Header(description="Unix time in seconds", max_length=32)],
    x_qly_signature: Annotated[str, Header(description="sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>",
                                           max_length=200)],
) -> SignedPost:
    try:
        system = ApprovalSource(x_qly_system)
    except ValueError:
        raise Unauthorized(f"unknown approval system {x_qly_system!r}; expected gonggai or tuzhi",
                           headers={"WWW-Authenticate": "HMAC"}) from None
    if not (x_qly_timestamp.isascii() and x_qly_timestamp.isdigit()):  # "²".isdigit(), but int("²") fails
        raise Unauthorized("X-Qly-Timestamp must be Unix time in whole seconds", headers={"WWW-Authenticate": "HMAC"})
    skew = abs(time.time() - int(x_qly_timestamp))
    window = services.settings.ingest_replay_seconds
    if skew > window:
        raise Unauthorized(f"X-Qly-Timestamp is {int(skew)} s away from the gateway's clock; the window is {window} s",
                           headers={"WWW-Authenticate": "HMAC"})
    body = await request.body()
    expected = hmac.new(services.secrets.ingest_secret(system.value), x_qly_timestamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    given = x_qly_signature.removeprefix("sha256=").strip().lower()
    if not hmac.compare_digest(expected, given):
        raise Unauthorized("the signature does not match the body and timestamp", headers={"WWW-Authenticate": "HMAC"})
    return SignedPost(system=system, body=body, request_id=getattr(request.state, "request_id", None))


ApprovalSystem = Annotated[SignedPost, Depends(signed_post)]
