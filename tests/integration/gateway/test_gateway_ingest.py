"""Approval ingest: HMAC-signed posts of both systems, idempotent by record id, precise refusals, batches."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from gateway.app import create_app
from gateway.context import Services
from gateway.engine import EngineGateway
from shared.settings import ZeebeSettings
from tests.fixtures.engine import free_port
from tests.integration.gateway.conftest import INGEST_SECRETS
from tests.integration.gateway.support import (
    Api,
    activate_jobs,
    deploy,
    dumps,
    problem_of,
    service_process,
    sign,
    snapshot,
    variables_of,
)

GONGGAI = INGEST_SECRETS["gonggai"].encode()
TUZHI = INGEST_SECRETS["tuzhi"].encode()


def gonggai_record(lsh: str, project: str = "P-QJP-1", **overrides: object) -> dict[str, object]:
    record: dict[str, object] = {"lsh": lsh, "xmdm": project, "sxbm": "GG-SG-01", "sxmc": "建筑工程施工许可证",
                                 "blzt": "办结", "blsj": "2024-05-20 10:30:00", "bljgdm": "dept-zjj",
                                 "bljgmc": "住房和城乡建设局"}
    record.update(overrides)
    return record


async def post(api: Api, record: object, *, system: str = "gonggai", secret: bytes = GONGGAI,
               path: str = "/api/ingest/approvals", timestamp: int | None = None) -> httpx.Response:
    body = dumps(record)
    async with api.anonymous() as client:
        return await client.post(path, content=body, headers={**sign(secret, body, timestamp), "X-Qly-System": system})


async def deploy_docking(api: Api) -> str:
    job_type = f"docking-ingest-{uuid.uuid4().hex[:8]}"
    await deploy(api.services, ("docking.bpmn", service_process(api.services.settings.approval_docking_process,
                                                                  job_type)))
    return job_type


async def test_a_signed_record_is_stored_and_docked_once(api: Api) -> None:
    job_type = await deploy_docking(api)
    record = gonggai_record("GG-2024-0001")
    accepted = await post(api, record)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["status"] == "accepted" and body["supervised"] is True and body["process_instance_key"] > 0
    assert body["record"]["stage"] == "construction_permit" and body["record"]["status"] == "approved"
    assert body["record"]["occurred_at"] == "2024-05-20T10:30:00.000+08:00"

    stored = await api.services.store.approvals.get("gonggai", "GG-2024-0001")
    assert stored is not None and stored.project_code == "P-QJP-1" and stored.raw == record
    audit = await api.services.store.audit.list(target_kind="approval")
    assert [(e.user, e.action) for e in audit.items] == [("system:ingest-gonggai", "approval.record")]

    (job,) = await activate_jobs(api.services, job_type)
    assert variables_of(job) == {"source": "gonggai", "record": record}

    again = await post(api, {**record, "blzt": "退回"})  # a resend, even altered, is the same record
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["record"]["status"] == "approved"
    assert await activate_jobs(api.services, job_type, expect=1, timeout=0.5) == []  # docked once

    tuzhi = {"reviewId": "TZ-9", "projectCode": "P-HA-1", "reviewType": "施工图审查", "conclusion": "通过",
             "finishedAt": "2024-05-21T09:00:00+08:00", "agency": "图审中心"}
    accepted = await post(api, tuzhi, system="tuzhi", secret=TUZHI)
    assert accepted.status_code == 201 and accepted.json()["record"]["item_code"] == "TZ-SGT"
    unsupervised = await post(api, gonggai_record("GG-X", project="2099-NOT-OURS"))
    assert unsupervised.status_code == 201 and unsupervised.json()["supervised"] is False


async def test_unauthenticated_posts_are_refused_and_change_nothing(api: Api) -> None:
    await deploy_docking(api)
    before = await snapshot(api.services.store)
    record = gonggai_record("GG-FORGED")
    wrong_secret = await post(api, record, secret=TUZHI)
    assert "signature does not match" in problem_of(wrong_secret, 401)["detail"]
    wrong_system = await post(api, record, system="tuzhi")  # signed with gonggai's key
    assert problem_of(wrong_system, 401)
    unknown = await post(api, record, system="other")
    assert "unknown approval system" in problem_of(unknown, 401)["detail"]
    stale = await post(api, record, timestamp=int(time.time()) - 3600)
    assert "window is 300 s" in problem_of(stale, 401)["detail"]
    future = await post(api, record, timestamp=int(time.time()) + 3600)
    assert problem_of(future, 401)
    body = dumps(record)
    headers = {**sign(GONGGAI, body), "X-Qly-System": "gonggai"}
    async with api.anonymous() as client:
        tampered = await client.post("/api/ingest/approvals", content=body.replace(b"GG-FORGED", b"GG-FORGE2"),
                                     headers=headers)
        assert problem_of(tampered, 401)
        unsigned = await client.post("/api/ingest/approvals", json=record)
        assert problem_of(unsigned, 422)  # the signature headers are required
        staff = await api.as_("admin")  # a person's bearer token is no signature
        assert problem_of(await staff.post("/api/ingest/approvals", json=record), 422)
    assert await snapshot(api.services.store) == before


async def test_unreadable_records_get_precise_errors(api: Api) -> None:
    await deploy_docking(api)
    before = await snapshot(api.services.store)
    missing = await post(api, {k: v for k, v in gonggai_record("GG-2").items() if k != "xmdm"})
    assert problem_of(missing, 422)["detail"] == "gonggai record: 'xmdm' is missing"
    status = await post(api, gonggai_record("GG-3", blzt="审核中"))
    assert "unknown status blzt='审核中'" in problem_of(status, 422)["detail"]
    when = await post(api, gonggai_record("GG-4", blsj="next tuesday"))
    assert "'blsj'" in problem_of(when, 422)["detail"]
    not_json = await post(api, "x")  # a JSON string, not an object
    assert "JSON object" in problem_of(not_json, 422)["detail"]
    body = b"{not json"
    async with api.anonymous() as client:
        broken = await client.post("/api/ingest/approvals", content=body,
                                   headers={**sign(GONGGAI, body), "X-Qly-System": "gonggai"})
    assert "not JSON" in problem_of(broken, 422)["detail"]
    assert await snapshot(api.services.store) == before


async def test_batches_report_each_record(api: Api) -> None:
    job_type = await deploy_docking(api)
    await post(api, gonggai_record("B-1"))
    batch = {"records": [gonggai_record("B-1"), gonggai_record("B-2", project="P-QJP-2"),
                         gonggai_record("B-3", blzt="?"), gonggai_record("B-4", project="P-HA-1")]}
    response = await post(api, batch, path="/api/ingest/approvals/batch")
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["counts"] == {"accepted": 2, "duplicate": 1, "invalid": 1, "failed": 0}
    assert [r["status"] for r in out["results"]] == ["duplicate", "accepted", "invalid", "accepted"]
    assert out["results"][2]["detail"].startswith("gonggai record: unknown status")
    jobs = await activate_jobs(api.services, job_type, expect=3)
    assert sorted(variables_of(j)["record"]["lsh"] for j in jobs) == ["B-1", "B-2", "B-4"]
    empty = await post(api, {"records": []}, path="/api/ingest/approvals/batch")
    assert problem_of(empty, 422)
    too_many = await post(api, {"records": [gonggai_record(f"M-{i}") for i in range(501)]},
                          path="/api/ingest/approvals/batch")
    assert problem_of(too_many, 422)


async def test_engine_down_means_nothing_stored_and_a_retry(services: Services) -> None:
    dead = ZeebeSettings(address=f"127.0.0.1:{free_port()}")
    engine = EngineGateway.from_settings(dead, timeout=1.0)
    broken = Services(settings=services.settings, app=services.app, secrets=services.secrets, zeebe=dead,
                      store=services.store, redis=services.redis, bus=services.bus, engine=engine, clock=services.clock)
    app = create_app(services=broken)
    body = json.dumps(gonggai_record("DOWN-1")).encode()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client:
            response = await client.post("/api/ingest/approvals", content=body,
                                         headers={**sign(GONGGAI, body), "X-Qly-System": "gonggai"})
        assert problem_of(response, 503)["type"] == "/problems/engine-unavailable"
        assert await services.store.approvals.get("gonggai", "DOWN-1") is None
    finally:
        await engine.close()
