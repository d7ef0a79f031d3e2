"""The exporters with the real engine process, a real Redis server and real documents stores.

The engine is started with its exporters enabled through the environment (EXPORTER_DOCUMENTS_URL,
EXPORTER_REDIS_URL), as the platform launcher does.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import psutil
import pytest
import redis.asyncio as aioredis

from services.engine.__main__ import parse_args
from shared.documents import DocumentStore, open_store
from shared.events import EventBus
from shared.redis_server import RedisServer
from tests.engine import bpmn
from tests.engine.support import RawGateway
from tests.fixtures.engine import EngineProcess, eventually

STREAM = "qly:events"

ORDER = bpmn.process(
    "order",
    bpmn.start(),
    bpmn.service("reserve", "reserve", headers={"region": "north"}),
    bpmn.user_task("approve", assignee="wang", groups="unit-7,office"),
    bpmn.catch("paid", bpmn.message_event("msg_paid")),
    bpmn.catch("cool_off", bpmn.timer("duration", "PT1H")),
    bpmn.end(),
    bpmn.chain("start", "reserve", "approve", "paid", "cool_off", "end"),
    extra=bpmn.message_def("msg_paid", "paid", "=order_id"),
)


def metric(engine: EngineProcess, name: str, exporter: str | None = None) -> float | None:
    label = f'{{exporter="{exporter}"}}' if exporter else ""
    found = re.search(rf"^{re.escape(name + label)} (\S+)$", engine.metrics(), re.MULTILINE)
    return float(found.group(1)) if found else None


def head_position(engine: EngineProcess) -> int:
    with sqlite3.connect(engine.data_dir / "engine.sqlite3") as conn:
        return conn.execute("SELECT MAX(position) FROM records").fetchone()[0] or 0


async def caught_up(engine: EngineProcess, *exporters: str, timeout: float = 30.0) -> bool:
    def done() -> bool:
        head = head_position(engine)
        return all(metric(engine, "zeebe_exporter_position", kind) == head for kind in exporters)

    return bool(await eventually(done, timeout=timeout, interval=0.1))


@pytest.fixture(params=["sqlite", "nx27017"])
def documents_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    server_url: str = request.getfixturevalue("nx27017").url
    return f"{server_url.rstrip('/')}/qly_exporter_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def views(documents_url: str) -> AsyncIterator[DocumentStore]:
    store = await open_store(documents_url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def exporting_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, documents_url: str,
                     redis_url: str) -> Iterator[EngineProcess]:
    monkeypatch.setenv("EXPORTER_DOCUMENTS_URL", documents_url)
    monkeypatch.setenv("EXPORTER_REDIS_URL", redis_url)
    engine = EngineProcess(tmp_path / "engine").start()
    try:
        yield engine
    finally:
        engine.stop()


async def test_views_show_instances_jobs_user_tasks_incidents_variables_timers_and_subscriptions(
        exporting_engine: EngineProcess, views: DocumentStore) -> None:
    engine = exporting_engine
    gateway = RawGateway(engine.address)
    try:
        deployed = await gateway.deploy(("order.bpmn", ORDER))
        definition_key = deployed.deployments[0].process.processDefinitionKey
        first = await gateway.create("order", {"order_id": "o-1", "project_code": "P-1"})
        second = await gateway.create("order", {"order_id": "o-2"})
        jobs = {job.processInstanceKey: job for job in await gateway.activate("reserve", max_jobs=2)}
        await gateway.complete(jobs[first].key, {"reserved": 3})
        await gateway.fail(jobs[second].key, 0, "out of stock")
        (task,) = await gateway.activate("io.camunda.zeebe:userTask", worker="inbox")
        assert await caught_up(engine, "documents")

        # the first instance waits in a user task; the second has an incident on its service task
        instance = await views.engine.get_process_instance(first)
        assert instance is not None and instance.state == "active" and not instance.has_incident
        assert instance.bpmn_process_id == "order" and instance.process_definition_key == definition_key
        failing = await views.engine.get_process_instance(second)
        assert failing is not None and failing.state == "active" and failing.has_incident
        (incident,) = (await views.engine.incidents(process_instance_key=second)).items
        assert (incident.state, incident.error_type, incident.error_message) == (
            "active", "JOB_NO_RETRIES", "out of stock")
        assert incident.element_id == "reserve" and incident.job_key == jobs[second].key
        assert (await views.engine.incidents(state="active")).total == 1

        states = {e.element_id: e.state for e in await views.engine.element_instances(first)}
        assert states == {"start": "ELEMENT_COMPLETED", "reserve": "ELEMENT_COMPLETED", "approve": "ELEMENT_ACTIVATED"}
        user_task = next(j for j in await views.engine.jobs(first) if j.type == "io.camunda.zeebe:userTask")
        assert user_task.key == task.key and user_task.state == "ACTIVATED" and user_task.worker == "inbox"
        extra = user_task.model_extra or {}
        assert extra["user_task"] == {"assignee": "wang", "candidate_groups": ["unit-7", "office"]}
        service_job = next(j for j in await views.engine.jobs(first) if j.type == "reserve")
        assert service_job.state == "COMPLETED"
        assert {"key": "region", "value": "north"} in (service_job.model_extra or {})["custom_headers"]
        variables = {v.name: orjson.loads(v.value) for v in await views.engine.variables(first)}
        assert variables == {"order_id": "o-1", "project_code": "P-1", "reserved": 3}
        definition = await views.engine.get_process_definition(definition_key)
        assert definition is not None and definition.bpmn_process_id == "order" and definition.version == 1
        assert (definition.model_extra or {})["bpmn_xml"] == ORDER.decode()

        # on: the user task completes, the instance waits for a message, then for a timer
        await gateway.complete(task.key, {"approved": True})
        assert await caught_up(engine, "documents")
        (subscription,) = await views.engine.message_subscriptions(first)
        assert (subscription.message_name, subscription.correlation_key, subscription.element_id) == (
            "paid", "o-1", "paid")
        await gateway.publish("paid", "o-1", {"amount": 120})
        assert await caught_up(engine, "documents")
        assert await views.engine.message_subscriptions(first) == []
        (timer,) = await views.engine.timers(first)
        assert timer.element_id == "cool_off"
        engine.clock_add(3_600_000)

        # the incident is resolved and the second instance goes on
        await gateway.update_retries(jobs[second].key, 1)
        await gateway.resolve(incident.key)
        (retried,) = await gateway.activate("reserve")
        await gateway.complete(retried.key)
        await gateway.cancel(second)
        assert await caught_up(engine, "documents")

        instance = await views.engine.get_process_instance(first)
        assert instance is not None and instance.state == "completed" and instance.end_date is not None
        assert await views.engine.timers(first) == []
        states = {e.element_id: e.state for e in await views.engine.element_instances(first)}
        assert set(states.values()) == {"ELEMENT_COMPLETED"} and set(states) == {
            "start", "reserve", "approve", "paid", "cool_off", "end"}
        variables = {v.name: orjson.loads(v.value) for v in await views.engine.variables(first)}
        assert variables["approved"] is True and variables["amount"] == 120
        cancelled = await views.engine.get_process_instance(second)
        assert cancelled is not None and cancelled.state == "terminated" and not cancelled.has_incident
        (resolved,) = (await views.engine.incidents(process_instance_key=second)).items
        assert resolved.state == "resolved"
        assert {e.element_id: e.state for e in await views.engine.element_instances(second)}["approve"] == (
            "ELEMENT_TERMINATED")
    finally:
        await gateway.close()


@pytest.mark.parametrize("documents_url", ["sqlite"], indirect=True)
async def test_the_redis_stream_carries_the_engine_events_in_log_order(
        exporting_engine: EngineProcess, redis_client: aioredis.Redis) -> None:
    engine = exporting_engine
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("order.bpmn", ORDER))
        pik = await gateway.create("order", {"order_id": "o-9", "project_code": "P-9"})
        (job,) = await gateway.activate("reserve")
        await gateway.fail(job.key, 0, "no stock")
        assert await caught_up(engine, "redis")
        incident_events = [e for e in await EventBus(redis_client).read_after("0-0", count=1000)
                           if e.type == "engine.incident.created"]
        await gateway.update_retries(job.key, 1)
        await gateway.resolve(incident_events[0].payload["incident_key"])
        (job,) = await gateway.activate("reserve")
        await gateway.complete(job.key, {"reserved": 1})
        (task,) = await gateway.activate("io.camunda.zeebe:userTask")
        await gateway.complete(task.key, {"approved": True})
        await gateway.publish("paid", "o-9")
        engine.clock_add(3_600_000)
        assert await caught_up(engine, "redis")
    finally:
        await gateway.close()

    events = await EventBus(redis_client, stream=STREAM).read_after("0-0", count=1000)
    positions = [e.payload["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)  # in order, once each
    mine = [e for e in events if e.payload.get("process_instance_key") == pik]
    assert all(e.scope.project_code == "P-9" for e in mine)
    assert [e.type for e in mine if not e.type.startswith("engine.element.")] == [
        "engine.process_instance.created",
        "engine.job.created", "engine.job.failed", "engine.incident.created", "engine.job.retries_updated",
        "engine.incident.resolved", "engine.job.completed",
        "engine.job.created", "engine.job.completed",
        "engine.message.correlated", "engine.timer.triggered",
        "engine.process_instance.completed",
    ]
    assert [(e.type, e.payload["element_id"]) for e in mine if e.type.startswith("engine.element.")] == [
        (f"engine.element.{state}", element)
        for element in ("start", "reserve", "approve", "paid", "cool_off", "end")
        for state in ("activated", "completed")]
    created = mine[0]
    assert created.payload["variables"] == {"order_id": "o-9", "project_code": "P-9"}
    user_task = next(e for e in mine if e.type == "engine.job.created" and e.payload["job_type"].endswith("userTask"))
    assert user_task.payload["user_task"] == {"assignee": "wang", "candidate_groups": ["unit-7", "office"]}
    assert user_task.payload["element_id"] == "approve"
    assert [e.type for e in events if "process_instance_key" not in e.payload] == [
        "engine.process.deployed", "engine.message.published"]


def _redis_exporting_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str,
                            **env: str) -> EngineProcess:
    monkeypatch.delenv("EXPORTER_DOCUMENTS_URL", raising=False)
    monkeypatch.setenv("EXPORTER_REDIS_URL", redis_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return EngineProcess(tmp_path / "engine").start()


async def test_redis_down_for_a_while_delays_events_but_loses_none_and_never_blocks_the_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    redis_server = RedisServer(data_dir=tmp_path / "redis", persistence="aof").start()
    engine = _redis_exporting_engine(tmp_path, monkeypatch, redis_server.url, ENGINE_LOG_RETENTION="1",
                                     ENGINE_LOG_COMPACT_INTERVAL="0.2")
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("simple.bpmn", bpmn.simple("simple", "work")))
        before = [await gateway.create("simple", {"n": i}) for i in range(5)]
        assert await caught_up(engine, "redis")
        redis_server.stop()

        # the engine goes on while Redis is away: instances start, jobs complete
        during = [await gateway.create("simple", {"n": i}) for i in range(5, 15)]
        jobs = await gateway.activate("work", max_jobs=20)
        assert len(jobs) == 15
        for job in jobs:
            await gateway.complete(job.key)
        assert await eventually(lambda: (metric(engine, "zeebe_exporter_failures_total", "redis") or 0) > 0)
        assert metric(engine, "zeebe_exporter_connected", "redis") == 0
        assert (metric(engine, "zeebe_exporter_lag_records", "redis") or 0) > 0
        # what the exporter has not passed stays in the log, however small the retention
        position = int(metric(engine, "zeebe_exporter_position", "redis") or 0)
        await asyncio.sleep(0.5)  # a few compaction rounds
        with sqlite3.connect(engine.data_dir / "engine.sqlite3") as conn:
            oldest = conn.execute("SELECT MIN(position) FROM records").fetchone()[0]
        assert oldest <= position + 1

        redis_server.start()
        assert await caught_up(engine, "redis")
        client = aioredis.from_url(redis_server.url, decode_responses=True)
        try:
            events = await EventBus(client).read_after("0-0", count=10_000)
        finally:
            await client.aclose()
        positions = [e.payload["position"] for e in events]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        completed = [e.payload["process_instance_key"] for e in events
                     if e.type == "engine.process_instance.completed"]
        assert sorted(completed) == sorted(before + during)
        # and once it has caught up, the log is compacted behind it
        assert await eventually(lambda: (metric(engine, "zeebe_log_records_compacted_total") or 0) > 0)
    finally:
        await gateway.close()
        engine.stop()
        redis_server.stop()


async def test_without_exporters_the_log_keeps_a_bounded_tail_and_a_restart_continues_after_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXPORTER_DOCUMENTS_URL", "EXPORTER_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENGINE_LOG_RETENTION", "50")
    monkeypatch.setenv("ENGINE_LOG_COMPACT_INTERVAL", "0.2")
    engine = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(engine.address)
    db = engine.data_dir / "engine.sqlite3"
    try:
        await gateway.deploy(("simple.bpmn", bpmn.simple("simple", "work")))
        for i in range(20):
            await gateway.create("simple", {"n": i})
        head = head_position(engine)
        assert head > 200

        def tail() -> tuple[int, int]:
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT MIN(position), COUNT(*) FROM records").fetchone()

        assert await eventually(lambda: tail() == (head - 49, 50))
        assert "zeebe_exporter_position" not in engine.metrics()

        engine.stop()
        engine.start()
        pik = await gateway.create("simple", {"n": 99})
        with sqlite3.connect(db) as conn:
            positions = [row[0] for row in conn.execute(
                "SELECT position FROM records WHERE position > ? ORDER BY position", (head,))]
            creation = conn.execute("SELECT position FROM records WHERE record_key = ? AND intent = 'CREATED'"
                                    " AND value_type = 'PROCESS_INSTANCE_CREATION'", (pik,)).fetchone()
        assert positions and positions[0] == head + 1  # positions go on from the head, never reused
        assert creation is not None and creation[0] > head
    finally:
        await gateway.close()
        engine.stop()


async def test_a_new_engine_log_is_exported_from_its_start_into_a_store_that_knew_another(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    monkeypatch.delenv("EXPORTER_REDIS_URL", raising=False)
    monkeypatch.setenv("EXPORTER_DOCUMENTS_URL", url)
    created = []
    for run in ("first", "second"):  # the second engine starts on a wiped data dir
        engine = EngineProcess(tmp_path / run).start()
        gateway = RawGateway(engine.address)
        try:
            await gateway.deploy(("simple.bpmn", bpmn.simple("simple", "work")))
            for i in range(3 if run == "first" else 1):
                created.append(await gateway.create("simple", {"run": run, "n": i}))
            assert await caught_up(engine, "documents")
        finally:
            await gateway.close()
            engine.stop()
    store = await open_store(url)
    try:
        # the new log's keys start again where the old one's did: its instance is there, not skipped
        instance = await store.engine.get_process_instance(created[-1])
        assert instance is not None and instance.state == "active"
        variables = {v.name: orjson.loads(v.value) for v in await store.engine.variables(created[-1])}
        assert variables == {"run": "second", "n": 0}
    finally:
        await store.close()


async def test_a_killed_exporter_process_is_started_again_and_catches_up(
        exporting_engine: EngineProcess, views: DocumentStore) -> None:
    engine = exporting_engine
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("simple.bpmn", bpmn.simple("simple", "work")))
        await gateway.create("simple")
        assert await caught_up(engine, "documents", "redis")
        os.kill(_exporter_pid(engine), signal.SIGKILL)
        late = [await gateway.create("simple", {"n": i}) for i in range(3)]
        assert await eventually(lambda: metric(engine, "zeebe_exporter_process_starts_total") == 2, timeout=20)
        assert await caught_up(engine, "documents", "redis")
        for pik in late:
            instance = await views.engine.get_process_instance(pik)
            assert instance is not None and instance.state == "active"
    finally:
        await gateway.close()


def _exporter_pid(engine: EngineProcess) -> int:
    assert engine.process is not None
    children = psutil.Process(engine.process.pid).children()
    (child,) = [c for c in children if "services.engine.exporters" in c.cmdline()]
    return child.pid


# -- configuration -------------------------------------------------------------------------------------------


def test_exporters_are_configured_by_flags_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXPORTER_DOCUMENTS_URL", "EXPORTER_REDIS_URL", "ENGINE_LOG_RETENTION", "EVENTS_STREAM"):
        monkeypatch.delenv(name, raising=False)
    assert parse_args([]).exporters.exporters == {}
    config = parse_args(["--exporter", "documents=sqlite:///d.sqlite3", "--exporter", "redis=redis://h:1/0",
                         "--log-retention", "500"])
    assert config.exporters.exporters == {"documents": "sqlite:///d.sqlite3", "redis": "redis://h:1/0"}
    assert config.log_retention == 500
    monkeypatch.setenv("EXPORTER_REDIS_URL", "redis://env:6379/0")
    monkeypatch.setenv("EVENTS_STREAM", "qly:other")
    config = parse_args(["--exporter", "documents=mongodb://m/qly"])
    assert config.exporters.exporters == {"redis": "redis://env:6379/0", "documents": "mongodb://m/qly"}
    assert config.exporters.events_stream == "qly:other"
    # a flag wins over the variable of the same exporter
    assert parse_args(["--exporter", "redis=redis://flag:1/0"]).exporters.exporters["redis"] == "redis://flag:1/0"


@pytest.mark.parametrize(("argv", "message"), [
    (["--exporter", "kafka=kafka://x"], "unknown exporter 'kafka'"),
    (["--exporter", "documents"], "an exporter is NAME=URL"),
    (["--exporter", "redis=sqlite:///x"], "the redis exporter needs a redis://"),
    (["--exporter", "documents=http://x"], "the documents exporter needs a sqlite://"),
    (["--log-retention", "0"], "--log-retention must keep at least 1 record"),
])
def test_bad_exporter_options_are_refused_precisely(argv: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
