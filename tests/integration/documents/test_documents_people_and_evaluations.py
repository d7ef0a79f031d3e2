"""Contract: units, users, and investors' evaluations with their averages."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import pytest
from pydantic import ValidationError

from shared.documents import Conflict, DocumentStore, InvalidInput, NotFound
from shared.documents.models import Evaluation, Period, Role, Unit, UnitKind, User
from tests.fixtures.domain import ADMIN, at


async def test_units_save_idempotently_and_list_by_kind_and_county(store: DocumentStore) -> None:
    units = [
        Unit(id="county-qjp", name="清江浦区", kind=UnitKind.COUNTY, county_code="320812"),
        Unit(id="assist-qjp", name="清江浦区项目帮办", kind=UnitKind.ASSISTANT, county_code="320812",
             parent_id="county-qjp"),
        Unit(id="dept-zrzy", name="自然资源和规划局", kind=UnitKind.DEPARTMENT),
        Unit(id="dept-fgw", name="发展和改革委员会", kind=UnitKind.DEPARTMENT),
    ]
    for unit in units:
        assert (await store.units.save(unit, actor=ADMIN)).created
    assert not (await store.units.save(units[2], actor=ADMIN)).created
    renamed = units[2].model_copy(update={"name": "自然资源局"})
    saved = await store.units.save(renamed, actor=ADMIN)
    assert not saved.created and (await store.units.get("dept-zrzy")) == renamed
    departments = await store.units.list(kind=UnitKind.DEPARTMENT)
    assert [u.id for u in departments] == [u.id for u in sorted([units[3], renamed], key=lambda u: u.name)]
    assert {u.id for u in await store.units.list(county_code="320812")} == {"county-qjp", "assist-qjp"}
    assert [u.id for u in await store.units.list(parent_id="county-qjp")] == ["assist-qjp"]
    assert len((await store.audit.list(target_kind="unit")).items) == 5  # 4 creates + 1 rename


async def test_users_unique_usernames_roles_and_members(store: DocumentStore) -> None:
    wang = User(username="wang", display_name="王", password_hash="$argon2id$x", roles=[Role.UNIT_STAFF],
                unit_ids=["dept-zrzy"])
    await store.users.create(wang, actor=ADMIN)
    with pytest.raises(Conflict, match="user 'wang' already exists"):
        await store.users.create(wang.model_copy(update={"display_name": "other"}), actor=ADMIN)
    assert (await store.users.get("wang")) == wang
    await store.users.save(User(username="li", display_name="李", roles=[Role.UNIT_STAFF, Role.LEADER],
                                unit_ids=["dept-zrzy", "dept-fgw"]), actor=ADMIN)
    await store.users.save(User(username="inv", display_name="投资方", roles=[Role.INVESTOR],
                                project_codes=["P-1"]), actor=ADMIN)
    assert [u.username for u in (await store.users.list(role=Role.UNIT_STAFF)).items] == ["li", "wang"]
    assert [u.username for u in (await store.users.list(unit_id="dept-fgw")).items] == ["li"]
    await store.users.set_active("wang", False, actor=ADMIN)
    assert [u.username for u in await store.users.members_of("dept-zrzy")] == ["li"]
    assert [u.username for u in (await store.users.list(active=False)).items] == ["wang"]
    entry = (await store.audit.list(target_kind="user", target_id="wang")).items[0]
    assert entry.action == "user.deactivate" and entry.before == {"active": True} and entry.after == {"active": False}
    assert "password_hash" not in ((await store.audit.list(target_kind="user", target_id="wang")).items[-1].after
                                   or {})
    with pytest.raises(NotFound):
        await store.users.set_active("ghost", True, actor=ADMIN)
    with pytest.raises(ValidationError, match="username"):
        User(username="bad name", display_name="x")
    with pytest.raises(InvalidInput):
        await store.users.save({"username": "x"}, actor=ADMIN)  # type: ignore[arg-type]


async def test_evaluation_summary_is_the_average_of_what_was_stored(store: DocumentStore) -> None:
    rng = random.Random(3)
    stored: list[Evaluation] = []
    for i in range(30):
        e = Evaluation(
            project_code=f"P-{i % 7}", investor_user_id=f"inv{i % 7}", county_code=rng.choice(["320812", "320803"]),
            main_department_unit_id=rng.choice(["dept-zrzy", "dept-fgw"]),
            general_department_unit_id=rng.choice(["dept-zrzy", "dept-xzsp", None]),
            county_score=rng.randint(1, 5), main_department_score=rng.randint(1, 5),
            general_department_score=rng.randint(1, 5), at=at(2024, 1, 1) + timedelta(days=i * 4))
        stored.append((await store.evaluations.add(e, actor=ADMIN)).item)
    period = Period(start=at(2024, 2, 1), end=at(2024, 4, 1))
    inside = [e for e in stored if e.at in period]
    county: dict[str, list[int]] = defaultdict(list)
    department: dict[str, list[int]] = defaultdict(list)
    main: dict[str, list[int]] = defaultdict(list)
    for e in inside:
        county[e.county_code].append(e.county_score)
        main[e.main_department_unit_id].append(e.main_department_score)  # type: ignore[index]
        department[e.main_department_unit_id].append(e.main_department_score)  # type: ignore[index]
        if e.general_department_unit_id:
            department[e.general_department_unit_id].append(e.general_department_score)
    summary = await store.evaluations.summary(period)
    assert summary.count == len(inside)
    assert {k: (v.count, pytest.approx(v.average)) for k, v in summary.by_county.items()} == {
        k: (len(v), pytest.approx(sum(v) / len(v))) for k, v in county.items()}
    assert {k: (v.count, pytest.approx(v.average)) for k, v in summary.by_department.items()} == {
        k: (len(v), pytest.approx(sum(v) / len(v))) for k, v in department.items()}
    assert {k: v.count for k, v in summary.by_main_department.items()} == {k: len(v) for k, v in main.items()}
    one_county = await store.evaluations.summary(period, county_code="320812")
    assert one_county.count == len(county["320812"])

    listed = await store.evaluations.list(project_code="P-3")
    assert {e.id for e in listed.items} == {e.id for e in stored if e.project_code == "P-3"}


async def test_evaluation_with_id_is_idempotent_and_scores_are_bounded(store: DocumentStore) -> None:
    e = Evaluation(id="eval-pr-1", project_code="P-1", investor_user_id="inv", county_code="320812",
                   county_score=5, main_department_score=4, general_department_score=3, at=at(2024, 5, 1))
    assert (await store.evaluations.add(e, actor=ADMIN)).created
    again = await store.evaluations.add(e.model_copy(update={"county_score": 1}), actor=ADMIN)
    assert not again.created and again.item.county_score == 5
    with pytest.raises(ValidationError, match="county_score"):
        Evaluation(project_code="P-1", investor_user_id="inv", county_code="320812", county_score=6,
                   main_department_score=4, general_department_score=3, at=at(2024, 5, 1))
    assert (await store.evaluations.list()).total == 1
