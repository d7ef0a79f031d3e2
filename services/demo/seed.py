"""``python -m services.demo seed``: the demo city in the documents store, its projects' life cycles started.

Idempotent: units and users are saved as they are (a user whose stored hash still verifies the demo
password keeps it), projects are generated from a fixed random seed and an existing project code is left
alone, and each signing message carries the project code as its message id while the life cycle is
running, so running the seed again changes nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pyzeebe import ZeebeClient
from pyzeebe.errors import MessageAlreadyExistsError

from services.demo import city
from shared.calendar import SHANGHAI
from shared.documents import DocumentStore
from shared.documents.models import (
    Actor,
    ApprovalRecord,
    ApprovalSource,
    County,
    Investor,
    ProjectData,
    Role,
    Stage,
    User,
)
from shared.domain import stages
from shared.domain.docking import ITEM_FOR_STAGE, ITEMS

ACTOR = Actor.system("demo.seed")
SIGNED_MESSAGE = "project-signed"


@dataclass
class SeedReport:
    units: int = 0
    users_created: int = 0
    projects_created: int = 0
    projects_existing: int = 0
    signings_published: int = 0


async def seed_directory(store: DocumentStore, hasher: PasswordHasher, report: SeedReport,
                         investors: int = 40) -> None:
    for unit in city.units():
        await store.units.save(unit, actor=ACTOR)
        report.units += 1
    for person in city.people(investors):
        password = city.DEMO_PASSWORDS[person.role]
        existing = await store.users.get(person.username)
        password_hash = None
        if existing is not None and existing.password_hash:
            try:
                hasher.verify(existing.password_hash, password)
                password_hash = existing.password_hash
            except (VerificationError, InvalidHashError):
                password_hash = None
        user = User(username=person.username, display_name=person.display_name,
                    password_hash=password_hash or hasher.hash(password), roles=[person.role],
                    unit_ids=list(person.unit_ids), phone=person.phone, email=person.email)
        saved = await store.users.save(user, actor=ACTOR)
        report.users_created += int(saved.created)


def project_code(county: str, industry: str, serial: int) -> str:
    industry_no = list(city.INDUSTRIES).index(industry) + 30
    return f"2024-{county}-{industry_no}-03-{serial:06d}"


COMPANY_WORDS = ("恒力", "华晟", "嘉禾", "金源", "瑞通", "汇丰", "中联", "新锐", "德尔", "博远", "天成", "远航",
                 "鼎盛", "和泰", "永信", "正大", "安达", "科创", "宏图", "盛世")
PRODUCTS = {"machinery": "液压件", "new_energy": "光伏组件", "new_materials": "特种纤维", "electronics": "电子元器件",
            "food": "绿色食品", "chemicals": "精细化学品", "pharma": "原料药", "logistics": "智慧物流园"}


def make_project(rng: random.Random, serial: int, signed_at: datetime, investors: int) -> ProjectData:
    county = rng.choices(city.COUNTIES, weights=(18, 14, 13, 10, 11, 10, 8, 16))[0]
    industry = rng.choices(list(city.INDUSTRIES), weights=(22, 16, 12, 14, 10, 8, 8, 10))[0]
    word = rng.choice(COMPANY_WORDS)
    company = f"淮安{word}{city.INDUSTRIES[industry]}有限公司"
    return ProjectData(
        project_code=project_code(county.code, industry, serial),
        name=f"{company}年产{rng.randint(1, 50) * 2}万件{PRODUCTS[industry]}项目",
        investor=Investor(company=company, contact_name=city.person_name(serial + 300),
                          contact_phone=f"1370517{serial % 10000:04d}"),
        county=County(code=county.code, name=county.name), industry=industry,
        amount_cny=rng.choice((1, 2, 3, 5, 8, 10, 15, 20, 30, 50)) * 100_000_000,
        signed_at=signed_at, assistant_unit_id=f"assist-{county.code}",
        investor_user_ids=[f"investor{1 + serial % investors:02d}"],
    )


def office_hours(day: datetime, rng: random.Random) -> datetime:
    local = day.astimezone(SHANGHAI)
    return datetime.combine(local.date(), time(9 + rng.randint(0, 7), rng.randint(0, 59)), tzinfo=SHANGHAI)


async def seed_projects(store: DocumentStore, zeebe: ZeebeClient | None, report: SeedReport, *, now: datetime,
                        count: int = 300, investors: int = 40, seed: int = 20240101) -> None:
    """Projects signed over the two years before ``now``, each as far along as its age and luck allow."""
    rng = random.Random(seed)
    for serial in range(1, count + 1):
        if serial == 1:  # the seed's story (DOMAIN.md): a hydraulic-unit plant signed in February
            february = datetime(now.year if now.month > 2 else now.year - 1, 2, 18, 10, tzinfo=SHANGHAI)
            data = make_project(rng, serial, february, investors).model_copy(update={
                "name": "淮安恒力液压科技有限公司年产10万套液压件项目", "industry": "machinery"})
            data = data.model_copy(update={"project_code": project_code(data.county.code, "machinery", serial),
                                           "investor": Investor(company="淮安恒力液压科技有限公司",
                                                                contact_name="王经理", contact_phone="13805170001")})
            path: list[tuple[Stage, datetime]] = []
        else:
            signed = office_hours(now - timedelta(days=rng.randint(5, 720)), rng)
            data = make_project(rng, serial, signed, investors)
            path = progress_path(rng, signed, now)
        if await store.projects.get(data.project_code) is not None:
            report.projects_existing += 1
            continue
        await store.projects.upsert(data, actor=ACTOR)
        report.projects_created += 1
        for n, (stage, at) in enumerate(path):
            item = ITEMS[ITEM_FOR_STAGE[stage]] if stage != Stage.CANCELLED else None
            source = "manual:seed"
            if item is not None:
                record = ApprovalRecord(
                    source=ApprovalSource.GONGGAI, source_record_id=f"SEED-{serial:06d}-{n}",
                    project_code=data.project_code, item_code=item.code, item_name=item.name, stage=stage,
                    status="approved", occurred_at=at, received_at=at,
                    raw={"lsh": f"SEED-{serial:06d}-{n}", "xmdm": data.project_code, "sxbm": item.code,
                         "blzt": "办结"})
                await store.approvals.record(record, actor=ACTOR)
                source = record.id
            await store.projects.record_stage(data.project_code, stage, at=at, source=source, actor=ACTOR)
        final = bool(path) and stages.is_final(path[-1][0])
        if zeebe is not None and not final:
            await publish_signing(zeebe, data.project_code)
            report.signings_published += 1


def progress_path(rng: random.Random, signed: datetime, now: datetime) -> list[tuple[Stage, datetime]]:
    """The stages a project reached before ``now``: 20-120 days apart; one in six stalls for good."""
    path: list[tuple[Stage, datetime]] = []
    at = signed
    stalls = rng.random() < 1 / 6
    cancelled = rng.random() < 0.03
    for stage in stages.LIFE_CYCLE[1:]:
        at = office_hours(at + timedelta(days=rng.randint(20, 120)), rng)
        if at >= now or (stalls and rng.random() < 0.4):
            break
        path.append((stage, at))
    if cancelled and path and path[-1][0] != Stage.IN_PRODUCTION:
        at = office_hours(path[-1][1] + timedelta(days=rng.randint(10, 60)), rng)
        if at < now:
            path.append((Stage.CANCELLED, at))
    return path


async def publish_signing(zeebe: ZeebeClient, code: str, variables: dict | None = None) -> bool:
    """Start the project's life cycle; False when the same signing is still buffered (already published)."""
    try:
        await zeebe.publish_message(SIGNED_MESSAGE, code, variables={"projectCode": code, **(variables or {})},
                                    time_to_live_in_milliseconds=3_600_000, message_id=f"signed:{code}")
    except MessageAlreadyExistsError:
        return False
    return True


def fast_hasher() -> PasswordHasher:
    """Cheap argon2 parameters for simulations and tests, where nobody logs in."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


async def seed(store: DocumentStore, zeebe: ZeebeClient | None, *, now: datetime, projects: int = 300,
               hasher: PasswordHasher | None = None) -> SeedReport:
    report = SeedReport()
    await seed_directory(store, hasher or PasswordHasher(), report)
    if projects:
        await seed_projects(store, zeebe, report, now=now, count=projects)
    return report


__all__ = ["Role", "SeedReport", "fast_hasher", "publish_signing", "seed"]
