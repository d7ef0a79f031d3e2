"""Projects: register (signing publishes the life-cycle message), update, import, list, detail, scoping."""

from __future__ import annotations

import json
import uuid

from gateway.context import Services
from shared.documents.models import (
    ApprovalRecord,
    ApprovalSource,
    Light,
    NewProblem,
    ProblemOrigin,
    ResponsibleUnit,
)
from tests.fixtures.domain import at
from tests.integration.gateway.support import (
    SEED,
    Api,
    activate_jobs,
    deploy,
    message_start_process,
    problem_of,
    project,
    snapshot,
    variables_of,
)

NEW = {
    "project_code": "2024-320812-34-03-000001", "name": "液压机组厂", "investor": {"company": "淮安液压有限公司"},
    "county_code": "320812", "industry": "machinery", "amount_cny": 250_000_000, "signed_at": "2024-02-05",
    "assistant_unit_id": "assist-qjp", "investor_user_ids": ["investor"],
}


async def test_registering_a_project_publishes_the_signing_message(api: Api) -> None:
    services = api.services
    job_type = f"lifecycle-{uuid.uuid4().hex[:8]}"
    await deploy(services, ("lifecycle.bpmn", message_start_process(
        f"lifecycle-{job_type}", services.settings.signing_message, job_type)))
    leader = await api.as_("leader")
    created = await leader.post("/api/projects", json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] and body["signing"]["published"] and body["signing"]["message_key"] > 0
    project = body["project"]
    assert project["stage"] == "signed" and project["light"] == "green"
    assert project["signed_at"] == "2024-02-05T00:00:00.000+08:00"  # a date is a local day
    assert project["county"] == {"code": "320812", "name": "清江浦区"}

    (job,) = await activate_jobs(services, job_type)
    variables = variables_of(job)
    assert variables["projectCode"] == variables["project_code"] == NEW["project_code"]
    assert variables["project"]["investor"]["company"] == "淮安液压有限公司"
    assert variables["project"]["signed_at"].startswith("2024-02-04T16:00:00")  # UTC in the engine

    stored = await services.store.projects.get(NEW["project_code"])
    assert stored is not None and stored.amount_cny == 250_000_000
    audit = await services.store.audit.list(target_kind="project", target_id=NEW["project_code"])
    assert [(e.user, e.role, e.action) for e in audit.items] == [("leader", "leader", "project.create")]
    assert audit.items[0].request_id == created.headers["x-request-id"]

    again = await leader.post("/api/projects", json=NEW)
    assert "already exists" in problem_of(again, 409)["detail"]
    sign = await leader.post(f"/api/projects/{NEW['project_code']}/sign")
    assert sign.status_code == 200 and sign.json()["published"] is False  # same message id, still buffered
    audit = await services.store.audit.list(target_kind="project", target_id=NEW["project_code"])
    assert [(e.user, e.action) for e in reversed(audit.items)] == [("leader", "project.create"), ("leader", "project.sign")]


async def test_update_and_validation(api: Api) -> None:
    admin = await api.as_("admin")
    body = {k: v for k, v in NEW.items() if k != "project_code"}
    created = await admin.put("/api/projects/P-NEW-9", json={**body, "county_code": "320999",
                                                             "county_name": "新区"})
    assert created.status_code == 201 and created.json()["signing"] is None  # PUT does not sign unless asked
    updated = await admin.put("/api/projects/P-NEW-9", json={**body, "county_code": "320999", "name": "改名"})
    assert updated.status_code == 200 and updated.json()["project"]["name"] == "改名"
    assert updated.json()["project"]["county"]["name"] == "新区"  # learned from the first project
    before = await snapshot(api.services.store)
    bad = await admin.post("/api/projects", json={**NEW, "amount_cny": -1, "signed_at": "yesterday"})
    errors = {e["field"]: e for e in problem_of(bad, 422)["errors"]}
    assert set(errors) == {"amount_cny", "signed_at"} and errors["amount_cny"]["pointer"] == "#/body/amount_cny"
    unknown_county = await admin.post("/api/projects", json={**NEW, "county_code": "110101"})
    assert problem_of(unknown_county, 422)["errors"][0]["field"] == "county_name"
    unknown_unit = await admin.post("/api/projects", json={**NEW, "assistant_unit_id": "nobody"})
    assert problem_of(unknown_unit, 422)["errors"][0]["field"] == "assistant_unit_id"
    extra = await admin.post("/api/projects", json={**NEW, "stage": "started"})
    assert problem_of(extra, 422)["errors"][0]["field"] == "stage"
    assert await snapshot(api.services.store) == before


async def test_lists_are_scoped_filtered_and_paged(api: Api) -> None:
    async def codes(user: str, **params: object) -> list[str]:
        client = await api.as_(user)
        response = await client.get("/api/projects", params=params)
        assert response.status_code == 200, response.text
        return [p["project_code"] for p in response.json()["items"]]

    assert sorted(await codes("leader")) == ["P-HA-1", "P-QJP-1", "P-QJP-2"]
    assert await codes("investor") == ["P-QJP-1"]
    assert await codes("investor2") == ["P-HA-1"]
    assert sorted(await codes("assist")) == ["P-QJP-1", "P-QJP-2"]  # the projects it assists
    assert sorted(await codes("qjp")) == ["P-QJP-1", "P-QJP-2"]  # its county's
    assert await codes("zrzy") == []  # no problem assigned to it yet
    await api.services.store.problems.create(NewProblem(
        project_code="P-HA-1", county_code="320803", origin=ProblemOrigin.WARNING, category="land", title="stall",
        raised_by="system:escalation", raised_at=at(2024, 5, 1),
        units=[ResponsibleUnit(unit_id="dept-zrzy", role="approval")]), actor=SEED)
    assert await codes("zrzy") == ["P-HA-1"]
    assert await codes("leader", county_code="320803") == ["P-HA-1"]
    assert sorted(await codes("leader", text="p-qjp")) == ["P-QJP-1", "P-QJP-2"]  # case-insensitive
    await api.services.store.projects.set_light("P-QJP-2", Light.RED, at=at(2024, 5, 2), reason="stall", actor=SEED)
    assert await codes("leader", light="red") == ["P-QJP-2"]
    assert await codes("investor", light="red") == []
    leader = await api.as_("leader")
    page = (await leader.get("/api/projects", params={"size": 2, "page": 2})).json()
    assert page["total"] == 3 and page["pages"] == 2 and len(page["items"]) == 1
    designer = await api.as_("designer")
    assert problem_of(await designer.get("/api/projects"), 403)
    assert problem_of(await leader.get("/api/projects", params={"size": 1000}), 422)["errors"][0]["field"] == "size"


async def test_detail_shows_timeline_approvals_problems_and_hides_others(api: Api) -> None:
    store = api.services.store
    await store.approvals.record(ApprovalRecord(
        source=ApprovalSource.GONGGAI, source_record_id="L1", project_code="P-QJP-1", item_code="GG-LX-01",
        item_name="企业投资项目备案", stage="filing", status="approved", occurred_at=at(2024, 3, 1)), actor=SEED)
    await store.projects.record_stage("P-QJP-1", "filing", at=at(2024, 3, 1), source="gonggai:L1", actor=SEED)
    await store.problems.create(NewProblem(
        id="pb-1", project_code="P-QJP-1", county_code="320812", origin=ProblemOrigin.INVESTOR, category="land",
        title="旧厂房", raised_by="investor", raised_at=at(2024, 4, 1),
        units=[ResponsibleUnit(unit_id="assist-qjp", role="assistant")]), actor=SEED)
    investor = await api.as_("investor")
    detail = (await investor.get("/api/projects/P-QJP-1")).json()
    assert [e["stage"] for e in detail["timeline"]] == ["signed", "filing"]
    assert detail["project"]["stage"] == "filing"
    assert [a["source_record_id"] for a in detail["approvals"]] == ["L1"]
    assert [p["id"] for p in detail["problems"]] == ["pb-1"]
    assert problem_of(await investor.get("/api/projects/P-HA-1"), 404)  # exists, but not theirs
    assert problem_of(await investor.get("/api/projects/NOPE"), 404)
    zrzy = await api.as_("zrzy")
    assert problem_of(await zrzy.get("/api/projects/P-QJP-1"), 404)


async def test_import_csv_reports_each_row(api: Api) -> None:
    services = api.services
    job_type = f"lifecycle-{uuid.uuid4().hex[:8]}"
    await deploy(services, ("lifecycle.bpmn", message_start_process(
        f"lifecycle-{job_type}", services.settings.signing_message, job_type)))
    csv_text = (
        "\ufeffproject_code,name,investor_company,county_code,industry,amount_cny,signed_at,assistant_unit_id,"
        "investor_user_ids\n"
        "IMP-1,新材料项目,甲公司,320812,materials,100000000,2024-03-01,assist-qjp,investor;investor2\n"
        "IMP-2,物流园,乙公司,320803,logistics,not-a-number,2024-03-02,,\n"
        "IMP-1,重复,丙公司,320812,materials,1,2024-03-03,,\n"
        "P-QJP-2,液压设备项目 P-QJP-2,P-QJP-2 机械有限公司,320812,machinery,120000000,2024-02-01,assist-qjp,\n"
        "IMP-3,无名县,丁公司,110000,food,5,2024-03-04,,\n"
        "\n"
    )
    leader = await api.as_("leader")
    dry = await leader.post("/api/projects/import", params={"dry_run": "true"},
                            files={"file": ("projects.csv", csv_text.encode(), "text/csv")})
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"] == {"created": 1, "updated": 1, "unchanged": 0, "invalid": 3, "failed": 0}
    assert dry.json()["dry_run"] is True
    assert await services.store.projects.get("IMP-1") is None  # a dry run saves nothing

    report = await leader.post("/api/projects/import", files={"file": ("projects.csv", csv_text.encode(), "text/csv")})
    assert report.status_code == 200, report.text
    rows = {r["row"]: r for r in report.json()["rows"]}
    assert rows[1]["status"] == "created" and rows[1]["signed"] is True
    assert rows[2]["status"] == "invalid" and rows[2]["errors"][0]["field"] == "amount_cny"
    assert rows[3]["status"] == "invalid" and rows[3]["errors"][0]["message"] == "duplicate of row 1"
    assert rows[4]["status"] == "updated"  # the row gives no investor contact, the seed had one
    assert rows[5]["status"] == "invalid" and rows[5]["errors"][0]["field"] == "county_name"
    assert report.json()["total"] == 5
    imported = await services.store.projects.get("IMP-1")
    assert imported is not None and imported.investor_user_ids == ["investor", "investor2"]
    (job,) = await activate_jobs(services, job_type)
    assert variables_of(job)["projectCode"] == "IMP-1"


async def test_import_json_and_refusals(api: Api) -> None:
    admin = await api.as_("admin")
    rows = [NEW, {**NEW, "project_code": "J-2", "name": ""}]
    report = await admin.post("/api/projects/import", params={"sign": "false"},
                              files={"file": ("p.json", json.dumps({"projects": rows}).encode(), "application/json")})
    assert report.status_code == 200, report.text
    assert [r["status"] for r in report.json()["rows"]] == ["created", "invalid"]
    assert report.json()["rows"][0]["signed"] is None
    before = await snapshot(api.services.store)
    bad_header = await admin.post("/api/projects/import", files={"file": ("p.csv", b"code,title\nx,y\n", "text/csv")})
    assert "lacks the column" in problem_of(bad_header, 422)["detail"]
    wrong = await admin.post("/api/projects/import", files={"file": ("p.xlsx", b"PK\x03\x04", "application/zip")})
    assert "import a .csv or .json file" in problem_of(wrong, 415)["detail"]
    for name in ("zrzy", "investor", "designer"):
        client = await api.as_(name)
        assert problem_of(await client.post("/api/projects/import", files={"file": ("p.json", b"[]", "application/json")}), 403)
        assert problem_of(await client.post("/api/projects", json={**NEW, "project_code": "X-1"}), 403)
        assert problem_of(await client.put("/api/projects/P-QJP-1", json={k: v for k, v in NEW.items()
                                                                         if k != "project_code"}), 403)
        assert problem_of(await client.post("/api/projects/P-QJP-1/sign"), 403)
    assert await snapshot(api.services.store) == before


async def test_kept_scopes_follow_changes(services: Services) -> None:
    """With scopes kept (deployment default), a change through the gateway shows at once, one behind its back
    within the window."""
    import asyncio

    import httpx

    from gateway.app import create_app

    keeping = Services(settings=services.settings.model_copy(update={"scope_cache_seconds": 0.5}), app=services.app,
                       secrets=services.secrets, zeebe=services.zeebe, store=services.store, redis=services.redis,
                       bus=services.bus, engine=services.engine, clock=services.clock)
    app = create_app(services=keeping)
    async with app.router.lifespan_context(app):
        api = Api(keeping, httpx.ASGITransport(app=app))
        investor, leader = await api.as_("investor"), await api.as_("leader")

        async def mine() -> list[str]:
            return sorted(p["project_code"] for p in (await investor.get("/api/projects")).json()["items"])

        assert await mine() == ["P-QJP-1"]
        body = {k: v for k, v in NEW.items() if k != "project_code"}
        assert (await leader.put("/api/projects/P-NEW-1", json=body)).status_code == 201  # investor_user_ids: investor
        assert await mine() == ["P-NEW-1", "P-QJP-1"]
        await api.services.store.projects.upsert(project("P-QUIET", investor_user_ids=["investor"]), actor=SEED)
        assert await mine() == ["P-NEW-1", "P-QJP-1"]  # kept for half a second
        await asyncio.sleep(0.6)
        assert await mine() == ["P-NEW-1", "P-QJP-1", "P-QUIET"]
