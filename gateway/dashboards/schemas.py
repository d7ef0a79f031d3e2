from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.common import Out
from shared.documents.models import Stage


class PeriodOut(Out):
    start: datetime
    end: datetime


class ProjectTotals(BaseModel):
    total: int
    amount_cny: int
    red: int
    by_stage: dict[str, int]
    by_light: dict[str, int]


class CountyCell(BaseModel):
    code: str
    name: str | None
    projects: int
    red: int


class RedLight(Out):
    project_code: str
    name: str
    county_code: str
    county_name: str
    at: datetime | None
    reason: str | None


class ProblemFigures(BaseModel):
    found: int = Field(description="raised in the period")
    resolved: int = Field(description="closed in the period, whenever raised")
    completion_rate: float | None = Field(description="resolved / found; null when nothing was found")
    mean_resolve_hours: float | None
    median_resolve_hours: float | None
    open_now: int = Field(description="not closed today, whenever raised")


class TrendPoint(BaseModel):
    month: str = Field(examples=["2024-05"])
    found: int
    resolved: int
    rate: float | None


class FlagBoardRow(Out):
    unit_id: str
    unit_name: str | None
    count: int
    oldest_raised_at: datetime
    project_codes: list[str]


class FunnelStep(BaseModel):
    stage: Stage
    at_stage: int
    reached: int = Field(description="projects at this stage or beyond (cancelled excluded)")


class TickerItem(Out):
    at: datetime
    project_code: str
    project_name: str | None
    source: str
    item_name: str
    status: str
    unit_name: str | None
    stage: Stage | None


class Summary(Out):
    as_of: datetime
    period: PeriodOut
    projects: ProjectTotals
    counties: list[CountyCell]
    red_lights_month_count: int = Field(description="red lights raised this calendar month (Asia/Shanghai)")
    red_lights_month: list[RedLight] = Field(description="the newest of them (at most 50), newest first")
    problems: ProblemFigures
    trend: list[TrendPoint] = Field(description="the last 12 calendar months")
    flags: list[FlagBoardRow] = Field(description="the yellow-flag board: units with open flags, most first")
    funnel: list[FunnelStep]
    ticker: list[TickerItem] = Field(description="latest approval records, newest first")


class Breakdown(BaseModel):
    key: str
    name: str | None
    found: int
    resolved: int
    open: int = Field(description="of those found, not closed now")
    rate: float | None
    mean_resolve_hours: float | None


class ResolveBucket(BaseModel):
    label: str
    max_days: float | None
    count: int


class ProblemAnalysis(BaseModel):
    as_of: datetime
    period: PeriodOut
    totals: ProblemFigures
    by_category: list[Breakdown]
    by_county: list[Breakdown]
    by_unit: list[Breakdown]
    by_origin: list[Breakdown]
    resolve_time: list[ResolveBucket] = Field(description="problems closed in the period by days to resolve")


class RaceRow(BaseModel):
    rank: int
    code: str
    name: str | None
    score: float = Field(description="0-100, see formula")
    progress_rate: float | None
    resolution_rate: float | None
    mean_resolve_hours: float | None
    open_flags: int
    evaluation: float | None = Field(description="average investor score, 1-5")
    projects: int | None = None
    problems_found: int
    problems_resolved: int


class HorseRace(BaseModel):
    as_of: datetime
    period: PeriodOut
    formula: str
    weights: dict[str, float]
    counties: list[RaceRow]
    departments: list[RaceRow]
