"""Cached figures in Redis, invalidated by a generation number.

Every cached answer is stored under the current generation; a change anywhere (a write through any
gateway, a domain event from the workers on the stream) increments the generation, so the next read
misses and recomputes. A TTL bounds the age regardless (a "this month" figure also changes with time).
Recomputations of one key are single-flight per process, so a burst of readers after an invalidation
costs one computation, not one per reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from gateway.context import Services
from shared.logging import get_logger

GENERATION = "qly:gw:cache:generation"
PREFIX = "qly:gw:cache:"
# Engine-level events (every element activation) do not change the figures; domain events do.
IGNORED_PREFIXES = ("engine.",)

_log = get_logger(__name__)
_locks: dict[str, asyncio.Lock] = {}


async def invalidate(services: Services) -> None:
    await services.redis.incr(GENERATION)


def cache_key(name: str, params: dict[str, Any], generation: str) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:24]
    return f"{PREFIX}{name}:{generation}:{digest}"


async def cached(services: Services, name: str, params: dict[str, Any],
                 compute: Callable[[], Awaitable[bytes]]) -> bytes:
    """The JSON bytes of ``compute()``, from Redis when the generation has not moved since."""
    try:
        generation = await services.redis.get(GENERATION) or "0"
        key = cache_key(name, params, generation)
        hit = await services.redis.get(key)
    except RedisError as exc:  # the cache is an optimisation: answer without it
        _log.warning("dashboard cache unavailable", error=str(exc))
        return await compute()
    if hit is not None:
        return hit.encode() if isinstance(hit, str) else bytes(hit)
    lock = _locks.setdefault(key, asyncio.Lock())
    try:
        async with lock:
            hit = await services.redis.get(key)
            if hit is not None:
                return hit.encode() if isinstance(hit, str) else bytes(hit)
            body = await compute()
            with contextlib.suppress(RedisError):
                await services.redis.set(key, body.decode(), ex=services.settings.dashboard_cache_seconds)
            return body
    finally:
        if len(_locks) > 256:  # keys of past generations: forget their idle locks
            for stale in [k for k, held in _locks.items() if not held.locked()]:
                _locks.pop(stale, None)


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

    return stop
