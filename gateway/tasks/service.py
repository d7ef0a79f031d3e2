"""Who may see and act on a task, its form, and completing it in the engine then in the store."""

from __future__ import annotations

import json
from typing import Any

import grpc
from defusedxml import ElementTree

from gateway.announce import announce
from gateway.auth.principal import Caller
from gateway.context import Services
from gateway.engine import EngineError
from gateway.errors import ConflictProblem, FieldError, NotFoundProblem, Unprocessable
from gateway.tasks import forms
from gateway.tasks.schemas import TaskForm
from shared.documents.models import ResourceKind, Role, Task, TaskStatus
from shared.logging import bind_contextvars

EMBEDDED_PREFIX = "camunda-forms:bpmn:"
ZEEBE_NS = "{http://camunda.org/schema/zeebe/1.0}"
MAX_VARIABLES_BYTES = 256 * 1024


def offered_to(task: Task, caller: Caller) -> bool:
    p = caller.principal
    return p.username in task.candidate_users or bool(set(p.task_groups).intersection(task.candidate_groups))


def visible(task: Task, caller: Caller) -> bool:
    p = caller.principal
    return p.has(Role.ADMIN, Role.LEADER) or task.assignee == p.username or offered_to(task, caller)


async def visible_task(services: Services, caller: Caller, job_key: int) -> Task:
    task = await services.store.tasks.get(job_key)
    if task is None or not visible(task, caller):
        raise NotFoundProblem(f"task {job_key} does not exist or is not yours to see")
    return task


def can_claim(task: Task, caller: Caller) -> bool:
    return task.status == TaskStatus.OPEN and task.assignee is None and (
        offered_to(task, caller) or caller.principal.is_admin)


def can_complete(task: Task, caller: Caller) -> bool:
    if task.status != TaskStatus.OPEN:
        return False
    if task.assignee is not None:
        return task.assignee == caller.username
    return offered_to(task, caller) or caller.principal.is_admin


def _form_file(services: Services, form_id: str) -> dict[str, Any] | None:
    """A form deployed by another client (the demo deploys bpmn/ directly): the repository's copy by id.
    A form deployed through the gateway always wins, being exactly what the engine has."""
    directory = services.settings.forms_dir
    if directory is None or not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.form")):
        try:
            form = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(form, dict) and form.get("id") == form_id:
            return form
    return None


async def _embedded_form(services: Services, task: Task, form_id: str) -> dict[str, Any] | None:
    resource = None
    if task.process_definition_key is not None:
        resource = await services.store.resources.get(task.process_definition_key)
    if resource is None:
        resource = await services.store.resources.latest(ResourceKind.PROCESS, task.bpmn_process_id)
    if resource is None:
        return None
    root = ElementTree.fromstring(resource.content.encode())
    for element in root.iter(ZEEBE_NS + "userTaskForm"):
        if element.get("id") == form_id and element.text:
            parsed = json.loads(element.text)
            return parsed if isinstance(parsed, dict) else None
    return None


async def form_of(services: Services, task: Task) -> TaskForm:
    """The form a task shows: linked by key, embedded in the BPMN, or named by the formId header."""
    key = task.form_key
    form_id = task.variables.get("formId") if isinstance(task.variables.get("formId"), str) else None
    schema: dict[str, Any] | None = None
    if key and key.isdigit():
        kept = await services.store.resources.get(int(key))
        if kept is not None and kept.kind == ResourceKind.FORM:
            schema, form_id = json.loads(kept.content), kept.resource_id
    elif key and key.startswith(EMBEDDED_PREFIX):
        schema = await _embedded_form(services, task, key.removeprefix(EMBEDDED_PREFIX))
    if schema is None and (form_id or key):
        kept = await services.store.resources.latest(ResourceKind.FORM, form_id or key or "")
        if kept is not None:
            schema, form_id = json.loads(kept.content), kept.resource_id
    if schema is None and form_id:
        schema = _form_file(services, form_id)
    if schema is None and (key or form_id):
        raise ConflictProblem(f"the form {key or form_id!r} of task {task.job_key} is unknown to the gateway: "
                              "deploy it through POST /api/processes/deployments", form_key=key)
    return TaskForm(form_key=key, form_id=form_id, schema=schema)


async def _announce(services: Services, event: str, task: Task, **extra: Any) -> None:
    await announce(services, event, {"job_key": task.job_key, "name": task.name, "project_code": task.project_code,
                                     "problem_id": task.problem_id, "assignee": task.assignee,
                                     "status": task.status.value, **extra},
                   project_code=task.project_code, unit_ids=task.candidate_groups)


async def claim(services: Services, caller: Caller, job_key: int) -> Task:
    task = await visible_task(services, caller, job_key)
    if task.status != TaskStatus.OPEN:
        raise ConflictProblem(f"task {job_key} is {task.status.value}")
    if task.assignee != caller.username and not (offered_to(task, caller) or caller.principal.is_admin):
        raise ConflictProblem(f"task {job_key} is not offered to you")
    claimed = await services.store.tasks.claim(job_key, caller.username, actor=caller.actor)
    if claimed.rev != task.rev:
        await _announce(services, "task.claimed", claimed)
    return claimed


async def unclaim(services: Services, caller: Caller, job_key: int) -> Task:
    task = await visible_task(services, caller, job_key)
    force = caller.principal.has(Role.ADMIN, Role.LEADER)
    released = await services.store.tasks.unclaim(job_key, caller.username, actor=caller.actor, force=force)
    if released.rev != task.rev:
        await _announce(services, "task.unclaimed", released)
    return released


async def assign(services: Services, caller: Caller, job_key: int, assignee: str | None) -> Task:
    await visible_task(services, caller, job_key)
    if assignee is not None:
        user = await services.store.users.get(assignee)
        if user is None or not user.active:
            raise Unprocessable(f"no active user {assignee!r}", errors=[FieldError(
                pointer="#/body/assignee", field="assignee", message="no such active user")])
    assigned = await services.store.tasks.assign(job_key, assignee, actor=caller.actor)
    await _announce(services, "task.assigned", assigned)
    return assigned


async def complete(services: Services, caller: Caller, job_key: int, variables: dict[str, Any]) -> Task:
    task = await visible_task(services, caller, job_key)
    # Every line logged for this completion joins the workers' and the engine's lines of the same instance.
    bind_contextvars(process_instance_key=task.process_instance_key, job_key=job_key,
                     **({"project_code": task.project_code} if task.project_code else {}))
    if task.status != TaskStatus.OPEN:
        if task.status == TaskStatus.COMPLETED and task.completed_by == caller.username:
            return task  # a double submit: the first one did it
        raise ConflictProblem(f"task {job_key} is {task.status.value}")
    if task.assignee is not None and task.assignee != caller.username:
        raise ConflictProblem(f"task {job_key} is claimed by {task.assignee!r}", holder=task.assignee)
    if not can_complete(task, caller):
        raise ConflictProblem(f"task {job_key} is not offered to you")
    if len(json.dumps(variables, ensure_ascii=False).encode()) > MAX_VARIABLES_BYTES:
        raise Unprocessable(f"the form data is larger than {MAX_VARIABLES_BYTES} bytes")
    form = await form_of(services, task)
    if form.schema_ is not None:
        errors = forms.validate(form.schema_, variables, task.variables)
        if errors:
            raise Unprocessable("; ".join(e.message for e in errors[:5]), errors=errors)
    try:
        await services.engine.complete_job(job_key, variables)
    except EngineError as exc:
        if exc.code == grpc.StatusCode.NOT_FOUND:
            # The job is gone (instance cancelled, element terminated): take the task out of every inbox.
            await services.store.tasks.cancel(job_key, at=services.clock.now(), actor=caller.actor)
            raise ConflictProblem(f"task {job_key} no longer exists in the engine ({exc.detail}); it was withdrawn") from exc
        raise
    done = await services.store.tasks.complete(job_key, by=caller.username, at=services.clock.now(), actor=caller.actor)
    await _announce(services, "task.completed", done, completed_by=caller.username)
    return done
