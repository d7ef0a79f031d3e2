"""Operations on instances and incidents, read from the views the engine's documents exporter writes, and
the development clock. A dedicated engine per test, started with its exporters (documents, Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from gateway.app import create_app
from gateway.context import Services
from gateway.settings import GatewaySettings
from tests.fixtures.engine import EngineProcess
from tests.integration.gateway.conftest import open_services
from tests.integration.gateway.support import (
    Api,
    activate_jobs,
    problem_of,
    seed_people,
    service_process,
    snapshot,
)


@pytest.fixture
def exporting_engine(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineProcess]:
    monkeypatch.setenv("EXPORTER_DOCUMENTS_URL", f"sqlite:///{tmp_path / 'documents.sqlite3'}")
    monkeypatch.setenv("EXPORTER_REDIS_URL", redis_url)
    process = EngineProcess(tmp_path / "engine").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def services(exporting_engine: EngineProcess, redis_url: str, tmp_path: Path,
                   gateway_settings: GatewaySettings) -> AsyncIterator[Services]:
    opened = await open_services(exporting_engine, redis_url, tmp_path / "documents.sqlite3", gateway_settings)
    await seed_people(opened.store)
    try:
        yield opened
    finally:
        await opened.close()


async def eventually(check: Any, timeout: float = 15.0) -> Any:
    for _ in range(int(timeout / 0.05)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    return await check()


async def test_instances_incidents_retry_and_cancel(api: Api) -> None:
    services = api.services
    designer = await api.as_("designer")
    tag = uuid.uuid4().hex[:8]
    job_type = f"work-{tag}"
    deployed = await designer.post("/api/processes/deployments", files=[
        ("files", ("work.bpmn", service_process(f"work-{tag}", job_type, retries=1), "application/xml"))])
    assert deployed.status_code == 201
    started = (await designer.post("/api/processes/instances", json={
        "bpmn_process_id": f"work-{tag}", "variables": {"project_code": "P-1", "amount": 2**60}})).json()
    key = started["process_instance_key"]

    (job,) = await activate_jobs(services, job_type)
    await services.engine.stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=0, errorMessage="bank is down"))

    async def incidents() -> list[dict[str, Any]]:
        return (await designer.get("/api/processes/incidents", params={"process_instance_key": key})).json()["items"]

    (incident,) = await eventually(incidents)
    assert incident["job_key"] == job.key and incident["error_message"] == "bank is down"
    assert incident["error_type"] == "JOB_NO_RETRIES"
    detail = (await designer.get(f"/api/processes/instances/{key}")).json()
    assert detail["instance"]["state"] == "active" and detail["instance"]["bpmn_process_id"] == f"work-{tag}"
    assert {v["name"]: v["value"] for v in detail["variables"]} == {"project_code": "P-1", "amount": 2**60}
    assert "work" in {e["element_id"] for e in detail["elements"]}
    assert [i["key"] for i in detail["incidents"]] == [incident["key"]]
    assert detail["marks"] == {"active": {"work": 1}, "completed": ["start"], "incidents": {"work": 1}}

    retried = await designer.post(f"/api/processes/incidents/{incident['key']}/retry", json={"retries": 2})
    assert retried.status_code == 200, retried.text
    assert retried.json() == {"incident_key": incident["key"], "job_key": job.key, "retries_updated": True,
                              "resolved": True}
    (again,) = await activate_jobs(services, job_type)
    assert again.key == job.key and again.retries == 2
    await services.engine.complete_job(again.key, {"done": True})

    async def completed() -> bool:
        view = await services.store.engine.get_process_instance(key)
        return view is not None and view.state == "completed"

    assert await eventually(completed)
    listed = (await designer.get("/api/processes/instances", params={"bpmn_process_id": f"work-{tag}"})).json()
    assert [(i["key"], i["state"]) for i in listed["items"]] == [(key, "completed")]
    assert (await designer.get("/api/processes/incidents", params={"process_instance_key": key,
                                                                  "state": "resolved"})).json()["total"] == 1
    assert problem_of(await designer.post(f"/api/processes/incidents/{incident['key']}/retry"), 409)

    other = (await designer.post("/api/processes/instances", json={"bpmn_process_id": f"work-{tag}"})).json()
    assert (await designer.post(f"/api/processes/instances/{other['process_instance_key']}/cancel")).status_code == 204

    async def terminated() -> bool:
        view = await services.store.engine.get_process_instance(other["process_instance_key"])
        return view is not None and view.state == "terminated"

    assert await eventually(terminated)
    assert problem_of(await designer.post(f"/api/processes/instances/{other['process_instance_key']}/cancel"), 404)
    assert problem_of(await designer.get("/api/processes/instances/123"), 404)

    # The XML of a process deployed by another client comes from the exporter's definition view.
    foreign = service_process(f"foreign-{tag}", job_type)
    deployment = await services.engine.deploy([("foreign.bpmn", foreign)])
    definition_key = deployment.processes[0].process_definition_key

    async def xml() -> Any:
        response = await designer.get(f"/api/processes/definitions/{definition_key}/xml")
        return response if response.status_code == 200 else None

    assert (await eventually(xml)).content == foreign
    definitions = (await designer.get("/api/processes/definitions")).json()["items"]
    assert {(d["bpmn_process_id"], d["has_xml"]) for d in definitions} >= {(f"work-{tag}", True),
                                                                          (f"foreign-{tag}", True)}


async def test_refused_operations_change_nothing(api: Api) -> None:
    before = await snapshot(api.services.store, skip={"engine_exporters"})
    for name in ("leader", "zrzy", "investor"):
        client = await api.as_(name)
        assert problem_of(await client.post("/api/processes/instances/1/cancel"), 403)
        assert problem_of(await client.post("/api/processes/incidents/1/retry"), 403)
        assert problem_of(await client.post("/api/processes/clock/add", json={"offset_milli": 1000}), 403)
        assert problem_of(await client.get("/api/processes/instances"), 403)
    assert await snapshot(api.services.store, skip={"engine_exporters"}) == before


async def test_the_development_clock(api: Api, exporting_engine: EngineProcess) -> None:
    designer = await api.as_("designer")
    before = (await designer.get("/api/processes/clock")).json()["epoch_milli"]
    moved = await designer.post("/api/processes/clock/add", json={"offset_milli": 90 * 86_400_000})
    assert moved.status_code == 200, moved.text
    assert moved.json()["epoch_milli"] - before >= 90 * 86_400_000
    assert moved.json()["instant"].endswith("+08:00")
    # The gateway's domain clock follows the engine at once.
    assert abs(api.services.clock.now().timestamp() * 1000 - moved.json()["epoch_milli"]) < 5_000
    pinned = await designer.post("/api/processes/clock/pin", json={"epoch_milli": 1_719_792_000_000})
    assert pinned.json()["epoch_milli"] == 1_719_792_000_000 == exporting_engine.clock()
    reset = await designer.delete("/api/processes/clock")
    assert abs(reset.json()["epoch_milli"] - before) < 60_000
    assert problem_of(await designer.post("/api/processes/clock/add", json={"offset_milli": "soon"}), 422)

    production = Services(settings=api.services.settings, app=api.services.app.model_copy(update={"qly_env": "prod"}),
                          secrets=api.services.secrets, zeebe=api.services.zeebe, store=api.services.store,
                          redis=api.services.redis, bus=api.services.bus, engine=api.services.engine,
                          clock=api.services.clock)
    app = create_app(services=production)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        client.headers["Authorization"] = f"Bearer {await api.token('designer')}"
        assert "development or demo mode" in problem_of(await client.post(
            "/api/processes/clock/add", json={"offset_milli": 1}), 404)["detail"]
