"""The worker registry: every family's router, and a pyzeebe worker that runs them."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from pyzeebe import ZeebeTaskRouter, ZeebeWorker

from services.workers import (
    assignment,
    calendar,
    docking,
    escalation,
    evaluation,
    inbox,
    lifecycle,
    problems,
)
from services.workers.metrics import after_job
from services.workers.notification import worker as notification
from services.workers.runtime import WorkerContext, handle_exception, job_entry

FAMILIES: list[Callable[[WorkerContext], ZeebeTaskRouter]] = [
    lifecycle.router,
    docking.router,
    assignment.router,
    calendar.router,
    escalation.router,
    problems.router,
    notification.router,
    evaluation.router,
    inbox.router,
]


def routers(ctx: WorkerContext) -> list[ZeebeTaskRouter]:
    return [family(ctx) for family in FAMILIES]


def build_worker(channel: grpc.aio.Channel, ctx: WorkerContext, *, name: str | None = None,
                 request_timeout_ms: int = 30_000) -> ZeebeWorker:
    """All families on one pyzeebe worker that never gives up reconnecting (the engine may restart)."""
    built = routers(ctx)
    timeouts = {task.type: task.config.timeout_ms for r in built for task in r.tasks}
    worker = ZeebeWorker(
        channel,
        name=name or ctx.settings.worker_name,
        request_timeout=request_timeout_ms,
        before=[job_entry(timeouts)],
        after=[after_job()],
        max_connection_retries=-1,
        poll_retry_delay=1,
        exception_handler=handle_exception,
    )
    for r in built:
        for task in r.tasks:
            task.config.max_jobs_to_activate = min(task.config.max_jobs_to_activate, ctx.settings.worker_max_jobs)
    worker.include_router(*built)
    return worker
