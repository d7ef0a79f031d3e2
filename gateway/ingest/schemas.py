from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.projects.schemas import ApprovalOut

RecordStatus = Literal["accepted", "duplicate", "invalid", "failed"]


class IngestResult(BaseModel):
    status: RecordStatus
    source_record_id: str | None = None
    project_code: str | None = None
    detail: str | None = None
    supervised: bool | None = Field(default=None, description="whether the project is registered on the platform")
    record: ApprovalOut | None = None
    process_instance_key: int | None = Field(default=None, description="the approval-docking instance started")
    message_key: int | None = Field(default=None, description="the message published (when no docking process)")


class BatchIn(BaseModel):
    records: list[dict[str, Any]] = Field(min_length=1, max_length=500,
                                          description="records in the system's own fields, as for a single post")


class BatchResult(IngestResult):
    index: int


class BatchOut(BaseModel):
    counts: dict[RecordStatus, int]
    results: list[BatchResult]
