"""After a kill -9 of the engine mid-run, the exported views match the engine's state once they have caught up.

Workers drive instances through a service task (some fail into incidents), a user task and a message
catch while the engine is SIGKILLed (its exporter process goes with it) and started again. Then every
instance's views are compared with the engine's own truth, read from its SQLite file: the entity tables
for what is still running, the record log for what has finished.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from shared.documents import DocumentStore, open_store
from shared.events import EventBus, connect_redis
from tests.engine import bpmn
from tests.engine.support import RawGateway
from tests.engine.test_exporters import caught_up, head_position, metric
from tests.fixtures.engine import EngineProcess, eventually

INSTANCES = 120
USER_TASK = "io.camunda.zeebe:userTask"
MODEL = bpmn.process(
    "claim",
    bpmn.start(),
    bpmn.service("step", "step"),
    bpmn.user_task("review", assignee="li", groups="unit-3"),
    bpmn.catch("go", bpmn.message_event("msg_go")),
    bpmn.end(),
    bpmn.chain("start", "step", "review", "go", "end"),
    extra=bpmn.message_def("msg_go", "go", "=id"),
)


def fails(n: int) -> bool:
    return n % 10 == 3


async def _work(address: str, job_type: str, done: list[int], failed: set[int], stop: asyncio.Event) -> None:
    """Complete jobs until told to stop, riding out the engine's death and restart."""
    gateway = RawGateway(address)
    try:
        while not stop.is_set():
            try:
                jobs = await gateway.activate(job_type, max_jobs=8, timeout=5_000, request_timeout=300, deadline=5)
                for job in jobs:
                    n = orjson.loads(job.variables)["n"]
                    if job_type == "step" and fails(n) and n not in failed:
                        await gateway.fail(job.key, 0, f"step {n} failed")
                        failed.add(n)  # once: after its incident is resolved, the step succeeds
                        continue
                    variables = {"stepped": n} if job_type == "step" else {"approved": n % 2 == 0}
                    await gateway.complete(job.key, variables)
                    done.append(n)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:  # NOT_FOUND: done before the crash
                    await asyncio.sleep(0.05)
    finally:
        await gateway.close()


class EngineTruth:
    """What the engine knows, read from its SQLite file (the record log and the entity tables)."""

    def __init__(self, data_dir: Path) -> None:
        conn = sqlite3.connect(data_dir / "engine.sqlite3")
        try:
            self.records = [(vt, intent, key, orjson.loads(value)) for vt, intent, key, value in conn.execute(
                "SELECT value_type, intent, record_key, value FROM records ORDER BY position")]
            self.tables = {table: [orjson.loads(row[0]) for row in conn.execute(f"SELECT data FROM {table}")]
                           for table in ("elements", "jobs", "incidents", "subscriptions")}
            self.current_variables = {(scope, name): orjson.loads(value) for scope, name, value in conn.execute(
                "SELECT scope_key, name, value FROM variables")}
        finally:
            conn.close()
        self.instance_state: dict[int, str] = {}
        self.element_state: dict[int, dict[int, str]] = defaultdict(dict)
        self.job_state: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)
        self.incident_state: dict[int, dict[int, str]] = defaultdict(dict)
        self.variables: dict[int, dict[int, tuple[str, Any]]] = defaultdict(dict)
        for value_type, intent, key, value in self.records:
            pik = value.get("processInstanceKey")
            if value_type == "PROCESS_INSTANCE" and intent != "SEQUENCE_FLOW_TAKEN":
                if value["bpmnElementType"] == "PROCESS":
                    self.instance_state[pik] = {"ELEMENT_COMPLETED": "completed",
                                                "ELEMENT_TERMINATED": "terminated"}.get(intent, "active")
                else:
                    self.element_state[pik][key] = intent
            elif value_type == "JOB":
                self.job_state[pik][key] = (intent, value["retries"])
            elif value_type == "JOB_BATCH":
                for job_key, job in zip(value["jobKeys"], value["jobs"], strict=True):
                    self.job_state[job["processInstanceKey"]][job_key] = ("ACTIVATED", job["retries"])
            elif value_type == "INCIDENT":
                self.incident_state[pik][key] = "active" if intent == "CREATED" else "resolved"
            elif value_type == "VARIABLE":
                self.variables[pik][key] = (value["name"], orjson.loads(value["value"]))

    def of_instance(self, table: str, pik: int) -> list[dict[str, Any]]:
        return [row for row in self.tables[table] if row["p"] == pik]


async def compare(store: DocumentStore, truth: EngineTruth, pik: int) -> None:
    views = store.engine
    instance = await views.get_process_instance(pik)
    assert instance is not None, pik
    assert instance.state == truth.instance_state[pik]
    running = {row["k"]: row for row in truth.of_instance("elements", pik)}
    assert (instance.state == "active") == (pik in running)
    open_incidents = {row["k"] for row in truth.of_instance("incidents", pik)}
    assert instance.has_incident == bool(open_incidents)

    elements = {e.key: e for e in await views.element_instances(pik)}
    assert {key: e.state for key, e in elements.items()} == truth.element_state[pik]
    for key, row in running.items():  # the tables agree with the log about what still runs
        if key != pik:
            assert elements[key].state == row["s"]
    assert all(e.start_date is not None for e in elements.values())

    jobs = {j.key: j for j in await views.jobs(pik)}
    assert {key: (j.state, j.retries) for key, j in jobs.items()} == truth.job_state[pik]
    for row in truth.of_instance("jobs", pik):
        assert jobs[row["k"]].state not in ("COMPLETED", "CANCELED") and jobs[row["k"]].retries == row["r"]
    for job in jobs.values():
        if job.type == USER_TASK:
            assert (job.model_extra or {})["user_task"] == {"assignee": "li", "candidate_groups": ["unit-3"]}

    incidents = {i.key: i for i in (await views.incidents(process_instance_key=pik)).items}
    assert {key: i.state for key, i in incidents.items()} == truth.incident_state[pik]
    assert {key for key, i in incidents.items() if i.state == "active"} == open_incidents

    variables = {v.key: (v.name, orjson.loads(v.value)) for v in await views.variables(pik)}
    assert variables == truth.variables[pik]
    for (scope, name), value in truth.current_variables.items():
        if scope == pik:
            assert (name, value) in variables.values()

    waiting = {row["k"] for row in truth.of_instance("subscriptions", pik) if row["kind"] == "message"}
    assert {s.key for s in await views.message_subscriptions(pik)} == waiting


@pytest.mark.parametrize("adapter", ["sqlite", "nx27017"])
async def test_after_a_kill_9_mid_run_the_views_match_the_engine_once_caught_up(
        adapter: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str,
        request: pytest.FixtureRequest) -> None:
    if adapter == "sqlite":
        documents_url = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    else:
        documents_url = f"{request.getfixturevalue('nx27017').url.rstrip('/')}/qly_kill_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("EXPORTER_DOCUMENTS_URL", documents_url)
    monkeypatch.setenv("EXPORTER_REDIS_URL", redis_url)
    engine = EngineProcess(tmp_path / "engine", sync="FULL").start()
    gateway = RawGateway(engine.address)
    stepped: list[int] = []
    reviewed: list[int] = []
    failed: set[int] = set()
    stop = asyncio.Event()
    workers: list[asyncio.Task[None]] = []
    try:
        await gateway.deploy(("claim.bpmn", MODEL))
        workers = [asyncio.create_task(_work(engine.address, "step", stepped, failed, stop)),
                   asyncio.create_task(_work(engine.address, USER_TASK, reviewed, failed, stop))]
        half = INSTANCES // 2
        created = [await gateway.create("claim", {"n": n, "id": f"c-{n}"}) for n in range(half)]
        # the exporters are following the log (with running instances in memory) when the engine dies
        assert await eventually(lambda: len(reviewed) >= half // 4, timeout=60)
        assert await caught_up(engine, "documents", "redis", timeout=60)
        created += [await gateway.create("claim", {"n": n, "id": f"c-{n}"}) for n in range(half, INSTANCES)]
        assert await eventually(lambda: len(reviewed) >= half, timeout=60)
        position = metric(engine, "zeebe_exporter_position", "documents") or 0
        engine.kill()
        assert 0 < position and len(reviewed) < INSTANCES - len(failed)
        engine.start()


        def waiting_or_stuck() -> tuple[int, int]:
            truth = EngineTruth(engine.data_dir)
            return (sum(1 for row in truth.tables["subscriptions"] if row["kind"] == "message"),
                    len(truth.tables["incidents"]))

        # every instance ends up waiting for its message, or stuck in an incident
        assert await eventually(lambda: sum(waiting_or_stuck()) == INSTANCES, timeout=120)
        waiting, stuck = waiting_or_stuck()
        assert stuck >= 1
        # half of the incidents are fixed and their instances go on; half of the instances get their message
        truth = EngineTruth(engine.data_dir)
        for row in sorted(truth.tables["incidents"], key=lambda r: r["k"])[::2]:
            await gateway.update_retries(row["j"], 1)
            await gateway.resolve(row["k"])
            waiting += 1
        assert await eventually(lambda: waiting_or_stuck()[0] == waiting, timeout=60)
        for n in range(0, INSTANCES, 2):
            await gateway.publish("go", f"c-{n}")
        stop.set()
        await asyncio.gather(*workers)

        assert await caught_up(engine, "documents", "redis", timeout=60)
        # instances that were running when the engine died had their views reloaded from the store
        assert (metric(engine, "zeebe_exporter_instances_loaded_total", "documents") or 0) > 0
        truth = EngineTruth(engine.data_dir)
        assert {"completed", "active"} == set(truth.instance_state.values())
        store = await open_store(documents_url)
        try:
            for pik in created:
                await compare(store, truth, pik)
            assert (await store.engine.list_process_instances(bpmn_process_id="claim")).total == INSTANCES
        finally:
            await store.close()

        # the live stream has each instance's end once, and nothing out of order
        bus = EventBus(connect_redis(redis_url))
        try:
            events = await bus.read_after("0-0", count=100_000)
        finally:
            await bus.aclose()
        positions = [e.payload["position"] for e in events]
        assert positions == sorted(positions)
        assert positions[-1] <= head_position(engine)
        completed = [e.payload["process_instance_key"] for e in events
                     if e.type == "engine.process_instance.completed"]
        assert sorted(completed) == sorted(pik for pik, state in truth.instance_state.items() if state == "completed")
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        await gateway.close()
        engine.stop()
