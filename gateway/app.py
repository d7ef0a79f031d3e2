"""The FastAPI application: routers of every domain, problem-details errors, middleware, OpenAPI."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from gateway.context import Services
from gateway.errors import PROBLEM_JSON, PROBLEM_TYPES, FieldError, NotFoundProblem, Problem, install_handlers
from gateway.middleware import BodyLimit, RequestContext
from gateway.settings import GatewaySettings
from shared.logging import get_logger

_log = get_logger(__name__)

DESCRIPTION = """
The API of Qianliyan (千里眼) for people and for the approval systems.

* Log in with `POST /api/auth/token` (OAuth2 password grant) and send `Authorization: Bearer <access_token>`.
* Every endpoint states the roles that may call it; every list is scoped to what the caller may see.
* Errors are RFC 9457 problem details (`application/problem+json`).
* Instants are stored in UTC and shown in Asia/Shanghai (`+08:00`); a date in a query means a local day.
"""


def _routers() -> list[Any]:
    # Imported here so that a domain module can depend on gateway.app's neighbours without a cycle.
    from gateway.auth.router import router as auth
    from gateway.dashboards.router import router as dashboards
    from gateway.evaluations.router import router as evaluations
    from gateway.events.router import router as events
    from gateway.flags.router import router as flags
    from gateway.health.router import router as health
    from gateway.ingest.router import router as ingest
    from gateway.metrics import router as metrics
    from gateway.problems.router import router as problems
    from gateway.processes.router import router as processes
    from gateway.projects.router import router as projects
    from gateway.tasks.router import router as tasks
    from gateway.users.router import router as users

    return [health, metrics, auth, users, projects, ingest, tasks, problems, flags, evaluations, dashboards, events,
            processes]


def create_app(settings: GatewaySettings | None = None, services: Services | None = None) -> FastAPI:
    """The gateway. Without ``services`` it connects to everything from the environment at start-up."""
    settings = settings or (services.settings if services else GatewaySettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = services or await Services.open(settings)
        app.state.services = opened
        await opened.start()
        background = _start_background(opened)
        try:
            yield
        finally:
            for stop in background:
                await stop()
            if services is None:
                await opened.close()

    app = FastAPI(title="Qianliyan gateway", version="1.0.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    if services is not None:
        app.state.services = services  # usable before the lifespan runs (in-process test clients)
    install_handlers(app)
    app.state.metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    for router in _routers():
        app.include_router(router)

    @app.get("/problems/{slug}", include_in_schema=False)
    async def problem_type(slug: str) -> JSONResponse:
        if slug not in PROBLEM_TYPES:
            raise NotFoundProblem(f"no problem type {slug!r}")
        return JSONResponse({"type": f"/problems/{slug}", "title": PROBLEM_TYPES[slug]})

    _mount_web(app)
    # Outermost first: the request id must exist before the body limit can answer with it.
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Request-ID"],
                           expose_headers=["X-Request-ID"])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def serve() -> FastAPI:
    """The factory ``python -m gateway`` hands to uvicorn: settings and connections from the environment,
    logging configured in each worker process."""
    from shared.logging import configure_logging

    configure_logging("gateway")
    return create_app()


def _start_background(services: Services) -> list[Any]:
    from gateway.dashboards.cache import start_invalidation

    return [start_invalidation(services)]


def _mount_web(app: FastAPI) -> None:
    """The hook for the web pages (gateway/web/, built separately): a ``gateway.web`` package that defines
    ``mount(app)`` gets called to add its routes and static files. Absent, the API runs alone."""
    if importlib.util.find_spec("gateway.web") is None:
        return
    module = importlib.import_module("gateway.web")
    mount = getattr(module, "mount", None)
    if callable(mount):
        mount(app)
        _log.info("web pages mounted", module="gateway.web")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response declared as problem+json (the shape the handlers send)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Problem"].pop("$defs", None)
    components["FieldError"] = FieldError.model_json_schema()
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400 and not _is_custom(response):
                    response["content"] = problem
            # Every operation may meet a body over the limit (413) or a validation problem (422).
            if operation.get("requestBody") or operation.get("parameters"):
                responses.setdefault("422", {"description": "Invalid input", "content": problem})
            if operation.get("requestBody"):
                responses.setdefault("413", {"description": "Request body too large", "content": problem})
                responses.setdefault("400", {"description": "The body cannot be parsed (not JSON, not multipart)",
                                             "content": problem})
    app.openapi_schema = schema
    return schema


def _is_custom(response: dict[str, Any]) -> bool:
    # /readyz answers 503 with its own report, not a problem
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/Readiness")
