"""The live event bus: one Redis stream that services append to and the gateway follows for SSE.

A stream, not pub/sub, so a browser that reconnects with ``Last-Event-ID`` gets what it missed (as far
back as the stream's approximate MAXLEN). Every event carries its scope (project, units, county) so the
gateway can show each person only what their role may see, without reading the documents store.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import redis.asyncio as aioredis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.clock import Clock, SystemClock
from shared.settings import RedisSettings

M = TypeVar("M", bound=BaseModel)


def connect_redis(url: str | None = None) -> aioredis.Redis:
    """An asyncio Redis client for ``url`` (default REDIS_URL); strings are decoded as UTF-8."""
    return aioredis.from_url(url or RedisSettings().redis_url, decode_responses=True)


class EventScope(BaseModel):
    """Who may see an event: the gateway filters on these, never on the payload."""

    model_config = ConfigDict(frozen=True)

    project_code: str | None = None
    unit_ids: tuple[str, ...] = ()
    county_code: str | None = None


class Event(BaseModel):
    id: str = Field(description="stream entry id, usable as SSE id and Last-Event-ID")
    type: str
    occurred_at: AwareDatetime
    scope: EventScope
    payload: dict[str, Any]

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[str, str]) -> Self:
        """Turn a raw stream entry back into an event; a malformed entry raises ValueError naming it."""
        try:
            return cls(
                id=entry_id,
                type=fields["type"],
                occurred_at=datetime.fromisoformat(fields["occurred_at"]),
                scope=EventScope.model_validate_json(fields["scope"]),
                payload=json.loads(fields["payload"]),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"stream entry {entry_id} is not an event: {exc}") from exc

    def payload_as(self, model: type[M]) -> M:
        return model.model_validate(self.payload)

    def to_sse(self) -> str:
        """One Server-Sent Events message (id, event, data), ending with the blank line."""
        data = json.dumps(
            {"type": self.type, "occurred_at": self.occurred_at.isoformat(), "scope": self.scope.model_dump(mode="json"),
             "payload": self.payload},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return f"id: {self.id}\nevent: {self.type}\ndata: {data}\n\n"


class EventBus:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        stream: str = "qly:events",
        maxlen: int = 100_000,
        clock: Clock | None = None,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self.maxlen = maxlen
        self.clock = clock or SystemClock()

    @classmethod
    def from_settings(cls, settings: RedisSettings | None = None, *, clock: Clock | None = None) -> Self:
        settings = settings or RedisSettings()
        return cls(connect_redis(settings.redis_url), stream=settings.events_stream,
                   maxlen=settings.events_maxlen, clock=clock)

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def publish(
        self,
        event_type: str,
        payload: Mapping[str, Any] | BaseModel,
        *,
        scope: EventScope | None = None,
        occurred_at: datetime | None = None,
    ) -> str:
        """Append an event; returns its stream id. The payload must be JSON-serialisable."""
        if not event_type:
            raise ValueError("event_type must not be empty")
        body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
        at = occurred_at or self.clock.now()
        if at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        fields = {
            "type": event_type,
            "occurred_at": at.astimezone(UTC).isoformat(),
            "scope": (scope or EventScope()).model_dump_json(),
            "payload": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        }
        # Approximate trimming lets Redis drop whole macro-nodes: far cheaper than an exact MAXLEN.
        return str(await self.redis.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True))

    async def last_id(self) -> str:
        """The id of the newest event, or ``0-0`` when the stream is empty."""
        newest = await self.redis.xrevrange(self.stream, count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def read_after(self, last_id: str, *, count: int = 100) -> list[Event]:
        """Events after ``last_id`` (exclusive), oldest first, without waiting."""
        entries = await self.redis.xrange(self.stream, min=f"({last_id}", count=count)
        return [Event.from_entry(entry_id, fields) for entry_id, fields in entries]

    async def follow(
        self, last_id: str | None = None, *, block_ms: int = 15_000, count: int = 100
    ) -> AsyncIterator[Event]:
        """Yield events after ``last_id`` (or only new ones when None), waiting for more, forever.

        Each wait ends after ``block_ms`` even when nothing came, so a caller that breaks out (a closed
        SSE connection) is never stuck for longer than that.
        """
        cursor = last_id if last_id is not None else await self.last_id()
        while True:
            response = await self.redis.xread({self.stream: cursor}, count=count, block=block_ms)
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    cursor = entry_id
                    yield Event.from_entry(entry_id, fields)
