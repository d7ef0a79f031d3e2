"""The gateway against real services: one engine for the session (tests that move its clock start their
own), a session Redis emptied per test, a fresh SQLite documents store per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.context import Services
from gateway.engine import EngineGateway
from gateway.settings import GatewaySettings
from shared.clock import Clock, EngineClock
from shared.documents import open_store
from shared.events import EventBus, connect_redis
from shared.settings import AppSettings, SecretSettings, ZeebeSettings
from tests.fixtures.engine import EngineProcess
from tests.integration.gateway.support import Api, seed_people, seed_projects

INGEST_SECRETS = {"gonggai": "gonggai-secret-for-tests-0123456789abcdef", "tuzhi": "tuzhi-secret-for-tests-0123456789abcdef"}


@pytest.fixture(scope="session")
def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    process = EngineProcess(tmp_path_factory.mktemp("gateway-engine") / "engine").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def gateway_settings() -> GatewaySettings:
    # Message names are global in an engine: unique ones keep the tests sharing it apart.
    tag = uuid.uuid4().hex[:8]
    # dashboard_stale_seconds=0: a test reads its own writes (test_gateway_dashboards covers the stale window).
    return GatewaySettings(dashboard_stale_seconds=0, scope_cache_seconds=0, login_max_failures=3, login_window_seconds=60, signing_message=f"signed-{tag}",
                           approval_message=f"approval-{tag}", problem_message=f"problem-{tag}",
                           cancel_message=f"cancelled-{tag}", approval_docking_process=f"docking-{tag}")


async def open_services(engine: EngineProcess, redis_url: str, db: Path, settings: GatewaySettings,
                        clock: Clock | None = None) -> Services:
    zeebe = ZeebeSettings(address=engine.address, management_url=engine.management_url)
    if clock is None:
        clock = EngineClock(engine.management_url)
        await clock.refresh()
    store = await open_store(f"sqlite:///{db}", clock=clock)
    redis = connect_redis(redis_url)
    secrets = SecretSettings(jwt_secret=SecretStr("jwt-secret-for-tests-0123456789abcdef0123"),
                             ingest_hmac_secret_gonggai=SecretStr(INGEST_SECRETS["gonggai"]),
                             ingest_hmac_secret_tuzhi=SecretStr(INGEST_SECRETS["tuzhi"]))
    return Services(settings=settings, app=AppSettings(qly_env="dev"), secrets=secrets, zeebe=zeebe, store=store,
                    redis=redis, bus=EventBus(redis, clock=clock), engine=EngineGateway.from_settings(zeebe),
                    clock=clock, owned=True)


@pytest.fixture
async def services(shared_engine: EngineProcess, redis_url: str, tmp_path: Path,
                   gateway_settings: GatewaySettings) -> AsyncIterator[Services]:
    opened = await open_services(shared_engine, redis_url, tmp_path / "documents.sqlite3", gateway_settings)
    await seed_people(opened.store)
    await seed_projects(opened.store)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def api(services: Services) -> AsyncIterator[Api]:
    app = create_app(services=services)
    async with app.router.lifespan_context(app):
        yield Api(services, httpx.ASGITransport(app=app))
