"""Login throttling in Redis: failed attempts per username and per client address, in a fixed window.

Per address the limit is four times the per-user one: an office behind one NAT address must not lock
itself out, while one address guessing many usernames is still stopped.
"""

from __future__ import annotations

import redis.asyncio as aioredis

PREFIX = "qly:gw:login-fail:"


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, *, max_failures: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window = window_seconds

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return f"{PREFIX}user:{username.lower()}", f"{PREFIX}addr:{address}"

    async def retry_after(self, username: str, address: str) -> int | None:
        """Seconds to wait when either counter is at its limit, else None."""
        user_key, addr_key = self._keys(username, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(user_key).get(addr_key).ttl(user_key).ttl(addr_key)
            user_n, addr_n, user_ttl, addr_ttl = await pipe.execute()
        waits = []
        if user_n is not None and int(user_n) >= self.max_failures:
            waits.append(max(int(user_ttl), 1))
        if addr_n is not None and int(addr_n) >= self.max_failures * 4:
            waits.append(max(int(addr_ttl), 1))
        return max(waits) if waits else None

    async def failed(self, username: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(username, address):
                # The window starts at the first failure (SET NX with a TTL; EXPIRE NX needs Redis 7).
                pipe.set(key, 0, ex=self.window, nx=True).incr(key)
            await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(self._keys(username, "")[0])
