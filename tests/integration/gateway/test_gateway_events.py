"""Live events over a real HTTP server: Server-Sent Events scoped by role, resumed with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.context import Services
from shared.events import EventScope
from tests.integration.gateway.support import Api, problem_of, served


@pytest.fixture
async def base_url(services: Services) -> AsyncIterator[str]:
    async with served(services) as url:
        yield url


async def read_events(client: httpx.AsyncClient, headers: dict[str, str], want: int, *,
                      params: dict[str, str] | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The first ``want`` events of a stream (id, event, data), then the connection is closed."""
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        async with client.stream("GET", "/api/events", headers=headers, params=params) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            current: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if line.startswith(":") or line.startswith("retry:"):
                    continue
                if not line:
                    if current:
                        events.append(current)
                        current = {}
                        if len(events) >= want:
                            return
                    continue
                name, _, value = line.partition(": ")
                current[name] = json.loads(value) if name == "data" else value

    try:
        await asyncio.wait_for(consume(), timeout)
    except TimeoutError:
        pass
    return events


async def test_each_person_gets_what_they_may_see_and_can_resume(api: Api, base_url: str) -> None:
    bus = api.services.bus
    start = await bus.last_id()
    tokens = {name: await api.token(name) for name in ("zrzy", "investor", "leader", "designer")}
    published = [
        await bus.publish("task.created", {"job_key": 1}, scope=EventScope(unit_ids=("dept-zrzy",))),
        await bus.publish("problem.created", {"problem_id": "b"}, scope=EventScope(project_code="P-HA-1",
                                                                                county_code="320803")),
        await bus.publish("engine.element.activated", {"element_id": "review"},
                          scope=EventScope(project_code="P-QJP-1")),
        await bus.publish("project.light_changed", {"light": "red"}, scope=EventScope(project_code="P-QJP-1")),
        await bus.publish("engine.process.deployed", {"bpmn_process_id": "x"}),
    ]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        async def seen(name: str, want: int, **kw: Any) -> list[str]:
            events = await read_events(client, {"Authorization": f"Bearer {tokens[name]}"}, want,
                                       params={"last_id": start}, **kw)
            return [e["event"] for e in events]

        assert await seen("leader", 5) == ["task.created", "problem.created", "engine.element.activated",
                                           "project.light_changed", "engine.process.deployed"]
        assert await seen("zrzy", 2, timeout=1.5) == ["task.created"]
        assert await seen("investor", 3, timeout=1.5) == ["engine.element.activated", "project.light_changed"]
        assert await seen("designer", 3, timeout=1.5) == ["engine.element.activated", "engine.process.deployed"]

        # Resuming after the second event (the browser's Last-Event-ID header) replays only what followed.
        resumed = await read_events(client, {"Authorization": f"Bearer {tokens['leader']}",
                                             "Last-Event-ID": published[1]}, 3)
        assert [e["id"] for e in resumed] == published[2:]
        assert resumed[1]["data"]["payload"] == {"light": "red"}
        assert resumed[1]["data"]["scope"]["project_code"] == "P-QJP-1"

        # EventSource cannot set headers: the token may come as a query parameter; new events arrive live.
        async def later() -> None:
            await asyncio.sleep(0.5)
            await bus.publish("task.completed", {"job_key": 1}, scope=EventScope(unit_ids=("dept-zrzy",)))

        publisher = asyncio.get_running_loop().create_task(later())
        live = await read_events(client, {}, 1, params={"access_token": tokens["zrzy"]})
        await publisher
        assert [e["event"] for e in live] == ["task.completed"]

        assert problem_of(await client.get("/api/events"), 401)
        bad = await client.get("/api/events", headers={"Authorization": f"Bearer {tokens['leader']}",
                                                       "Last-Event-ID": "yesterday"})
        assert "not a stream id" in problem_of(bad, 422)["detail"]
        recent = await client.get("/api/events/recent", headers={"Authorization": f"Bearer {tokens['zrzy']}"})
        assert [e["type"] for e in recent.json()] == ["task.created", "task.completed"]
        projects_only = await client.get("/api/events/recent", params={"types": "project."},
                                         headers={"Authorization": f"Bearer {tokens['leader']}"})
        assert [e["type"] for e in projects_only.json()] == ["project.light_changed"]


async def test_gateway_writes_reach_the_stream(api: Api, base_url: str) -> None:
    start = await api.services.bus.last_id()
    leader = await api.as_("leader")
    response = await leader.put("/api/projects/P-LIVE", json={
        "name": "直播项目", "investor": {"company": "X"}, "county_code": "320812", "industry": "food",
        "amount_cny": 1, "signed_at": "2024-06-01", "assistant_unit_id": "assist-qjp"})
    assert response.status_code == 201
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        events = await read_events(client, {"Authorization": f"Bearer {await api.token('assist')}"}, 1,
                                   params={"last_id": start})
    assert events[0]["event"] == "project.created"
    assert events[0]["data"]["scope"] == {"project_code": "P-LIVE", "unit_ids": ["assist-qjp"], "county_code": "320812"}
