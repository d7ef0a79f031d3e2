"""Errors as RFC 9457 problem details (``application/problem+json``).

Services raise ``ApiProblem`` subclasses (or store / engine errors, translated here), never HTTPException:
the handlers give every failure the same shape, with ``instance`` set to the request path and the request
id attached, and the OpenAPI document declares that shape for every error status an endpoint can return.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.documents import ClaimConflict, Conflict, InvalidInput, NotFound
from shared.logging import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"

_log = get_logger(__name__)


class FieldError(BaseModel):
    """One invalid input: ``pointer`` is a JSON pointer into the request (``#/body/name``, ``#/query/page``)."""

    pointer: str
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details. Extension members (``errors``, ``request_id``, ...) may follow."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="URI reference naming the kind of problem", examples=["/problems/not-found"])
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what went wrong in this occurrence")
    instance: str = Field(description="the request path that failed")
    errors: list[FieldError] | None = Field(default=None, description="invalid fields (validation problems)")
    request_id: str | None = None


class ApiProblem(Exception):
    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


class BadRequest(ApiProblem):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ApiProblem):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(ApiProblem):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFoundProblem(ApiProblem):
    status, slug, title = 404, "not-found", "Not found"


class ConflictProblem(ApiProblem):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class PayloadTooLarge(ApiProblem):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMedia(ApiProblem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(ApiProblem):
    status, slug, title = 422, "validation-error", "Invalid input"


class TooManyRequests(ApiProblem):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class EngineUnavailable(ApiProblem):
    status, slug, title = 503, "engine-unavailable", "Process engine unavailable"


class ServiceUnavailable(ApiProblem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


# Titles of the kinds of problem, served at /problems/{slug} so that a ``type`` resolves to an explanation.
PROBLEM_TYPES: dict[str, str] = {
    cls.slug: cls.title
    for cls in (BadRequest, Unauthorized, Forbidden, NotFoundProblem, ConflictProblem, PayloadTooLarge,
                UnsupportedMedia, Unprocessable, TooManyRequests, EngineUnavailable, ServiceUnavailable, ApiProblem)
}
PROBLEM_TYPES["method-not-allowed"] = "Method not allowed"
PROBLEM_TYPES["documents-unavailable"] = "Documents store unavailable"
PROBLEM_TYPES["redis-unavailable"] = "Redis unavailable"


def problem_response(
    request: Request, status: int, slug: str, title: str, detail: str, *,
    errors: list[FieldError] | None = None, headers: dict[str, str] | None = None, **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


# Pydantic names the member of a union (or a validator) in an error's location; callers know fields only.
_TYPE_TAG = re.compile(r"^(date|datetime|time|str|int|float|bool|list\[.*\]|dict\[.*\]|function-\w+\[.*\]|"
                       r"lax-or-strict\[.*\]|json-or-python\[.*\]|constrained-\w+|literal\[.*\]|is-instance\[.*\])$")


def field_errors_from_pydantic(exc: ValidationError | RequestValidationError, prefix: str = "body") -> list[FieldError]:
    out: list[FieldError] = []
    seen: dict[str, FieldError] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if not _TYPE_TAG.match(str(p))]
        if isinstance(exc, RequestValidationError):
            # FastAPI puts the request part first ("body", "query", "path", "header").
            part, rest = (loc[0], loc[1:]) if loc else ("body", [])
        else:
            part, rest = prefix, loc
        pointer = "#/" + "/".join([part, *rest])
        message = err.get("msg", "invalid")
        if pointer in seen:  # one field failing every member of a union: one error, all reasons
            if message not in seen[pointer].message:
                seen[pointer].message += f"; or {message}"
            continue
        seen[pointer] = FieldError(pointer=pointer, field=".".join(rest) or part, message=message)
        out.append(seen[pointer])
    return out


def _engine_error_type() -> type[Exception]:
    from gateway.engine import EngineError

    return EngineError


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.slug, exc.title, exc.detail, errors=exc.errors,
                                headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors_from_pydantic(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(request, 422, Unprocessable.slug, Unprocessable.title, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized", 403: "forbidden",
                413: "payload-too-large"}.get(exc.status_code, "http-error")
        title = PROBLEM_TYPES.get(slug, "HTTP error")
        return problem_response(request, exc.status_code, slug, title, str(exc.detail),
                                headers=getattr(exc, "headers", None))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(request, 404, NotFoundProblem.slug, NotFoundProblem.title, str(exc))

    @app.exception_handler(ClaimConflict)
    async def _claimed(request: Request, exc: ClaimConflict) -> JSONResponse:
        return problem_response(request, 409, "task-claimed", "Task claimed by someone else", str(exc),
                                holder=exc.holder)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(request, 409, ConflictProblem.slug, ConflictProblem.title, str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> JSONResponse:
        return problem_response(request, 422, Unprocessable.slug, Unprocessable.title, str(exc))

    @app.exception_handler(_engine_error_type())
    async def _engine(request: Request, exc: Any) -> JSONResponse:
        return problem_response(request, exc.status, exc.slug, exc.title, exc.detail, grpc_status=exc.grpc_status)

    # A backing service that cannot be reached is the caller's cue to try again later, not a gateway bug.
    @app.exception_handler(ConnectionFailure)
    async def _store_down(request: Request, exc: ConnectionFailure) -> JSONResponse:
        _log.warning("documents store unreachable", path=request.url.path, error=str(exc)[:300])
        return problem_response(request, 503, "documents-unavailable", "Documents store unavailable",
                                "the documents store (MongoDB) cannot be reached; try again shortly", headers={"Retry-After": "5"})

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
        _log.warning("redis unreachable", path=request.url.path, error=str(exc)[:300])
        return problem_response(request, 503, "redis-unavailable", "Redis unavailable",
                                "Redis (login throttle, live events, caches) cannot be reached; try again shortly", headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error", path=request.url.path)
        return problem_response(request, 500, ApiProblem.slug, ApiProblem.title,
                                "the gateway failed to handle this request; the request id names it in the logs")


# What every endpoint may answer besides its success; each router adds the statuses it can produce.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Bad request", 401: "Missing or invalid bearer token", 403: "The caller's role may not do this",
        404: "Not found (or not visible to the caller)", 409: "Conflicts with the current state",
        413: "Request body too large", 415: "Unsupported media type", 422: "Invalid input",
        429: "Too many requests", 503: "A backing service (engine, store, Redis) is unavailable",
    }
    # The content is rewritten to application/problem+json for every error status by gateway.openapi.
    return {status: {"description": descriptions.get(status, "Error")} for status in statuses}
