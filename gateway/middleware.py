"""ASGI middleware: a request id on every request and log line, security headers and metrics on every
response, and a cap on request bodies.

Pure ASGI rather than BaseHTTPMiddleware so that streaming responses (SSE) pass through untouched and
the body cap also holds for chunked uploads that announce no Content-Length.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars, reset_contextvars

from gateway import metrics
from gateway.errors import PROBLEM_JSON, TYPE_BASE
from shared.logging import get_logger

_log = get_logger("gateway.access")
_ACCESS = logging.getLogger("gateway.access")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Sent with every response unless a route set its own (the web pages send their Content-Security-Policy).
# HSTS belongs to the TLS-terminating proxy in front: the gateway itself speaks plain HTTP.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
)
# Data (JSON, problem details, text, event streams) never runs as a page, wherever it is loaded from.
DATA_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DATA_TYPES = (b"application/json", b"application/problem+json", b"text/plain", b"text/event-stream")


class RequestContext:
    """Give each request an id (the caller's X-Request-ID when well-formed), bind it for structlog, echo
    it in the response with the security headers, count it in the metrics, and write one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _CLIENT_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        tokens = bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        answered: float | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                answered = time.perf_counter()
                message["headers"] = _with_security_headers(list(message.get("headers", [])), request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.observe(scope["method"], scope, status, (answered or time.perf_counter()) - started)
            # structlog renders before the standard library filters by level: skip the work when off.
            if _ACCESS.isEnabledFor(logging.INFO):
                _log.info("request", method=scope["method"], path=scope["path"], status=status,
                          ms=round((time.perf_counter() - started) * 1000, 2))
            reset_contextvars(**tokens)


def _with_security_headers(headers: list[tuple[bytes, bytes]], request_id: str) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    added = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
    if DATA_CSP[0] not in present and content_type.split(b";")[0].strip() in _DATA_TYPES:
        added.append(DATA_CSP)
    return [*headers, *added, (b"x-request-id", request_id.encode())]


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with 413, from Content-Length up front or while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _too_large(scope, send, self.max_bytes)
            return
        received = 0
        started = False
        exceeded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # A parser may have caught our exception and answered 400 instead: answer 413 in its place.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(scope, send, self.max_bytes)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not started:
                await _too_large(scope, send, self.max_bytes)


class _BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": TYPE_BASE + "payload-too-large", "title": "Request body too large", "status": 413,
        "detail": f"the request body exceeds the limit of {limit} bytes", "instance": scope["path"],
    }
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
