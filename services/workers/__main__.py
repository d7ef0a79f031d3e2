"""python -m services.workers — every worker family against ZEEBE_ADDRESS until SIGTERM or Ctrl-C.

Camunda 8: set ZEEBE_CLIENT_ID, ZEEBE_CLIENT_SECRET and ZEEBE_AUTHORIZATION_SERVER_URL (and
ZEEBE_TOKEN_AUDIENCE) and the workers connect over TLS with OAuth client credentials; domain time is then the
system clock, unless ZEEBE_MANAGEMENT_URL names an actuator to follow. Against our engine, domain time
follows its actuator clock (real time unless the clock is controlled).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import grpc
import httpx
import redis.asyncio as aioredis
from pyzeebe import ZeebeClient, create_insecure_channel, create_oauth2_client_credentials_channel

from services.workers.metrics import REGISTRY, watch_outbox
from services.workers.registry import build_worker
from services.workers.runtime import JobClock, WorkerContext
from services.workers.settings import WorkerSettings
from shared.clock import Clock, EngineClock, SystemClock
from shared.documents import open_store
from shared.events import EventBus
from shared.logging import configure_logging, get_logger
from shared.metrics import serve_metrics
from shared.settings import RedisSettings, ZeebeSettings

log = get_logger("services.workers")


def zeebe_channel(settings: ZeebeSettings) -> grpc.aio.Channel:
    if settings.oauth_enabled:
        assert settings.client_id is not None and settings.client_secret is not None
        if not settings.authorization_server_url:
            raise SystemExit("ZEEBE_AUTHORIZATION_SERVER_URL is required with ZEEBE_CLIENT_ID/SECRET")
        return create_oauth2_client_credentials_channel(
            grpc_address=settings.address, client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            authorization_server=settings.authorization_server_url, audience=settings.token_audience)
    return create_insecure_channel(grpc_address=settings.address)


def live_events(clock: Clock) -> EventBus:
    """The Redis event stream, with short socket timeouts: a Redis that stops answering costs a job two
    seconds and a warning, never a hung worker (events are best effort, see WorkerContext.emit)."""
    redis_settings = RedisSettings()
    client = aioredis.from_url(redis_settings.redis_url, decode_responses=True, socket_timeout=2,
                               socket_connect_timeout=2)
    return EventBus(client, stream=redis_settings.events_stream, maxlen=redis_settings.events_maxlen, clock=clock)


async def start_metrics(settings: WorkerSettings) -> asyncio.Server | None:
    """Prometheus' /metrics. A port already taken costs the metrics, not the workers: supervision goes on."""
    if not settings.worker_metrics_port:
        return None
    try:
        server = await serve_metrics(REGISTRY, settings.worker_metrics_host, settings.worker_metrics_port)
    except OSError as error:
        log.warning("metrics endpoint not started", port=settings.worker_metrics_port, error=str(error))
        return None
    log.info("metrics endpoint", url=f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics")
    return server


async def run() -> int:
    configure_logging("workers")
    zeebe_settings = ZeebeSettings()
    settings = WorkerSettings()
    engine_clock = EngineClock(zeebe_settings.actuator_url, refresh_interval=1.0)
    # A Camunda 8 cluster reached with OAuth has no actuator clock to follow unless one is named explicitly.
    follow_engine = not zeebe_settings.oauth_enabled or zeebe_settings.management_url is not None
    if follow_engine:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            await engine_clock.refresh()
        engine_clock.start()
    base_clock: Clock = engine_clock if follow_engine else SystemClock()
    store = await open_store(clock=base_clock)
    channel = zeebe_channel(zeebe_settings)
    http = httpx.AsyncClient()
    events = live_events(base_clock) if settings.worker_events else None
    ctx = WorkerContext(store=store, zeebe=ZeebeClient(channel, max_connection_retries=-1),
                        clock=JobClock(base_clock), settings=settings, http=http, events=events)
    worker = build_worker(channel, ctx)
    watch_outbox(store)
    metrics_server = await start_metrics(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("workers starting", zeebe=zeebe_settings.address, tasks=[t.type for t in worker.tasks])
    work = asyncio.create_task(worker.work())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if work.done() and work.exception() is not None:
        log.error("workers stopped on an error", error=repr(work.exception()))
        code = 1
    else:
        log.info("stopping: finishing the jobs in hand")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.stop(), timeout=20)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(work, timeout=5)
    stopped.cancel()
    if metrics_server is not None:
        metrics_server.close()
    await http.aclose()
    if events is not None:
        await events.aclose()
    await engine_clock.aclose()
    await store.close()
    await channel.close()
    log.info("workers stopped")
    return code


def main() -> int:
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
