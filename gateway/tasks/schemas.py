from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.common import Out
from shared.documents.models import TaskStatus


class TaskOut(Out):
    job_key: int
    process_instance_key: int
    element_id: str
    element_instance_key: int | None = None
    bpmn_process_id: str
    process_definition_key: int | None = None
    name: str
    candidate_groups: list[str]
    candidate_users: list[str]
    assignee: str | None = None
    due_at: datetime | None = None
    follow_up_at: datetime | None = None
    form_key: str | None = None
    variables: dict[str, Any]
    project_code: str | None = None
    problem_id: str | None = None
    created_at: datetime
    status: TaskStatus
    completed_at: datetime | None = None
    completed_by: str | None = None


class TaskForm(BaseModel):
    form_key: str | None
    form_id: str | None = None
    schema_: dict[str, Any] | None = Field(alias="schema", serialization_alias="schema",
                                           description="the form-js JSON; null when the task has no form")

    model_config = ConfigDict(populate_by_name=True)


class TaskDetail(BaseModel):
    task: TaskOut
    form: TaskForm
    can_claim: bool
    can_complete: bool


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict, description="the form's data")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(min_length=1, max_length=64, description="username, or null to release")
