"""The figures of the big screen and of the analyses, computed from the indexed documents.

Horse race (赛马) formula. For each county and each department, over the period:

- progress    = live projects (not in production, not cancelled) with progress in the period / live projects
                (counties only: departments own no projects);
- resolution  = problems resolved in the period / problems found in the period;
- speed       = min(1, 168 h / mean hours to resolve): resolving within 7 days on average scores 1,
                taking twice as long 0.5;
- flags       = 1 / (1 + open yellow flags): a unit with no flag scores 1, with one 0.5;
- satisfaction = (average investor score - 1) / 4, scores being 1-5.

score = 100 x sum(weight x component) / sum(weight) over the components that have a value (no problems
found: no resolution and no speed component; no evaluations: no satisfaction), with weights progress 0.25,
resolution 0.25, speed 0.15, flags 0.15, satisfaction 0.20. Ranked by score, then by code.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from gateway.common import month_period
from gateway.context import Services
from gateway.dashboards import schemas as s
from gateway.projects.counties import county_names
from shared.clock import to_display
from shared.documents.models import (
    Light,
    PageRequest,
    Period,
    Problem,
    ProblemFilter,
    ProblemStatus,
    ProjectFilter,
    Stage,
    UnitKind,
    every_item,
)

WEIGHTS = {"progress": 0.25, "resolution": 0.25, "speed": 0.15, "flags": 0.15, "satisfaction": 0.20}
TARGET_RESOLVE_HOURS = 7 * 24
RED_LIGHTS_SHOWN = 50
LIVE_STAGES = [st for st in Stage if st not in (Stage.IN_PRODUCTION, Stage.CANCELLED)]
FORMULA = __doc__.split("Horse race (赛马) formula.", 1)[1].strip() if __doc__ else ""
_OPEN = [ProblemStatus.OPEN, ProblemStatus.ASSIGNED, ProblemStatus.REPORTED, ProblemStatus.SENT_BACK]


async def _all_problems(services: Services, f: ProblemFilter) -> list[Problem]:
    return [p async for p in every_item(lambda page: services.store.problems.list(f, page))]


async def _closed_in(services: Services, period: Period) -> list[Problem]:
    return await _all_problems(services, ProblemFilter(status=ProblemStatus.CLOSED, closed=period))


def _hours(p: Problem) -> float:
    assert p.closed_at is not None
    return (p.closed_at - p.raised_at).total_seconds() / 3600


def _period_out(period: Period) -> s.PeriodOut:
    return s.PeriodOut(start=period.start, end=period.end)


def _months_back(now: datetime, count: int) -> list[Period]:
    months = [month_period(now)]
    while len(months) < count:
        months.insert(0, month_period(months[0].start - timedelta(seconds=1)))
    return months


async def _figures(services: Services, period: Period) -> s.ProblemFigures:
    stats = await services.store.problems.stats(period)
    open_now = (await services.store.problems.list(ProblemFilter(statuses=_OPEN), PageRequest(page=1, size=1))).total
    return s.ProblemFigures(found=stats.found, resolved=stats.resolved, completion_rate=stats.resolution_rate,
                            mean_resolve_hours=stats.mean_resolve_hours, median_resolve_hours=stats.median_resolve_hours,
                            open_now=open_now)


async def summary(services: Services, period: Period) -> s.Summary:
    now = services.clock.now()
    store = services.store
    stats = await store.projects.stats()
    # One pass over the red projects (a few percent of all) gives both the map's red counts and this month's list.
    this_month = month_period(now)
    red_by_county: Counter[str] = Counter()
    reds = []
    async for p in every_item(lambda page: store.projects.list(ProjectFilter(light=Light.RED), page)):
        red_by_county[p.county.code] += 1
        if p.light_changed_at is not None and p.light_changed_at in this_month:
            reds.append(p)
    names = await county_names(services, set(stats.by_county))
    counties = [s.CountyCell(code=code, name=names.get(code), projects=n, red=red_by_county.get(code, 0))
                for code, n in sorted(stats.by_county.items())]
    reds.sort(key=lambda p: p.light_changed_at or now, reverse=True)
    # The screen lists the newest; the count says how many there are (a bad month can have hundreds).
    red_lights = [s.RedLight(project_code=p.project_code, name=p.name, county_code=p.county.code,
                             county_name=p.county.name, at=p.light_changed_at, reason=p.light_reason)
                  for p in reds[:RED_LIGHTS_SHOWN]]

    trend = []
    for month in _months_back(now, 12):
        m = await store.problems.stats(month)
        trend.append(s.TrendPoint(month=to_display(month.start).strftime("%Y-%m"), found=m.found,
                                  resolved=m.resolved, rate=m.resolution_rate))

    unit_names = {u.id: u.name for u in await store.units.list()}
    by_unit: dict[str, list] = defaultdict(list)
    for flag in await store.flags.list_open():
        by_unit[flag.unit_id].append(flag)
    board = sorted((s.FlagBoardRow(unit_id=u, unit_name=unit_names.get(u), count=len(fs),
                                   oldest_raised_at=min(f.raised_at for f in fs),
                                   project_codes=sorted({f.project_code for f in fs}))
                    for u, fs in by_unit.items()), key=lambda r: (-r.count, r.oldest_raised_at, r.unit_id))

    funnel = []
    reached = 0
    for stage in reversed([st for st in Stage if st != Stage.CANCELLED]):
        at_stage = stats.by_stage.get(stage.value, 0)
        reached += at_stage
        funnel.append(s.FunnelStep(stage=stage, at_stage=at_stage, reached=reached))
    funnel.reverse()

    latest = await store.approvals.list(page=PageRequest(page=1, size=20))
    project_names: dict[str, str | None] = {}
    for a in latest.items:
        if a.project_code not in project_names:
            p = await store.projects.get(a.project_code)
            project_names[a.project_code] = p.name if p else None
    ticker = [s.TickerItem(at=a.occurred_at, project_code=a.project_code, project_name=project_names[a.project_code],
                           source=a.source.value, item_name=a.item_name, status=a.status, unit_name=a.unit_name,
                           stage=a.stage) for a in latest.items]

    return s.Summary(
        as_of=now, period=_period_out(period),
        projects=s.ProjectTotals(total=stats.total, amount_cny=stats.amount_cny, red=stats.by_light.get("red", 0),
                                 by_stage=stats.by_stage, by_light=stats.by_light),
        counties=counties, red_lights_month_count=len(reds), red_lights_month=red_lights, problems=await _figures(services, period), trend=trend,
        flags=board, funnel=funnel, ticker=ticker)


def _breakdown(found: Iterable[Problem], resolved: Iterable[Problem], key_of, names: dict[str, str]) -> list[s.Breakdown]:  # type: ignore[no-untyped-def]
    found_by: dict[str, list[Problem]] = defaultdict(list)
    resolved_by: dict[str, list[Problem]] = defaultdict(list)
    for p in found:
        for key in key_of(p):
            found_by[key].append(p)
    for p in resolved:
        for key in key_of(p):
            resolved_by[key].append(p)
    rows = []
    for key in sorted(set(found_by) | set(resolved_by)):
        f, r = found_by.get(key, []), resolved_by.get(key, [])
        rows.append(s.Breakdown(
            key=key, name=names.get(key), found=len(f), resolved=len(r),
            open=sum(1 for p in f if p.status != ProblemStatus.CLOSED),
            rate=len(r) / len(f) if f else None,
            mean_resolve_hours=round(statistics.fmean(_hours(p) for p in r), 2) if r else None))
    return sorted(rows, key=lambda row: (-row.found, row.key))


BUCKETS = [("≤1天", 1.0), ("≤3天", 3.0), ("≤7天", 7.0), ("≤15天", 15.0), ("≤30天", 30.0), (">30天", None)]


async def problem_analysis(services: Services, period: Period) -> s.ProblemAnalysis:
    found = await _all_problems(services, ProblemFilter(raised=period))
    resolved = await _closed_in(services, period)
    counties = await county_names(services, {p.county_code for p in [*found, *resolved] if p.county_code})
    units = {u.id: u.name for u in await services.store.units.list()}
    counts: Counter[str] = Counter()
    for p in resolved:
        days = _hours(p) / 24
        label = next(label for label, limit in BUCKETS if limit is None or days <= limit)
        counts[label] += 1
    return s.ProblemAnalysis(
        as_of=services.clock.now(), period=_period_out(period), totals=await _figures(services, period),
        by_category=_breakdown(found, resolved, lambda p: [p.category], {}),
        by_county=_breakdown(found, resolved, lambda p: [p.county_code or "unknown"], counties),
        by_unit=_breakdown(found, resolved, lambda p: p.unit_ids, units),
        by_origin=_breakdown(found, resolved, lambda p: [p.origin.value], {}),
        resolve_time=[s.ResolveBucket(label=label, max_days=limit, count=counts[label]) for label, limit in BUCKETS])


def score(components: dict[str, float | None]) -> float:
    present = {k: v for k, v in components.items() if v is not None}
    if not present:
        return 0.0
    weight = sum(WEIGHTS[k] for k in present)
    return round(100 * sum(WEIGHTS[k] * v for k, v in present.items()) / weight, 2)


def _components(progress: float | None, found: int, resolved: int, mean_hours: float | None, flags: int,
                evaluation: float | None) -> dict[str, float | None]:
    return {
        "progress": progress,
        "resolution": min(1.0, resolved / found) if found else None,
        "speed": min(1.0, TARGET_RESOLVE_HOURS / mean_hours) if mean_hours else (1.0 if resolved else None),
        "flags": 1 / (1 + flags),
        "satisfaction": (evaluation - 1) / 4 if evaluation is not None else None,
    }


def _ranked(rows: list[s.RaceRow]) -> list[s.RaceRow]:
    rows.sort(key=lambda r: (-r.score, r.code))
    for i, row in enumerate(rows, start=1):
        row.rank = i
    return rows


async def horse_race(services: Services, period: Period) -> s.HorseRace:
    # The reads do not grow with the counties, departments or flags: one pass over the projects, one grouped
    # pass over the period's problems, the flagged projects in one listing. (county_names still reads once
    # per county missing from its built-in table.)
    store = services.store
    # "no progress in the period" = last progress before its start (or, for a past period, still before it)
    progress = await store.projects.progress_by_county(LIVE_STAGES, period.start)
    evaluations = await store.evaluations.summary(period)
    problems = await store.problems.stats_by_scope(period)
    open_flags = await store.flags.list_open()
    flagged = sorted({f.project_code for f in open_flags})
    county_of: dict[str, str] = {}
    if flagged:
        async for p in every_item(lambda page: store.projects.list(ProjectFilter(project_codes=flagged), page)):
            county_of[p.project_code] = p.county.code
    flag_county = Counter(county_of[f.project_code] for f in open_flags if f.project_code in county_of)
    flags_by_unit = Counter(f.unit_id for f in open_flags)
    names = await county_names(services, set(progress))

    counties = []
    for code in sorted(set(progress) | set(evaluations.by_county)):
        live = progress.get(code)
        n = live.projects if live else 0
        rate = (n - live.stalled) / n if live else None
        st = problems.county(code)
        ev = evaluations.by_county.get(code)
        evaluation = round(ev.average, 3) if ev else None
        comps = _components(rate, st.found, st.resolved, st.mean_resolve_hours, flag_county[code], evaluation)
        counties.append(s.RaceRow(rank=0, code=code, name=names.get(code), score=score(comps),
                                  progress_rate=rate, resolution_rate=comps["resolution"],
                                  mean_resolve_hours=st.mean_resolve_hours, open_flags=flag_county[code],
                                  evaluation=evaluation, projects=n, problems_found=st.found,
                                  problems_resolved=st.resolved))

    departments = []
    for unit in await store.units.list(kind=UnitKind.DEPARTMENT):
        st = problems.unit(unit.id)
        ev = evaluations.by_department.get(unit.id)
        evaluation = round(ev.average, 3) if ev else None
        comps = _components(None, st.found, st.resolved, st.mean_resolve_hours, flags_by_unit[unit.id], evaluation)
        departments.append(s.RaceRow(rank=0, code=unit.id, name=unit.name, score=score(comps), progress_rate=None,
                                     resolution_rate=comps["resolution"], mean_resolve_hours=st.mean_resolve_hours,
                                     open_flags=flags_by_unit[unit.id], evaluation=evaluation,
                                     problems_found=st.found, problems_resolved=st.resolved))
    return s.HorseRace(as_of=services.clock.now(), period=_period_out(period), formula=FORMULA, weights=WEIGHTS,
                       counties=_ranked(counties), departments=_ranked(departments))
