"""Dashboards on a known city: every figure checked, the horse-race formula by hand, and the Redis cache
invalidated by writes through the gateway and by domain events on the stream (not by engine events)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.context import Services
from gateway.dashboards.cache import GENERATION
from gateway.settings import GatewaySettings
from shared.clock import DISPLAY_ZONE, FixedClock
from shared.documents.models import (
    ApprovalRecord,
    Evaluation,
    Light,
    NewProblem,
    ProblemOrigin,
    ProblemStatus,
    ResponsibleUnit,
)
from shared.events import EventScope
from tests.fixtures.domain import at
from tests.fixtures.engine import EngineProcess
from tests.integration.gateway.conftest import open_services
from tests.integration.gateway.support import SEED, Api, problem_of, project, seed_people, seed_projects

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=DISPLAY_ZONE)


@pytest.fixture
async def services(shared_engine: EngineProcess, redis_url: str, tmp_path: Path,
                   gateway_settings: GatewaySettings) -> AsyncIterator[Services]:
    opened = await open_services(shared_engine, redis_url, tmp_path / "documents.sqlite3", gateway_settings,
                                 clock=FixedClock(NOW))
    await seed_people(opened.store)
    await seed_projects(opened.store)
    await seed_city(opened)
    try:
        yield opened
    finally:
        await opened.close()


async def seed_city(services: Services) -> None:
    store = services.store
    await store.projects.upsert(project("P-QJP-3"), actor=SEED)
    await store.projects.record_stage("P-QJP-3", "construction_permit", at=at(2024, 4, 1), source="t", actor=SEED)
    await store.projects.upsert(project("P-HA-2", "320803"), actor=SEED)
    await store.projects.record_stage("P-HA-2", "in_production", at=at(2024, 3, 1), source="t", actor=SEED)
    await store.projects.set_light("P-QJP-2", Light.RED, at=at(2024, 6, 3), reason="90 天无进展", actor=SEED)
    await store.projects.set_light("P-HA-1", Light.RED, at=at(2024, 5, 20), reason="90 天无进展", actor=SEED)
    await store.problems.create(NewProblem(
        id="a", project_code="P-QJP-2", county_code="320812", origin=ProblemOrigin.WARNING, category="land",
        title="stall", raised_by="system:escalation", raised_at=at(2024, 6, 3),
        units=[ResponsibleUnit(unit_id="assist-qjp", role="assistant"),
               ResponsibleUnit(unit_id="dept-zrzy", role="approval")]), actor=SEED)
    await store.problems.create(NewProblem(
        id="b", project_code="P-HA-1", county_code="320803", origin=ProblemOrigin.UNIT, category="planning",
        title="规划条件", raised_by="zjj", raised_at=at(2024, 5, 3),
        units=[ResponsibleUnit(unit_id="dept-zjj", role="approval")]), actor=SEED)
    await store.problems.transition("b", status=ProblemStatus.CLOSED, action="confirmed", actor=SEED, at=at(2024, 5, 9))
    await store.problems.create(NewProblem(
        id="c", project_code="P-QJP-1", county_code="320812", origin=ProblemOrigin.INVESTOR, category="land",
        title="旧厂房", raised_by="investor", raised_at=at(2023, 12, 20),
        units=[ResponsibleUnit(unit_id="dept-zrzy", role="approval")]), actor=SEED)
    await store.problems.transition("c", status=ProblemStatus.CLOSED, action="confirmed", actor=SEED,
                                    at=at(2024, 1, 10))
    await store.flags.raise_flag(unit_id="dept-zrzy", problem_id="a", project_code="P-QJP-2", reason="30 天未办结",
                                 at=at(2024, 6, 10), actor=SEED)
    await store.evaluations.add(Evaluation(
        project_code="P-QJP-1", investor_user_id="investor", county_code="320812", main_department_unit_id="dept-zrzy",
        general_department_unit_id="dept-zjj", county_score=5, main_department_score=4, general_department_score=3,
        at=at(2024, 6, 1)), actor=SEED)
    await store.evaluations.add(Evaluation(
        project_code="P-HA-1", investor_user_id="investor2", county_code="320803", main_department_unit_id="dept-zjj",
        county_score=3, main_department_score=5, general_department_score=4, at=at(2024, 6, 2)), actor=SEED)
    for i, day in enumerate((10, 12)):
        await store.approvals.record(ApprovalRecord(
            source="gonggai", source_record_id=f"R{i}", project_code="P-QJP-3", item_code="GG-GH-01",
            item_name="建设工程规划许可证", status="approved", occurred_at=at(2024, 6, day)), actor=SEED)


async def get(api: Api, path: str, **params: Any) -> dict[str, Any]:
    client = await api.as_("leader")
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_summary_for_the_big_screen(api: Api) -> None:
    summary = await get(api, "/api/dashboards/summary")
    assert summary["as_of"] == "2024-06-15T12:00:00.000+08:00"
    assert summary["period"] == {"start": "2024-01-01T00:00:00.000+08:00", "end": "2025-01-01T00:00:00.000+08:00"}
    assert summary["projects"] == {"total": 5, "amount_cny": 600_000_000, "red": 2,
                                   "by_stage": {"signed": 3, "construction_permit": 1, "in_production": 1},
                                   "by_light": {"green": 3, "red": 2}}
    assert summary["counties"] == [{"code": "320803", "name": "淮安区", "projects": 2, "red": 1},
                                   {"code": "320812", "name": "清江浦区", "projects": 3, "red": 1}]
    assert [(r["project_code"], r["reason"]) for r in summary["red_lights_month"]] == [("P-QJP-2", "90 天无进展")]
    assert summary["red_lights_month_count"] == 1
    assert summary["problems"] == {"found": 2, "resolved": 2, "completion_rate": 1.0, "mean_resolve_hours": 324.0,
                                   "median_resolve_hours": 324.0, "open_now": 1}
    trend = {p["month"]: (p["found"], p["resolved"]) for p in summary["trend"]}
    assert list(trend) == [f"2023-{m:02d}" for m in range(7, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]
    assert {m: v for m, v in trend.items() if v != (0, 0)} == {
        "2023-12": (1, 0), "2024-01": (0, 1), "2024-05": (1, 1), "2024-06": (1, 0)}
    assert [(f["unit_id"], f["count"], f["project_codes"]) for f in summary["flags"]] == [
        ("dept-zrzy", 1, ["P-QJP-2"])]
    assert [(s["stage"], s["at_stage"], s["reached"]) for s in summary["funnel"]] == [
        ("signed", 3, 5), ("filing", 0, 2), ("land", 0, 2), ("planning", 0, 2), ("construction_permit", 1, 2),
        ("started", 0, 1), ("completed", 0, 1), ("in_production", 1, 1)]
    assert [(t["project_code"], t["at"]) for t in summary["ticker"]] == [
        ("P-QJP-3", "2024-06-12T08:00:00.000+08:00"), ("P-QJP-3", "2024-06-10T08:00:00.000+08:00")]
    narrower = await get(api, "/api/dashboards/summary", **{"from": "2024-05-01", "to": "2024-05-31"})
    assert narrower["problems"]["found"] == 1 and narrower["problems"]["resolved"] == 1


async def test_problem_analysis(api: Api) -> None:
    analysis = await get(api, "/api/dashboards/problems")
    rows = {r["key"]: (r["found"], r["resolved"], r["open"], r["rate"], r["mean_resolve_hours"])
            for r in analysis["by_category"]}
    assert rows == {"land": (1, 1, 1, 1.0, 504.0), "planning": (1, 1, 0, 1.0, 144.0)}
    assert {r["key"]: (r["name"], r["found"], r["resolved"]) for r in analysis["by_county"]} == {
        "320812": ("清江浦区", 1, 1), "320803": ("淮安区", 1, 1)}
    assert {r["key"]: (r["found"], r["resolved"], r["rate"]) for r in analysis["by_unit"]} == {
        "assist-qjp": (1, 0, 0.0), "dept-zrzy": (1, 1, 1.0), "dept-zjj": (1, 1, 1.0)}
    assert {b["label"]: b["count"] for b in analysis["resolve_time"]} == {
        "≤1天": 0, "≤3天": 0, "≤7天": 1, "≤15天": 0, "≤30天": 1, ">30天": 0}
    assert {r["key"]: (r["found"], r["resolved"]) for r in analysis["by_origin"]} == {
        "warning": (1, 0), "unit": (1, 1), "investor": (0, 1)}


async def test_horse_race_follows_the_documented_formula(api: Api) -> None:
    race = await get(api, "/api/dashboards/horse-race", **{"from": "2024-03-01", "to": "2024-06-30"})
    assert race["weights"] == {"progress": 0.25, "resolution": 0.25, "speed": 0.15, "flags": 0.15,
                               "satisfaction": 0.2}
    assert "min(1, 168 h / mean hours to resolve)" in race["formula"]
    counties = [(r["rank"], r["code"], r["score"], r["progress_rate"], r["open_flags"], r["evaluation"])
                for r in race["counties"]]
    # 320803: progress 0/1, resolution 1, speed 1, flags 1, satisfaction (3-1)/4 -> 0.65 of 1.00
    # 320812: progress 1/3, resolution 0, flags 1/2, satisfaction 1, no speed -> 0.3583 of 0.85
    assert counties == [(1, "320803", 65.0, 0.0, 0, 3.0), (2, "320812", 42.16, 1 / 3, 1, 5.0)]
    departments = [(r["rank"], r["code"], r["score"], r["resolution_rate"], r["evaluation"]) for r in race["departments"]]
    # dept-zjj: resolution 1, speed 1, flags 1, satisfaction 0.75 -> 0.70 of 0.75; dept-zrzy: 0, -, 0.5, 0.75 -> 0.225 of 0.6
    assert departments == [(1, "dept-zjj", 93.33, 1.0, 4.0), (2, "dept-zrzy", 37.5, 0.0, 4.0)]


async def test_dashboards_are_for_leaders(api: Api) -> None:
    for name in ("zrzy", "investor", "designer"):
        client = await api.as_(name)
        for path in ("/api/dashboards/summary", "/api/dashboards/problems", "/api/dashboards/horse-race"):
            assert problem_of(await client.get(path), 403)
    admin = await api.as_("admin")
    assert problem_of(await admin.get("/api/dashboards/summary", params={"from": "2024-06-01", "to": "2024-05-01"}), 422)


async def test_cached_figures_are_invalidated_by_changes(api: Api) -> None:
    services = api.services
    first = await get(api, "/api/dashboards/summary")
    # A change behind the gateway's back, announced by nobody: the cache still answers the old figure.
    await services.store.projects.upsert(project("P-QUIET", "320804"), actor=SEED)
    assert (await get(api, "/api/dashboards/summary"))["projects"]["total"] == first["projects"]["total"] == 5
    # Engine events do not touch the figures and keep the cache.
    generation = await services.redis.get(GENERATION)
    await services.bus.publish("engine.element.activated", {"element_id": "x"})
    await asyncio.sleep(0.3)
    assert await services.redis.get(GENERATION) == generation
    # A worker's domain event on the stream invalidates it.
    await services.bus.publish("project.light_changed", {"project_code": "P-QJP-1", "light": "red"},
                               scope=EventScope(project_code="P-QJP-1"))
    for _ in range(100):
        if (await get(api, "/api/dashboards/summary"))["projects"]["total"] == 6:
            break
        await asyncio.sleep(0.05)
    assert (await get(api, "/api/dashboards/summary"))["projects"]["total"] == 6
    # A write through the gateway invalidates at once.
    leader = await api.as_("leader")
    created = await leader.put("/api/projects/P-NEW", json={
        "name": "新项目", "investor": {"company": "新公司"}, "county_code": "320812", "industry": "food",
        "amount_cny": 1, "signed_at": "2024-06-01"})
    assert created.status_code == 201
    assert (await get(api, "/api/dashboards/summary"))["projects"]["total"] == 7


async def test_a_busy_dashboard_is_refreshed_behind_the_readers(services: Services) -> None:
    """With a stale window, a write is visible within the window and readers never wait for a computation."""
    import httpx

    from gateway.app import create_app

    lagging = Services(settings=services.settings.model_copy(update={"dashboard_stale_seconds": 1.0}),
                       app=services.app, secrets=services.secrets, zeebe=services.zeebe, store=services.store,
                       redis=services.redis, bus=services.bus, engine=services.engine, clock=services.clock)
    app = create_app(services=lagging)
    async with app.router.lifespan_context(app):
        api = Api(lagging, httpx.ASGITransport(app=app))
        assert (await get(api, "/api/dashboards/summary"))["projects"]["total"] == 5
        leader = await api.as_("leader")
        assert (await leader.put("/api/projects/P-LAG", json={
            "name": "新项目", "investor": {"company": "新公司"}, "county_code": "320812", "industry": "food",
            "amount_cny": 1, "signed_at": "2024-06-01"})).status_code == 201
        assert (await get(api, "/api/dashboards/summary"))["projects"]["total"] == 5  # still the figures before
        seen = []
        for _ in range(60):
            seen.append((await get(api, "/api/dashboards/summary"))["projects"]["total"])
            if seen[-1] == 6:
                break
            await asyncio.sleep(0.05)
        assert seen[-1] == 6 and set(seen) <= {5, 6}
