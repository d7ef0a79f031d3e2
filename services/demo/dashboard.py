"""The city's dashboard, computed from the documents: what the big screen would show for a period.

``dashboard_of(store, period)`` is what the scenario prints at the end of its year; every figure is read from
the documents store (projects, problems with their history, flags, evaluations), none from the scenario's
own bookkeeping, so a test can hold the two against each other.
"""

from __future__ import annotations

import contextlib
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from services.demo import city
from shared.calendar import SHANGHAI
from shared.documents import DocumentStore
from shared.documents.models import (
    Flag,
    Light,
    Period,
    Problem,
    ProblemFilter,
    ProblemOrigin,
    ProblemStatus,
    Project,
    Stage,
    every_item,
)
from shared.domain import stages
from shared.domain.evaluation import three_scores


@dataclass
class Dashboard:
    period: str
    projects_signed: int
    investment_yi: float  # 亿元
    by_stage: dict[str, int]
    in_production: int
    cancelled: int
    red_now: int
    red_lights_raised: int
    red_lights_last_month: int
    problems_found: int
    problems_resolved: int
    completion_rate: float | None
    found_by_origin: dict[str, int]
    mean_resolve_days: float | None
    open_problems: int
    escalations: int
    yellow_flags_raised: int
    yellow_flags_open: int
    flags_by_unit: dict[str, int]
    evaluations: int
    scores: dict[str, Any]
    scores_by_county: dict[str, float]
    horse_race: list[dict[str, Any]]
    engine: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def render(self) -> str:
        names = {c.code: c.name for c in city.COUNTIES}
        lines = [
            f"千里眼 · {city.CITY_NAME} {self.period}",
            f"  签约项目 projects signed     {self.projects_signed}（{self.investment_yi:,.1f} 亿元）",
            "  阶段 by stage                " + "  ".join(f"{stages.NAMES_ZH[Stage(k)]} {v}"
                                                       for k, v in sorted(self.by_stage.items(),
                                                                          key=lambda kv: _stage_order(kv[0]))),
            f"  投产 in production {self.in_production}   取消 cancelled {self.cancelled}",
            f"  红灯 red lights raised        {self.red_lights_raised}（最后一月 last month {self.red_lights_last_month}，"
            f"当前 red now {self.red_now}）",
            f"  问题 problems found/resolved  {self.problems_found} / {self.problems_resolved}   办结率 completion "
            + (f"{self.completion_rate:.1%}" if self.completion_rate is not None else "-")
            + f"   open {self.open_problems}",
            "    by origin                  " + "  ".join(f"{k} {v}" for k, v in sorted(self.found_by_origin.items())),
            "    mean time to resolve       " + (f"{self.mean_resolve_days:.1f} days" if self.mean_resolve_days else "-"),
            f"  督办 overdue escalations      {self.escalations}",
            f"  黄旗 yellow flags raised/open {self.yellow_flags_raised} / {self.yellow_flags_open}",
            "    most flagged units         " + "  ".join(f"{k} {v}" for k, v in list(self.flags_by_unit.items())[:5]),
            f"  评价 evaluations              {self.evaluations}   县区 county {_fmt(self.scores.get('county'))}  "
            f"主要部门 main {_fmt(self.scores.get('mainDepartment'))}  综合部门 general "
            f"{_fmt(self.scores.get('generalDepartment'))}",
            "  赛马 horse race (counties)",
        ]
        for n, row in enumerate(self.horse_race, start=1):
            lines.append(f"    {n}. {names.get(row['county'], row['county'])}  signed {row['signed']}  "
                         f"resolution {row['resolution_rate']}  score {row['score']}  flags {row['flags']}")
        if self.engine:
            lines.append("  engine                       " + "  ".join(f"{k} {v}" for k, v in self.engine.items()))
        if self.wall_seconds:
            lines.append(f"  wall time                    {self.wall_seconds:.0f} s")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else "-"


def _stage_order(stage: str) -> int:
    return list(Stage).index(Stage(stage))


async def all_projects(store: DocumentStore) -> list[Project]:
    return [p async for p in every_item(lambda page: store.projects.list(None, page))]


async def all_problems(store: DocumentStore) -> list[Problem]:
    return [p async for p in every_item(lambda page: store.problems.list(ProblemFilter(), page))]


async def all_flags(store: DocumentStore) -> list[Flag]:
    return [f async for f in every_item(lambda page: store.flags.list(page=page))]


async def dashboard_of(store: DocumentStore, period: Period) -> Dashboard:
    projects = [p for p in await all_projects(store) if p.signed_at in period]
    stats = await store.problems.stats(period)
    problems = [p for p in await all_problems(store) if p.raised_at in period]
    flags = [f for f in await all_flags(store) if f.raised_at in period]
    summary = await store.evaluations.summary(period)
    last_month_start = period.end.astimezone(SHANGHAI).replace(day=1) if period.end.astimezone(SHANGHAI).day > 1 \
        else (period.end.astimezone(SHANGHAI) - timedelta(days=1)).replace(day=1)
    last_month = Period(start=last_month_start.replace(hour=0, minute=0, second=0, microsecond=0), end=period.end)
    warnings = [p for p in problems if p.origin == ProblemOrigin.WARNING]
    by_unit = Counter(f.unit_id for f in flags)
    resolve_days = [(p.closed_at - p.raised_at).total_seconds() / 86400 for p in problems
                    if p.closed_at is not None]
    race = []
    for county in city.COUNTIES:
        in_county = [p for p in problems if p.county_code == county.code]
        closed = sum(1 for p in in_county if p.status == ProblemStatus.CLOSED)
        score = summary.by_county.get(county.code)
        race.append({
            "county": county.code,
            "signed": sum(1 for p in projects if p.county.code == county.code),
            "resolution_rate": round(closed / len(in_county), 3) if in_county else None,
            "score": round(score.average, 2) if score else None,
            "flags": sum(1 for f in flags if f.unit_id.endswith(county.code)),
        })
    race.sort(key=lambda r: (-(r["score"] or 0) - (r["resolution_rate"] or 0), r["flags"]))
    return Dashboard(
        period=f"{period.start.astimezone(SHANGHAI):%Y-%m-%d} – "
               f"{(period.end - timedelta(seconds=1)).astimezone(SHANGHAI):%Y-%m-%d}",
        projects_signed=len(projects),
        investment_yi=sum(p.amount_cny for p in projects) / 100_000_000,
        by_stage=dict(Counter(p.stage.value for p in projects)),
        in_production=sum(1 for p in projects if p.stage == Stage.IN_PRODUCTION),
        cancelled=sum(1 for p in projects if p.stage == Stage.CANCELLED),
        red_now=sum(1 for p in projects if p.light == Light.RED),
        red_lights_raised=len(warnings),
        red_lights_last_month=sum(1 for p in warnings if p.raised_at in last_month),
        problems_found=stats.found,
        problems_resolved=stats.resolved,
        completion_rate=stats.resolution_rate,
        found_by_origin=dict(Counter(p.origin.value for p in problems)),
        mean_resolve_days=statistics.fmean(resolve_days) if resolve_days else None,
        open_problems=sum(1 for p in problems if p.status != ProblemStatus.CLOSED),
        escalations=sum(1 for p in problems for h in p.history if h.action == "escalated"),
        yellow_flags_raised=len(flags),
        yellow_flags_open=sum(1 for f in flags if f.open),
        flags_by_unit=dict(by_unit.most_common()),
        evaluations=summary.count,
        scores=three_scores(summary),
        scores_by_county={k: round(v.average, 3) for k, v in summary.by_county.items()},
        horse_race=race,
    )


async def engine_figures(management_url: str) -> dict[str, int]:
    wanted = {"zeebe_process_instances_created_total": "instances", "zeebe_jobs_completed_total": "jobs",
              "zeebe_timers_fired_total": "timers", "zeebe_messages_published_total": "messages",
              "zeebe_incidents_created_total": "incidents"}
    figures: dict[str, int] = {}
    with contextlib.suppress(httpx.HTTPError):
        async with httpx.AsyncClient() as http:
            text = (await http.get(management_url + "/metrics", timeout=30)).text
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name in wanted:
                figures[wanted[name]] = int(float(value))
    return figures
