"""A notification job redelivered after its worker crashed sends once.

The worker (``python -m services.workers``, its own process) reaches the engine through a proxy. When the
robot endpoint receives the message, the proxy stops passing the worker's bytes before the endpoint
answers: the worker records the message as sent and tries to complete the job, but CompleteJob never
arrives. The worker is then killed (SIGKILL). Once the job's timeout has passed the engine hands the job
out again, to a fresh worker, which finds the message sent and only completes the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from services.demo.runtime import Clock, InProcessWorkers, settle
from services.demo.seed import SeedReport, fast_hasher, seed_directory
from services.workers.runtime import JobClock
from services.workers.settings import WorkerSettings
from shared.clock import EngineClock
from shared.documents import DocumentStore, open_store
from shared.documents.models import NotificationStatus
from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import ROOT, EngineProcess, eventually
from tests.integration.workers.harness import T0
from tests.integration.workers.sinks import HttpSink, Proxy, Request

MODEL = bpmn.process(
    "notify-once",
    bpmn.start(),
    bpmn.service("notify", "notification.send", headers={"template": "red-light", "audience": "office"}),
    bpmn.end(),
    bpmn.chain("start", "notify", "end"),
)


async def test_redelivered_notification_job_sends_once(engine: EngineProcess, tmp_path: Path, sink: HttpSink) -> None:
    clock = Clock(engine.management_url)
    await clock.pin(int(T0.timestamp() * 1000))
    documents = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    engine_clock = EngineClock(engine.management_url)
    await engine_clock.refresh()
    store = await open_store(documents, clock=JobClock(engine_clock))
    await seed_directory(store, fast_hasher(), SeedReport(), investors=1)
    gateway = RawGateway(engine.address)
    await gateway.deploy(("notify-once.bpmn", MODEL))

    proxy = Proxy(engine.port)
    await proxy.start()

    async def cut_before_answering(_request: Request) -> None:
        proxy.cut()

    sink.before_answer = cut_before_answering
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZEEBE_ADDRESS": proxy.address,
           "ZEEBE_MANAGEMENT_URL": engine.management_url, "DOCUMENTS_URL": documents,
           "DINGTALK_WEBHOOK_URL": sink.url, "WORKER_EVENTS": "false", "LOG_FORMAT": "json"}
    with open(tmp_path / "worker.log", "wb") as log:
        crashing = subprocess.Popen([sys.executable, "-m", "services.workers"], cwd=ROOT, env=env, stdout=log,
                                    stderr=subprocess.STDOUT)
    second: InProcessWorkers | None = None
    try:
        instance = await gateway.create("notify-once")
        sent = await eventually(lambda: _status(store), timeout=60)
        assert sent == NotificationStatus.SENT, (tmp_path / "worker.log").read_text()[-3000:]
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(timeout=10)
        await proxy.stop()
        log_of = RecordLog(engine)
        assert log_of.records("JOB", "COMPLETED") == []  # the first worker's CompleteJob never arrived

        sink.before_answer = None
        second = InProcessWorkers(engine.address, engine.management_url, store,
                                  settings=WorkerSettings(dingtalk_webhook_url=sink.url), engine_clock=engine_clock)
        await second.start()
        await clock.add(int(timedelta(minutes=2).total_seconds() * 1000))  # past the job's 60 s timeout
        await settle(second, engine.management_url, quiet=0.3)
        assert log_of.instance_state(instance) == "ELEMENT_COMPLETED"
        assert len(sink.requests) == 1
        [note] = (await store.notifications.list()).items
        assert note.status == NotificationStatus.SENT and note.attempts == 1
        assert len(log_of.records("JOB", "TIMED_OUT")) == 1  # it really was handed out a second time
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait()
        if second is not None:
            await second.stop()
        await proxy.stop()
        await gateway.close()
        await store.close()
        await clock.aclose()
        await engine_clock.aclose()


async def _status(store: DocumentStore) -> NotificationStatus | None:
    page = await store.notifications.list()
    return page.items[0].status if page.items and page.items[0].status == NotificationStatus.SENT else None

