"""The event bus against a real redis-server: publish, follow, resume from an id, scope round-trip."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from shared.clock import FixedClock
from shared.events import Event, EventBus, EventScope
from shared.redis_server import RedisServer


class StageChanged(BaseModel):
    project_code: str
    stage: str


@pytest.fixture
def bus(redis_client: aioredis.Redis) -> EventBus:
    return EventBus(redis_client, stream="test:events", maxlen=1000,
                    clock=FixedClock(datetime(2024, 2, 1, 1, 2, 3, tzinfo=UTC)))


async def test_publish_then_read_back_with_scope_and_payload(bus: EventBus) -> None:
    scope = EventScope(project_code="2402-320812-04-01-123456", unit_ids=("u-fgw", "u-zrzy"), county_code="320812")
    event_id = await bus.publish("project.stage_changed",
                                 StageChanged(project_code=scope.project_code or "", stage="land"), scope=scope)
    events = await bus.read_after("0-0")
    assert [e.id for e in events] == [event_id]
    got = events[0]
    assert got.type == "project.stage_changed"
    assert got.scope == scope
    assert got.occurred_at == datetime(2024, 2, 1, 1, 2, 3, tzinfo=UTC)
    assert got.payload_as(StageChanged) == StageChanged(project_code=scope.project_code or "", stage="land")
    assert await bus.last_id() == event_id


async def test_follow_resumes_after_last_event_id(bus: EventBus) -> None:
    ids = [await bus.publish("tick", {"n": n}) for n in range(5)]
    # A browser that saw the second event reconnects with Last-Event-ID = ids[1].
    seen: list[Event] = []
    async for event in bus.follow(ids[1], block_ms=200):
        seen.append(event)
        if len(seen) == 3:
            break
    assert [e.id for e in seen] == ids[2:]
    assert [e.payload["n"] for e in seen] == [2, 3, 4]


async def test_follow_without_id_only_yields_new_events_and_wakes_on_publish(bus: EventBus) -> None:
    await bus.publish("old", {"n": 0})
    received: list[Event] = []

    async def consume() -> None:
        async for event in bus.follow(block_ms=100):
            received.append(event)
            if len(received) == 2:
                return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.3)  # let the consumer start blocking; ordering, not timing, is asserted below
    new_ids = [await bus.publish("new", {"n": 1}), await bus.publish("new", {"n": 2})]
    await asyncio.wait_for(consumer, timeout=30)
    assert [e.id for e in received] == new_ids
    assert all(e.type == "new" for e in received)


async def test_stream_is_trimmed_approximately(redis_client: aioredis.Redis) -> None:
    bus = EventBus(redis_client, stream="test:trim", maxlen=100)
    for n in range(1000):
        await bus.publish("tick", {"n": n})
    length = await redis_client.xlen("test:trim")
    # Approximate trimming keeps at least maxlen and drops whole nodes: well under what was written.
    assert 100 <= length < 1000
    newest = await bus.read_after("0-0", count=2000)
    assert newest[-1].payload == {"n": 999}


async def test_bad_input_is_rejected_and_nothing_is_written(bus: EventBus, redis_client: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="event_type"):
        await bus.publish("", {"a": 1})
    with pytest.raises(ValueError, match="timezone-aware"):
        await bus.publish("x", {"a": 1}, occurred_at=datetime(2024, 1, 1))
    with pytest.raises(TypeError):
        await bus.publish("x", {"a": object()})
    assert await redis_client.xlen("test:events") == 0


async def test_malformed_entry_names_its_id(bus: EventBus, redis_client: aioredis.Redis) -> None:
    bad_id = await redis_client.xadd("test:events", {"type": "x"})
    with pytest.raises(ValueError, match=bad_id):
        await bus.read_after("0-0")


def test_sse_message_format() -> None:
    event = Event(id="1-0", type="flag.raised", occurred_at=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=1),
                  scope=EventScope(unit_ids=("u1",)), payload={"名称": "黄旗"})
    text = event.to_sse()
    assert text.startswith("id: 1-0\nevent: flag.raised\ndata: ")
    assert text.endswith("\n\n")
    assert "黄旗" in text  # UTF-8, not \u escapes: smaller and readable in devtools


def test_server_with_aof_keeps_stream_across_restart(tmp_path) -> None:
    import redis as sync_redis

    with RedisServer(data_dir=tmp_path, persistence="aof") as server:
        with sync_redis.Redis.from_url(server.url) as client:
            client.xadd("s", {"k": "v"})
    assert (tmp_path / "redis.log").exists()
    with RedisServer(data_dir=tmp_path, persistence="aof") as again, \
            sync_redis.Redis.from_url(again.url, decode_responses=True) as client:
        assert [fields for _id, fields in client.xrange("s")] == [{"k": "v"}]
