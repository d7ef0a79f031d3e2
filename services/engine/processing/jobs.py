"""Jobs, as Zeebe runs them.

created → activatable ─ActivateJobs→ activated ─Complete→ gone
                ▲              │ deadline passes: timed out → activatable again
                │              ├ Fail with retries > 0: activatable (after its back-off)
                │              ├ Fail with retries 0: incident; UpdateJobRetries + ResolveIncident → activatable
                │              └ ThrowError: caught by a catch event, or an incident
Long polling: an ActivateJobs call that finds nothing waits; jobs that become activatable are handed to
waiting calls first, in the order the calls arrived.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.engine import values
from services.engine.expressions import ExpressionError
from services.engine.protocol import (
    HEADER_ASSIGNEE,
    HEADER_CANDIDATE_GROUPS,
    HEADER_CANDIDATE_USERS,
    HEADER_DUE_DATE,
    HEADER_FOLLOW_UP_DATE,
    HEADER_FORM_KEY,
    HEADER_PRIORITY,
    Rejection,
    RejectionType,
    ValueType,
)
from services.engine.state.entities import ElementInstance, Job, JobState

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine


@dataclass(slots=True)
class ActivatedJob:
    key: int
    type: str
    process_instance_key: int
    bpmn_process_id: str
    process_definition_version: int
    process_definition_key: int
    element_id: str
    element_instance_key: int
    custom_headers: str
    worker: str
    retries: int
    deadline: int
    variables: str


@dataclass(eq=False)
class JobRequest:
    type: str
    worker: str
    timeout: int
    max_jobs: int
    fetch: list[str]
    future: asyncio.Future[list[ActivatedJob]] | None = None
    handle: Any = field(default=None)


@dataclass(eq=False)
class JobStream:
    """A StreamActivatedJobs call: jobs that become activatable are pushed to it, one at a time."""

    request: JobRequest
    pushed: asyncio.Queue[ActivatedJob] = field(default_factory=asyncio.Queue)


class Jobs:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.state
        self.waiting: dict[str, deque[JobRequest]] = {}
        self.streams: dict[str, deque[JobStream]] = {}
        self._ready: set[str] = set()

    # -- creation and cancellation -------------------------------------------------------------------------

    def create(self, instance: ElementInstance) -> Job:
        """Create the element's job; raises ExpressionError for the incident."""
        node = instance.node
        spec = node.job
        assert spec is not None
        view = self.engine.variables.view(instance.key)
        now = self.engine.now
        job_type = spec.type.evaluate_string(view, now) if not spec.type.is_static else spec.type.static
        retries = spec.retries.evaluate_int(view, now)
        headers = dict(spec.headers)
        if node.user_task is not None:
            headers.update(self._user_task_headers(instance, view))
        process = self.engine.processes[instance.process_definition_key]
        job = Job(self.state.new_key(), job_type or "", retries, headers, instance.key, node.id,
                  instance.process_instance_key, process.key, process.bpmn_process_id, process.version)
        self.state.put_job(job)
        instance.job_key = job.key
        self.state.touch_element(instance)
        self.engine.write(job.key, ValueType.JOB, "CREATED", job.record_value())
        self.engine.metrics.jobs_created += 1
        self._ready.add(job.type)
        return job

    def _user_task_headers(self, instance: ElementInstance, view: Any) -> dict[str, str]:
        spec = instance.node.user_task
        now = self.engine.now
        headers: dict[str, str] = {}
        if spec.assignee is not None:
            value = spec.assignee.evaluate(view, now)
            if value is not None:
                if not isinstance(value, str):
                    raise ExpressionError(f"Expected result of the expression '{spec.assignee.text}' to be 'STRING', "
                                          f"but was '{type(value).__name__.upper()}'.")
                headers[HEADER_ASSIGNEE] = value
        if spec.candidate_groups is not None:
            headers[HEADER_CANDIDATE_GROUPS] = values.dumps_text(spec.candidate_groups.evaluate_string_list(view, now))
        if spec.candidate_users is not None:
            headers[HEADER_CANDIDATE_USERS] = values.dumps_text(spec.candidate_users.evaluate_string_list(view, now))
        for expr, header in ((spec.due_date, HEADER_DUE_DATE), (spec.follow_up_date, HEADER_FOLLOW_UP_DATE)):
            if expr is not None:
                value = expr.evaluate(view, now)
                if value is not None:
                    headers[header] = _date_header(value, expr.text)
        if spec.priority is not None:
            headers[HEADER_PRIORITY] = str(spec.priority.evaluate_int(view, now))
        if spec.form_key:
            headers[HEADER_FORM_KEY] = spec.form_key
        elif spec.form_id:
            form = self.engine.deployments.latest_form(spec.form_id)
            if form is None:
                raise ExpressionError(
                    f"Expected to find a form with id '{spec.form_id}', but no form with this id is found, at least "
                    "a form with this id should be available. To resolve the Incident please deploy a form with "
                    f"the same id")
            headers[HEADER_FORM_KEY] = str(form["key"])
        return headers

    def cancel(self, instance: ElementInstance) -> None:
        job = self.state.jobs.get(instance.job_key) if instance.job_key else None
        if job is None:
            return
        self.state.remove_job(job)
        instance.job_key = 0
        self.state.touch_element(instance)
        self.engine.write(job.key, ValueType.JOB, "CANCELED", job.record_value())

    # -- activation --------------------------------------------------------------------------------------------

    def activate(self, request: JobRequest) -> list[ActivatedJob]:
        queue = self.state.activatable.get(request.type)
        if not queue:
            return []
        now = self.engine.now()
        deadline = now + request.timeout
        activated: list[ActivatedJob] = []
        keys = []
        while queue and len(activated) < request.max_jobs:
            job_key, _ = queue.popitem(last=False)
            job = self.state.jobs.get(job_key)
            if job is None or job.state != JobState.ACTIVATABLE:
                continue
            job.state = JobState.ACTIVATED
            job.worker = request.worker
            job.deadline = deadline
            self.state.put_job(job)
            self.state.schedule(deadline, "job_deadline", job.key)
            variables = self.engine.variables.visible(job.element_instance_key, request.fetch or None)
            activated.append(ActivatedJob(
                key=job.key, type=job.type, process_instance_key=job.process_instance_key,
                bpmn_process_id=job.bpmn_process_id, process_definition_version=job.process_definition_version,
                process_definition_key=job.process_definition_key, element_id=job.element_id,
                element_instance_key=job.element_instance_key, custom_headers=values.dumps_text(job.headers),
                worker=job.worker, retries=job.retries, deadline=deadline, variables=values.dumps_text(variables),
            ))
            keys.append(job.key)
        if activated:
            self.engine.write(self.state.new_key(), ValueType.JOB_BATCH, "ACTIVATED", {
                "type": request.type, "worker": request.worker, "timeout": request.timeout,
                "maxJobsToActivate": request.max_jobs, "jobKeys": keys,
                "jobs": [self.state.jobs[k].record_value() for k in keys], "truncated": False,
                "tenantIds": ["<default>"],
            })
            self.engine.metrics.jobs_activated += len(activated)
        return activated

    def wait(self, request: JobRequest, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        """Park a request until a job of its type is ready or the timeout passes (then it gets [])."""
        request.future = loop.create_future()
        self.waiting.setdefault(request.type, deque()).append(request)

        def expire() -> None:
            if not request.future.done():
                request.future.set_result([])
            queue = self.waiting.get(request.type)
            if queue is not None:
                try:
                    queue.remove(request)
                except ValueError:
                    pass

        request.handle = loop.call_later(timeout_s, expire)

    def forget(self, request: JobRequest) -> None:
        queue = self.waiting.get(request.type)
        if queue is not None:
            try:
                queue.remove(request)
            except ValueError:
                pass
        if request.handle is not None:
            request.handle.cancel()

    def open_stream(self, request: JobRequest) -> JobStream:
        stream = JobStream(request)
        self.streams.setdefault(request.type, deque()).append(stream)
        return stream

    def close_stream(self, stream: JobStream) -> None:
        """A closed stream gives back the jobs it had not delivered yet (Zeebe's YIELDED), so they don't
        wait out their deadline."""
        streams = self.streams.get(stream.request.type)
        if streams is not None:
            try:
                streams.remove(stream)
            except ValueError:
                pass
            if not streams:
                del self.streams[stream.request.type]
        while not stream.pushed.empty():
            pending = stream.pushed.get_nowait()
            job = self.state.jobs.get(pending.key)
            if job is not None and job.state == JobState.ACTIVATED and job.deadline == pending.deadline:
                job.state = JobState.ACTIVATABLE
                job.worker = ""
                job.deadline = -1
                self.state.put_job(job)
                self.engine.write(job.key, ValueType.JOB, "YIELDED", job.record_value())
                self._ready.add(job.type)

    def serve_waiters(self) -> None:
        """Hand jobs that became activatable to open streams first (as Zeebe favours streams), taking
        turns, then to long-polling requests in the order they arrived."""
        if not self._ready:
            return
        ready, self._ready = self._ready, set()
        for job_type in ready:
            streams = self.streams.get(job_type)
            while streams and self.state.activatable.get(job_type):
                stream = streams[0]
                streams.rotate(-1)
                for job in self.activate(JobRequest(stream.request.type, stream.request.worker,
                                                    stream.request.timeout, 1, stream.request.fetch)):
                    stream.pushed.put_nowait(job)
            waiting = self.waiting.get(job_type)
            while waiting and self.state.activatable.get(job_type):
                request = waiting.popleft()
                if request.future is None or request.future.done():
                    continue
                jobs = self.activate(request)
                if request.handle is not None:
                    request.handle.cancel()
                request.future.set_result(jobs)

    def mark_ready(self, job_type: str) -> None:
        self._ready.add(job_type)

    # -- client commands -----------------------------------------------------------------------------------------

    def _get(self, key: int, action: str, intent: str) -> Job:
        job = self.state.jobs.get(key)
        if job is None:
            raise Rejection(RejectionType.NOT_FOUND,
                            f"Expected to {action} job with key '{key}', but no such job was found", intent=intent)
        return job

    def _require_not_failed(self, job: Job, action: str, intent: str) -> None:
        if job.state in (JobState.FAILED, JobState.INCIDENT):
            raise Rejection(RejectionType.INVALID_STATE,
                            f"Expected to {action} job with key '{job.key}', but it is in failed state", intent=intent)

    def complete(self, key: int, variables: dict[str, Any]) -> None:
        job = self._get(key, "complete", "COMPLETE")
        self._require_not_failed(job, "complete", "COMPLETE")
        instance = self.state.elements.get(job.element_instance_key)
        self.state.remove_job(job)
        self.engine.write(job.key, ValueType.JOB, "COMPLETED", job.record_value(variables))
        self.engine.metrics.jobs_completed += 1
        if instance is not None:
            instance.job_key = 0
            self.state.touch_element(instance)
            self.engine.processors[instance.node.element_type].on_job_completed(instance, variables)
        self.engine.run()

    def fail(self, key: int, retries: int, message: str, backoff_ms: int, variables: dict[str, Any]) -> None:
        job = self._get(key, "fail", "FAIL")
        if job.state != JobState.ACTIVATED and job.state != JobState.ACTIVATABLE:
            raise Rejection(RejectionType.INVALID_STATE,
                            f"Expected to fail job with key '{key}', but it is in failed state", intent="FAIL")
        job.retries = retries
        job.error_message = message
        job.worker = ""
        job.deadline = -1
        instance = self.state.elements.get(job.element_instance_key)
        if variables and instance is not None:
            self.engine.variables.set_locals(instance.key, variables)
        if retries > 0 and backoff_ms > 0:
            job.state = JobState.FAILED
            job.recur_at = self.engine.now() + backoff_ms
            self.state.schedule(job.recur_at, "job_backoff", job.key)
        elif retries > 0:
            job.state = JobState.ACTIVATABLE
            self._ready.add(job.type)
        else:
            job.state = JobState.INCIDENT
        self.state.put_job(job)
        value = job.record_value()
        value["retryBackoff"] = backoff_ms
        self.engine.write(job.key, ValueType.JOB, "FAILED", value)
        self.engine.metrics.jobs_failed += 1
        if retries <= 0 and instance is not None:
            self.engine.incidents.raise_for_job(instance, job, message or "No more retries left.")
        self.engine.run()

    def throw_error(self, key: int, code: str, message: str, variables: dict[str, Any]) -> None:
        job = self._get(key, "throw an error for", "THROW_ERROR")
        self._require_not_failed(job, "throw an error for", "THROW_ERROR")
        instance = self.state.elements.get(job.element_instance_key)
        value = job.record_value(variables)
        value["errorCode"] = code
        value["errorMessage"] = message
        job.error_message = message
        self.engine.write(job.key, ValueType.JOB, "ERROR_THROWN", value)
        if instance is None:
            self.state.remove_job(job)
            self.engine.run()
            return
        caught = self.engine.events.throw_error(instance, code, message, variables)
        if caught:
            self.state.remove_job(job)
            instance.job_key = 0
            self.state.touch_element(instance)
        else:
            job.state = JobState.INCIDENT
            job.worker = ""
            self.state.put_job(job)
            self.engine.incidents.raise_(
                instance, "UNHANDLED_ERROR_EVENT", _uncaught_error_message(code, message), job=job,
            )
        self.engine.run()

    def update_retries(self, key: int, retries: int) -> None:
        job = self._get(key, "update retries of", "UPDATE_RETRIES")
        if retries < 1:
            raise Rejection(RejectionType.INVALID_ARGUMENT,
                            f"Expected job's retries to be greater than zero, but it was '{retries}'",
                            intent="UPDATE_RETRIES")
        job.retries = retries
        self.state.put_job(job)
        self.engine.write(job.key, ValueType.JOB, "RETRIES_UPDATED", job.record_value())
        self.engine.run()

    def update_timeout(self, key: int, timeout_ms: int) -> None:
        job = self._get(key, "update the timeout of", "UPDATE_TIMEOUT")
        if job.state != JobState.ACTIVATED:
            raise Rejection(RejectionType.INVALID_STATE,
                            f"Expected to update the timeout of job with key '{key}', but it is not active",
                            intent="UPDATE_TIMEOUT")
        job.deadline = self.engine.now() + timeout_ms
        self.state.put_job(job)
        self.state.schedule(job.deadline, "job_deadline", job.key)
        self.engine.write(job.key, ValueType.JOB, "TIMEOUT_UPDATED", job.record_value())
        self.engine.run()

    # -- time ------------------------------------------------------------------------------------------------------------

    def expire_deadline(self, key: int, due: int) -> bool:
        job = self.state.jobs.get(key)
        if job is None or job.state != JobState.ACTIVATED or job.deadline != due:
            return False
        job.state = JobState.ACTIVATABLE
        self.engine.write(job.key, ValueType.JOB, "TIMED_OUT", job.record_value())
        job.worker = ""
        job.deadline = -1
        self.state.put_job(job)
        self._ready.add(job.type)
        return True

    def recur_after_backoff(self, key: int, due: int) -> bool:
        job = self.state.jobs.get(key)
        if job is None or job.state != JobState.FAILED or job.recur_at != due:
            return False
        job.state = JobState.ACTIVATABLE
        job.recur_at = -1
        self.state.put_job(job)
        self.engine.write(job.key, ValueType.JOB, "RECURRED_AFTER_BACKOFF", job.record_value())
        self._ready.add(job.type)
        return True

    def make_activatable(self, job: Job) -> None:
        """After an incident on the job is resolved."""
        job.state = JobState.ACTIVATABLE
        job.worker = ""
        job.deadline = -1
        self.state.put_job(job)
        self._ready.add(job.type)


def _uncaught_error_message(code: str, message: str) -> str:
    return (f"Expected to throw an error event with the code '{code}' with message '{message}', but it was not "
            "caught. No error events are available in the scope.")


def _date_header(value: Any, text: str) -> str:
    if isinstance(value, str):
        return value
    raise ExpressionError(f"Expected result of the expression '{text}' to be 'DATE_TIME' or an ISO 8601 string, "
                          f"but was '{type(value).__name__.upper()}'.")
