"""Assembles the engine process: durable state, processing, the gRPC gateway, management HTTP, the clock.

One asyncio loop runs everything that touches engine state; the journal writes on its own thread.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from pyzeebe.proto.gateway_pb2_grpc import add_GatewayServicer_to_server

from services.engine.clock import EngineClock
from services.engine.exporters.host import ExporterHost
from services.engine.exporters.service import ExportSettings
from services.engine.grpc.servicer import Gateway
from services.engine.management import ManagementServer, Reply, clock_body
from services.engine.metrics import Metrics, render_jobs_by_type
from services.engine.processing.engine import Engine
from services.engine.state.committer import GroupCommitter
from services.engine.state.journal import Journal
from services.engine.state.state import EngineState

log = structlog.get_logger("engine")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class EngineConfig:
    data_dir: Path = Path("./data/engine")
    host: str = "127.0.0.1"
    port: int = 26500
    management_port: int = 9600
    clock_controlled: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    synchronous: str = "FULL"
    exporters: ExportSettings = field(default_factory=ExportSettings)
    log_retention: int = 1_000_000  # records kept behind the head whatever the exporters (see exporters/host.py)
    log_compact_interval: float = 10.0


class DataDirInUse(RuntimeError):
    pass


class Scheduler:
    """Fires whatever falls due (job deadlines and back-offs, timers, message TTLs) on the engine clock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.wake = asyncio.Event()
        self.sleeping_until: int | None = None
        self.task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        next_due = self.engine.next_due()
        if next_due is not None and (self.sleeping_until is None or next_due < self.sleeping_until):
            self.wake.set()

    async def run(self) -> None:
        engine = self.engine
        while True:
            now = engine.now()
            next_due = engine.next_due()
            if next_due is not None and next_due <= now:
                engine.fire_due()
                await asyncio.sleep(0)
                continue
            self.sleeping_until = next_due
            delay = 60.0 if next_due is None else min((next_due - now) / 1000, 60.0)
            if engine.clock.pinned_ms is not None:
                delay = 60.0  # a pinned clock only moves when told to
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), max(delay, 0.001))
            except TimeoutError:
                pass


class EngineServer:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.ready = False
        self._lock_file: Any = None

    async def start(self) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        loop = asyncio.get_running_loop()
        self.journal = Journal(config.data_dir, synchronous=config.synchronous)
        self.exporters = ExporterHost(config.data_dir, self.journal, config.exporters, retention=config.log_retention,
                                      compact_interval=config.log_compact_interval, head=lambda: self.state.position)
        self.state = EngineState()
        meta = self.state.load(self.journal)
        self.clock = EngineClock(controlled=config.clock_controlled, offset_ms=self.state.clock_offset_ms,
                                 pinned_ms=self.state.clock_pinned_ms)
        self.metrics = Metrics()
        self.engine = Engine(self.state, self.clock, metrics=self.metrics)
        self.committer = GroupCommitter(self.state, self.journal, loop,
                                        pending_commands=self.engine.pending_commands, metrics=self.metrics)
        self.scheduler = Scheduler(self.engine)

        def on_change() -> None:
            self.committer.request()
            self.scheduler.poke()

        self.engine.attach(loop, on_change)
        self.clock.on_change(self._clock_changed)
        self.engine.recover(meta)

        self.grpc_server = grpc.aio.server(options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ])
        self.gateway = Gateway(self.engine, self.committer, host=config.host, port=config.port)
        add_GatewayServicer_to_server(self.gateway, self.grpc_server)
        self.health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc_server)
        address = f"{config.host}:{config.port}"
        try:
            if config.tls_cert and config.tls_key:
                credentials = grpc.ssl_server_credentials(
                    [(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])
                self.port = self.grpc_server.add_secure_port(address, credentials)
            else:
                self.port = self.grpc_server.add_insecure_port(address)
        except RuntimeError as error:
            raise OSError(f"can't listen on {address}: {error} (is another engine running?)") from error
        if not self.port:
            raise OSError(f"can't listen on {address} (is another engine running?)")
        await self.grpc_server.start()
        self.management = ManagementServer(self._management)
        self.management_port = await self.management.start(config.host, config.management_port)
        for service in ("", "gateway_protocol.Gateway"):
            await _maybe_await(self.health.set(service, health_pb2.HealthCheckResponse.SERVING))
        self.scheduler.task = asyncio.create_task(self.scheduler.run(), name="engine-scheduler")
        self.exporters.start()
        self.ready = True
        log.info("engine ready", grpc=f"{config.host}:{self.port}", management=self.management_port,
                 data_dir=str(config.data_dir), clock_controlled=config.clock_controlled,
                 position=self.state.position, instances=self.metrics.instances_active)

    def _lock_data_dir(self) -> None:
        path = self.config.data_dir / "engine.lock"
        self._lock_file = open(path, "a+")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise DataDirInUse(f"the data dir {self.config.data_dir} is in use by another engine") from error
        self._lock_file.truncate(0)
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def _clock_changed(self) -> None:
        self.state.clock_offset_ms = self.clock.offset_ms
        self.state.clock_pinned_ms = self.clock.pinned_ms
        self.state.mark_meta_dirty()
        self.committer.request()
        self.scheduler.wake.set()

    async def stop(self, grace: float = 2.0) -> None:
        self.ready = False
        if self.scheduler.task is not None:
            self.scheduler.task.cancel()
        await self.grpc_server.stop(grace)
        await self.management.stop()
        await self.exporters.stop()
        await self.committer.flush()
        self.committer.close()
        self.journal.close()
        log.info("engine stopped", position=self.state.position)

    # -- management HTTP --------------------------------------------------------------------------------

    async def _management(self, method: str, path: str, body: Any) -> Reply:
        if path in ("/ready", "/actuator/health/readiness"):
            return Reply(200 if self.ready else 503, {"status": "UP" if self.ready else "DOWN"})
        if path in ("/health", "/actuator/health", "/startup", "/actuator/health/liveness"):
            return Reply(200, {"status": "UP"})
        if path in ("/metrics", "/actuator/prometheus") and method == "GET":
            return Reply(200, self.metrics.render(self._gauges()) + render_jobs_by_type(self.state.jobs.values())
                         + self.exporters.render_metrics(),
                         "text/plain; version=0.0.4; charset=utf-8")
        if path.startswith("/actuator/clock"):
            return await self._clock_endpoint(method, path, body)
        return Reply(404, {"error": f"no endpoint {method} {path}"})

    def _gauges(self) -> dict[str, float]:
        state = self.state
        gauges: dict[str, float] = {
            "zeebe_jobs_activatable": sum(len(q) for q in state.activatable.values()),
            "zeebe_jobs_total_open": len(state.jobs),
            "zeebe_incidents_open": len(state.incidents),
            "zeebe_element_instances_active": len(state.elements),
            "zeebe_subscriptions_open": len(state.subscriptions),
            "zeebe_messages_buffered": len(state.messages),
            "zeebe_log_position": state.position,
        }
        return gauges

    async def _clock_endpoint(self, method: str, path: str, body: Any) -> Reply:
        clock = self.clock
        if not clock.controlled:
            return Reply(404, {"error": "the clock is not controlled; start the engine with --clock-controlled"})
        if method == "GET" and path == "/actuator/clock":
            return Reply(200, clock_body(clock.now_ms()))
        if method == "DELETE" and path == "/actuator/clock":
            clock.reset()
        elif method == "POST" and path == "/actuator/clock/pin":
            value = (body or {}).get("epochMilli") if isinstance(body, dict) else None
            if not isinstance(value, int) or isinstance(value, bool):
                return Reply(400, {"error": "expected a JSON body {\"epochMilli\": <integer>}"})
            clock.pin(value)
        elif method == "POST" and path == "/actuator/clock/add":
            value = (body or {}).get("offsetMilli") if isinstance(body, dict) else None
            if not isinstance(value, int) or isinstance(value, bool):
                return Reply(400, {"error": "expected a JSON body {\"offsetMilli\": <integer>}"})
            clock.add(value)
        else:
            return Reply(405 if path in ("/actuator/clock", "/actuator/clock/pin", "/actuator/clock/add") else 404,
                         {"error": f"no endpoint {method} {path}"})
        # everything that fell due with the move is processed and durable before the answer
        self.engine.fire_due()
        await self.committer.durable()
        return Reply(200, clock_body(clock.now_ms()))


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value
