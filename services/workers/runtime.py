"""What every worker family shares: the context its tasks run in, domain time, logging and failures.

A family is a module with ``router(ctx) -> ZeebeTaskRouter``; its tasks are async functions whose
parameters name the variables they read and whose returned dict is exactly what they write. How a task
fails is decided here, once:

- ``BusinessError`` (pyzeebe) → ThrowError with its code, for the model to catch;
- ``PermanentFailure`` → FailJob with no retries left: an incident at once (bad configuration, a broken
  invariant), because retrying cannot help;
- ``RetryLater`` → FailJob with one retry fewer (or as many, if it says so) and the back-off it asks for;
- ``KeepActivated`` → nothing: the job stays activated (the inbox holds user-task jobs that way);
- the documents store unreachable (pymongo ``ConnectionFailure``) → FailJob keeping its retries, with
  ``STORE_DOWN_BACKOFF``: an outage is not the job's fault, and must not turn every job into an incident;
- anything else → FailJob with one retry fewer and an exponential back-off, so a database or network
  hiccup heals itself and a persistent fault becomes an incident once the model's retries are spent.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo.errors import ConnectionFailure
from pyzeebe import Job, JobController, ZeebeClient
from pyzeebe.errors import BusinessError

from services.workers import metrics
from services.workers.settings import WorkerSettings
from shared.calendar import WorkingCalendar
from shared.clock import Clock
from shared.documents import DocumentStore
from shared.documents.models import Actor
from shared.events import EventBus, EventScope
from shared.logging import bind_contextvars, get_logger

log = get_logger("services.workers")

USER_TASK_JOB_TYPE = "io.camunda.zeebe:userTask"

_activated_at: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("job_activated_at", default=None)


class PermanentFailure(Exception):
    """Retrying cannot help: raise an incident now, with this message."""


class RetryLater(Exception):
    """Fail the job with a back-off; ``keep_retries`` hands it out again without using up a retry (for
    jobs whose retries are not ours to spend, such as user-task jobs with their single retry)."""

    def __init__(self, message: str, backoff: timedelta, *, keep_retries: bool = False) -> None:
        super().__init__(message)
        self.backoff = backoff
        self.keep_retries = keep_retries


class KeepActivated(Exception):
    """Leave the job activated and do not answer it (someone else completes it later)."""


class JobClock:
    """Domain time: inside a job, the engine's time when it handed the job out; elsewhere, the base clock.

    A job's deadline is engine time (activation + the task's timeout), so the activation instant is known
    exactly from the job itself, on our engine and on Camunda 8 alike. Reading time that way keeps the
    workers in step with the engine's timers: tests and demos move the engine clock by months, and an
    offset measured before the move would put due dates months early; a pinned engine clock does not move
    at all, while an offset measured against the wall clock drifts forward between measurements and back
    after the next one, which would let a later job see an earlier time than the job before it.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base

    def now(self) -> datetime:
        activated = _activated_at.get()
        return activated if activated is not None else self.base.now()

    @staticmethod
    def enter(job: Job, timeout_ms: int) -> None:
        if job.deadline > 0:
            _activated_at.set(datetime.fromtimestamp((job.deadline - timeout_ms) / 1000, UTC))


@dataclass
class WorkerContext:
    store: DocumentStore
    zeebe: ZeebeClient
    clock: JobClock
    settings: WorkerSettings
    http: httpx.AsyncClient
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar.default)
    events: EventBus | None = None

    def now(self) -> datetime:
        return self.clock.now()

    async def emit(self, event_type: str, payload: dict[str, Any], *, project_code: str | None = None,
                   unit_ids: tuple[str, ...] = (), county_code: str | None = None) -> None:
        """Tell the live screens (Redis event stream). Best effort: the documents are the record, and a
        stream that is down must not stop supervision, so a failure is logged, not raised."""
        if self.events is None:
            return
        try:
            await self.events.publish(event_type, payload, occurred_at=self.now(), scope=EventScope(
                project_code=project_code, unit_ids=unit_ids, county_code=county_code))
        except Exception as error:  # redis errors, timeouts: the event is lost, the job is not
            log.warning("live event not published", event_type=event_type, error=repr(error))

    @staticmethod
    def actor(family: str) -> Actor:
        return Actor.system(f"workers.{family}")


def job_entry(timeouts: dict[str, int]) -> Any:
    """A ``before`` decorator: bind the job to every log line, and pin domain time to its activation."""

    async def enter(job: Job) -> Job:
        variables = job.variables or {}
        known = {name: variables.get(key) for name, key in (("project_code", "projectCode"),
                                                             ("problem_id", "problemId"))}
        bind_contextvars(
            job_key=job.key, job_type=job.type, process_instance_key=job.process_instance_key,
            element_id=job.element_id, bpmn_process_id=job.bpmn_process_id,
            **{name: value for name, value in known.items() if isinstance(value, str)},
        )
        JobClock.enter(job, timeouts.get(job.type, 0))
        metrics.job_started(job)
        return job

    return enter


# How long a job waits before it is handed out again while the documents store is unreachable.
STORE_DOWN_BACKOFF = timedelta(seconds=10)


def backoff_for(job: Job, base: timedelta, cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Exponential in the retries already used; ``retries`` task header = the model's declared retries."""
    try:
        declared = int((job.custom_headers or {}).get("retries", "3"))
    except ValueError:
        declared = 3
    used = max(0, declared - job.retries)
    return min(cap, base * (2**used))


async def handle_exception(error: Exception, job: Job, controller: JobController) -> None:
    if isinstance(error, KeepActivated):
        metrics.job_failed(job, "kept")
        return
    if isinstance(error, ConnectionFailure):
        # handed back by the RetryLater path below, under its own outcome label
        error = RetryLater(f"documents store unreachable: {error}"[:500], STORE_DOWN_BACKOFF, keep_retries=True)
        metrics.job_failed(job, "store_unavailable")
    else:
        metrics.job_failed(job, "error_thrown" if isinstance(error, BusinessError) else
                           "incident" if isinstance(error, PermanentFailure) else "failed")
    if isinstance(error, BusinessError):
        log.info("business error thrown", error_code=error.error_code, message=str(error))
        await controller.set_error_status(str(error), error_code=error.error_code)
        return
    if isinstance(error, PermanentFailure):
        log.error("job failed for good", error=str(error))
        # retries=0 raises the incident now, whatever retries the model declared.
        await controller._zeebe_adapter.fail_job(job_key=job.key, retries=0, message=str(error),
                                                 retry_back_off_ms=0, variables={})
        return
    backoff = error.backoff if isinstance(error, RetryLater) else backoff_for(job, timedelta(seconds=5))
    if isinstance(error, RetryLater) and error.keep_retries:
        log.warning("job handed back; will retry", error=str(error), backoff_s=backoff.total_seconds())
        await controller._zeebe_adapter.fail_job(job_key=job.key, retries=job.retries, message=str(error),
                                                 retry_back_off_ms=int(backoff.total_seconds() * 1000), variables={})
        return
    log.warning("job failed; will retry", error=f"{type(error).__name__}: {error}", retries_left=job.retries - 1,
                backoff_s=backoff.total_seconds(), exc_info=not isinstance(error, RetryLater))
    await controller.set_failure_status(f"{type(error).__name__}: {error}",
                                        retry_back_off_ms=int(backoff.total_seconds() * 1000))


def iso(moment: datetime) -> str:
    """ISO 8601 as the models and forms read it (FEEL parses it as a date and time)."""
    return moment.isoformat(timespec="milliseconds") if moment.microsecond else moment.isoformat(timespec="seconds")


def parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise PermanentFailure(f"variable '{name}' must be an ISO 8601 date and time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PermanentFailure(f"variable '{name}' = {value!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise PermanentFailure(f"variable '{name}' = {value!r} has no time zone")
    return moment


def require(value: Any, name: str, kind: type | tuple[type, ...] = str) -> Any:
    """A variable the model must have provided; its absence is a modelling error, so an incident."""
    if value is None or (isinstance(value, str) and not value):
        raise PermanentFailure(f"variable '{name}' is missing")
    if not isinstance(value, kind):
        raise PermanentFailure(f"variable '{name}' has the wrong type: {type(value).__name__}")
    return value
