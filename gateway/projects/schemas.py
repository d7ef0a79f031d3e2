from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.common import DateOrTime, Out
from gateway.processes.schemas import Marks
from shared.documents.models import (
    ApprovalSource,
    Code,
    County,
    Investor,
    Light,
    ProblemOrigin,
    ProblemStatus,
    Stage,
)


class InvestorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: str = Field(min_length=1, max_length=200)
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=32)


class ProjectIn(BaseModel):
    """A project as a caller describes it. ``signed_at`` may be a date (a local day) or an instant."""

    model_config = ConfigDict(extra="forbid")

    project_code: Code
    name: str = Field(min_length=1, max_length=300)
    investor: InvestorIn
    county_code: str = Field(pattern=r"^\d{6}$")
    county_name: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="needed only for a county the platform does not know yet")
    industry: str = Field(min_length=1, max_length=100)
    amount_cny: int = Field(ge=0, le=10**15, description="investment in whole yuan")
    signed_at: DateOrTime
    assistant_unit_id: Code | None = None
    investor_user_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list,
                                                                                       max_length=20)


class ProjectUpdate(BaseModel):
    """A full replacement of what a project says about itself (its code comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    investor: InvestorIn
    county_code: str = Field(pattern=r"^\d{6}$")
    county_name: str | None = Field(default=None, min_length=1, max_length=100)
    industry: str = Field(min_length=1, max_length=100)
    amount_cny: int = Field(ge=0, le=10**15)
    signed_at: DateOrTime
    assistant_unit_id: Code | None = None
    investor_user_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list,
                                                                                       max_length=20)


class StageEntryOut(Out):
    stage: Stage
    at: datetime
    source: str


class ProjectOut(Out):
    project_code: str
    name: str
    investor: Investor
    county: County
    industry: str
    amount_cny: int
    signed_at: datetime
    assistant_unit_id: str | None = None
    investor_user_ids: list[str]
    stage: Stage
    light: Light
    light_changed_at: datetime | None = None
    light_reason: str | None = None
    last_progress_at: datetime
    process_instance_key: int | None = None
    created_at: datetime
    updated_at: datetime


class ApprovalOut(Out):
    source: ApprovalSource
    source_record_id: str
    project_code: str
    item_code: str
    item_name: str
    stage: Stage | None = None
    status: str
    unit_id: str | None = None
    unit_name: str | None = None
    occurred_at: datetime
    received_at: datetime | None = None


class ProblemBrief(Out):
    id: str
    title: str
    category: str
    origin: ProblemOrigin
    status: ProblemStatus
    raised_at: datetime
    due_at: datetime | None = None
    closed_at: datetime | None = None
    unit_ids: list[str]


class FlagBrief(Out):
    id: str
    unit_id: str
    problem_id: str
    reason: str
    raised_at: datetime


class ProjectDetail(Out):
    project: ProjectOut
    timeline: list[StageEntryOut] = Field(description="stage changes, oldest first")
    approvals: list[ApprovalOut] = Field(description="approval records, oldest first")
    problems: list[ProblemBrief] = Field(description="problems visible to the caller, newest first")
    open_flags: list[FlagBrief]


class SignOut(BaseModel):
    project_code: str
    message_name: str
    message_key: int | None = Field(description="None when the same signing was already published and is still buffered")
    published: bool


class SaveOut(BaseModel):
    project: ProjectOut
    created: bool
    signing: SignOut | None = None


RowStatus = Literal["created", "updated", "unchanged", "invalid", "failed"]


class RowError(BaseModel):
    field: str
    message: str


class ImportRow(BaseModel):
    row: int = Field(description="1-based data row (CSV header excluded) or array index + 1")
    project_code: str | None
    status: RowStatus
    errors: list[RowError] = Field(default_factory=list)
    signed: bool | None = Field(default=None, description="whether the signing message was published")


class ImportReport(BaseModel):
    dry_run: bool
    total: int
    counts: dict[RowStatus, int]
    rows: list[ImportRow]


class DiagramOut(Out):
    """The project's life-cycle instance on its diagram, for everyone who may see the project: where it stands,
    not its variables (those stay with the operators)."""

    process_instance_key: int
    process_definition_key: int
    bpmn_process_id: str
    version: int | None = None
    state: Literal["active", "completed", "terminated"]
    xml: str = Field(description="the BPMN XML of the instance's process definition")
    marks: Marks
