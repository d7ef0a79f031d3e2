"""Health, readiness, deployments, definitions, starting instances: the thin slice, against the real engine."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.context import Services
from gateway.engine import EngineGateway
from shared.documents.models import ResourceKind
from shared.settings import ZeebeSettings
from tests.fixtures.engine import free_port
from tests.integration.gateway.support import Api, bpmn, form_json, problem_of, snapshot, user_task_process


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_health_readiness_and_openapi(api: Api) -> None:
    async with api.anonymous() as client:
        assert (await client.get("/healthz")).json() == {"status": "up"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert set(checks) == {"engine", "documents", "redis"}
        assert all(c["status"] == "up" for c in checks.values())
        assert "partition" in checks["engine"]["detail"]
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        schema = (await client.get("/openapi.json")).json()
        assert "/api/processes/deployments" in schema["paths"]
        assert schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] \
            == "/api/auth/token"
        missing = await client.get("/nope")
        body = problem_of(missing, 404)
        assert body["type"] == "/problems/not-found" and missing.headers["x-request-id"] == body["request_id"]


async def test_readiness_reports_each_dependency(services: Services, tmp_path: Path) -> None:
    dead = ZeebeSettings(address=f"127.0.0.1:{free_port()}")
    broken = Services(settings=services.settings, app=services.app, secrets=services.secrets, zeebe=dead,
                      store=services.store, redis=services.redis, bus=services.bus,
                      engine=EngineGateway.from_settings(dead, timeout=1.0), clock=services.clock)
    app = create_app(services=broken)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not ready"
        assert body["checks"]["engine"]["status"] == "down" and body["checks"]["engine"]["detail"]
        assert body["checks"]["documents"]["status"] == "up" and body["checks"]["redis"]["status"] == "up"
    finally:
        await broken.engine.close()


async def test_deploy_bpmn_and_form_then_start_an_instance(api: Api) -> None:
    process_id, form_id = unique("review"), unique("resolution")
    designer = await api.as_("designer")
    files = [("files", (f"{process_id}.bpmn", user_task_process(process_id, form_id=form_id), "application/xml")),
             ("files", (f"{form_id}.form", form_json(form_id), "application/json"))]
    deployed = await designer.post("/api/processes/deployments", files=files)
    assert deployed.status_code == 201, deployed.text
    body = deployed.json()
    (process,) = body["processes"]
    (form,) = body["forms"]
    assert process["bpmn_process_id"] == process_id and process["version"] == 1
    assert form["form_id"] == form_id

    kept = await api.services.store.resources.get(process["process_definition_key"])
    assert kept is not None and kept.kind == ResourceKind.PROCESS and kept.deployed_by == "designer"
    assert (await api.services.store.resources.latest("form", form_id)).key == form["form_key"]  # type: ignore[union-attr]

    listed = (await designer.get("/api/processes/definitions", params={"bpmn_process_id": process_id})).json()
    assert listed["total"] == 1 and listed["items"][0]["has_xml"] is True
    assert listed["items"][0]["deployed_at"].endswith("+08:00")
    xml = await designer.get(f"/api/processes/definitions/{process['process_definition_key']}/xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert xml.content == user_task_process(process_id, form_id=form_id)
    forms = (await designer.get("/api/processes/forms", params={"form_id": form_id})).json()
    assert forms["items"][0]["schema"]["components"][1]["key"] == "resolution"

    started = await designer.post("/api/processes/instances",
                                  json={"bpmn_process_id": process_id, "variables": {"projectCode": "P-QJP-1"}})
    assert started.status_code == 201, started.text
    assert started.json()["process_definition_key"] == process["process_definition_key"]
    assert started.json()["process_instance_key"] > 0

    unknown = await designer.post("/api/processes/instances", json={"bpmn_process_id": unique("nothing")})
    assert problem_of(unknown, 404)["grpc_status"] == "NOT_FOUND"


async def test_invalid_deployments_name_the_problem_and_keep_nothing(api: Api) -> None:
    designer = await api.as_("designer")
    before = await snapshot(api.services.store)
    broken = bpmn("broken", '<bpmn:startEvent id="start"/><bpmn:serviceTask id="work"/>'
                            '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="work"/>')
    rejected = await designer.post("/api/processes/deployments",
                                   files=[("files", ("broken.bpmn", broken, "application/xml"))])
    body = problem_of(rejected, 400)
    assert "work" in body["detail"]  # the engine's message names the element

    wrong_type = await designer.post("/api/processes/deployments",
                                     files=[("files", ("notes.txt", b"hello", "text/plain"))])
    assert problem_of(wrong_type, 422)["errors"][0]["field"] == "files[0]"
    bad_form = await designer.post("/api/processes/deployments",
                                   files=[("files", ("x.form", b'{"components": []}', "application/json"))])
    assert "non-empty 'id'" in problem_of(bad_form, 422)["detail"]
    assert await snapshot(api.services.store) == before


async def test_only_admins_and_designers_operate_processes(api: Api) -> None:
    before = await snapshot(api.services.store)
    process_id = unique("forbidden")
    for name in ("leader", "zrzy", "investor"):
        client = await api.as_(name)
        refused = await client.post("/api/processes/deployments",
                                    files=[("files", (f"{process_id}.bpmn", user_task_process(process_id), "x"))])
        assert problem_of(refused, 403)["required_roles"] == ["admin", "process_designer"]
        assert (await client.post("/api/processes/instances", json={"bpmn_process_id": process_id})).status_code == 403
        assert (await client.get("/api/processes/definitions")).status_code == 403
    anonymous = await api.anonymous().get("/api/processes/definitions")
    assert problem_of(anonymous, 401) and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert await snapshot(api.services.store) == before
    admin = await api.as_("admin")
    assert (await admin.get("/api/processes/definitions")).status_code == 200


async def test_camunda_oauth_settings_make_a_secure_channel(shared_engine) -> None:  # type: ignore[no-untyped-def]
    """With Camunda 8 credentials the gateway talks TLS + OAuth; our plain engine refuses that, and the failure
    is an engine-unavailable problem, not a crash."""
    from gateway.engine import EngineError

    settings = ZeebeSettings(address=shared_engine.address, client_id="gateway", client_secret="s3cret",
                             authorization_server_url=f"http://127.0.0.1:{free_port()}/oauth/token")
    engine = EngineGateway.from_settings(settings, timeout=2.0)
    try:
        # The same address answers a plain channel (the other tests), so failing here means TLS + OAuth was used.
        try:
            await engine.topology()
        except EngineError as exc:
            assert exc.status == 503 and exc.slug == "engine-unavailable"
        else:
            raise AssertionError("a TLS + OAuth call to a plain engine must fail")
    finally:
        await engine.close()
