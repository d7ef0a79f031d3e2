"""Cached figures in Redis, invalidated by a generation number, refreshed behind the readers' backs.

Every answer is stored with the generation it was computed at. A change anywhere (a write through any
gateway, a domain event from the workers on the stream) increments the generation, so the stored answer is
out of date. What happens then is bounded by ``GATEWAY_DASHBOARD_STALE_SECONDS``:

- an answer computed less than that long ago is still served, and one refresh is scheduled for when it
  reaches that age (in the background, one per key and process): under a steady stream of writes a busy
  dashboard is recomputed at most once per period instead of once per write, and readers never wait. An
  answer that is expensive to compute may lag longer, ``COST_FACTOR`` times its computation time (a
  2-second horse race: 40 s), so that refreshing never takes more than a few percent of the process;
- an older one (or none) is recomputed while the reader waits, single-flight per key and process, so a
  burst of readers costs one computation.

With the setting at 0 every change is visible to the next read. Entries expire after
``GATEWAY_DASHBOARD_CACHE_SECONDS`` whatever happens (a "this month" figure also changes with time).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from gateway.context import Services
from shared.logging import get_logger

GENERATION = "qly:gw:cache:generation"
PREFIX = "qly:gw:cache:"
# Engine-level events (every element activation) do not change the figures; domain events do.
IGNORED_PREFIXES = ("engine.",)
COST_FACTOR = 20

_log = get_logger(__name__)
_locks: dict[str, asyncio.Lock] = {}
_refreshing: dict[str, asyncio.Task[None]] = {}

Compute = Callable[[], Awaitable[bytes]]


async def invalidate(services: Services) -> None:
    await services.redis.incr(GENERATION)


def cache_key(name: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"{PREFIX}{name}:{digest}"


def _decode(raw: str | bytes | None) -> tuple[str, float, float, bytes] | None:
    """(generation, computed at, seconds the computation took, body) of a stored answer."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    generation, at, cost, body = text.split(" ", 3)
    return generation, float(at), float(cost), body.encode()


async def _store(services: Services, key: str, generation: str, body: bytes, cost: float) -> None:
    with contextlib.suppress(RedisError):
        await services.redis.set(key, f"{generation} {time.time():.3f} {cost:.3f} {body.decode()}",
                                 ex=services.settings.dashboard_cache_seconds)


def _local(services: Services, key: str) -> str:
    # Per app instance: several apps in one process (tests) must not share locks or refreshes.
    return f"{id(services)}:{key}"


async def _compute_now(services: Services, key: str, compute: Compute) -> bytes:
    lock = _locks.setdefault(_local(services, key), asyncio.Lock())
    async with lock:
        # Someone else may have computed it while this reader waited for the lock.
        generation, raw = await services.redis.mget(GENERATION, key)
        entry = _decode(raw)
        if entry is not None and entry[0] == (generation or "0"):
            return entry[3]
        started = time.perf_counter()
        body = await compute()
        await _store(services, key, generation or "0", body, time.perf_counter() - started)
        return body


def _refresh_later(services: Services, key: str, compute: Compute, delay: float) -> None:
    local = _local(services, key)
    if local in _refreshing:
        return

    async def refresh() -> None:
        try:
            await asyncio.sleep(delay)
            await _compute_now(services, key, compute)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next reader recomputes; a refresh failing must not be fatal
            _log.warning("dashboard refresh failed", key=key, error=str(exc))
        finally:
            _refreshing.pop(local, None)

    _refreshing[local] = asyncio.get_running_loop().create_task(refresh(), name=f"refresh {key}")


async def cached(services: Services, name: str, params: dict[str, Any], compute: Compute) -> bytes:
    """The JSON bytes of ``compute()``, from Redis when still current (see the module's rules)."""
    key = cache_key(name, params)
    try:
        generation, raw = await services.redis.mget(GENERATION, key)
        entry = _decode(raw)
    except (RedisError, ValueError) as exc:  # the cache is an optimisation: answer without it
        _log.warning("dashboard cache unavailable", error=str(exc))
        return await compute()
    if entry is not None:
        entry_generation, computed_at, cost, body = entry
        if entry_generation == (generation or "0"):
            return body
        age = time.time() - computed_at
        stale = services.settings.dashboard_stale_seconds
        if stale > 0:
            stale = min(max(stale, COST_FACTOR * cost), services.settings.dashboard_cache_seconds)
        if age < stale or (stale > 0 and _local(services, key) in _refreshing):
            _refresh_later(services, key, compute, max(0.0, stale - age))
            return body
    try:
        return await _compute_now(services, key, compute)
    finally:
        if len(_locks) > 256:  # keys of past parameters: forget their idle locks
            for idle in [k for k, held in _locks.items() if not held.locked()]:
                _locks.pop(idle, None)


def start_invalidation(services: Services) -> Callable[[], Awaitable[None]]:
    """Follow the event stream and invalidate on every domain event; returns the stopper."""
    stopping = asyncio.Event()

    async def follow() -> None:
        while not stopping.is_set():
            try:
                async for event in services.bus.follow(block_ms=5_000):
                    if not event.type.startswith(IGNORED_PREFIXES):
                        await invalidate(services)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # redis-py may turn a cancellation inside a blocking read into its own timeout error,
                # so the stop flag, not the exception type, says whether to go on.
                if stopping.is_set():
                    return
                _log.warning("cache invalidation follower restarting", error=str(exc))
                await asyncio.sleep(1.0)

    task = asyncio.get_running_loop().create_task(follow(), name="dashboard-cache-invalidation")

    async def stop() -> None:
        stopping.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        mine = f"{id(services)}:"
        for local, pending in list(_refreshing.items()):
            if not local.startswith(mine):
                continue
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    return stop
