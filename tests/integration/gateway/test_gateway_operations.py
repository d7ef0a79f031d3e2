"""Operations on instances and incidents, read from the views the engine's documents exporter writes, and
the development clock. A dedicated engine per test, started with its exporters (documents, Redis)."""

from __future__ import annotations

import asyncio
import json
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
from tests.fixtures.engine import EngineProcess, started_engine
from tests.integration.gateway.conftest import open_services
from tests.integration.gateway.support import (
    Api,
    activate_jobs,
    bpmn,
    problem_of,
    seed_people,
    service_process,
    snapshot,
)


@pytest.fixture
def exporting_engine(tmp_path: Path, redis_url: str) -> Iterator[EngineProcess]:
    with started_engine(tmp_path / "engine", exporters={
            "documents": f"sqlite:///{tmp_path / 'documents.sqlite3'}", "redis": redis_url}) as process:
        yield process


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
    # who gave the retries is on record, once (the refused second retry left nothing)
    assert await audit_trail(api, "incident", incident["key"]) == [("engine.incident.retry", "designer", "process_designer")]

    other = (await designer.post("/api/processes/instances", json={"bpmn_process_id": f"work-{tag}"})).json()
    assert (await designer.post(f"/api/processes/instances/{other['process_instance_key']}/cancel")).status_code == 204

    async def terminated() -> bool:
        view = await services.store.engine.get_process_instance(other["process_instance_key"])
        return view is not None and view.state == "terminated"

    assert await eventually(terminated)
    assert problem_of(await designer.post(f"/api/processes/instances/{other['process_instance_key']}/cancel"), 404)
    assert await audit_trail(api, "process_instance", other["process_instance_key"]) == [
        ("engine.instance.start", "designer", "process_designer"), ("engine.instance.cancel", "designer", "process_designer")]
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


def two_step_process(process_id: str, first: str, second: str) -> bytes:
    def task(element_id: str, job_type: str) -> str:
        return (f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements><zeebe:taskDefinition '
                f'type="{job_type}"/></bpmn:extensionElements></bpmn:serviceTask>')

    return bpmn(process_id, f'''
      <bpmn:startEvent id="start"/>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="draft"/>{task("draft", first)}
      <bpmn:sequenceFlow id="f2" sourceRef="draft" targetRef="review"/>{task("review", second)}
      <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
      <bpmn:endEvent id="end"/>''')


async def test_modify_moves_a_token_and_a_bad_instruction_changes_nothing(api: Api) -> None:
    services = api.services
    designer = await api.as_("designer")
    tag = uuid.uuid4().hex[:8]
    first, second = f"draft-{tag}", f"review-{tag}"
    assert (await designer.post("/api/processes/deployments", files=[
        ("files", ("two.bpmn", two_step_process(f"two-{tag}", first, second), "application/xml"))])).status_code == 201
    key = (await designer.post("/api/processes/instances", json={"bpmn_process_id": f"two-{tag}"})).json()[
        "process_instance_key"]

    async def detail() -> dict[str, Any]:
        return (await designer.get(f"/api/processes/instances/{key}")).json()

    async def waiting_at(element_id: str) -> dict[str, Any] | None:
        found = await detail()
        return found if found.get("marks", {}).get("active") == {element_id: 1} else None

    before = await eventually(lambda: waiting_at("draft"))
    (draft,) = [e for e in before["elements"] if e["element_id"] == "draft"]

    refused = await designer.post(f"/api/processes/instances/{key}/modify", json={
        "terminate": [draft["key"]], "activate": [{"element_id": "no-such-step"}]})
    assert "no-such-step" in problem_of(refused, 422)["detail"]
    for activation, named in (({"element_id": "review", "variables": {"a": 1}, "variables_scope_id": "nowhere"},
                               "'nowhere'"),
                              ({"element_id": "review", "ancestor_element_instance_key": 999}, "'999'")):
        refused = await designer.post(f"/api/processes/instances/{key}/modify", json={
            "terminate": [draft["key"]], "activate": [activation]})
        assert named in problem_of(refused, 422)["detail"], activation
    # all or nothing: the draft's job is still there to be worked on
    (job,) = await activate_jobs(services, first)
    assert job.elementInstanceKey == draft["key"]
    for body in ({}, {"activate": [], "terminate": []}, {"terminate": [1, 1]}, {"activate": [{"element_id": ""}]},
                 {"activate": [{"element_id": "review", "variables": [1]}]}, {"terminate": [draft["key"]], "x": 1}):
        assert problem_of(await designer.post(f"/api/processes/instances/{key}/modify", json=body), 422), body
    assert problem_of(await designer.post("/api/processes/instances/123/modify", json={"terminate": [5]}), 404)

    moved = await designer.post(f"/api/processes/instances/{key}/modify", json={
        "terminate": [draft["key"]], "activate": [{"element_id": "review", "variables": {"moved_by": "designer"}}]})
    assert moved.status_code == 204, moved.text
    (review_job,) = await activate_jobs(services, second)
    assert review_job.elementId == "review" and json.loads(review_job.variables)["moved_by"] == "designer"
    after = await eventually(lambda: waiting_at("review"))
    states = {e["element_id"]: e["state"] for e in after["elements"]}
    assert states["draft"] == "ELEMENT_TERMINATED" and states["review"] == "ELEMENT_ACTIVATED"
    assert {j["key"]: j["state"] for j in after["jobs"]}[job.key] == "CANCELED"
    assert {v["name"]: v["value"] for v in after["variables"]}["moved_by"] == "designer"
    assert after["instance"]["state"] == "active"
    # one entry for the modification that happened, none for the refused ones; variable names, not values
    modified = sorted((await api.services.store.audit.list(target_kind="process_instance", target_id=key)).items,
                      key=lambda e: e.id)
    assert [e.action for e in modified] == ["engine.instance.start", "engine.instance.modify"]
    assert modified[1].after == {"terminate": [draft["key"]], "activate": [{"element_id": "review", "variables": ["moved_by"]}]}


async def test_delete_a_definition_version_without_running_instances(api: Api) -> None:
    services = api.services
    designer = await api.as_("designer")
    tag = uuid.uuid4().hex[:8]
    process_id, job_type = f"del-{tag}", f"del-{tag}"
    deployed = (await designer.post("/api/processes/deployments", files=[
        ("files", ("del.bpmn", service_process(process_id, job_type), "application/xml"))])).json()
    definition_key = deployed["processes"][0]["process_definition_key"]
    started = (await designer.post("/api/processes/instances", json={"bpmn_process_id": process_id})).json()

    refused = await designer.delete(f"/api/processes/definitions/{definition_key}")
    assert "running instances" in problem_of(refused, 409)["detail"]
    assert (await designer.post("/api/processes/instances", json={"bpmn_process_id": process_id})).status_code == 201

    # once no instance runs, the version can go; finished instances of it keep their view and diagram
    for _ in range(2):
        (job,) = await activate_jobs(services, job_type)
        await services.engine.complete_job(job.key, {})

    async def all_completed() -> bool:
        listed = (await designer.get("/api/processes/instances", params={"bpmn_process_id": process_id})).json()
        return listed["total"] == 2 and {i["state"] for i in listed["items"]} == {"completed"}

    assert await eventually(all_completed)
    deleted = await designer.delete(f"/api/processes/definitions/{definition_key}")
    assert deleted.status_code == 204, deleted.text
    # the refused deletion (instances running) left no entry; this one did
    assert await audit_trail(api, "process_definition", definition_key) == [
        ("engine.definition.delete", "designer", "process_designer")]

    async def gone() -> bool:
        listed = (await designer.get("/api/processes/definitions", params={"bpmn_process_id": process_id})).json()
        return listed["total"] == 0

    assert await eventually(gone)
    assert "not found" in problem_of(await designer.post("/api/processes/instances", json={
        "bpmn_process_id": process_id}), 404)["title"].lower()
    assert problem_of(await designer.delete(f"/api/processes/definitions/{definition_key}"), 404)
    detail = (await designer.get(f"/api/processes/instances/{started['process_instance_key']}")).json()
    assert detail["instance"]["state"] == "completed"
    assert (await designer.get(f"/api/processes/definitions/{definition_key}/xml")).content == service_process(
        process_id, job_type)
    assert problem_of(await designer.delete("/api/processes/definitions/4242"), 404)
    # a form's key is not a process definition's: nothing is deleted through this path
    form = json.dumps({"id": f"form-{tag}", "components": []}).encode()
    form_key = (await designer.post("/api/processes/deployments", files=[
        ("files", ("f.form", form, "application/json"))])).json()["forms"][0]["form_key"]
    assert "not the key of a known process definition" in problem_of(
        await designer.delete(f"/api/processes/definitions/{form_key}"), 404)["detail"]
    assert (await designer.get("/api/processes/forms", params={"form_id": f"form-{tag}"})).json()["total"] == 1


async def test_refused_operations_change_nothing(api: Api) -> None:
    before = await snapshot(api.services.store, skip={"engine_exporters"})
    for name in ("leader", "zrzy", "investor"):
        client = await api.as_(name)
        assert problem_of(await client.post("/api/processes/instances/1/cancel"), 403)
        assert problem_of(await client.post("/api/processes/incidents/1/retry"), 403)
        assert problem_of(await client.post("/api/processes/instances/1/modify", json={"terminate": [2]}), 403)
        assert problem_of(await client.delete("/api/processes/definitions/1"), 403)
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
    assert [a for a, _, _ in await audit_trail(api, "engine_clock", "clock")] == [
        "engine.clock.add", "engine.clock.pin", "engine.clock.reset"]

    production = Services(settings=api.services.settings, app=api.services.app.model_copy(update={"qly_env": "prod"}),
                          secrets=api.services.secrets, zeebe=api.services.zeebe, store=api.services.store,
                          redis=api.services.redis, bus=api.services.bus, engine=api.services.engine,
                          clock=api.services.clock)
    app = create_app(services=production)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
        client.headers["Authorization"] = f"Bearer {await api.token('designer')}"
        assert "development or demo mode" in problem_of(await client.post(
            "/api/processes/clock/add", json={"offset_milli": 1}), 404)["detail"]


async def audit_trail(api: Api, target_kind: str, target_id: int | str) -> list[tuple[str, str, str]]:
    """(action, user, role) of the entries on a target, in writing order (the ids begin with the wall clock's
    nanoseconds; the domain time ``at`` moves with the engine clock these tests move)."""
    page = await api.services.store.audit.list(target_kind=target_kind, target_id=target_id)
    return [(e.action, e.user, e.role) for e in sorted(page.items, key=lambda e: e.id)]
