"""``python -m services.workers``: runs every family against ZEEBE_ADDRESS, does work, exits cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pyzeebe import create_insecure_channel

from services.demo.actors import Front
from services.demo.deploy import deploy_models
from services.demo.seed import SeedReport, fast_hasher, seed_directory
from shared.documents import DocumentStore, open_store
from tests.fixtures.engine import ROOT, EngineProcess, eventually
from tests.integration.workers.harness import project


async def test_workers_run_as_a_service_and_stop_on_sigterm(engine: EngineProcess, tmp_path: Path) -> None:
    documents = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    store = await open_store(documents)
    channel = create_insecure_channel(grpc_address=engine.address)
    front = Front(channel, store)
    await deploy_models(front.zeebe)
    await seed_directory(store, fast_hasher(), SeedReport(), investors=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZEEBE_ADDRESS": engine.address,
           "ZEEBE_MANAGEMENT_URL": engine.management_url, "DOCUMENTS_URL": documents, "WORKER_EVENTS": "false",
           "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    log_path = tmp_path / "workers.log"
    with open(log_path, "wb") as log:
        workers = subprocess.Popen([sys.executable, "-m", "services.workers"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        await front.sign(project("2025-320812-31-03-000050"))
        registered = await eventually(lambda: _registered(store, "2025-320812-31-03-000050"), timeout=60)
        assert registered, log_path.read_text()[-3000:]
        workers.send_signal(signal.SIGTERM)
        assert workers.wait(timeout=40) == 0
        events = [json.loads(line)["event"] for line in log_path.read_text().splitlines() if line.startswith("{")]
        assert "workers starting" in events and events[-1] == "workers stopped"
        started = next(json.loads(line) for line in log_path.read_text().splitlines()
                       if line.startswith("{") and json.loads(line)["event"] == "workers starting")
        assert {"lifecycle.register", "notification.send", "io.camunda.zeebe:userTask"} <= set(started["tasks"])
    finally:
        if workers.poll() is None:
            workers.kill()
            workers.wait()
        await channel.close()
        await store.close()


async def _registered(store: DocumentStore, code: str) -> bool:
    found = await store.projects.get(code)
    return found is not None and found.process_instance_key is not None
