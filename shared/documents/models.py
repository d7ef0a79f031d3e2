"""Domain types that cross service boundaries, as the documents store keeps them.

Every timestamp is aware UTC truncated to milliseconds (BSON's precision), so a value reads back equal
from either adapter. Zeebe keys are 64-bit signed integers. Money is whole yuan (``amount_cny: int``):
investment amounts are never stated to the fen, and an int sums and sorts exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")

ZEEBE_KEY_MAX = 2**63 - 1


def _utc_ms(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc_ms)]
ZeebeKey = Annotated[int, Field(ge=0, le=ZEEBE_KEY_MAX)]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s$.][^\s$]*$")]
Score = Annotated[int, Field(ge=1, le=5)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- who did it ----------------------------------------------------------------------------------------


class Role(StrEnum):
    ADMIN = "admin"
    LEADER = "leader"
    UNIT_STAFF = "unit_staff"
    INVESTOR = "investor"
    PROCESS_DESIGNER = "process_designer"
    SYSTEM = "system"  # workers, exporters, ingest: a service acting on its own


class Actor(Model):
    """Whoever causes a change; every write through the store takes one, and the audit trail records it."""

    user: Annotated[str, Field(min_length=1, max_length=128)]
    role: Role
    request_id: str | None = None

    @classmethod
    def system(cls, service: str, request_id: str | None = None) -> Actor:
        return cls(user=f"system:{service}", role=Role.SYSTEM, request_id=request_id)


# --- pages -----------------------------------------------------------------------------------------------


class PageRequest(Model):
    page: Annotated[int, Field(ge=1)] = 1
    size: Annotated[int, Field(ge=1, le=500)] = 50

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return (self.total + self.size - 1) // self.size


async def every_item(fetch: Callable[[PageRequest], Awaitable[Page[T]]], *, size: int = 500) -> AsyncIterator[T]:
    """Every item of a paged listing, one page fetched at a time (figures and sweeps over all of them)."""
    number = 1
    while True:
        page = await fetch(PageRequest(page=number, size=size))
        for item in page.items:
            yield item
        if number >= page.pages:
            return
        number += 1


class Saved(BaseModel, Generic[T]):
    """The result of an idempotent write: the stored item, and whether this call created it."""

    item: T
    created: bool


class Period(Model):
    """A half-open interval [start, end) of instants."""

    start: UtcDateTime
    end: UtcDateTime

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end <= self.start:
            raise ValueError(f"period end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


# --- projects --------------------------------------------------------------------------------------------


class Stage(StrEnum):
    SIGNED = "signed"
    FILING = "filing"
    LAND = "land"
    PLANNING = "planning"
    CONSTRUCTION_PERMIT = "construction_permit"
    STARTED = "started"
    COMPLETED = "completed"
    IN_PRODUCTION = "in_production"
    CANCELLED = "cancelled"

    @property
    def order(self) -> int:
        """Position in the life cycle; cancelled sorts after everything."""
        return list(Stage).index(self)


class Light(StrEnum):
    GREEN = "green"
    RED = "red"


class County(Model):
    code: Annotated[str, Field(pattern=r"^\d{6}$")]
    name: Annotated[str, Field(min_length=1)]


class Investor(Model):
    company: Annotated[str, Field(min_length=1, max_length=200)]
    contact_name: str | None = None
    contact_phone: str | None = None


class StageEntry(Model):
    stage: Stage
    at: UtcDateTime
    source: str  # "signing", "gonggai:<record>", "tuzhi:<record>", "manual:<user>"


class ProjectData(Model):
    """What a caller supplies about a project; the store keeps its state (stage, light) alongside."""

    project_code: Code
    name: Annotated[str, Field(min_length=1, max_length=300)]
    investor: Investor
    county: County
    industry: Annotated[str, Field(min_length=1, max_length=100)]
    amount_cny: Annotated[int, Field(ge=0)]
    signed_at: UtcDateTime
    assistant_unit_id: str | None = None
    investor_user_ids: list[str] = Field(default_factory=list)


class Project(ProjectData):
    stage: Stage = Stage.SIGNED
    stage_history: list[StageEntry] = Field(default_factory=list)
    light: Light = Light.GREEN
    light_changed_at: UtcDateTime | None = None
    light_reason: str | None = None
    last_progress_at: UtcDateTime
    process_instance_key: ZeebeKey | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    rev: int = 1


class ProjectFilter(Model):
    county_code: str | None = None
    stage: Stage | None = None
    stages: list[Stage] | None = None
    light: Light | None = None
    industry: str | None = None
    assistant_unit_id: str | None = None
    investor_user_id: str | None = None
    project_codes: list[str] | None = None  # restrict to these (role scoping)
    signed: Period | None = None
    stalled_since: UtcDateTime | None = None  # last progress before this instant
    text: Annotated[str, Field(max_length=100)] | None = None  # name, code or investor company


class ProjectStats(Model):
    total: int
    amount_cny: int
    by_stage: dict[str, int]
    by_light: dict[str, int]
    by_county: dict[str, int]


class CountyProgress(Model):
    projects: int  # at one of the stages asked for
    stalled: int  # of those, the ones whose last progress is before the instant asked for


# --- approvals -------------------------------------------------------------------------------------------


class ApprovalSource(StrEnum):
    GONGGAI = "gonggai"  # 工程建设项目审批管理系统 (工改)
    TUZHI = "tuzhi"  # 联合图审


class ApprovalRecord(Model):
    source: ApprovalSource
    source_record_id: Annotated[str, Field(min_length=1, max_length=128)]
    project_code: Code
    item_code: Annotated[str, Field(min_length=1, max_length=64)]
    item_name: str
    stage: Stage | None = None  # the stage this record implies, when it implies one
    status: Annotated[str, Field(min_length=1, max_length=64)]
    unit_id: str | None = None
    unit_name: str | None = None
    occurred_at: UtcDateTime
    received_at: UtcDateTime | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.source}:{self.source_record_id}"


# --- problems --------------------------------------------------------------------------------------------


class ProblemOrigin(StrEnum):
    WARNING = "warning"
    INVESTOR = "investor"
    UNIT = "unit"


class ProblemStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    REPORTED = "reported"
    SENT_BACK = "sent_back"
    CLOSED = "closed"


class UnitRole(StrEnum):
    ASSISTANT = "assistant"
    APPROVAL = "approval"


class UnitTaskStatus(StrEnum):
    ASSIGNED = "assigned"
    REPORTED = "reported"
    SENT_BACK = "sent_back"
    DONE = "done"


class ResponsibleUnit(Model):
    unit_id: Annotated[str, Field(min_length=1)]
    role: UnitRole
    status: UnitTaskStatus = UnitTaskStatus.ASSIGNED
    assigned_at: UtcDateTime | None = None
    reported_at: UtcDateTime | None = None
    resolution: str | None = None


class HistoryEntry(Model):
    at: UtcDateTime
    actor: str
    action: Annotated[str, Field(min_length=1, max_length=64)]
    note: str | None = None
    status: ProblemStatus  # the problem's status after this entry


class NewProblem(Model):
    id: Annotated[str, Field(min_length=1, max_length=128)] | None = None  # give one to make create idempotent
    project_code: Code
    county_code: str | None = None
    origin: ProblemOrigin
    category: Annotated[str, Field(min_length=1, max_length=64)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    raised_by: str
    raised_at: UtcDateTime
    due_at: UtcDateTime | None = None
    units: list[ResponsibleUnit] = Field(default_factory=list)


class Problem(Model):
    id: str
    project_code: str
    county_code: str | None = None
    origin: ProblemOrigin
    category: str
    title: str
    description: str = ""
    raised_by: str
    raised_at: UtcDateTime
    status: ProblemStatus
    units: list[ResponsibleUnit] = Field(default_factory=list)
    unit_ids: list[str] = Field(default_factory=list)  # mirrors units, for filtering
    due_at: UtcDateTime | None = None
    closed_at: UtcDateTime | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    updated_at: UtcDateTime
    rev: int = 1

    def unit(self, unit_id: str) -> ResponsibleUnit | None:
        return next((u for u in self.units if u.unit_id == unit_id), None)


class ProblemScope(Model):
    """Problems someone may see: any responsible unit among ``unit_ids``, or in one of ``county_codes``, or
    about one of ``project_codes`` (a union: each list may be empty)."""

    unit_ids: list[str] = Field(default_factory=list)
    county_codes: list[str] = Field(default_factory=list)
    project_codes: list[str] = Field(default_factory=list)


class ProblemFilter(Model):
    visible_to: ProblemScope | None = None
    status: ProblemStatus | None = None
    statuses: list[ProblemStatus] | None = None
    county_code: str | None = None
    unit_id: str | None = None
    project_code: str | None = None
    project_codes: list[str] | None = None
    origin: ProblemOrigin | None = None
    raised: Period | None = None
    closed: Period | None = None  # closed within the period
    overdue_at: UtcDateTime | None = None  # not closed and due before this instant


class ProblemStats(Model):
    """Found = raised in the period; resolved = closed in the period (whenever raised)."""

    found: int
    resolved: int
    resolution_rate: float | None  # resolved / found, None when nothing was found
    mean_resolve_hours: float | None
    median_resolve_hours: float | None
    max_resolve_hours: float | None


class ProblemStatsByScope(Model):
    """The ProblemStats of every county (problems without a county are in none) and every responsible unit
    that found or resolved something in the period; ``county``/``unit`` answer the empty figures for others."""

    by_county: dict[str, ProblemStats]
    by_unit: dict[str, ProblemStats]

    def county(self, code: str) -> ProblemStats:
        return self.by_county.get(code) or _no_problems()

    def unit(self, unit_id: str) -> ProblemStats:
        return self.by_unit.get(unit_id) or _no_problems()


def _no_problems() -> ProblemStats:
    return ProblemStats(found=0, resolved=0, resolution_rate=None, mean_resolve_hours=None,
                        median_resolve_hours=None, max_resolve_hours=None)


# --- flags -----------------------------------------------------------------------------------------------


class Flag(Model):
    id: str
    unit_id: str
    problem_id: str
    project_code: str
    reason: str
    raised_at: UtcDateTime
    lifted_at: UtcDateTime | None = None

    @property
    def open(self) -> bool:
        return self.lifted_at is None


# --- evaluations -----------------------------------------------------------------------------------------


class Evaluation(Model):
    id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    project_code: Code
    investor_user_id: str
    county_code: str
    problem_id: str | None = None
    main_department_unit_id: str | None = None
    general_department_unit_id: str | None = None
    county_score: Score
    main_department_score: Score
    general_department_score: Score
    comment: Annotated[str, Field(max_length=2000)] = ""
    at: UtcDateTime


class ScoreAggregate(Model):
    count: int
    average: float


class EvaluationSummary(Model):
    count: int
    by_county: dict[str, ScoreAggregate]  # county code -> county scores
    by_department: dict[str, ScoreAggregate]  # unit id -> main and general department scores together
    by_main_department: dict[str, ScoreAggregate]
    by_general_department: dict[str, ScoreAggregate]


# --- units and people ------------------------------------------------------------------------------------


class UnitKind(StrEnum):
    COUNTY = "county"
    DEPARTMENT = "department"
    ASSISTANT = "assistant"
    OFFICE = "office"


class Unit(Model):
    id: Code
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: UnitKind
    county_code: str | None = None
    parent_id: str | None = None
    active: bool = True


class User(Model):
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    display_name: Annotated[str, Field(min_length=1, max_length=100)]
    password_hash: str | None = None
    roles: list[Role] = Field(default_factory=list)
    unit_ids: list[str] = Field(default_factory=list)
    project_codes: list[str] = Field(default_factory=list)
    phone: str | None = None
    email: str | None = None
    active: bool = True


# --- user tasks ------------------------------------------------------------------------------------------


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class NewTask(Model):
    job_key: ZeebeKey
    process_instance_key: ZeebeKey
    element_id: str
    element_instance_key: ZeebeKey | None = None
    bpmn_process_id: str
    process_definition_key: ZeebeKey | None = None
    name: str
    candidate_groups: list[str] = Field(default_factory=list)
    candidate_users: list[str] = Field(default_factory=list)
    assignee: str | None = None
    due_at: UtcDateTime | None = None
    follow_up_at: UtcDateTime | None = None
    form_key: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)
    project_code: str | None = None
    problem_id: str | None = None
    created_at: UtcDateTime


class Task(NewTask):
    status: TaskStatus = TaskStatus.OPEN
    completed_at: UtcDateTime | None = None
    completed_by: str | None = None
    updated_at: UtcDateTime
    rev: int = 1


class TaskFilter(Model):
    status: TaskStatus | None = TaskStatus.OPEN
    project_code: str | None = None
    problem_id: str | None = None
    bpmn_process_id: str | None = None
    assigned_only: bool = False  # only tasks assigned to the user, not the ones they could claim
    unassigned_only: bool = False  # only tasks nobody holds (to claim)
    due_before: UtcDateTime | None = None


# --- notifications ---------------------------------------------------------------------------------------


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    DINGTALK = "dingtalk"
    WECOM = "wecom"


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class NewNotification(Model):
    id: Annotated[str, Field(min_length=1, max_length=200)]  # the idempotency key, e.g. the job key
    channel: Channel
    recipient: Annotated[str, Field(min_length=1)]
    subject: str = ""
    body: str
    project_code: str | None = None
    created_at: UtcDateTime


class Notification(NewNotification):
    status: NotificationStatus = NotificationStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    claimed_until: UtcDateTime | None = None
    sent_at: UtcDateTime | None = None
    rev: int = 1


# --- audit -----------------------------------------------------------------------------------------------


class AuditEntry(Model):
    id: str
    at: UtcDateTime
    user: str
    role: Role
    action: str
    target_kind: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None


# --- deployed resources (kept by whoever deploys them) --------------------------------------------------


class ResourceKind(StrEnum):
    PROCESS = "process"
    FORM = "form"
    DECISION_REQUIREMENTS = "decision_requirements"


class DeployedResource(Model):
    """A resource as it was deployed to the engine, keyed by the key the engine gave it (process definition
    key, form key, decision requirements key): the XML to download, the form to validate task input
    against. Deploying through the gateway keeps them, so this works on a Camunda 8 cluster too."""

    key: ZeebeKey
    kind: ResourceKind
    resource_id: Annotated[str, Field(min_length=1, max_length=256)]  # bpmn process id, form id, DRG id
    version: Annotated[int, Field(ge=1)]
    resource_name: Annotated[str, Field(min_length=1, max_length=256)]
    deployment_key: ZeebeKey
    content: str
    deployed_at: UtcDateTime
    deployed_by: str


# --- engine views (filled by the engine's exporter) ------------------------------------------------------


class ViewKind(StrEnum):
    PROCESS_DEFINITION = "process_definition"
    PROCESS_INSTANCE = "process_instance"
    ELEMENT_INSTANCE = "element_instance"
    VARIABLE = "variable"
    JOB = "job"
    INCIDENT = "incident"
    TIMER = "timer"
    MESSAGE_SUBSCRIPTION = "message_subscription"


class View(BaseModel):
    """Common shape of engine views: extra fields the exporter adds are kept."""

    model_config = ConfigDict(extra="allow")

    key: ZeebeKey


class ProcessDefinitionView(View):
    bpmn_process_id: str
    version: int
    resource_name: str | None = None
    deployed_at: UtcDateTime | None = None


class ProcessInstanceView(View):
    bpmn_process_id: str
    version: int | None = None
    process_definition_key: ZeebeKey | None = None
    state: Literal["active", "completed", "terminated"]
    has_incident: bool = False
    parent_process_instance_key: ZeebeKey | None = None
    start_date: UtcDateTime | None = None
    end_date: UtcDateTime | None = None


class ElementInstanceView(View):
    process_instance_key: ZeebeKey
    element_id: str
    element_type: str
    state: str  # ELEMENT_ACTIVATING ... ELEMENT_COMPLETED / ELEMENT_TERMINATED
    flow_scope_key: int | None = None
    start_date: UtcDateTime | None = None
    end_date: UtcDateTime | None = None


class VariableView(View):
    process_instance_key: ZeebeKey
    scope_key: ZeebeKey
    name: str
    value: str  # JSON text, as Zeebe records it: numbers beyond 64 bits survive


class JobView(View):
    process_instance_key: ZeebeKey
    element_instance_key: ZeebeKey | None = None
    type: str
    state: str
    retries: int | None = None
    worker: str | None = None
    deadline: UtcDateTime | None = None


class IncidentView(View):
    process_instance_key: ZeebeKey
    element_instance_key: ZeebeKey | None = None
    element_id: str | None = None
    job_key: ZeebeKey | None = None
    error_type: str
    error_message: str = ""
    state: Literal["active", "resolved"]
    created_at: UtcDateTime | None = None


class TimerView(View):
    process_instance_key: ZeebeKey | None = None
    element_id: str | None = None
    due_date: UtcDateTime
    repetitions: int | None = None


class MessageSubscriptionView(View):
    process_instance_key: ZeebeKey | None = None
    element_id: str | None = None
    message_name: str
    correlation_key: str = ""


VIEW_MODELS: dict[ViewKind, type[View]] = {
    ViewKind.PROCESS_DEFINITION: ProcessDefinitionView,
    ViewKind.PROCESS_INSTANCE: ProcessInstanceView,
    ViewKind.ELEMENT_INSTANCE: ElementInstanceView,
    ViewKind.VARIABLE: VariableView,
    ViewKind.JOB: JobView,
    ViewKind.INCIDENT: IncidentView,
    ViewKind.TIMER: TimerView,
    ViewKind.MESSAGE_SUBSCRIPTION: MessageSubscriptionView,
}


def _storable(value: Any, path: str) -> None:
    if value is None or isinstance(value, str | int | float | bool | datetime):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or k.startswith("$") or "." in k:
                raise ValueError(f"{path}: key {k!r} cannot be stored (must be a string without '$' or '.')")
            _storable(v, f"{path}.{k}")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _storable(v, f"{path}[{i}]")
        return
    raise ValueError(f"{path}: a {type(value).__name__} cannot be stored in a document")


class ViewChange(Model):
    """Upsert (``value`` given) or delete (``value`` None) one view document."""

    kind: ViewKind
    key: ZeebeKey
    value: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _value_fits_kind(self) -> ViewChange:
        if self.value is not None:
            model = VIEW_MODELS[self.kind]
            parsed = model.model_validate({**self.value, "key": self.key})
            if self.value.get("key", self.key) != self.key:
                raise ValueError(f"{self.kind} change for key {self.key} carries key {self.value['key']}")
            dumped = parsed.model_dump()
            # Checked here so that a batch is refused whole, before its first write.
            _storable(dumped, f"{self.kind}[{self.key}]")
            self.__dict__["value"] = dumped
        return self
