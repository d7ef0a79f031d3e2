from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from gateway.common import Out
from gateway.projects.schemas import FlagBrief
from shared.documents.models import Code, ProblemOrigin, ProblemStatus, UnitRole, UnitTaskStatus


class ResponsibleUnitOut(Out):
    unit_id: str
    unit_name: str | None = None
    role: UnitRole
    status: UnitTaskStatus
    assigned_at: datetime | None = None
    reported_at: datetime | None = None
    resolution: str | None = None


class HistoryEntryOut(Out):
    at: datetime
    actor: str
    action: str
    note: str | None = None
    status: ProblemStatus


class ProblemOut(Out):
    id: str
    project_code: str
    county_code: str | None = None
    origin: ProblemOrigin
    category: str
    title: str
    description: str
    raised_by: str
    raised_at: datetime
    status: ProblemStatus
    unit_ids: list[str]
    due_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime


class ProblemDetail(ProblemOut):
    project_name: str | None = None
    units: list[ResponsibleUnitOut]
    history: list[HistoryEntryOut] = Field(description="oldest first")
    flags: list[FlagBrief] = Field(description="yellow flags raised for this problem (open and lifted)")


class ProblemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="give one to make a retried report idempotent")
    project_code: Code
    category: str = Field(min_length=1, max_length=64, description="e.g. the blocked stage: land, planning, ...")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class ReportOut(BaseModel):
    problem: ProblemOut
    created: bool
    message_name: str
    message_key: int | None
