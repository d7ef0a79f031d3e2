"""The gateway's Prometheus metrics: requests and their latency per route template (``/api/tasks/{job_key}``,
not each key, so the series stay few), and ``GET /metrics`` to read them.

Each gateway process keeps its own figures: with ``GATEWAY_WORKERS`` > 1 a scrape reaches one process of
several, so a deployment that scrapes the gateway runs one worker per container and scales containers.
When ``GATEWAY_METRICS_TOKEN`` is set, ``/metrics`` asks for it as a bearer token; otherwise it is open,
like /healthz (it names routes and counts, nothing about people or projects).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.errors import Unauthorized
from shared.metrics import CONTENT_TYPE, Registry

REGISTRY = Registry()
REQUESTS = REGISTRY.counter("qly_gateway_requests_total", "HTTP requests by method, route and status",
                            ("method", "route", "status"))
LATENCY = REGISTRY.histogram("qly_gateway_request_seconds", "Time to answer a request (to the end of the "
                             "response headers; streams are counted when they start), by method and route",
                             ("method", "route"))

router = APIRouter()


def route_of(scope: dict[str, object]) -> str:
    """The matched route's template, the mount's prefix for static files, or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    root = scope.get("root_path")
    if isinstance(root, str) and root:
        return root + "/*"
    return "unmatched"


def observe(method: str, scope: dict[str, object], status: int, seconds: float) -> None:
    route = route_of(scope)
    REQUESTS.inc(method=method, route=route, status=str(status))
    LATENCY.observe(seconds, method=method, route=route)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    token = request.app.state.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise Unauthorized("/metrics needs the bearer token GATEWAY_METRICS_TOKEN")
    return Response(await REGISTRY.collect(), media_type=CONTENT_TYPE)
