"""Problems (scoped lists, detail with history, reporting starts problem handling), flags and evaluations."""

from __future__ import annotations

import uuid

from shared.documents.models import Evaluation, NewProblem, ProblemOrigin, ProblemStatus, ResponsibleUnit
from tests.fixtures.domain import at
from tests.integration.gateway.support import (
    SEED,
    Api,
    activate_jobs,
    deploy,
    message_start_process,
    problem_of,
    snapshot,
    variables_of,
)


async def seed_problems(api: Api) -> None:
    store = api.services.store
    await store.problems.create(NewProblem(
        id="warn-1", project_code="P-QJP-1", county_code="320812", origin=ProblemOrigin.WARNING, category="land",
        title="90 天无进展", raised_by="system:escalation", raised_at=at(2024, 5, 1),
        units=[ResponsibleUnit(unit_id="assist-qjp", role="assistant"),
               ResponsibleUnit(unit_id="dept-zrzy", role="approval")]), actor=SEED)
    await store.problems.create(NewProblem(
        id="ha-1", project_code="P-HA-1", county_code="320803", origin=ProblemOrigin.UNIT, category="planning",
        title="规划条件", raised_by="zjj", raised_at=at(2024, 5, 3),
        units=[ResponsibleUnit(unit_id="dept-zjj", role="approval")]), actor=SEED)
    await store.problems.transition("ha-1", status=ProblemStatus.CLOSED, action="confirmed", actor=SEED,
                                    at=at(2024, 5, 9), note="已解决")


async def ids(api: Api, user: str, **params: object) -> list[str]:
    client = await api.as_(user)
    response = await client.get("/api/problems", params=params)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def test_problem_lists_and_details_are_scoped(api: Api) -> None:
    await seed_problems(api)
    assert await ids(api, "leader") == ["ha-1", "warn-1"]
    assert await ids(api, "zrzy") == ["warn-1"]
    assert await ids(api, "zjj") == ["ha-1"]
    assert await ids(api, "qjp") == ["warn-1"]  # the county unit sees its county's problems
    assert await ids(api, "investor") == ["warn-1"]  # problems of their project
    assert await ids(api, "investor2") == ["ha-1"]
    assert await ids(api, "leader", status="closed") == ["ha-1"]
    assert await ids(api, "leader", county_code="320812") == ["warn-1"]
    assert await ids(api, "leader", unit_id="dept-zrzy") == ["warn-1"]
    assert await ids(api, "zrzy", unit_id="dept-zjj") == []  # a filter never widens the scope
    assert await ids(api, "leader", **{"from": "2024-05-02", "to": "2024-05-03"}) == ["ha-1"]
    assert await ids(api, "leader", origin="warning") == ["warn-1"]

    zrzy = await api.as_("zrzy")
    detail = (await zrzy.get("/api/problems/warn-1")).json()
    assert detail["project_name"] == "液压设备项目 P-QJP-1"
    assert [u["unit_name"] for u in detail["units"]] == ["清江浦区项目帮办", "自然资源和规划局"]
    assert [h["action"] for h in detail["history"]] == ["raised"]
    assert detail["raised_at"] == "2024-05-01T08:00:00.000+08:00"
    assert problem_of(await zrzy.get("/api/problems/ha-1"), 404)
    assert problem_of(await zrzy.get("/api/problems/none"), 404)
    closed = (await (await api.as_("investor2")).get("/api/problems/ha-1")).json()
    assert [h["action"] for h in closed["history"]] == ["raised", "confirmed"] and closed["status"] == "closed"
    assert problem_of(await (await api.as_("designer")).get("/api/problems"), 403)


async def test_reporting_a_problem_starts_problem_handling(api: Api) -> None:
    services = api.services
    job_type = f"problems-load-{uuid.uuid4().hex[:8]}"
    await deploy(services, ("ph.bpmn", message_start_process(f"ph-{job_type}", services.settings.problem_message,
                                                             job_type)))
    investor = await api.as_("investor")
    reported = await investor.post("/api/problems", json={
        "id": "inv-report-1", "project_code": "P-QJP-1", "category": "land", "title": "旧厂房违建",
        "description": "历史遗留违建阻碍发证"})
    assert reported.status_code == 201, reported.text
    body = reported.json()
    assert body["created"] and body["message_key"] > 0
    problem = body["problem"]
    assert problem["origin"] == "investor" and problem["raised_by"] == "investor" and problem["status"] == "open"
    assert problem["county_code"] == "320812"
    (job,) = await activate_jobs(services, job_type)
    assert variables_of(job)["problemId"] == "inv-report-1" and variables_of(job)["projectCode"] == "P-QJP-1"
    again = await investor.post("/api/problems", json={
        "id": "inv-report-1", "project_code": "P-QJP-1", "category": "land", "title": "旧厂房违建"})
    assert again.status_code == 200 and again.json()["created"] is False
    assert await activate_jobs(services, job_type, timeout=0.3) == []  # one handling per problem

    staff = await api.as_("assist")
    by_unit = await staff.post("/api/problems", json={"project_code": "P-QJP-2", "category": "planning",
                                                      "title": "规划许可待审"})
    assert by_unit.status_code == 201 and by_unit.json()["problem"]["origin"] == "unit"

    before = await snapshot(services.store)
    other = await investor.post("/api/problems", json={"project_code": "P-HA-1", "category": "x", "title": "t"})
    assert problem_of(other, 404)  # not their project
    assert problem_of(await (await api.as_("zrzy")).post("/api/problems", json={
        "project_code": "P-QJP-1", "category": "x", "title": "t"}), 404)  # zrzy has no problem there yet
    for name in ("leader", "designer", "admin"):
        assert problem_of(await (await api.as_(name)).post("/api/problems", json={
            "project_code": "P-QJP-1", "category": "x", "title": "t"}), 403)
    assert problem_of(await investor.post("/api/problems", json={"project_code": "P-QJP-1", "category": "",
                                                                 "title": "t"}), 422)
    assert await snapshot(services.store) == before


async def test_flags_by_unit(api: Api) -> None:
    await seed_problems(api)
    store = api.services.store
    raised = await store.flags.raise_flag(unit_id="dept-zrzy", problem_id="warn-1", project_code="P-QJP-1",
                                          reason="30 天未办结", at=at(2024, 5, 31), actor=SEED)
    old = await store.flags.raise_flag(unit_id="dept-zjj", problem_id="ha-1", project_code="P-HA-1",
                                       reason="30 天未办结", at=at(2024, 1, 5), actor=SEED)
    await store.flags.lift(old.item.id, at=at(2024, 1, 20), actor=SEED)
    leader = await api.as_("leader")
    open_flags = (await leader.get("/api/flags")).json()
    assert [(f["unit_id"], f["open"], f["unit_name"]) for f in open_flags["items"]] == [
        ("dept-zrzy", True, "自然资源和规划局")]
    assert open_flags["items"][0]["project_name"] == "液压设备项目 P-QJP-1"
    every = (await leader.get("/api/flags", params={"state": "all", "from": "2024-01-01", "to": "2024-12-31"})).json()
    open_days = (api.services.clock.now() - at(2024, 5, 31)).days
    assert [(f["unit_id"], f["days"]) for f in every["items"]] == [("dept-zrzy", open_days), ("dept-zjj", 15)]
    zrzy = await api.as_("zrzy")
    assert [f["id"] for f in (await zrzy.get("/api/flags")).json()["items"]] == [raised.item.id]
    assert problem_of(await zrzy.get("/api/flags", params={"unit_id": "dept-zjj"}), 403)
    assert (await (await api.as_("zjj")).get("/api/flags")).json()["total"] == 0
    assert problem_of(await (await api.as_("investor")).get("/api/flags"), 403)


async def test_evaluations_by_investors_and_their_averages(api: Api) -> None:
    investor = await api.as_("investor")
    submitted = await investor.post("/api/evaluations", json={
        "id": "ev-1", "project_code": "P-QJP-1", "main_department_unit_id": "dept-zrzy",
        "general_department_unit_id": "dept-zjj", "county_score": 5, "main_department_score": 4,
        "general_department_score": 3, "comment": "满意"})
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["county_code"] == "320812" and submitted.json()["investor_user_id"] == "investor"
    assert (await investor.post("/api/evaluations", json={
        "id": "ev-1", "project_code": "P-QJP-1", "county_score": 1, "main_department_score": 1,
        "general_department_score": 1})).status_code == 200
    await api.services.store.evaluations.add(Evaluation(
        project_code="P-HA-1", investor_user_id="investor2", county_code="320803", main_department_unit_id="dept-zrzy",
        county_score=3, main_department_score=2, general_department_score=4, at=api.services.clock.now()), actor=SEED)

    mine = (await investor.get("/api/evaluations")).json()
    assert [e["id"] for e in mine["items"]] == ["ev-1"]
    assert problem_of(await investor.get("/api/evaluations", params={"project_code": "P-HA-1"}), 403)
    summary = (await (await api.as_("leader")).get("/api/evaluations/summary")).json()
    assert summary["count"] == 2
    assert [(c["id"], c["name"], c["average"]) for c in summary["by_county"]] == [
        ("320812", "清江浦区", 5.0), ("320803", "淮安区", 3.0)]
    assert {d["id"]: d["average"] for d in summary["by_department"]} == {"dept-zrzy": 3.0, "dept-zjj": 3.0}
    assert problem_of(await investor.get("/api/evaluations/summary"), 403)

    before = await snapshot(api.services.store)
    assert problem_of(await investor.post("/api/evaluations", json={
        "project_code": "P-HA-1", "county_score": 5, "main_department_score": 5, "general_department_score": 5}), 404)
    assert problem_of(await investor.post("/api/evaluations", json={
        "project_code": "P-QJP-1", "county_score": 6, "main_department_score": 5, "general_department_score": 5}), 422)
    assert problem_of(await investor.post("/api/evaluations", json={
        "project_code": "P-QJP-1", "main_department_unit_id": "nope", "county_score": 5, "main_department_score": 5,
        "general_department_score": 5}), 422)
    assert problem_of(await (await api.as_("zrzy")).post("/api/evaluations", json={
        "project_code": "P-QJP-1", "county_score": 5, "main_department_score": 5, "general_department_score": 5}), 403)
    assert await snapshot(api.services.store) == before
