"""``/healthz``: the process answers. ``/readyz``: the engine, the documents store and Redis each answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.context import ServicesDep

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 2.0


class Check(BaseModel):
    status: Literal["up", "down"]
    ms: float
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, Check]


class Liveness(BaseModel):
    status: Literal["up"]


@router.get("/healthz", response_model=Liveness, summary="The gateway process is up")
async def healthz() -> Liveness:
    return Liveness(status="up")


async def _check(awaitable: Awaitable[object]) -> Check:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(awaitable, CHECK_TIMEOUT)
    except TimeoutError:
        return Check(status="down", ms=round((time.perf_counter() - started) * 1000, 1),
                     detail=f"no answer within {CHECK_TIMEOUT} s")
    except Exception as exc:
        return Check(status="down", ms=round((time.perf_counter() - started) * 1000, 1),
                     detail=f"{type(exc).__name__}: {exc}"[:300])
    detail = None
    if result is not None and not isinstance(result, bool):
        detail = str(result)[:300]
    return Check(status="up", ms=round((time.perf_counter() - started) * 1000, 1), detail=detail)


@router.get("/readyz", response_model=Readiness, summary="Engine topology, documents store and Redis each answer",
            responses={503: {"model": Readiness, "description": "at least one dependency is down"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    async def engine() -> str:
        topology = await services.engine.topology(deadline=CHECK_TIMEOUT)
        return (f"{topology.brokers} broker(s), {topology.partitions_count} partition(s), "
                f"gateway {topology.gateway_version or 'unknown'}")

    names = ("engine", "documents", "redis")
    results = await asyncio.gather(_check(engine()), _check(services.store.ping()), _check(services.redis.ping()))
    checks = dict(zip(names, results, strict=True))
    ready = all(c.status == "up" for c in checks.values())
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)
