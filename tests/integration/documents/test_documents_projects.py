"""Contract: projects (and the open/reopen basics), on every reachable adapter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.documents import DocumentStore, InvalidInput, NotFound, open_store
from shared.documents.models import CountyProgress, Light, PageRequest, Period, Project, ProjectFilter, Stage
from tests.fixtures.domain import ADMIN, COUNTIES, SYSTEM, at, project_data


async def _seed(store: DocumentStore, n: int = 23) -> list[Project]:
    rng = random.Random(7)
    projects = []
    for i in range(n):
        data = project_data(
            f"2402-{i:04d}",
            name=("液压件厂" if i % 5 == 0 else "Solar park") + f" #{i}",
            county_code=rng.choice(list(COUNTIES)),
            industry=rng.choice(["machinery", "energy", "food"]),
            amount_cny=rng.randrange(10, 500) * 1_000_000,
            signed_at=at(2024, 1, 1) + timedelta(days=i * 3, hours=rng.randrange(24)),
        )
        projects.append((await store.projects.upsert(data, actor=ADMIN)).item)
    return projects


async def test_upsert_creates_signed_project_and_is_idempotent(store: DocumentStore) -> None:
    data = project_data("2402-320812-04-01-123456")
    first = await store.projects.upsert(data, actor=ADMIN)
    assert first.created
    p = first.item
    assert p.stage == Stage.SIGNED
    assert [(e.stage, e.at, e.source) for e in p.stage_history] == [(Stage.SIGNED, data.signed_at, "signing")]
    assert p.last_progress_at == data.signed_at and p.light == Light.GREEN and p.rev == 1

    again = await store.projects.upsert(data, actor=ADMIN)
    assert not again.created
    assert again.item == p
    stored = await store.projects.require(data.project_code)
    assert stored.rev == 1
    audit = await store.audit.list(target_kind="project", target_id=data.project_code)
    assert [e.action for e in audit.items] == ["project.create"]


async def test_dates_of_any_year_read_back_as_written(store: DocumentStore) -> None:
    """Years before 1000 too: text dates must stay fixed-width (strftime's %Y doesn't pad on Linux)."""
    for code, signed_at in (("0581-x", datetime(581, 8, 26, 1, 2, 3, 4000, tzinfo=UTC)),
                            ("9999-x", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))):
        await store.projects.upsert(project_data(code, signed_at=signed_at), actor=ADMIN)
        assert (await store.projects.require(code)).signed_at == signed_at


async def test_upsert_updates_description_but_keeps_state(store: DocumentStore) -> None:
    data = project_data("P-1")
    await store.projects.upsert(data, actor=ADMIN)
    await store.projects.record_stage("P-1", Stage.LAND, at=at(2024, 3, 1), source="gonggai:9", actor=SYSTEM)
    changed = data.model_copy(update={"name": "新名称", "amount_cny": 7})
    saved = await store.projects.upsert(changed, actor=ADMIN)
    assert not saved.created
    assert saved.item.name == "新名称" and saved.item.amount_cny == 7
    assert saved.item.stage == Stage.LAND and len(saved.item.stage_history) == 2
    entries = (await store.audit.list(target_kind="project", target_id="P-1")).items
    assert entries[0].action == "project.update"
    assert entries[0].before == {"amount_cny": 100_000_000, "name": data.name}
    assert entries[0].after == {"amount_cny": 7, "name": "新名称"}
    assert entries[0].request_id == "req-admin"


async def test_list_filters_and_pagination_match_the_data(store: DocumentStore) -> None:
    projects = await _seed(store)
    county = projects[0].county.code
    expected = sorted((p for p in projects if p.county.code == county), key=lambda p: p.signed_at, reverse=True)
    page = await store.projects.list(ProjectFilter(county_code=county))
    assert page.total == len(expected)
    assert [p.project_code for p in page.items] == [p.project_code for p in expected]

    energy = {p.project_code for p in projects if p.industry == "energy"}
    assert {p.project_code for p in (await store.projects.list(ProjectFilter(industry="energy"))).items} == energy

    # Text search: a Chinese substring of the name, a code fragment, an investor name in another case.
    assert {p.project_code for p in (await store.projects.list(ProjectFilter(text="液压"))).items} == {
        p.project_code for p in projects if "液压" in p.name}
    assert [p.project_code for p in (await store.projects.list(ProjectFilter(text="2402-0007"))).items] == ["2402-0007"]
    assert [p.project_code for p in (await store.projects.list(ProjectFilter(text="investor 2402-0011 co"))).items
            ] == ["2402-0011"]
    assert (await store.projects.list(ProjectFilter(text="%"))).total == 0  # no wildcard leaks through

    scope = ["2402-0001", "2402-0002", "2402-0099"]
    assert {p.project_code for p in (await store.projects.list(ProjectFilter(project_codes=scope))).items} == {
        "2402-0001", "2402-0002"}

    period = Period(start=at(2024, 2, 1), end=at(2024, 3, 1))
    in_feb = {p.project_code for p in projects if period.start <= p.signed_at < period.end}
    assert {p.project_code for p in (await store.projects.list(ProjectFilter(signed=period))).items} == in_feb

    # Pages are disjoint, ordered, and together are the whole list.
    seen: list[str] = []
    size = 5
    for number in range(1, 7):
        page = await store.projects.list(page=PageRequest(page=number, size=size))
        assert page.total == len(projects) and page.pages == (len(projects) + size - 1) // size
        seen += [p.project_code for p in page.items]
    by_signing = sorted(projects, key=lambda p: p.signed_at, reverse=True)
    assert seen == [p.project_code for p in by_signing]


async def test_stats_agree_with_the_inserted_projects(store: DocumentStore) -> None:
    projects = await _seed(store)
    await store.projects.set_light(projects[3].project_code, Light.RED, at=at(2024, 6, 1), reason="stall",
                                   actor=SYSTEM)
    stats = await store.projects.stats()
    assert stats.total == len(projects)
    assert stats.amount_cny == sum(p.amount_cny for p in projects)
    counties: dict[str, int] = {}
    for p in projects:
        counties[p.county.code] = counties.get(p.county.code, 0) + 1
    assert stats.by_county == counties
    assert stats.by_light == {"green": len(projects) - 1, "red": 1}
    county = projects[0].county.code
    assert (await store.projects.stats(ProjectFilter(county_code=county))).total == counties[county]
    red = await store.projects.list(ProjectFilter(light=Light.RED))
    assert [p.project_code for p in red.items] == [projects[3].project_code]


async def test_progress_by_county_counts_the_projects_at_the_stages_and_the_stalled_ones(store: DocumentStore) -> None:
    projects = await _seed(store)
    codes = [p.project_code for p in projects]
    await store.projects.record_stage(codes[0], Stage.IN_PRODUCTION, at=at(2024, 5, 1), source="t", actor=SYSTEM)
    await store.projects.record_stage(codes[1], Stage.CANCELLED, at=at(2024, 5, 1), source="t", actor=SYSTEM)
    await store.projects.record_stage(codes[2], Stage.LAND, at=at(2024, 2, 20), source="t", actor=SYSTEM)
    await store.projects.record_progress(codes[3], at=at(2024, 6, 1), actor=SYSTEM)
    stored = [await store.projects.require(code) for code in codes]
    live = [s for s in Stage if s not in (Stage.IN_PRODUCTION, Stage.CANCELLED)]
    # The last progress of project 6 itself: it is not stalled since then, the ones before it are.
    since = stored[6].last_progress_at
    expected: dict[str, CountyProgress] = {}
    for p in stored:
        if p.stage in live:
            row = expected.setdefault(p.county.code, CountyProgress(projects=0, stalled=0))
            row.projects += 1
            row.stalled += p.last_progress_at < since
    assert 0 < sum(r.stalled for r in expected.values()) < sum(r.projects for r in expected.values())
    progress = await store.projects.progress_by_county(live, since)
    assert progress == expected
    # What it replaces: the county counts of two filtered stats.
    at_stages = await store.projects.stats(ProjectFilter(stages=live))
    assert {c: r.projects for c, r in progress.items()} == at_stages.by_county
    stalled = await store.projects.stats(ProjectFilter(stages=live, stalled_since=since))
    assert {c: r.stalled for c, r in progress.items() if r.stalled} == stalled.by_county

    assert await store.projects.progress_by_county([Stage.CANCELLED], since) == {
        stored[1].county.code: CountyProgress(projects=1, stalled=0)}
    with pytest.raises(InvalidInput, match="unknown stage"):
        await store.projects.progress_by_county(["signed", "nope"], since)
    with pytest.raises(InvalidInput, match="since"):
        await store.projects.progress_by_county(live, datetime(2024, 1, 1))


async def test_stage_timeline_follows_time_and_ignores_redelivery(store: DocumentStore) -> None:
    await store.projects.upsert(project_data("P-2"), actor=ADMIN)
    await store.projects.record_stage("P-2", Stage.PLANNING, at=at(2024, 4, 1), source="gonggai:2", actor=SYSTEM)
    # An older record arriving late goes into the timeline but does not set the current stage.
    p = await store.projects.record_stage("P-2", Stage.LAND, at=at(2024, 3, 1), source="gonggai:1", actor=SYSTEM)
    assert p.stage == Stage.PLANNING
    assert [e.stage for e in p.stage_history] == [Stage.SIGNED, Stage.LAND, Stage.PLANNING]
    assert p.last_progress_at == at(2024, 4, 1)
    again = await store.projects.record_stage("P-2", Stage.LAND, at=at(2024, 3, 1), source="gonggai:1",
                                              actor=SYSTEM)
    assert again.rev == p.rev and len(again.stage_history) == 3

    moved = await store.projects.record_progress("P-2", at=at(2024, 5, 1), actor=SYSTEM)
    assert moved.last_progress_at == at(2024, 5, 1)
    older = await store.projects.record_progress("P-2", at=at(2024, 1, 5), actor=SYSTEM)
    assert older.last_progress_at == at(2024, 5, 1) and older.rev == moved.rev

    stalled = await store.projects.list(ProjectFilter(stalled_since=at(2024, 5, 2)))
    assert [x.project_code for x in stalled.items] == ["P-2"]
    assert (await store.projects.list(ProjectFilter(stalled_since=at(2024, 5, 1)))).total == 0


async def test_bad_input_is_refused_and_leaves_the_project_unchanged(store: DocumentStore) -> None:
    await store.projects.upsert(project_data("P-3"), actor=ADMIN)
    before = await store.projects.require("P-3")
    with pytest.raises(InvalidInput, match="unknown stage 'built'"):
        await store.projects.record_stage("P-3", "built", at=at(2024, 3, 1), source="x", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await store.projects.record_stage("P-3", Stage.LAND, at=datetime(2024, 3, 1), source="x", actor=SYSTEM)
    with pytest.raises(InvalidInput, match="actor must be an Actor"):
        await store.projects.set_light("P-3", Light.RED, at=at(2024, 3, 1), reason="x", actor="admin")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        await store.projects.set_process_instance("P-3", 2**64, actor=SYSTEM)
    with pytest.raises(NotFound, match="project 'nope' does not exist"):
        await store.projects.record_stage("nope", Stage.LAND, at=at(2024, 3, 1), source="x", actor=SYSTEM)
    with pytest.raises(ValidationError, match="county"):
        project_data("P-4", county=dict(code="32081", name="x"))
    assert await store.projects.require("P-3") == before
    assert await store.projects.get("nope") is None


async def test_times_come_back_aware_utc_and_keys_keep_64_bits(store: DocumentStore) -> None:
    shanghai = timezone(timedelta(hours=8))
    signed = datetime(2024, 2, 1, 9, 30, 15, 123456, tzinfo=shanghai)
    await store.projects.upsert(project_data("P-5", signed_at=signed), actor=ADMIN)
    key = 2**63 - 1
    await store.projects.set_process_instance("P-5", key, actor=SYSTEM)
    p = await store.projects.require("P-5")
    assert p.signed_at.tzinfo is not None and p.signed_at.utcoffset() == timedelta(0)
    assert p.signed_at == datetime(2024, 2, 1, 1, 30, 15, 123000, tzinfo=UTC)  # milliseconds, like BSON
    assert p.process_instance_key == key


async def test_sqlite_file_keeps_data_across_reopen(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'docs.sqlite3'}"
    first = await open_store(url)
    await first.projects.upsert(project_data("P-6"), actor=ADMIN)
    await first.close()
    second = await open_store(url)
    try:
        assert (await second.projects.require("P-6")).project_code == "P-6"
    finally:
        await second.close()


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite:///:memory:", "sqlite://"])
async def test_open_store_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite"):
        await open_store(url)
