"""The supervision domain on real parts, for the workers' integration tests and the end-to-end tests: the
engine (controlled clock), the workers in this process, the documents store on a SQLite file, Redis for the
live events, and a local HTTP endpoint standing in for the DingTalk robot (the only thing outside the
machine). Conftests import the fixtures from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyzeebe import create_insecure_channel

from services.demo.actors import Front
from services.demo.deploy import deploy_models
from services.demo.runtime import Clock, InProcessWorkers, settle
from services.demo.seed import SeedReport, fast_hasher, seed_directory
from services.workers.runtime import JobClock
from services.workers.settings import WorkerSettings
from shared.clock import EngineClock
from shared.documents import DocumentStore, open_store
from shared.documents.models import Actor, ProjectData, Role, Task, TaskFilter, TaskStatus
from shared.events import EventBus, connect_redis
from tests.engine.support import RecordLog
from tests.fixtures.engine import EngineProcess
from tests.integration.workers.sinks import HttpSink, SmtpSink

DINGTALK_SECRET = "SEC-test-secret-0123456789"


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    server = HttpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class Platform:
    engine: EngineProcess
    store: DocumentStore
    front: Front
    workers: InProcessWorkers
    clock: Clock
    log: RecordLog
    events: EventBus

    front_actor = Actor(user="admin", role=Role.ADMIN)

    async def settle(self) -> None:
        # A generous quiet window: on a loaded machine a short one could call a busy platform settled.
        await settle(self.workers, self.engine.management_url, quiet=0.3)

    async def move(self, *, days: float = 0, hours: float = 0) -> None:
        """Move the engine clock (timers due meanwhile fire) and wait until the workers are done."""
        await self.clock.add(int(timedelta(days=days, hours=hours).total_seconds() * 1000))
        await self.settle()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.engine.clock() / 1000, UTC)

    async def open_tasks(self, **match: Any) -> list[Task]:
        page = await self.store.tasks.list(TaskFilter(status=TaskStatus.OPEN, **match))
        return page.items

    def incidents(self) -> list[dict[str, Any]]:
        return self.log.records("INCIDENT", "CREATED")


async def start_platform(engine: EngineProcess, tmp_path: Path, redis_url: str, *, at: datetime,
                         settings: WorkerSettings) -> tuple[Platform, SeedReport]:
    clock = Clock(engine.management_url)
    await clock.pin(int(at.timestamp() * 1000))
    engine_clock = EngineClock(engine.management_url, refresh_interval=1.0)
    await engine_clock.refresh()
    store = await open_store(f"sqlite:///{tmp_path / 'documents.sqlite3'}", clock=JobClock(engine_clock))
    events = EventBus(connect_redis(redis_url), clock=engine_clock)
    workers = InProcessWorkers(engine.address, engine.management_url, store, settings=settings, events=events,
                               engine_clock=engine_clock)
    channel = create_insecure_channel(grpc_address=engine.address)
    front = Front(channel, store)
    await deploy_models(front.zeebe)
    report = SeedReport()
    await seed_directory(store, fast_hasher(), report, investors=5)
    await workers.start()
    return Platform(engine, store, front, workers, clock, RecordLog(engine), events), report


@pytest.fixture
def robot_settings(sink: HttpSink) -> WorkerSettings:
    return WorkerSettings(dingtalk_webhook_url=sink.url, dingtalk_secret=DINGTALK_SECRET, notify_backoff="PT1S")


@pytest.fixture
async def platform(engine: EngineProcess, tmp_path: Path, redis_url: str,
                   robot_settings: WorkerSettings) -> AsyncIterator[Platform]:
    # Saturday 28 June 2025, 10:00 in Huai'an: 90 days later is Friday 26 September, just before National Day.
    started, _ = await start_platform(engine, tmp_path, redis_url, at=T0, settings=robot_settings)
    try:
        yield started
    finally:
        await started.workers.stop()
        await started.front.channel.close()
        await started.events.aclose()
        await started.clock.aclose()
        await started.store.close()


T0 = datetime(2025, 6, 28, 2, 0, tzinfo=UTC)


def project(code: str, *, county: str = "320812", industry: str = "machinery", signed_at: datetime = T0,
            investors: tuple[str, ...] = ("investor01",)) -> ProjectData:
    from services.demo.city import COUNTY_BY_CODE

    return ProjectData(project_code=code, name=f"液压件厂 {code}", investor={"company": "淮安恒力液压科技有限公司"},
                       county=COUNTY_BY_CODE[county], industry=industry, amount_cny=300_000_000,
                       signed_at=signed_at, investor_user_ids=list(investors))
