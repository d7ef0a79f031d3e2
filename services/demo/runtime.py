"""Running the platform inside one process for the scenario (and the end-to-end tests): a private engine
with a controlled clock, the workers in-process, and a way to know when everything has settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel

from services.workers.registry import build_worker
from services.workers.runtime import JobClock, WorkerContext
from services.workers.settings import WorkerSettings
from shared.clock import EngineClock
from shared.documents import DocumentStore
from shared.events import EventBus
from shared.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


class LocalEngine:
    """``python -m services.engine`` with a controlled clock on free ports, in ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.management_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
        with open(self.data_dir / "engine.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.engine", "--data-dir", str(self.data_dir / "engine"), "--port",
                 str(self.port), "--management-port", str(self.management_port), "--clock-controlled"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    async def start(self, within: float = 60.0) -> None:
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the engine exited with {self.process.returncode}; see {self.data_dir}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.management_url}/ready", timeout=1.0)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError("the engine did not become ready")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=30)


class Clock:
    """Moves an engine's controlled clock through Zeebe's actuator API."""

    def __init__(self, management_url: str) -> None:
        self.url = management_url.rstrip("/") + "/actuator/clock"
        self.http = httpx.AsyncClient(timeout=600)

    async def pin(self, epoch_ms: int) -> int:
        response = await self.http.post(self.url + "/pin", json={"epochMilli": epoch_ms})
        response.raise_for_status()
        return int(response.json()["epochMilli"])

    async def add(self, milliseconds: int) -> int:
        response = await self.http.post(self.url + "/add", json={"offsetMilli": milliseconds})
        response.raise_for_status()
        return int(response.json()["epochMilli"])

    async def aclose(self) -> None:
        await self.http.aclose()


class InProcessWorkers:
    """Every worker family in this process, against ``address``, with a way to tell when they are idle."""

    def __init__(self, address: str, management_url: str, store: DocumentStore, *,
                 settings: WorkerSettings | None = None, events: EventBus | None = None,
                 engine_clock: EngineClock | None = None) -> None:
        self.channel = create_insecure_channel(grpc_address=address)
        self.engine_clock = engine_clock or EngineClock(management_url, refresh_interval=1.0)
        self.http = httpx.AsyncClient()
        self.ctx = WorkerContext(store=store, zeebe=ZeebeClient(self.channel), clock=JobClock(self.engine_clock),
                                 settings=settings or WorkerSettings(), http=self.http, events=events)
        self.worker: ZeebeWorker = build_worker(self.channel, self.ctx, request_timeout_ms=10_000)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.engine_clock.refresh()
        self.engine_clock.start()
        self.task = asyncio.create_task(self.worker.work())

    def busy(self) -> bool:
        # pyzeebe 4.7 keeps the jobs in hand per task type until they are answered.
        return any(poller.task_state.count_active() for poller in self.worker._job_pollers)

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.worker.stop(), timeout=10)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.http.aclose()
        await self.engine_clock.aclose()
        await self.channel.close()


async def records_written(http: httpx.AsyncClient, management_url: str) -> int:
    text = (await http.get(management_url.rstrip("/") + "/metrics", timeout=30)).text
    for line in text.splitlines():
        if line.startswith("zeebe_records_written_total "):
            return int(float(line.split()[1]))
    raise RuntimeError("the engine's /metrics has no zeebe_records_written_total")


async def settle(workers: InProcessWorkers, management_url: str, *, quiet: float = 0.15,
                 within: float = 120.0, http: httpx.AsyncClient | None = None) -> None:
    """Return once the workers hold no job and the engine has written nothing for ``quiet`` seconds.

    Waiting workers long-poll, so a job the engine creates is handed out within milliseconds and its
    activation is a record: a quiet record log with idle workers means the work the last step caused is
    done (jobs waiting for a back-off or stuck in an incident excepted, by design).
    """
    client = http or httpx.AsyncClient()
    try:
        deadline = time.monotonic() + within
        last = -1
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            written = await records_written(client, management_url)
            now = time.monotonic()
            if workers.busy() or written != last:
                last = written
                quiet_since = now
            elif now - quiet_since >= quiet:
                return
            await asyncio.sleep(0.02)
    finally:
        if http is None:
            await client.aclose()
    raise TimeoutError(f"the platform did not settle within {within} s")
