from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.common import Out

ZeebeKeyInt = int


class DeployedProcessOut(BaseModel):
    bpmn_process_id: str
    version: int
    process_definition_key: int
    resource_name: str


class DeployedFormOut(BaseModel):
    form_id: str
    version: int
    form_key: int
    resource_name: str


class DeployedDecisionOut(BaseModel):
    decision_id: str
    name: str
    version: int
    decision_key: int
    decision_requirements_key: int


class DeployedRequirementsOut(BaseModel):
    decision_requirements_id: str
    name: str
    version: int
    decision_requirements_key: int
    resource_name: str


class DeploymentOut(BaseModel):
    deployment_key: int
    processes: list[DeployedProcessOut]
    forms: list[DeployedFormOut]
    decisions: list[DeployedDecisionOut]
    decision_requirements: list[DeployedRequirementsOut]


class StartInstanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bpmn_process_id: str = Field(min_length=1, max_length=256)
    version: int = Field(default=-1, ge=-1, le=2**31 - 1, description="-1: the latest version")
    variables: dict[str, Any] = Field(default_factory=dict)


class StartInstanceOut(BaseModel):
    process_instance_key: int
    process_definition_key: int
    bpmn_process_id: str
    version: int


class DefinitionOut(Out):
    key: int
    bpmn_process_id: str
    version: int
    resource_name: str | None = None
    deployed_at: datetime | None = None
    deployed_by: str | None = None
    has_xml: bool


class FormOut(Out):
    key: int
    form_id: str
    version: int
    resource_name: str
    deployed_at: datetime
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class InstanceOut(Out):
    key: int
    bpmn_process_id: str
    version: int | None = None
    process_definition_key: int | None = None
    state: Literal["active", "completed", "terminated"]
    has_incident: bool = False
    parent_process_instance_key: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class ElementOut(Out):
    key: int
    element_id: str
    element_type: str
    state: str
    flow_scope_key: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


class VariableOut(BaseModel):
    key: int
    scope_key: int
    name: str
    value: Any = Field(description="the value parsed from the engine's JSON text")


class IncidentOut(Out):
    key: int
    process_instance_key: int
    element_instance_key: int | None = None
    element_id: str | None = None
    job_key: int | None = None
    error_type: str
    error_message: str = ""
    state: Literal["active", "resolved"]
    created_at: datetime | None = None


class JobOut(Out):
    key: int
    type: str
    state: str
    retries: int | None = None
    worker: str | None = None
    element_instance_key: int | None = None
    deadline: datetime | None = None


class InstanceTaskOut(Out):
    job_key: int
    name: str
    element_id: str
    status: str
    assignee: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class Marks(BaseModel):
    """Where an instance stands, per element id of its diagram."""

    active: dict[str, int] = Field(description="element id -> element instances holding a token now")
    completed: list[str] = Field(description="element ids completed at least once")
    incidents: dict[str, int] = Field(description="element id -> open incidents")


class InstanceDetail(BaseModel):
    instance: InstanceOut
    elements: list[ElementOut]
    variables: list[VariableOut]
    incidents: list[IncidentOut]
    jobs: list[JobOut]
    tasks: list[InstanceTaskOut]
    marks: Marks


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    retries: int = Field(default=1, ge=1, le=100, description="retries given back to the failed job")
    job_key: int | None = Field(default=None, ge=0, le=2**63 - 1,
                                description="the failed job, when no incident view names it (Camunda 8 without our exporter)")


class RetryOut(BaseModel):
    incident_key: int
    job_key: int | None
    retries_updated: bool
    resolved: bool


class ClockOut(Out):
    epoch_milli: int
    instant: datetime


class ClockAddIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_milli: int = Field(ge=-(10**12), le=10**12, description="milliseconds to move the engine clock forward (or back)")


class ClockPinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epoch_milli: int = Field(ge=0, le=7_258_118_400_000, description="instant to stop the engine clock at (before 2200)")


ElementId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^\S+$")]


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    element_id: ElementId = Field(description="the BPMN element to put a new token on")
    ancestor_element_instance_key: int | None = Field(
        default=None, ge=0, le=2**63 - 1,
        description="the flow scope instance to activate it in (needed only when there are several)")
    variables: dict[str, Any] | None = Field(default=None, description="variables to set before the element starts")
    variables_scope_id: ElementId | None = Field(
        default=None, description="the element whose scope gets the variables (default: the process)")


class ModifyIn(BaseModel):
    """Operate's 'modify instance': terminate element instances and/or activate elements, all or nothing."""

    model_config = ConfigDict(extra="forbid")

    activate: list[ActivateIn] = Field(default_factory=list, max_length=50)
    terminate: list[Annotated[int, Field(ge=0, le=2**63 - 1)]] = Field(
        default_factory=list, max_length=50, description="element instance keys to terminate")

    @model_validator(mode="after")
    def _something_to_do(self) -> ModifyIn:
        if not self.activate and not self.terminate:
            raise ValueError("give at least one instruction in 'activate' or 'terminate'")
        if len(set(self.terminate)) != len(self.terminate):
            raise ValueError("an element instance is named twice in 'terminate'")
        return self
