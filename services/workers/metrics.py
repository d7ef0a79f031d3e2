"""The workers' Prometheus metrics: jobs handled per task type and outcome, their duration, and the
notification outbox's depth (read from the documents store at scrape time).

``python -m services.workers`` serves them on ``WORKER_METRICS_HOST:WORKER_METRICS_PORT`` (``/metrics``).
The outcome of a job is decided where pyzeebe hands it over: the exception handler names a failure, and
the ``after`` hook counts whatever was not a failure as completed.
"""

from __future__ import annotations

import contextvars
import time
from typing import Any

from pyzeebe import Job

from shared.documents import DocumentStore
from shared.documents.models import NotificationStatus, PageRequest
from shared.metrics import Registry

REGISTRY = Registry()
JOBS = REGISTRY.counter("qly_worker_jobs_total", "Jobs handled by the workers, by task type and outcome "
                        "(completed, error_thrown, failed, incident, kept)", ("type", "outcome"))
JOB_SECONDS = REGISTRY.histogram("qly_worker_job_seconds", "Time a worker spent on a job, by task type", ("type",))
OUTBOX = REGISTRY.gauge("qly_notification_outbox", "Notifications in the outbox, by status", ("status",))

_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("qly_job_started", default=None)
_outcome: contextvars.ContextVar[str | None] = contextvars.ContextVar("qly_job_outcome", default=None)


def job_started(job: Job) -> None:
    """Called as a job enters its task (pyzeebe runs each job in a task of its own: a fresh context)."""
    _started.set(time.perf_counter())
    _outcome.set(None)


def job_failed(job: Job, outcome: str) -> None:
    _outcome.set(outcome)


def job_finished(job: Job) -> None:
    started = _started.get()
    if started is not None:
        JOB_SECONDS.observe(time.perf_counter() - started, type=job.type)
    JOBS.inc(type=job.type, outcome=_outcome.get() or "completed")


def after_job() -> Any:
    """A pyzeebe ``after`` decorator that counts the job."""

    async def after(job: Job) -> Job:
        job_finished(job)
        return job

    return after


_outbox_store: list[DocumentStore] = []  # the store whose outbox a scrape reads (one per process)


def watch_outbox(store: DocumentStore) -> None:
    """Read the outbox's depth per status on every scrape (``sent`` grows without bound: left out)."""
    _outbox_store[:] = [store]


async def _read_outbox() -> None:
    if not _outbox_store:
        return
    store = _outbox_store[0]
    for status in (NotificationStatus.PENDING, NotificationStatus.SENDING, NotificationStatus.FAILED):
        page = await store.notifications.list(status=status, page=PageRequest(size=1))
        OUTBOX.set(page.total, status=status.value)


REGISTRY.on_scrape(_read_outbox)
