"""Observability on real processes: Prometheus metrics on the engine (job backlog per type), the workers (jobs
per type and outcome, outbox depth) and the gateway (latency per route template), security headers, and
log lines of the gateway and the workers that join on the process instance key."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.documents import open_store
from shared.documents.models import Channel, NewNotification
from shared.metrics import Registry, serve_metrics
from tests.engine import bpmn
from tests.engine.support import RawGateway
from tests.fixtures.engine import ROOT, EngineProcess, eventually, free_port
from tests.integration.gateway.support import GatewayProcess, dumps, sign

SECRETS = {"jwt": "obs-jwt-secret-0123456789abcdef0123456789", "gonggai": "obs-gonggai-secret-0123456789abcdef0",
           "tuzhi": "obs-tuzhi-secret-0123456789abcdef01234"}


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text, or None when it is absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series == name and not labels:
            return float(value)
        match = re.fullmatch(re.escape(name) + r"\{(.*)\}", series)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1)))
        if found == labels:
            return float(value)
    return None


# -- the registry ---------------------------------------------------------------------------------------------


def test_registry_renders_labelled_counters_gauges_and_histograms() -> None:
    registry = Registry()
    jobs = registry.counter("t_jobs_total", "jobs", ("type", "outcome"))
    depth = registry.gauge("t_depth", "depth", ("status",))
    latency = registry.histogram("t_seconds", "latency", ("route",), buckets=(0.1, 1.0))
    jobs.inc(type="a", outcome="completed")
    jobs.inc(2, type="a", outcome="completed")
    jobs.inc(type='we"ird\\type\n', outcome="failed")
    depth.set(7, status="pending")
    for seconds in (0.05, 0.5, 5.0):
        latency.observe(seconds, route="/api/tasks/{job_key}")
    text = registry.render()
    assert "# TYPE t_jobs_total counter" in text and "# TYPE t_seconds histogram" in text
    assert sample(text, "t_jobs_total", type="a", outcome="completed") == 3
    assert 't_jobs_total{type="we\\"ird\\\\type\\n",outcome="failed"} 1' in text  # escaped per the format
    assert sample(text, "t_depth", status="pending") == 7
    assert sample(text, "t_seconds_bucket", route="/api/tasks/{job_key}", le="0.1") == 1
    assert sample(text, "t_seconds_bucket", route="/api/tasks/{job_key}", le="1.0") == 2
    assert sample(text, "t_seconds_bucket", route="/api/tasks/{job_key}", le="+Inf") == 3
    assert sample(text, "t_seconds_count", route="/api/tasks/{job_key}") == 3
    assert sample(text, "t_seconds_sum", route="/api/tasks/{job_key}") == pytest.approx(5.55)
    with pytest.raises(ValueError, match="takes labels"):
        jobs.inc(type="a")
    with pytest.raises(ValueError, match="only goes up"):
        jobs.inc(-1, type="a", outcome="x")
    with pytest.raises(ValueError, match="already registered"):
        registry.gauge("t_jobs_total", "again")
    assert registry.counter("t_jobs_total", "jobs", ("type", "outcome")) is jobs


async def test_the_metrics_endpoint_reads_gauges_at_scrape_time_and_survives_a_failing_reader() -> None:
    registry = Registry()
    depth = registry.gauge("t_outbox", "outbox")
    reads = []

    async def read() -> None:
        reads.append(1)
        depth.set(len(reads))

    async def broken() -> None:
        raise RuntimeError("store down")

    registry.on_scrape(read)
    registry.on_scrape(broken)
    server = await serve_metrics(registry, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = await client.get("/metrics")
            second = await client.get("/metrics")
            other = await client.get("/")
    finally:
        server.close()
        await server.wait_closed()
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert sample(first.text, "t_outbox") == 1 and sample(second.text, "t_outbox") == 2
    assert other.status_code == 404


# -- the engine ------------------------------------------------------------------------------------------------


async def test_the_engine_reports_open_jobs_per_type_and_state(engine: EngineProcess) -> None:
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("a.bpmn", bpmn.simple("obs-a", "obs.type-a")),
                             ("b.bpmn", bpmn.simple("obs-b", "obs.type-b")))
        for _ in range(3):
            await gateway.create("obs-a")
        await gateway.create("obs-b")
        text = engine.metrics()
        assert sample(text, "zeebe_jobs_open", type="obs.type-a", state="ACTIVATABLE") == 3
        assert sample(text, "zeebe_jobs_open", type="obs.type-b", state="ACTIVATABLE") == 1
        jobs = await gateway.activate("obs.type-a", max_jobs=2)
        assert len(jobs) == 2
        await gateway.fail(jobs[0].key, retries=0, message="broken on purpose")
        text = engine.metrics()
        assert sample(text, "zeebe_jobs_open", type="obs.type-a", state="ACTIVATABLE") == 1
        assert sample(text, "zeebe_jobs_open", type="obs.type-a", state="ACTIVATED") == 1
        assert sample(text, "zeebe_jobs_open", type="obs.type-a", state="INCIDENT") == 1
        await gateway.complete(jobs[1].key)
        assert sample(engine.metrics(), "zeebe_jobs_open", type="obs.type-a", state="ACTIVATED") is None
    finally:
        await gateway.close()


# -- workers and gateway, joined on the process instance key -------------------------------------------------

DOCKING = bpmn.process(
    "obs-docking",
    bpmn.start(),
    # a real worker task; problemId names no problem, so the worker raises an incident and logs it
    bpmn.service("due", "calendar.due-date", inputs={"problemId": '="missing-" + source'}),
    bpmn.end(),
    bpmn.chain("start", "due", "end"),
)
FINE = bpmn.simple("obs-fine", "calendar.due-date")


def json_lines(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


async def test_workers_and_gateway_metrics_and_logs_that_join_on_the_instance(
        engine: EngineProcess, redis_url: str, tmp_path: Path) -> None:
    documents = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    store = await open_store(documents)
    await store.notifications.enqueue(NewNotification(id="obs-note", channel=Channel.DINGTALK, recipient="office",
                                                      body="red light", created_at=store.clock.now()))
    raw = RawGateway(engine.address)
    await raw.deploy(("docking.bpmn", DOCKING), ("fine.bpmn", FINE))
    metrics_port = free_port()
    worker_log = tmp_path / "workers.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZEEBE_ADDRESS": engine.address,
           "ZEEBE_MANAGEMENT_URL": engine.management_url, "DOCUMENTS_URL": documents, "REDIS_URL": redis_url,
           "WORKER_EVENTS": "false", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
           "WORKER_METRICS_PORT": str(metrics_port)}
    with open(worker_log, "wb") as log:
        workers = subprocess.Popen([sys.executable, "-m", "services.workers"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    gateway = GatewayProcess(engine_address=engine.address, management_url=engine.management_url,
                             documents_url=documents, redis_url=redis_url, secrets=SECRETS,
                             log_path=tmp_path / "gateway.log",
                             extra_env={"LOG_LEVEL": "INFO", "GATEWAY_APPROVAL_DOCKING_PROCESS": "obs-docking"})
    try:
        gateway.start()
        for _ in range(2):
            await raw.create("obs-fine")
        record = {"lsh": "OBS-1", "xmdm": "P-OBS-1", "sxbm": "GG-HP-01", "sxmc": "环境影响评价审批", "blzt": "受理",
                  "blsj": time.strftime("%Y-%m-%d %H:%M:%S"), "bljgmc": "生态环境局"}
        body = dumps(record)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            accepted = await client.post("/api/ingest/approvals", content=body,
                                         headers={**sign(SECRETS["gonggai"].encode(), body), "X-Qly-System": "gonggai"})
            assert accepted.status_code == 201, accepted.text
            instance = accepted.json()["process_instance_key"]
            request_id = accepted.headers["x-request-id"]

            async def worker_metrics() -> str | None:
                try:
                    text = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
                except httpx.HTTPError:
                    return None
                done = sample(text, "qly_worker_jobs_total", type="calendar.due-date", outcome="completed")
                failed = sample(text, "qly_worker_jobs_total", type="calendar.due-date", outcome="incident")
                return text if done == 2 and failed == 1 else None

            text = await eventually(worker_metrics, timeout=60, interval=0.3)
            assert text, worker_log.read_text()[-3000:]
            assert sample(text, "qly_worker_job_seconds_count", type="calendar.due-date") == 3
            assert sample(text, "qly_notification_outbox", status="pending") == 1
            assert sample(text, "qly_notification_outbox", status="failed") == 0
            assert sample(engine.metrics(), "zeebe_jobs_open", type="calendar.due-date", state="INCIDENT") == 1

            # the gateway: latency per route template, security headers, data never rendered as a page
            await client.get("/api/projects/P-OBS-1")  # 401, but counted under its template
            await client.get("/no/such/path")
            probes = sample((await client.get("/metrics")).text, "qly_gateway_request_seconds_count", method="GET",
                            route="/healthz") or 0
            answer = await client.get("/healthz")
            for name, value in (("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                                ("referrer-policy", "no-referrer"),
                                ("content-security-policy", "default-src 'none'; frame-ancestors 'none'")):
                assert answer.headers[name] == value, name
            docs = await client.get("/docs")  # Swagger UI loads its scripts: no data CSP on that page
            assert docs.status_code == 200 and "content-security-policy" not in docs.headers
            assert docs.headers["x-frame-options"] == "DENY"
            scraped = (await client.get("/metrics")).text
            assert sample(scraped, "qly_gateway_requests_total", method="POST", route="/api/ingest/approvals",
                          status="201") == 1
            assert sample(scraped, "qly_gateway_requests_total", method="GET", route="/api/projects/{project_code}",
                          status="401") == 1
            assert sample(scraped, "qly_gateway_requests_total", method="GET", route="unmatched", status="404") == 1
            assert sample(scraped, "qly_gateway_request_seconds_count", method="GET", route="/healthz") == probes + 1
            assert "P-OBS-1" not in scraped  # templates, never the values in a path

        # one key joins the gateway's line that started the instance and the worker's line that failed its job
        gateway_lines = [line for line in json_lines(tmp_path / "gateway.log")
                         if line.get("process_instance_key") == instance]
        assert any(line.get("event") == "process instance created" and line.get("request_id") == request_id
                   for line in gateway_lines), gateway_lines
        worker_lines = [line for line in json_lines(worker_log) if line.get("process_instance_key") == instance]
        assert any(line.get("event") == "job failed for good" and line.get("job_type") == "calendar.due-date"
                   and line.get("service") == "workers" for line in worker_lines), worker_lines
    finally:
        gateway.stop()
        workers.terminate()
        workers.wait(timeout=30)
        await raw.close()
        await store.close()


async def test_the_metrics_token_guards_the_gateway_metrics(engine: EngineProcess, redis_url: str,
                                                            tmp_path: Path) -> None:
    gateway = GatewayProcess(engine_address=engine.address, management_url=engine.management_url,
                             documents_url=f"sqlite:///{tmp_path / 'documents.sqlite3'}", redis_url=redis_url,
                             secrets=SECRETS, log_path=tmp_path / "gateway.log",
                             extra_env={"GATEWAY_METRICS_TOKEN": "scrape-token-0123456789"}).start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            refused = await client.get("/metrics")
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
        assert refused.status_code == 401 and wrong.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "GATEWAY_METRICS_TOKEN" in refused.json()["detail"]
        assert allowed.status_code == 200 and "qly_gateway_requests_total" in allowed.text
    finally:
        gateway.stop()


def test_a_taken_metrics_port_costs_the_metrics_not_the_workers(tmp_path: Path) -> None:
    """Two worker processes on one machine with the default port: the second still works."""
    from services.workers.__main__ import start_metrics
    from services.workers.settings import WorkerSettings

    async def scenario() -> tuple[bool, bool]:
        port = free_port()
        settings = WorkerSettings(worker_metrics_port=port)
        first = await start_metrics(settings)
        second = await start_metrics(settings)
        try:
            return first is not None, second is None
        finally:
            if first is not None:
                first.close()
                await first.wait_closed()

    assert asyncio.run(scenario()) == (True, True)
    assert asyncio.run(_off()) is None


async def _off() -> object:
    from services.workers.__main__ import start_metrics
    from services.workers.settings import WorkerSettings

    return await start_metrics(WorkerSettings(worker_metrics_port=0))
