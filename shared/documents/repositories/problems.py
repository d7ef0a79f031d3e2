"""Problems (work orders). Every change appends a history entry in the same write as the change itself:
the document is replaced whole under its ``rev``, so history and status can never disagree."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from shared.documents.driver import (
    CollectionSpec,
    Condition,
    Contains,
    ContainsAny,
    Eq,
    In,
    Index,
    Or,
    Range,
    Transaction,
)
from shared.documents.errors import Conflict, InvalidInput, NotFound
from shared.documents.models import (
    Actor,
    HistoryEntry,
    NewProblem,
    Page,
    PageRequest,
    Period,
    Problem,
    ProblemFilter,
    ProblemStats,
    ProblemStatsByScope,
    ProblemStatus,
    ResponsibleUnit,
    Saved,
    UnitTaskStatus,
)
from shared.documents.repositories.base import Repository, Stale, aware, from_doc, to_doc

PROBLEMS = "problems"
SPECS = (
    CollectionSpec(PROBLEMS, (
        Index(("status", "raised_at")),
        Index(("raised_at",)),
        Index(("closed_at",)),
        Index(("project_code",)),
        Index(("county_code", "status")),
        Index(("unit_ids", "raised_at")),
        Index(("due_at",)),
    )),
)

_OPEN_STATUSES = (ProblemStatus.OPEN, ProblemStatus.ASSIGNED, ProblemStatus.REPORTED, ProblemStatus.SENT_BACK)
_UNSET = object()


def _conditions(f: ProblemFilter) -> list[Condition]:
    c: list[Condition] = []
    if f.visible_to is not None:
        v = f.visible_to
        either: list[Condition] = []
        if v.unit_ids:
            either.append(ContainsAny("unit_ids", tuple(v.unit_ids)))
        if v.county_codes:
            either.append(In("county_code", tuple(v.county_codes)))
        if v.project_codes:
            either.append(In("project_code", tuple(v.project_codes)))
        # An empty scope sees nothing: a condition no document meets.
        c.append(Or(tuple(either)) if either else In("_id", ()))
    if f.status is not None:
        c.append(Eq("status", f.status))
    if f.statuses is not None:
        c.append(In("status", tuple(f.statuses)))
    if f.county_code is not None:
        c.append(Eq("county_code", f.county_code))
    if f.unit_id is not None:
        c.append(Contains("unit_ids", f.unit_id))
    if f.project_code is not None:
        c.append(Eq("project_code", f.project_code))
    if f.project_codes is not None:
        c.append(In("project_code", tuple(f.project_codes)))
    if f.origin is not None:
        c.append(Eq("origin", f.origin))
    if f.raised is not None:
        c.append(Range("raised_at", gte=f.raised.start, lt=f.raised.end))
    if f.closed is not None:
        c.append(Range("closed_at", gte=f.closed.start, lt=f.closed.end))
    if f.overdue_at is not None:
        c.append(In("status", _OPEN_STATUSES))
        c.append(Range("due_at", lt=f.overdue_at))
    return c


def _hours(problem: Problem) -> float:
    assert problem.closed_at is not None
    return (problem.closed_at - problem.raised_at).total_seconds() / 3600


def _closed_in(period: Period) -> list[Condition]:
    return [Eq("status", ProblemStatus.CLOSED), Range("closed_at", gte=period.start, lt=period.end)]


def _figures(found: int, hours: list[float]) -> ProblemStats:
    return ProblemStats(
        found=found,
        resolved=len(hours),
        resolution_rate=len(hours) / found if found else None,
        mean_resolve_hours=statistics.fmean(hours) if hours else None,
        median_resolve_hours=statistics.median(hours) if hours else None,
        max_resolve_hours=max(hours) if hours else None,
    )


class ProblemRepository(Repository):
    async def create(self, new: NewProblem, *, actor: Actor) -> Saved[Problem]:
        """Raise a problem. With ``new.id`` set, raising it again returns the stored one (created=False)."""
        if not isinstance(new, NewProblem):
            raise InvalidInput(f"expected NewProblem, got {type(new).__name__}")
        new = NewProblem.model_validate(new.model_dump())
        _check_units(new.units)
        problem_id = new.id or uuid.uuid4().hex
        status = ProblemStatus.ASSIGNED if new.units else ProblemStatus.OPEN
        units = [u.model_copy(update={"assigned_at": u.assigned_at or new.raised_at}) for u in new.units]
        problem = Problem(
            **new.model_dump(exclude={"id", "units"}),
            id=problem_id,
            status=status,
            units=units,
            unit_ids=[u.unit_id for u in units],
            history=[HistoryEntry(at=new.raised_at, actor=actor.user, action="raised", note=None, status=status)],
            updated_at=self.clock.now(),
        )

        async def work(tx: Transaction) -> Saved[Problem]:
            existing = await self.driver.get(PROBLEMS, problem_id, tx)
            if existing is not None:
                return Saved[Problem](item=from_doc(Problem, existing), created=False)
            doc = to_doc(problem, problem_id)
            if not await self.driver.insert(PROBLEMS, doc, tx):
                raise Stale("problem created concurrently")
            await self.audit(tx, actor, "problem.create", "problem", problem_id, None, doc)
            return Saved[Problem](item=problem, created=True)

        return await self.unit_of_work(work, actor)

    async def get(self, problem_id: str) -> Problem | None:
        doc = await self.driver.get(PROBLEMS, problem_id)
        return from_doc(Problem, doc) if doc else None

    async def require(self, problem_id: str) -> Problem:
        problem = await self.get(problem_id)
        if problem is None:
            raise NotFound("problem", problem_id)
        return problem

    async def list(self, filter: ProblemFilter | None = None, page: PageRequest | None = None) -> Page[Problem]:
        """Most recently raised first."""
        return await self.page(PROBLEMS, Problem, _conditions(filter or ProblemFilter()), page,
                               sort=[("raised_at", -1)])

    async def transition(
        self,
        problem_id: str,
        *,
        status: ProblemStatus | str,
        action: str,
        actor: Actor,
        at: datetime,
        note: str | None = None,
        expected_status: ProblemStatus | Iterable[ProblemStatus] | None = None,
        add_units: Iterable[ResponsibleUnit] = (),
        due_at: datetime | object | None = _UNSET,
    ) -> Problem:
        """Set the status (and optionally add units, move the due date) with one history entry.

        ``expected_status`` guards against acting on a state someone else has just changed: when the stored
        status is not among them, ``Conflict`` and nothing changes. Closing stamps ``closed_at``; reopening
        clears it.
        """
        status = _status(status)
        at = aware(at)
        expected = _expected(expected_status)
        new_units = list(add_units)
        _check_units(new_units)
        if due_at is not _UNSET and due_at is not None:
            aware(due_at, "due_at")  # type: ignore[arg-type]

        def change(p: Problem) -> Problem:
            if expected is not None and p.status not in expected:
                raise Conflict(f"problem {p.id} is {p.status}, not {' or '.join(expected)}")
            units = list(p.units)
            for unit in new_units:
                if p.unit(unit.unit_id) is None:
                    units.append(unit.model_copy(update={"assigned_at": unit.assigned_at or at}))
            update: dict[str, object] = {
                "status": status,
                "units": units,
                "unit_ids": [u.unit_id for u in units],
                "closed_at": at if status == ProblemStatus.CLOSED else None,
                "history": [*p.history, HistoryEntry(at=at, actor=actor.user, action=action, note=note,
                                                     status=status)],
            }
            if due_at is not _UNSET:
                update["due_at"] = due_at
            return Problem.model_validate({**p.model_dump(), **update})

        return await self._change(problem_id, f"problem.{action}", change, actor)

    async def update_unit(
        self,
        problem_id: str,
        unit_id: str,
        *,
        unit_status: UnitTaskStatus | str,
        action: str,
        actor: Actor,
        at: datetime,
        note: str | None = None,
        resolution: str | None = None,
        status: ProblemStatus | str | None = None,
        expected_unit_status: UnitTaskStatus | Iterable[UnitTaskStatus] | None = None,
    ) -> Problem:
        """Change one responsible unit's task (report, send back, done), optionally the problem's status
        too, with one history entry. A unit that is not responsible for the problem is ``InvalidInput``."""
        try:
            unit_status = UnitTaskStatus(unit_status)
        except ValueError as exc:
            raise InvalidInput(f"unknown unit task status {unit_status!r}") from exc
        at = aware(at)
        new_status = _status(status) if status is not None else None
        expected = (
            None if expected_unit_status is None
            else {UnitTaskStatus(expected_unit_status)} if isinstance(expected_unit_status, str)
            else {UnitTaskStatus(s) for s in expected_unit_status}
        )

        def change(p: Problem) -> Problem:
            unit = p.unit(unit_id)
            if unit is None:
                raise InvalidInput(f"unit {unit_id!r} is not responsible for problem {p.id}")
            if expected is not None and unit.status not in expected:
                raise Conflict(f"unit {unit_id} on problem {p.id} is {unit.status}, not {' or '.join(expected)}")
            updated_unit = unit.model_copy(update={
                "status": unit_status,
                "reported_at": at if unit_status == UnitTaskStatus.REPORTED else unit.reported_at,
                "resolution": resolution if resolution is not None else unit.resolution,
            })
            units = [updated_unit if u.unit_id == unit_id else u for u in p.units]
            final = new_status or p.status
            return Problem.model_validate({
                **p.model_dump(),
                "units": [u.model_dump() for u in units],
                "status": final,
                "closed_at": at if final == ProblemStatus.CLOSED else (None if new_status else p.closed_at),
                "history": [*[h.model_dump() for h in p.history],
                            {"at": at, "actor": actor.user, "action": action, "note": note, "status": final}],
            })

        return await self._change(problem_id, f"problem.{action}", change, actor)

    async def stats(
        self, period: Period, *, county_code: str | None = None, unit_id: str | None = None
    ) -> ProblemStats:
        scope: list[Condition] = []
        if county_code is not None:
            scope.append(Eq("county_code", county_code))
        if unit_id is not None:
            scope.append(Contains("unit_ids", unit_id))
        found = await self.driver.count(PROBLEMS, [*scope, Range("raised_at", gte=period.start, lt=period.end)])
        closed = self.driver.iterate(PROBLEMS, [*scope, *_closed_in(period)])
        hours = [_hours(from_doc(Problem, d)) async for d in closed]
        return _figures(found, hours)

    async def stats_by_scope(self, period: Period) -> ProblemStatsByScope:
        """``stats(period, county_code=c)`` for every county and ``stats(period, unit_id=u)`` for every unit at
        once: two scans (raised in the period, closed in it) grouped here, whatever the number of scopes."""
        found_by_county: Counter[str] = Counter()
        found_by_unit: Counter[str] = Counter()
        async for doc in self.driver.iterate(PROBLEMS, [Range("raised_at", gte=period.start, lt=period.end)]):
            if doc.get("county_code") is not None:
                found_by_county[doc["county_code"]] += 1
            for unit_id in set(doc.get("unit_ids") or ()):
                found_by_unit[unit_id] += 1
        hours_by_county: dict[str, list[float]] = defaultdict(list)
        hours_by_unit: dict[str, list[float]] = defaultdict(list)
        async for doc in self.driver.iterate(PROBLEMS, _closed_in(period)):
            problem = from_doc(Problem, doc)
            hours = _hours(problem)
            if problem.county_code is not None:
                hours_by_county[problem.county_code].append(hours)
            for unit_id in set(problem.unit_ids):
                hours_by_unit[unit_id].append(hours)
        return ProblemStatsByScope(
            by_county={k: _figures(found_by_county[k], hours_by_county.get(k, []))
                       for k in sorted(found_by_county.keys() | hours_by_county.keys())},
            by_unit={k: _figures(found_by_unit[k], hours_by_unit.get(k, []))
                     for k in sorted(found_by_unit.keys() | hours_by_unit.keys())},
        )

    async def _change(
        self, problem_id: str, action: str, change: Callable[[Problem], Problem], actor: Actor
    ) -> Problem:
        async def work(tx: Transaction) -> Problem:
            before = await self.driver.get(PROBLEMS, problem_id, tx)
            if before is None:
                raise NotFound("problem", problem_id)
            updated = change(from_doc(Problem, before))
            updated.updated_at = self.clock.now()
            after = to_doc(updated, problem_id)
            await self.replace(PROBLEMS, tx, before, after)
            await self.audit(tx, actor, action, "problem", problem_id, before, after)
            return from_doc(Problem, after)

        return await self.unit_of_work(work, actor)


def _status(status: ProblemStatus | str) -> ProblemStatus:
    try:
        return ProblemStatus(status)
    except ValueError as exc:
        raise InvalidInput(f"unknown problem status {status!r}; expected one of {[s.value for s in ProblemStatus]}") from exc


def _expected(expected: ProblemStatus | Iterable[ProblemStatus] | None) -> set[ProblemStatus] | None:
    if expected is None:
        return None
    if isinstance(expected, str):
        return {_status(expected)}
    return {_status(s) for s in expected}


def _check_units(units: list[ResponsibleUnit]) -> None:
    ids = [u.unit_id for u in units]
    if len(ids) != len(set(ids)):
        raise InvalidInput(f"a unit is listed twice among {ids}")
