"""The one domain clock: every "now" in the services comes from a ``Clock``.

Tests and demos move the engine's clock by months through Zeebe's actuator API; an ``EngineClock`` follows
it, so a due date computed by a worker or the gateway agrees with the engine's timers. Times are aware UTC;
``to_display`` turns them into the display zone (Asia/Shanghai by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import httpx

DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = _aware_utc(at) if at is not None else datetime.now(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware_utc(at)

    def advance(self, delta: timedelta) -> datetime:
        self._at += delta
        return self._at


class EngineClock:
    """Domain time that follows a Zeebe engine's clock (``GET {management_url}/actuator/clock``).

    The engine's time is kept as an offset from the local wall clock, so ``now()`` costs no
    I/O. ``refresh()`` measures the offset again (call it after moving the engine clock); ``start()`` keeps
    it fresh in the background. An engine whose clock endpoint is absent (404: clock not controllable)
    runs on real time, so the offset is zero.
    """

    def __init__(
        self,
        management_url: str,
        *,
        refresh_interval: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = management_url.rstrip("/") + "/actuator/clock"
        self._interval = refresh_interval
        self._client = client
        self._owns_client = client is None
        self._offset = timedelta(0)
        self._task: asyncio.Task[None] | None = None
        self.last_refresh: datetime | None = None

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def refresh(self) -> datetime:
        """Measure the engine's clock now; returns the engine's current time."""
        client = self._client_or_new()
        before = time.time()
        response = await client.get(self._url)
        after = time.time()
        if response.status_code == 404:
            self._offset = timedelta(0)
        else:
            response.raise_for_status()
            body = response.json()
            if "epochMilli" not in body:
                raise ValueError(f"{self._url} answered without epochMilli: {body!r}")
            engine_ms = int(body["epochMilli"])
            # The engine read its clock somewhere inside the round trip; the midpoint halves the error.
            local_ms = (before + after) / 2 * 1000
            self._offset = timedelta(milliseconds=engine_ms - local_ms)
        self.last_refresh = datetime.now(UTC)
        return self.now()

    def start(self) -> None:
        """Refresh every ``refresh_interval`` seconds until ``aclose()``; failures keep the last offset."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _refresh_forever(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                await self.refresh()
            await asyncio.sleep(self._interval)

    def _client_or_new(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        return self._client


def _aware_utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"a naive datetime ({at.isoformat()}) has no defined instant; give it a time zone")
    return at.astimezone(UTC)


def to_display(at: datetime, zone: ZoneInfo = DISPLAY_ZONE) -> datetime:
    """The same instant in the display zone (Asia/Shanghai unless TIMEZONE says otherwise)."""
    return _aware_utc(at).astimezone(zone)


def format_display(at: datetime, zone: ZoneInfo = DISPLAY_ZONE) -> str:
    """``2024-02-03 09:30`` in the display zone: what people read on pages and in notifications."""
    return to_display(at, zone).strftime("%Y-%m-%d %H:%M")
