"""Contract: problems (atomic history, guarded transitions, filters, figures) and yellow flags."""

from __future__ import annotations

import asyncio
import statistics
from datetime import timedelta

import pytest

from shared.documents import Conflict, DocumentStore, InvalidInput, NotFound
from shared.documents.models import (
    PageRequest,
    Period,
    Problem,
    ProblemFilter,
    ProblemOrigin,
    ProblemStats,
    ProblemStatsByScope,
    ProblemStatus,
    ResponsibleUnit,
    UnitRole,
    UnitTaskStatus,
)
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_problem


async def test_create_is_idempotent_with_an_id_and_starts_history(store: DocumentStore) -> None:
    first = await store.problems.create(new_problem("P-1", id="warn-2251799813685249"), actor=SYSTEM)
    assert first.created
    p = first.item
    assert p.status == ProblemStatus.ASSIGNED and p.unit_ids == ["assist-qjp"]
    assert p.units[0].assigned_at == p.raised_at
    assert [(h.action, h.status, h.actor) for h in p.history] == [("raised", ProblemStatus.ASSIGNED, SYSTEM.user)]
    again = await store.problems.create(new_problem("P-1", id="warn-2251799813685249", title="other"), actor=SYSTEM)
    assert not again.created and again.item == p
    assert (await store.problems.list()).total == 1

    no_units = await store.problems.create(new_problem("P-1", units=[]), actor=SYSTEM)
    assert no_units.created and no_units.item.status == ProblemStatus.OPEN and no_units.item.id != p.id


async def test_each_change_appends_exactly_one_history_entry_with_its_status(store: DocumentStore) -> None:
    p = (await store.problems.create(new_problem("P-1", units=[]), actor=SYSTEM)).item
    assigned = await store.problems.transition(
        p.id, status=ProblemStatus.ASSIGNED, action="assign", actor=ADMIN, at=at(2024, 5, 2), note="joint",
        add_units=[ResponsibleUnit(unit_id="assist-qjp", role=UnitRole.ASSISTANT),
                   ResponsibleUnit(unit_id="dept-zrzy", role=UnitRole.APPROVAL)],
        due_at=at(2024, 5, 13), expected_status=ProblemStatus.OPEN)
    assert assigned.unit_ids == ["assist-qjp", "dept-zrzy"] and assigned.due_at == at(2024, 5, 13)
    reported = await store.problems.update_unit(
        p.id, "dept-zrzy", unit_status=UnitTaskStatus.REPORTED, action="report", actor=ADMIN, at=at(2024, 5, 8),
        resolution="old structures removed", status=ProblemStatus.REPORTED)
    unit = reported.unit("dept-zrzy")
    assert unit is not None and unit.reported_at == at(2024, 5, 8) and unit.resolution == "old structures removed"
    assert reported.unit("assist-qjp").status == UnitTaskStatus.ASSIGNED  # type: ignore[union-attr]
    closed = await store.problems.transition(p.id, status="closed", action="confirm", actor=ADMIN,
                                             at=at(2024, 5, 9), expected_status=[ProblemStatus.REPORTED])
    assert closed.closed_at == at(2024, 5, 9)
    assert [(h.action, h.status) for h in closed.history] == [
        ("raised", ProblemStatus.OPEN), ("assign", ProblemStatus.ASSIGNED), ("report", ProblemStatus.REPORTED),
        ("confirm", ProblemStatus.CLOSED)]
    assert closed.rev == 4
    reopened = await store.problems.transition(p.id, status=ProblemStatus.SENT_BACK, action="reopen",
                                               actor=ADMIN, at=at(2024, 5, 10))
    assert reopened.closed_at is None
    actions = [e.action for e in (await store.audit.list(target_kind="problem", target_id=p.id)).items]
    assert actions == ["problem.reopen", "problem.confirm", "problem.report", "problem.assign", "problem.create"]


async def test_guarded_and_bad_changes_leave_the_problem_as_it_was(store: DocumentStore) -> None:
    p = (await store.problems.create(new_problem("P-1"), actor=SYSTEM)).item
    with pytest.raises(Conflict, match="is assigned, not reported"):
        await store.problems.transition(p.id, status=ProblemStatus.CLOSED, action="confirm", actor=ADMIN,
                                        at=at(2024, 5, 9), expected_status=ProblemStatus.REPORTED)
    with pytest.raises(InvalidInput, match="unit 'dept-x' is not responsible"):
        await store.problems.update_unit(p.id, "dept-x", unit_status="reported", action="report", actor=ADMIN,
                                         at=at(2024, 5, 9))
    with pytest.raises(Conflict, match=r"unit assist-qjp on problem \w+ is assigned, not reported"):
        await store.problems.update_unit(p.id, "assist-qjp", unit_status="done", action="confirm", actor=ADMIN,
                                         at=at(2024, 5, 9), expected_unit_status=UnitTaskStatus.REPORTED)
    with pytest.raises(InvalidInput, match="unknown problem status 'solved'"):
        await store.problems.transition(p.id, status="solved", action="x", actor=ADMIN, at=at(2024, 5, 9))
    with pytest.raises(InvalidInput, match="listed twice"):
        await store.problems.transition(
            p.id, status=ProblemStatus.ASSIGNED, action="assign", actor=ADMIN, at=at(2024, 5, 9),
            add_units=[ResponsibleUnit(unit_id="u", role=UnitRole.APPROVAL)] * 2)
    with pytest.raises(NotFound):
        await store.problems.transition("missing", status=ProblemStatus.CLOSED, action="x", actor=ADMIN,
                                        at=at(2024, 5, 9))
    assert await store.problems.require(p.id) == p
    assert (await store.audit.list(target_kind="problem")).total == 1


async def test_concurrent_changes_all_land_in_the_history(store: DocumentStore) -> None:
    p = (await store.problems.create(new_problem("P-1"), actor=SYSTEM)).item
    n = 8
    await asyncio.gather(*[
        store.problems.transition(p.id, status=ProblemStatus.ASSIGNED, action="chase", actor=SYSTEM,
                                  at=at(2024, 5, 2) + timedelta(hours=i), note=f"reminder {i}")
        for i in range(n)])
    stored = await store.problems.require(p.id)
    assert stored.rev == 1 + n
    assert sorted(h.note for h in stored.history if h.action == "chase") == sorted(f"reminder {i}" for i in range(n))


async def _seed(store: DocumentStore) -> list[Problem]:
    problems = []
    specs = [  # (county, units, raised, closed after days or None, origin)
        ("320812", ["assist-qjp"], at(2024, 1, 10), 3, ProblemOrigin.WARNING),
        ("320812", ["assist-qjp", "dept-zrzy"], at(2024, 1, 20), 12, ProblemOrigin.INVESTOR),
        ("320803", ["dept-zrzy"], at(2024, 2, 5), None, ProblemOrigin.UNIT),
        ("320803", ["assist-ha"], at(2024, 2, 15), 1.5, ProblemOrigin.WARNING),
        ("320812", ["dept-fgw"], at(2024, 3, 1), None, ProblemOrigin.WARNING),
        ("320804", ["dept-zrzy"], at(2023, 12, 28), 20, ProblemOrigin.WARNING),
    ]
    for i, (county, units, raised, days, origin) in enumerate(specs):
        p = (await store.problems.create(new_problem(
            f"P-{i}", county_code=county, raised_at=raised, origin=origin, due_at=raised + timedelta(days=10),
            units=[ResponsibleUnit(unit_id=u, role=UnitRole.APPROVAL) for u in units]), actor=SYSTEM)).item
        if days is not None:
            p = await store.problems.transition(p.id, status=ProblemStatus.CLOSED, action="confirm", actor=ADMIN,
                                                at=raised + timedelta(days=days))
        problems.append(p)
    return problems


async def test_list_filters_and_pages(store: DocumentStore) -> None:
    problems = await _seed(store)

    async def ids(f: ProblemFilter) -> set[str]:
        return {p.id for p in (await store.problems.list(f, PageRequest(size=100))).items}

    assert await ids(ProblemFilter(status=ProblemStatus.CLOSED)) == {p.id for p in problems if p.closed_at}
    assert await ids(ProblemFilter(county_code="320812")) == {p.id for p in problems if p.county_code == "320812"}
    assert await ids(ProblemFilter(unit_id="dept-zrzy")) == {p.id for p in problems if "dept-zrzy" in p.unit_ids}
    assert await ids(ProblemFilter(project_code="P-2")) == {problems[2].id}
    assert await ids(ProblemFilter(origin=ProblemOrigin.INVESTOR)) == {problems[1].id}
    feb = Period(start=at(2024, 2, 1), end=at(2024, 3, 1))
    assert await ids(ProblemFilter(raised=feb)) == {p.id for p in problems if p.raised_at in feb}
    closed_in_jan = {p.id for p in problems if p.closed_at and p.closed_at in Period(start=at(2024, 1, 1),
                                                                                     end=at(2024, 2, 1))}
    assert closed_in_jan and await ids(ProblemFilter(closed=Period(start=at(2024, 1, 1), end=at(2024, 2, 1)))) == closed_in_jan
    overdue = {p.id for p in problems if p.closed_at is None and p.due_at and p.due_at < at(2024, 3, 5)}
    assert await ids(ProblemFilter(overdue_at=at(2024, 3, 5))) == overdue
    assert await ids(ProblemFilter(statuses=[ProblemStatus.ASSIGNED], county_code="320803")) == {problems[2].id}

    newest_first = sorted(problems, key=lambda p: p.raised_at, reverse=True)
    first = await store.problems.list(page=PageRequest(page=1, size=4))
    second = await store.problems.list(page=PageRequest(page=2, size=4))
    assert first.total == second.total == len(problems)
    assert [p.id for p in first.items + second.items] == [p.id for p in newest_first]


async def test_stats_are_computed_from_what_was_raised_and_closed(store: DocumentStore) -> None:
    problems = await _seed(store)
    period = Period(start=at(2024, 1, 1), end=at(2024, 2, 1))
    found = [p for p in problems if p.raised_at in period]
    closed = [p for p in problems if p.closed_at is not None and p.closed_at in period]
    hours = [(p.closed_at - p.raised_at).total_seconds() / 3600 for p in closed]  # type: ignore[operator]
    stats = await store.problems.stats(period)
    assert stats.found == len(found) and stats.resolved == len(closed)
    assert stats.resolution_rate == pytest.approx(len(closed) / len(found))
    assert stats.mean_resolve_hours == pytest.approx(statistics.fmean(hours))
    assert stats.median_resolve_hours == pytest.approx(statistics.median(hours))
    assert stats.max_resolve_hours == pytest.approx(max(hours))

    by_unit = await store.problems.stats(Period(start=at(2023, 1, 1), end=at(2025, 1, 1)), unit_id="dept-zrzy")
    mine = [p for p in problems if "dept-zrzy" in p.unit_ids]
    assert by_unit.found == len(mine) and by_unit.resolved == len([p for p in mine if p.closed_at])

    empty = await store.problems.stats(Period(start=at(2020, 1, 1), end=at(2020, 2, 1)))
    assert (empty.found, empty.resolved, empty.resolution_rate, empty.mean_resolve_hours) == (0, 0, None, None)


async def test_stats_by_scope_are_the_stats_of_every_county_and_unit_at_once(store: DocumentStore) -> None:
    await _seed(store)
    countyless = (await store.problems.create(new_problem(
        "P-9", county_code=None, raised_at=at(2024, 1, 15),
        units=[ResponsibleUnit(unit_id="dept-zrzy", role=UnitRole.APPROVAL)]), actor=SYSTEM)).item
    await store.problems.transition(countyless.id, status=ProblemStatus.CLOSED, action="confirm", actor=ADMIN,
                                    at=at(2024, 1, 17))
    period = Period(start=at(2024, 1, 1), end=at(2024, 3, 1))
    by_scope = await store.problems.stats_by_scope(period)

    def figures(stats: dict[str, ProblemStats]) -> dict[str, tuple[int, int, float | None, float | None]]:
        return {k: (v.found, v.resolved, v.resolution_rate, v.mean_resolve_hours) for k, v in stats.items()}

    # Raised on the period's end (dept-fgw's) is outside; closed in it though raised before (320804's) counts;
    # the countyless problem counts for its unit only.
    assert figures(by_scope.by_county) == {
        "320803": (2, 1, 0.5, 36.0), "320804": (0, 1, None, 480.0), "320812": (2, 2, 1.0, 180.0)}
    assert figures(by_scope.by_unit) == {
        "assist-ha": (1, 1, 1.0, 36.0), "assist-qjp": (2, 2, 1.0, 180.0), "dept-zrzy": (3, 3, 1.0, 272.0)}
    for county in ("320803", "320804", "320812", "320826"):
        assert by_scope.county(county) == await store.problems.stats(period, county_code=county)
    for unit in ("assist-ha", "assist-qjp", "dept-zrzy", "dept-fgw"):
        assert by_scope.unit(unit) == await store.problems.stats(period, unit_id=unit)
    assert (by_scope.unit("dept-fgw").found, by_scope.unit("dept-fgw").mean_resolve_hours) == (0, None)

    assert await store.problems.stats_by_scope(Period(start=at(2020, 1, 1), end=at(2020, 2, 1))) == \
        ProblemStatsByScope(by_county={}, by_unit={})


async def test_one_open_flag_per_unit_and_problem(store: DocumentStore) -> None:
    raised = await asyncio.gather(*[
        store.flags.raise_flag(unit_id="dept-zrzy", problem_id="pr-1", project_code="P-1", reason="30 days",
                               at=at(2024, 6, 1), actor=SYSTEM) for _ in range(5)])
    assert sum(r.created for r in raised) == 1
    assert len({r.item.id for r in raised}) == 1
    other = await store.flags.raise_flag(unit_id="assist-qjp", problem_id="pr-1", project_code="P-1",
                                         reason="30 days", at=at(2024, 6, 1), actor=SYSTEM)
    assert other.created
    assert await store.flags.count_open_by_unit() == {"dept-zrzy": 1, "assist-qjp": 1}
    assert [f.id for f in await store.flags.list_open(unit_id="dept-zrzy")] == [raised[0].item.id]

    lifted = await store.flags.lift_for(unit_id="dept-zrzy", problem_id="pr-1", at=at(2024, 6, 5), actor=ADMIN)
    assert lifted is not None and lifted.lifted_at == at(2024, 6, 5) and not lifted.open
    assert await store.flags.lift(lifted.id, at=at(2024, 6, 9), actor=ADMIN) == lifted  # already lifted
    assert await store.flags.lift_for(unit_id="dept-zrzy", problem_id="pr-1", at=at(2024, 6, 9), actor=ADMIN) is None
    assert await store.flags.list_open(unit_id="dept-zrzy") == []

    # Once lifted, the pair may be flagged again: a new flag, the old one kept as history.
    again = await store.flags.raise_flag(unit_id="dept-zrzy", problem_id="pr-1", project_code="P-1",
                                         reason="again", at=at(2024, 7, 1), actor=SYSTEM)
    assert again.created and again.item.id != lifted.id
    assert (await store.flags.list(unit_id="dept-zrzy")).total == 2
    assert [f.project_code for f in await store.flags.list_open(project_code="P-1")] == ["P-1", "P-1"]

    with pytest.raises(InvalidInput, match="before it was raised"):
        await store.flags.lift(again.item.id, at=at(2024, 6, 30), actor=ADMIN)
    with pytest.raises(NotFound):
        await store.flags.lift("nope", at=at(2024, 6, 30), actor=ADMIN)
    with pytest.raises(InvalidInput, match="non-empty"):
        await store.flags.raise_flag(unit_id="", problem_id="pr-1", project_code="P-1", reason="x",
                                     at=at(2024, 6, 1), actor=SYSTEM)
    assert (await store.flags.get(again.item.id)).open  # type: ignore[union-attr]
