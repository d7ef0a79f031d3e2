"""What every request handler may use: the store, Redis and the event bus, the engine, the clock.

``Services.open()`` connects to everything from the environment (the running gateway); tests build
``Services`` from the real servers their fixtures started and hand it to ``create_app``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request

from gateway.auth.throttle import LoginThrottle
from gateway.auth.tokens import TokenService
from gateway.engine import EngineGateway
from gateway.settings import GatewaySettings
from shared.clock import Clock, EngineClock
from shared.documents import DocumentStore, open_store
from shared.events import EventBus, connect_redis
from shared.settings import AppSettings, DocumentsSettings, RedisSettings, SecretSettings, ZeebeSettings


@dataclass
class Services:
    settings: GatewaySettings
    app: AppSettings
    secrets: SecretSettings
    zeebe: ZeebeSettings
    store: DocumentStore
    redis: aioredis.Redis
    bus: EventBus
    engine: EngineGateway
    clock: Clock
    tokens: TokenService = field(init=False)
    throttle: LoginThrottle = field(init=False)
    owned: bool = False  # close the connections on shutdown (True when opened from the environment)

    def __post_init__(self) -> None:
        assert self.secrets.jwt_secret is not None  # SecretSettings fills it in dev, refuses to start in prod
        self.tokens = TokenService(self.secrets.jwt_secret.get_secret_value().encode(),
                                   access_seconds=self.settings.access_token_minutes * 60,
                                   refresh_seconds=self.settings.refresh_token_hours * 3600)
        self.throttle = LoginThrottle(self.redis, max_failures=self.settings.login_max_failures,
                                      window_seconds=self.settings.login_window_seconds)

    @property
    def dev_tools(self) -> bool:
        """Moving the engine's clock is for development and demos only."""
        return self.app.is_dev or self.app.demo_mode

    @classmethod
    async def open(cls, settings: GatewaySettings | None = None) -> Services:
        settings = settings or GatewaySettings()
        zeebe = ZeebeSettings()
        redis_settings = RedisSettings()
        clock = EngineClock(zeebe.actuator_url)
        store = await open_store(DocumentsSettings().documents_url, clock=clock)
        redis = connect_redis(redis_settings.redis_url)
        bus = EventBus(redis, stream=redis_settings.events_stream, maxlen=redis_settings.events_maxlen, clock=clock)
        engine = EngineGateway.from_settings(zeebe, timeout=settings.engine_timeout_seconds)
        return cls(settings=settings, app=AppSettings(), secrets=SecretSettings(), zeebe=zeebe, store=store,
                   redis=redis, bus=bus, engine=engine, clock=clock, owned=True)

    async def start(self) -> None:
        if isinstance(self.clock, EngineClock):
            self.clock.start()

    async def close(self) -> None:
        if isinstance(self.clock, EngineClock) and self.owned:  # a clock given by a test is the test's
            await self.clock.aclose()
        if self.owned:
            await self.engine.close()
            await self.redis.aclose()
            await self.store.close()


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
