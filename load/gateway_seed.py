"""A city's worth of documents for loading the gateway: projects, problems, flags, evaluations, approvals,
people and inbox tasks, written straight into the documents store (the data a year of work leaves).

Deterministic (a fixed random seed), so figures from two runs compare. Used by load/gateway_stack.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher

from gateway.auth.passwords import hash_password
from shared.documents import DocumentStore
from shared.documents.models import (
    Actor,
    ApprovalRecord,
    County,
    Evaluation,
    Investor,
    Light,
    NewProblem,
    NewTask,
    ProblemOrigin,
    ProblemStatus,
    ProjectData,
    ResponsibleUnit,
    Role,
    Stage,
    Unit,
    UnitKind,
    User,
)

ACTOR = Actor.system("load.seed")
COUNTIES = {"320812": "清江浦区", "320803": "淮安区", "320804": "淮阴区", "320813": "洪泽区", "320826": "涟水县",
            "320830": "盱眙县", "320831": "金湖县", "320871": "淮安经济技术开发区"}
DEPARTMENTS = ["dept-fgw", "dept-zrzy", "dept-zjj", "dept-sthj", "dept-xzsp", "dept-sw", "dept-gxj", "dept-yjj"]
STAGES = [Stage.SIGNED, Stage.FILING, Stage.LAND, Stage.PLANNING, Stage.CONSTRUCTION_PERMIT, Stage.STARTED,
          Stage.COMPLETED, Stage.IN_PRODUCTION]
PASSWORD = "Load#2024-password"


@dataclass
class Seeded:
    project_codes: list[str] = field(default_factory=list)
    staff: dict[str, list[str]] = field(default_factory=dict)  # username -> unit ids
    investors: dict[str, list[str]] = field(default_factory=dict)  # username -> project codes
    task_keys: dict[str, list[int]] = field(default_factory=dict)  # unit id -> open task keys


async def seed(store: DocumentStore, *, projects: int, now: datetime, tasks_per_unit: int = 40,
               seed_value: int = 7) -> Seeded:
    rng = random.Random(seed_value)
    out = Seeded()
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    password_hash = hash_password(PASSWORD, hasher)

    units = [Unit(id="office-city", name="市委营商办", kind=UnitKind.OFFICE)]
    for code, name in COUNTIES.items():
        units.append(Unit(id=f"assist-{code}", name=f"{name}项目帮办中心", kind=UnitKind.ASSISTANT, county_code=code))
    units += [Unit(id=d, name=d, kind=UnitKind.DEPARTMENT) for d in DEPARTMENTS]
    for unit in units:
        await store.units.save(unit, actor=ACTOR)

    people = [User(username="admin", display_name="admin", password_hash=password_hash, roles=[Role.ADMIN]),
              User(username="leader", display_name="leader", password_hash=password_hash, roles=[Role.LEADER])]
    for unit in units:
        for n in range(3):
            name = f"{unit.id}.staff{n}"
            people.append(User(username=name, display_name=name, password_hash=password_hash,
                               roles=[Role.UNIT_STAFF], unit_ids=[unit.id]))
            out.staff[name] = [unit.id]
    for user in people:
        await store.users.save(user, actor=ACTOR)

    year_start = now - timedelta(days=365)
    for i in range(projects):
        county = rng.choice(list(COUNTIES))
        code = f"2025-{county}-{rng.randint(10, 99)}-03-{i:06d}"
        investor = f"investor{i % 400:03d}"
        signed = year_start + timedelta(seconds=rng.randint(0, 360 * 86400))
        data = ProjectData(project_code=code, name=f"项目 {i}", investor=Investor(company=f"公司 {i % 700}"),
                           county=County(code=county, name=COUNTIES[county]), industry=rng.choice(
                               ["machinery", "food", "new_energy", "logistics", "electronics"]),
                           amount_cny=rng.randint(1, 50) * 10_000_000, signed_at=signed,
                           assistant_unit_id=f"assist-{county}", investor_user_ids=[investor])
        await store.projects.upsert(data, actor=ACTOR)
        out.project_codes.append(code)
        out.investors.setdefault(investor, []).append(code)
        reached = rng.choices(range(len(STAGES)), weights=[30, 20, 15, 10, 10, 7, 5, 3])[0]
        at = signed
        for stage in STAGES[1:reached + 1]:
            at = min(at + timedelta(days=rng.randint(5, 40)), now)
            await store.projects.record_stage(code, stage, at=at, source="load", actor=ACTOR)
        if rng.random() < 0.06:
            await store.projects.set_light(code, Light.RED, at=now - timedelta(days=rng.randint(0, 60)),
                                           reason="90 天无进展", actor=ACTOR)
        if rng.random() < 0.3:
            await store.approvals.record(ApprovalRecord(
                source="gonggai", source_record_id=f"seed-{i}", project_code=code, item_code="GG-LX-01",
                item_name="企业投资项目备案", status="approved", occurred_at=min(signed + timedelta(days=3), now)),
                actor=ACTOR)
    for investor in out.investors:
        await store.users.save(User(username=investor, display_name=investor, password_hash=password_hash,
                                    roles=[Role.INVESTOR], project_codes=out.investors[investor]), actor=ACTOR)

    for i in range(max(projects // 12, 10)):
        code = rng.choice(out.project_codes)
        county = code.split("-")[1]
        raised = now - timedelta(days=rng.randint(0, 330), hours=rng.randint(0, 23))
        problem_units = [ResponsibleUnit(unit_id=f"assist-{county}", role="assistant"),
                         ResponsibleUnit(unit_id=rng.choice(DEPARTMENTS), role="approval")]
        saved = await store.problems.create(NewProblem(
            id=f"load-{i}", project_code=code, county_code=county, origin=rng.choice(list(ProblemOrigin)),
            category=rng.choice(["land", "planning", "construction_permit", "filing", "other"]), title=f"问题 {i}",
            raised_by="system:load", raised_at=raised, units=problem_units), actor=ACTOR)
        if rng.random() < 0.9 and raised < now - timedelta(days=1):
            closed = min(raised + timedelta(hours=rng.randint(12, 24 * 40)), now)
            await store.problems.transition(saved.item.id, status=ProblemStatus.CLOSED, action="confirmed",
                                            actor=ACTOR, at=closed)
        elif raised < now - timedelta(days=30):
            await store.flags.raise_flag(unit_id=problem_units[1].unit_id, problem_id=saved.item.id,
                                         project_code=code, reason="30 天未办结", at=raised + timedelta(days=30),
                                         actor=ACTOR)
        if rng.random() < 0.5:
            investor = f"investor{out.project_codes.index(code) % 400:03d}"
            await store.evaluations.add(Evaluation(
                project_code=code, investor_user_id=investor, county_code=county,
                main_department_unit_id=problem_units[1].unit_id, general_department_unit_id="dept-xzsp",
                county_score=rng.randint(3, 5), main_department_score=rng.randint(2, 5),
                general_department_score=rng.randint(3, 5), at=now - timedelta(days=rng.randint(0, 300))), actor=ACTOR)

    job_key = 2251799813700000
    for unit in units:
        keys = []
        for _ in range(tasks_per_unit):
            job_key += 1
            await store.tasks.insert(NewTask(
                job_key=job_key, process_instance_key=job_key + 10**9, element_id="resolve",
                bpmn_process_id="problem-handling", name="办理并反馈", candidate_groups=[unit.id],
                due_at=now + timedelta(days=rng.randint(-5, 10)), project_code=rng.choice(out.project_codes),
                created_at=now - timedelta(days=rng.randint(0, 20))), actor=ACTOR)
            keys.append(job_key)
        out.task_keys[unit.id] = keys
    return out


def utc_now() -> datetime:
    return datetime.now(UTC)
