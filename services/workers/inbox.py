"""The inbox worker of the portability rule: user-task jobs become documents in the store's task inbox.

| task type | reads | writes |
|---|---|---|
| ``io.camunda.zeebe:userTask`` | the job's headers and the variables a form or an inbox list shows | nothing: the job stays activated |
| ``inbox.withdraw`` | ``assignment`` / ``invitation`` (which instance); header ``elementId`` | ``withdrawn`` |

The inbox activates every user-task job with a long timeout (``INBOX_JOB_TIMEOUT``) and never answers it: the
gateway completes it with CompleteJob when a person submits the form. Inserting is idempotent by job key,
so a job handed out again after its timeout (or after a restart) changes nothing. ``inbox.withdraw`` takes
a task out of every inbox when the model has moved on without it (a boundary timer fired).

A task keeps: candidate groups and users, assignee, due and follow-up dates, the form key the engine gives,
the project and problem ids, and the variables below for display. Two task headers of the models help the
inbox: ``taskName`` (the name people see) and ``formId`` (kept in the task's variables; it names the .form
file in bpmn/, for a gateway that serves forms by id).
"""

import json
from datetime import timedelta
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from services.workers.runtime import (
    USER_TASK_JOB_TYPE,
    KeepActivated,
    PermanentFailure,
    RetryLater,
    WorkerContext,
    parse_time,
)
from shared.documents.models import NewTask, TaskStatus

FAMILY = "inbox"
HEADER = "io.camunda.zeebe:"
SHOWN = ("projectCode", "projectName", "problemId", "problemTitle", "assignment", "invitation", "dueAt",
         "reports", "assistantOptions", "approvalOptions", "countyCode")


def _list_header(headers: dict[str, str], name: str) -> list[str]:
    text = headers.get(HEADER + name)
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        value = [part.strip() for part in text.split(",")]
    return [str(v) for v in value if v] if isinstance(value, list) else [str(value)]


def task_from_job(job: Job, variables: dict[str, Any], name: str, created_at: Any) -> NewTask:
    headers = job.custom_headers or {}
    due = headers.get(HEADER + "dueDate")
    follow_up = headers.get(HEADER + "followUpDate")
    shown = {k: variables[k] for k in SHOWN if variables.get(k) is not None}
    if headers.get("formId"):
        shown["formId"] = headers["formId"]
    return NewTask(
        job_key=job.key, process_instance_key=job.process_instance_key, element_id=job.element_id,
        element_instance_key=job.element_instance_key, bpmn_process_id=job.bpmn_process_id,
        process_definition_key=job.process_definition_key, name=name,
        candidate_groups=_list_header(headers, "candidateGroups"),
        candidate_users=_list_header(headers, "candidateUsers"),
        assignee=headers.get(HEADER + "assignee") or None,
        due_at=parse_time(due, "dueDate") if due else None,
        follow_up_at=parse_time(follow_up, "followUpDate") if follow_up else None,
        form_key=headers.get(HEADER + "formKey") or None,
        variables=shown,
        project_code=variables.get("projectCode") if isinstance(variables.get("projectCode"), str) else None,
        problem_id=variables.get("problemId") if isinstance(variables.get("problemId"), str) else None,
        created_at=created_at,
    )


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type=USER_TASK_JOB_TYPE, timeout_ms=ctx.settings.inbox_timeout_ms, max_jobs_to_activate=64,
            max_running_jobs=64, variables_to_fetch=list(SHOWN))
    async def user_task(job: Job, **variables: Any) -> dict[str, Any]:
        headers = job.custom_headers or {}
        name = headers.get("taskName") or job.element_id
        try:
            new = task_from_job(job, variables, name, ctx.now())
        except ValueError as error:  # pydantic's ValidationError too
            raise PermanentFailure(f"user task {job.element_id}: {error}") from None
        try:
            await ctx.store.tasks.insert(new, actor=actor)
        except ValueError as error:  # the store refused the task itself (InvalidInput)
            raise PermanentFailure(f"user task {job.element_id}: {error}") from None
        except Exception as error:
            # A user task has one retry: spending it would turn a database hiccup into an incident.
            raise RetryLater(f"inbox insert failed: {error!r}", timedelta(seconds=10), keep_retries=True) from error
        raise KeepActivated()

    @r.task(task_type="inbox.withdraw")
    async def withdraw(job: Job, assignment: dict | None = None, invitation: dict | None = None) -> dict[str, Any]:
        element_id = (job.custom_headers or {}).get("elementId")
        if not element_id:
            raise PermanentFailure("task header 'elementId' (the user task to withdraw) is missing")
        which = ("assignment", assignment) if assignment is not None else ("invitation", invitation)
        withdrawn = 0
        for task in await ctx.store.tasks.list_for_instance(job.process_instance_key):
            if task.status != TaskStatus.OPEN or task.element_id != element_id:
                continue
            if which[1] is not None and task.variables.get(which[0]) != which[1]:
                continue
            await ctx.store.tasks.cancel(task.job_key, at=ctx.now(), actor=actor)
            withdrawn += 1
        return {"withdrawn": withdrawn}

    return r
