"""The horse race on a city with every kind of case, on each documents adapter, against rows worked out by
hand from the formula: live, stalled, finished and cancelled projects; problems found and resolved inside,
across and outside the period (and on its edges, reopened, without a county); open, lifted and orphan flags;
evaluations inside and outside; a county known only by its projects' name, one with evaluations but no live
project, a department with nothing at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from gateway.context import Services
from gateway.dashboards import service
from gateway.engine import EngineGateway
from gateway.settings import GatewaySettings
from shared.documents import DocumentStore
from shared.documents.models import (
    County,
    Evaluation,
    Period,
    ProblemStatus,
    ResponsibleUnit,
    Stage,
    Unit,
    UnitKind,
    UnitRole,
)
from shared.events import EventBus, connect_redis
from shared.settings import AppSettings, SecretSettings, ZeebeSettings
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_problem, project_data
from tests.fixtures.engine import EngineProcess

PERIOD = Period(start=at(2024, 3, 1), end=at(2024, 6, 1))
TEST_COUNTY = County(code="999901", name="试验县")


@pytest.fixture
async def services(store: DocumentStore, shared_engine: EngineProcess, redis_url: str,
                   gateway_settings: GatewaySettings) -> AsyncIterator[Services]:
    zeebe = ZeebeSettings(address=shared_engine.address, management_url=shared_engine.management_url)
    redis = connect_redis(redis_url)
    engine = EngineGateway.from_settings(zeebe)
    try:
        yield Services(settings=gateway_settings, app=AppSettings(qly_env="dev"),
                       secrets=SecretSettings(jwt_secret=SecretStr("jwt-secret-for-tests-0123456789abcdef0123")),
                       zeebe=zeebe, store=store, redis=redis, bus=EventBus(redis, clock=store.clock), engine=engine,
                       clock=store.clock)
    finally:
        await engine.close()
        await redis.aclose()


async def seed_projects(store: DocumentStore) -> None:
    async def add(code: str, signed: tuple[int, int, int], county: str = "320812", **extra: object) -> None:
        fields = {"county": TEST_COUNTY} if county == TEST_COUNTY.code else {"county_code": county}
        await store.projects.upsert(project_data(code, signed_at=at(*signed), **fields, **extra), actor=SYSTEM)

    # 320812: five live (A2 stalled: no progress since before the period; A6's only progress comes after it),
    # one in production.
    await add("A1", (2024, 1, 10))
    await store.projects.record_stage("A1", Stage.FILING, at=at(2024, 3, 15), source="t", actor=SYSTEM)
    await add("A2", (2024, 2, 1))
    await add("A3", (2024, 1, 5))
    await store.projects.record_stage("A3", Stage.IN_PRODUCTION, at=at(2024, 2, 20), source="t", actor=SYSTEM)
    await add("A4", (2024, 4, 1))
    await add("A5", (2023, 12, 1))
    await store.projects.record_progress("A5", at=at(2024, 4, 10), actor=SYSTEM)
    await add("A6", (2024, 1, 20))
    await store.projects.record_progress("A6", at=at(2024, 6, 10), actor=SYSTEM)
    # 320803: one live and stalled, one cancelled.
    await add("B1", (2023, 11, 1), "320803")
    await store.projects.record_stage("B1", Stage.LAND, at=at(2024, 1, 10), source="t", actor=SYSTEM)
    await add("B2", (2024, 1, 1), "320803")
    await store.projects.record_stage("B2", Stage.CANCELLED, at=at(2024, 3, 20), source="t", actor=SYSTEM)
    # 999901, a county of no known list: two live, one signed after the period.
    await add("C1", (2024, 5, 20), TEST_COUNTY.code)
    await add("C2", (2024, 6, 10), TEST_COUNTY.code)
    # 320804: finished only.
    await add("D1", (2023, 10, 1), "320804")
    await store.projects.record_stage("D1", Stage.IN_PRODUCTION, at=at(2024, 1, 15), source="t", actor=SYSTEM)


async def seed_problems(store: DocumentStore) -> None:
    specs = [  # id, county, units, raised, closed
        ("p1", "320812", ["assist-x", "dept-a"], at(2024, 3, 5), at(2024, 3, 8)),  # 72 h
        ("p2", "320812", ["dept-a"], at(2024, 2, 10), at(2024, 3, 12)),  # raised before, 744 h (2024 is a leap year)
        ("p3", "320812", ["dept-b"], at(2024, 4, 1), None),
        ("p4", "320803", ["dept-b"], at(2024, 5, 20), at(2024, 6, 5)),  # closed after the period
        ("p5", "320803", ["dept-a", "dept-b"], at(2024, 3, 10, 8), at(2024, 3, 10, 20)),  # 12 h
        ("p6", None, ["dept-a"], at(2024, 4, 5), at(2024, 4, 15)),  # no county, 240 h
        ("p7", TEST_COUNTY.code, ["assist-x"], at(2024, 1, 5), at(2024, 2, 1)),  # all before the period
        ("p8", "320804", ["dept-b"], at(2024, 5, 31, 23), at(2024, 6, 1)),  # closed on the end: outside
        ("p9", "320812", ["dept-a"], at(2024, 2, 29, 22), at(2024, 3, 1)),  # closed on the start: inside, 2 h
        ("p10", TEST_COUNTY.code, ["dept-b"], at(2024, 4, 20), at(2024, 4, 25)),  # reopened below
    ]
    for problem_id, county, units, raised, closed in specs:
        await store.problems.create(new_problem(
            "A1", id=problem_id, county_code=county, raised_at=raised,
            units=[ResponsibleUnit(unit_id=u, role=UnitRole.ASSISTANT if u.startswith("assist")
                                   else UnitRole.APPROVAL) for u in units]), actor=SYSTEM)
        if closed is not None:
            await store.problems.transition(problem_id, status=ProblemStatus.CLOSED, action="confirm", actor=ADMIN,
                                            at=closed)
    await store.problems.transition("p10", status=ProblemStatus.ASSIGNED, action="reopen", actor=ADMIN,
                                    at=at(2024, 4, 28))


async def seed_flags(store: DocumentStore) -> None:
    for unit, problem, project in [("dept-a", "p3", "A2"), ("dept-b", "p3", "A2"), ("dept-b", "p4", "B1"),
                                   ("dept-b", "p-gone", "P-GONE"), ("assist-x", "p7", "C1")]:
        await store.flags.raise_flag(unit_id=unit, problem_id=problem, project_code=project, reason="30 天未办结",
                                     at=at(2024, 5, 1), actor=SYSTEM)
    lifted = await store.flags.raise_flag(unit_id="dept-a", problem_id="p2", project_code="A1", reason="30 天未办结",
                                          at=at(2024, 3, 11), actor=SYSTEM)
    await store.flags.lift(lifted.item.id, at=at(2024, 3, 12), actor=ADMIN)


async def seed_evaluations(store: DocumentStore) -> None:
    specs = [  # project, county, main, general, (county, main, general scores), at
        ("A1", "320812", "dept-a", "dept-b", (5, 4, 3), at(2024, 3, 20)),
        ("B1", "320803", "dept-b", None, (3, 2, 5), at(2024, 4, 2)),
        ("D1", "320804", "dept-a", "dept-b", (4, 5, 4), at(2024, 5, 15)),
        ("A2", "320812", None, "dept-b", (2, 3, 2), at(2024, 5, 31, 23)),
        ("A1", "320812", "dept-a", "dept-b", (1, 1, 1), at(2024, 2, 1)),  # before the period
        ("D1", "320813", "dept-c", None, (1, 1, 1), at(2024, 6, 1)),  # on the end: outside
    ]
    for i, (code, county, main, general, (c, m, g), when) in enumerate(specs):
        await store.evaluations.add(Evaluation(
            id=f"e{i}", project_code=code, investor_user_id="investor", county_code=county,
            main_department_unit_id=main, general_department_unit_id=general, county_score=c,
            main_department_score=m, general_department_score=g, at=when), actor=SYSTEM)


async def seed_city(store: DocumentStore) -> None:
    for unit in [Unit(id="office", name="市委营商办", kind=UnitKind.OFFICE),
                 Unit(id="assist-x", name="帮办中心", kind=UnitKind.ASSISTANT, county_code="320812"),
                 Unit(id="dept-a", name="甲局", kind=UnitKind.DEPARTMENT),
                 Unit(id="dept-b", name="乙局", kind=UnitKind.DEPARTMENT),
                 Unit(id="dept-c", name="丙局", kind=UnitKind.DEPARTMENT)]:
        await store.units.save(unit, actor=SYSTEM)
    await seed_projects(store)
    await seed_problems(store)
    await seed_flags(store)
    await seed_evaluations(store)


ROW_FIELDS = ("rank", "code", "name", "score", "progress_rate", "resolution_rate", "mean_resolve_hours",
              "open_flags", "evaluation", "projects", "problems_found", "problems_resolved")

# By hand (components progress, resolution, speed, flags, satisfaction; weights .25 .25 .15 .15 .20):
# 320812  live 5, stalled 1 -> .8; found p1 p3, resolved p1 p2 p9 (72+744+2 h) -> min(1, 3/2) = 1;
#         speed 168/(818/3); flags 2 (A2 twice, the lifted one not); evaluations 5, 2 -> (3.5-1)/4
#         -> (.2 + .25 + .15 * .616137 + .15 / 3 + .125) / 1 = 71.74
# 320804  no live project; found p8 (its close on the period's end is outside), none resolved -> 0;
#         flags 0 -> 1; evaluation 4 -> .75  -> (0 + .15 + .15) / .6 = 50
# 999901  live 2 (C2 signed after the period has progress 'since' it) -> 1; found p10 (reopened), 0 resolved;
#         no speed; flags 1 (C1, the assistant's) -> .5; no evaluation -> (.25 + 0 + .075) / .65 = 50,
#         after 320804 by code
# 320803  live 1 stalled -> 0; found p4 p5, resolved p5 (12 h) -> .5, speed 1; flags 1; evaluation 3 -> .5
#         -> (0 + .125 + .15 + .075 + .1) / 1 = 45
EXPECTED_COUNTIES = [
    (1, "320812", "清江浦区", 71.74, 0.8, 1.0, 818 / 3, 2, 3.5, 5, 2, 3),
    (2, "320804", "淮阴区", 50.0, None, 0.0, None, 0, 4.0, 0, 1, 0),
    (3, "999901", "试验县", 50.0, 1.0, 0.0, None, 1, None, 2, 1, 0),
    (4, "320803", "淮安区", 45.0, 0.0, 0.5, 12.0, 1, 3.0, 1, 2, 1),
]
# dept-c  nothing but no flags -> 100
# dept-a  found p1 p5 p6, resolved p1 p2 p5 p6 p9 (1070 h) -> 1; speed 168/214; flags 1 (the lifted one not);
#         evaluations main 4, 5 -> (4.5-1)/4 -> (.25 + .15 * .785047 + .075 + .175) / .75 = 82.37
# dept-b  found p3 p4 p5 p8 p10, resolved p5 (12 h) -> .2, speed 1; flags 3 (one of a project that does not
#         exist); evaluations general 3, main 2, general 4, general 2 -> (2.75-1)/4
#         -> (.05 + .15 + .0375 + .0875) / .75 = 43.33
EXPECTED_DEPARTMENTS = [
    (1, "dept-c", "丙局", 100.0, None, None, None, 0, None, None, 0, 0),
    (2, "dept-a", "甲局", 82.37, None, 1.0, 1070 / 5, 1, 4.5, None, 3, 5),
    (3, "dept-b", "乙局", 43.33, None, 0.2, 12.0, 3, 2.75, None, 5, 1),
]


async def test_horse_race_rows_on_a_city_with_every_case(services: Services) -> None:
    await seed_city(services.store)
    race = await service.horse_race(services, PERIOD)
    assert (race.period.start, race.period.end) == (PERIOD.start, PERIOD.end)
    assert race.as_of == services.clock.now()
    assert [tuple(getattr(r, f) for f in ROW_FIELDS) for r in race.counties] == EXPECTED_COUNTIES
    assert [tuple(getattr(r, f) for f in ROW_FIELDS) for r in race.departments] == EXPECTED_DEPARTMENTS


async def test_horse_race_of_an_empty_period(services: Services) -> None:
    """Long before anything happened: no problem, no evaluation, and no live project stalled since then."""
    await seed_city(services.store)
    race = await service.horse_race(services, Period(start=at(2020, 1, 1), end=at(2020, 1, 1) + timedelta(days=1)))
    # 320803 and 999901: progress 1, flags 1/2 -> (.25 + .075) / .4; 320812: flags 1/3 -> (.25 + .05) / .4
    assert [(r.rank, r.code, r.projects, r.progress_rate, r.problems_found, r.problems_resolved, r.open_flags,
             r.evaluation, r.score) for r in race.counties] == [
        (1, "320803", 1, 1.0, 0, 0, 1, None, 81.25),
        (2, "999901", 2, 1.0, 0, 0, 1, None, 81.25),
        (3, "320812", 5, 1.0, 0, 0, 2, None, 75.0),
    ]
    assert [(r.code, r.open_flags, r.score) for r in race.departments] == [
        ("dept-c", 0, 100.0), ("dept-a", 1, 50.0), ("dept-b", 3, 25.0)]
