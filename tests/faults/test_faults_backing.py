"""The backing services failing under load: Redis stopped and started again, the documents store (MongoDB, here
the nx-27017 stand-in through the real driver) unreachable for a while. Nothing may be lost in the documents; live
events resume; the gateway says 503 with a problem naming the service while it is down; the engine's exporters
catch up after."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.projects.service import signing_variables
from shared.documents import DocumentStore, open_store
from shared.documents.models import Role
from tests.faults.platform import PROJECTS, Platform, Reporters, check_invariants, gauge, running, settle
from tests.fixtures.mongo import Nx27017
from tests.integration.workers.harness import project as project_data


@pytest.fixture
def mongo(tmp_path: Path) -> Iterator[Nx27017]:
    server = Nx27017(tmp_path / "nx")
    server.data_dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def mongo_platform(tmp_path: Path, mongo: Nx27017) -> AsyncIterator[Platform]:
    async with running(tmp_path, f"{mongo.url}faults") as started:
        yield started


class Follower:
    """A live-events reader that behaves as a browser's EventSource: when the stream ends or fails it waits, then
    reconnects with Last-Event-ID, so it gets what it missed."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.connections = 0
        self.last_id: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        token = self.platform.token("leader01", Role.LEADER)
        async with httpx.AsyncClient(base_url=self.platform.gateway_url, timeout=httpx.Timeout(10, read=60)) as http:
            while True:
                headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
                if self.last_id:
                    headers["Last-Event-ID"] = self.last_id
                with contextlib.suppress(httpx.HTTPError):
                    async with http.stream("GET", "/api/events", headers=headers) as response:
                        if response.status_code == 200:
                            self.connections += 1
                            await self._read(response)
                await asyncio.sleep(0.5)

    async def _read(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "id" in fields and "data" in fields:
                    self.events.append((fields["id"], fields.get("event", ""), json.loads(fields["data"])))
                    self.last_id = fields["id"]
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")


def started_instances(events: list[tuple[str, str, dict[str, Any]]]) -> Counter[int]:
    return Counter(data["payload"]["process_instance_key"] for _, kind, data in events
                   if kind == "engine.process_instance.created" and data["payload"].get("bpmn_process_id") == "problem-handling")


async def test_redis_stopped_and_started_under_load(platform: Platform, store: DocumentStore) -> None:
    follower = Follower(platform)
    follower.start()
    reporters = Reporters(platform)
    reporters.start()
    await asyncio.sleep(4)
    platform.redis.stop()  # SIGTERM: Redis writes its append-only file and exits
    down_at = time.monotonic()
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as http:
        await asyncio.sleep(2)
        ready = await http.get("/readyz")
        events_while_down = len(follower.events)
    await asyncio.sleep(max(0.0, 4 - (time.monotonic() - down_at)))
    platform.redis.start()
    await asyncio.sleep(4)
    await reporters.stop_and_drain()
    await platform.clock_add(120_000)
    try:
        await settle(platform, store, set(reporters.attempted))
        figures = await check_invariants(platform, store, reporters)
        # the follower reconnects every half second: give it the exporter's last batch
        for _ in range(60):
            if set(started_instances(follower.events)) == set(platform.instances_of("problem-handling")):
                break
            await asyncio.sleep(0.5)
    finally:
        await follower.stop()
    print("redis", figures, dict(reporters.refusals), "events", len(follower.events), "connections", follower.connections)

    assert ready.status_code == 503 and ready.json()["checks"]["redis"]["status"] == "down", ready.text
    assert figures["problems"] >= 40
    # live events resumed: the follower saw events after Redis came back, and (by Last-Event-ID and the live
    # exporter catching up from its position) every problem-handling instance's start exactly once
    assert follower.connections >= 2, "the stream ended with Redis and was opened again"
    assert len(follower.events) > events_while_down
    started = started_instances(follower.events)
    instances = set(platform.instances_of("problem-handling"))
    assert set(started) == instances, (len(started), len(instances))
    assert set(started.values()) == {1}, started.most_common(3)
    ids = [event_id for event_id, _, _ in follower.events]
    assert len(ids) == len(set(ids)), "no event delivered twice"


async def test_documents_store_unreachable_for_a_while(mongo_platform: Platform, mongo: Nx27017) -> None:
    platform = mongo_platform
    reporters = Reporters(platform, rate=3.0)
    reporters.start()
    await asyncio.sleep(4)
    mongo.stop()
    # The engine keeps going while the store is down: the four projects are signed (as an approval system or
    # another gateway would, straight to the engine), so the workers' lifecycle.register jobs meet the outage
    # and the documents exporter has records it cannot write yet.
    await sign_projects(platform)
    answers: list[httpx.Response] = []
    token = platform.token("investor01", Role.INVESTOR)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=20,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(2):
            answers.append(await http.get("/api/problems"))
        ready = await http.get("/readyz")
        lag_while_down = documents_lag(await platform.metrics(http))
    mongo.start()
    await asyncio.sleep(4)
    await reporters.stop_and_drain()
    await platform.clock_add(120_000)
    async with await open_store(platform.documents_url) as store:
        await settle(platform, store, set(reporters.attempted), within=240)
        figures = await check_invariants(platform, store, reporters)
    print("documents", figures, dict(reporters.refusals), "lag while down", lag_while_down)

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["title"] == "Documents store unavailable" and problem["type"].endswith("documents-unavailable")
        assert answer.headers["Retry-After"] == "5"
    assert ready.status_code == 503 and ready.json()["checks"]["documents"]["status"] == "down", ready.text
    assert reporters.refusals["503"] > 0, "reports during the outage were refused, then retried"
    assert figures["problems"] >= 15
    # the exporter fell behind while the store was down, and caught up after (settle saw its lag at 0)
    assert lag_while_down > 0
    # the register jobs met the outage, were handed back with their retries intact, and completed once after
    created = {r["key"]: r["value"] for r in platform.records("JOB", "CREATED") if r["value"]["type"] == "lifecycle.register"}
    failed = [r["value"] for r in platform.records("JOB", "FAILED") if r["key"] in created]
    completed = Counter(r["key"] for r in platform.records("JOB", "COMPLETED") if r["key"] in created)
    assert len(created) == len(PROJECTS) and completed == Counter(set(created)), (len(created), completed)
    assert failed and all("documents store unreachable" in f["errorMessage"] for f in failed), failed[:2]
    assert all(r["value"]["retries"] == created[r["key"]]["retries"]
               for r in platform.records("JOB", "FAILED") if r["key"] in created), "no retry spent on the outage"
    lifecycles = {v["processInstanceKey"] for v in created.values()}
    async with await open_store(platform.documents_url) as store:
        registered = [await store.projects.get(code) for code in PROJECTS]
    assert {p.process_instance_key for p in registered if p is not None} == lifecycles, registered


async def sign_projects(platform: Platform) -> None:
    from pyzeebe import ZeebeClient, create_insecure_channel

    channel = create_insecure_channel(grpc_address=f"127.0.0.1:{platform.engine_port}")
    try:
        client = ZeebeClient(channel)
        for code in PROJECTS:
            variables = signing_variables(project_data(code, investors=("investor01",)))
            await client.publish_message("project-signed", code, variables, time_to_live_in_milliseconds=60_000,
                                         message_id=f"signed:{code}")
    finally:
        await channel.close()


def documents_lag(metrics: str) -> float:
    return max((v for labels, v in gauge(metrics, "zeebe_exporter_lag_records") if labels.get("exporter") == "documents"),
               default=0.0)
