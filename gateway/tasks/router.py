from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from gateway.common import DateOrTime, PageOut, Pagination, local_instant, page_out
from gateway.context import ServicesDep
from gateway.errors import Forbidden, problem_responses
from gateway.tasks import service
from gateway.tasks.auth import TaskAssigner, TaskWorker
from gateway.tasks.schemas import AssignIn, CompleteIn, TaskDetail, TaskForm, TaskOut
from shared.documents.models import Role, TaskFilter, TaskStatus

router = APIRouter(prefix="/api/tasks", tags=["task inbox"], responses=problem_responses(401, 403, 422))

JobKey = Annotated[int, Path(ge=0, le=2**63 - 1, description="the user-task job key")]


def _out(task: object) -> TaskOut:
    return TaskOut.model_validate(task.model_dump())  # type: ignore[attr-defined]


@router.get("", response_model=PageOut[TaskOut], summary="Open tasks for the caller (or all, for leaders), earliest due first")
async def list_tasks(
    caller: TaskWorker, services: ServicesDep, page: Pagination,
    process: Annotated[str | None, Query(max_length=256, description="BPMN process id")] = None,
    project: Annotated[str | None, Query(max_length=64, description="project code")] = None,
    due_before: Annotated[DateOrTime | None, Query(description="a date means that local day's start")] = None,
    unassigned: Annotated[bool, Query(description="only tasks nobody has claimed")] = False,
    mine: Annotated[bool, Query(description="only tasks assigned to me")] = False,
    view: Annotated[Literal["inbox", "all"], Query(description="'all': every open task (admins, leaders)")] = "inbox",
) -> dict[str, object]:
    f = TaskFilter(status=TaskStatus.OPEN, bpmn_process_id=process, project_code=project,
                   due_before=local_instant(due_before) if due_before is not None else None,
                   unassigned_only=unassigned, assigned_only=mine)
    if view == "all":
        if not caller.principal.has(Role.ADMIN, Role.LEADER):
            raise Forbidden("only admins and leaders see every task", required_roles=["admin", "leader"])
        found = await services.store.tasks.list(f, page)
    else:
        found = await services.store.tasks.list_for_user(caller.username, groups=caller.principal.task_groups,
                                                         filter=f, page=page)
    return page_out(found, [_out(t) for t in found.items])


@router.get("/history", response_model=PageOut[TaskOut], summary="Tasks the caller completed")
async def history(caller: TaskWorker, services: ServicesDep, page: Pagination,
                  project: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, object]:
    f = TaskFilter(status=TaskStatus.COMPLETED, project_code=project, assigned_only=True)
    found = await services.store.tasks.list_for_user(caller.username, filter=f, page=page)
    return page_out(found, [_out(t) for t in found.items])


@router.get("/{job_key}", response_model=TaskDetail, responses=problem_responses(404, 409),
            summary="A task with its form")
async def get_task(caller: TaskWorker, services: ServicesDep, job_key: JobKey) -> TaskDetail:
    task = await service.visible_task(services, caller, job_key)
    return TaskDetail(task=_out(task), form=await service.form_of(services, task),
                      can_claim=service.can_claim(task, caller), can_complete=service.can_complete(task, caller))


@router.get("/{job_key}/form", response_model=TaskForm, responses=problem_responses(404, 409),
            summary="The task's form (form-js JSON)")
async def get_form(caller: TaskWorker, services: ServicesDep, job_key: JobKey) -> TaskForm:
    return await service.form_of(services, await service.visible_task(services, caller, job_key))


@router.post("/{job_key}/claim", response_model=TaskOut, responses=problem_responses(404, 409), summary="Claim a task")
async def claim(caller: TaskWorker, services: ServicesDep, job_key: JobKey) -> TaskOut:
    return _out(await service.claim(services, caller, job_key))


@router.post("/{job_key}/unclaim", response_model=TaskOut, responses=problem_responses(404, 409),
             summary="Give a claimed task back (its holder; admins and leaders for anyone)")
async def unclaim(caller: TaskWorker, services: ServicesDep, job_key: JobKey) -> TaskOut:
    return _out(await service.unclaim(services, caller, job_key))


@router.post("/{job_key}/assign", response_model=TaskOut, responses=problem_responses(404, 409),
             summary="Assign a task to someone (admins, leaders)")
async def assign(caller: TaskAssigner, services: ServicesDep, job_key: JobKey, body: AssignIn) -> TaskOut:
    return _out(await service.assign(services, caller, job_key, body.assignee))


@router.post("/{job_key}/complete", response_model=TaskOut, responses=problem_responses(404, 409, 503),
             summary="Complete a task with its form's data (validated against the form)")
async def complete(caller: TaskWorker, services: ServicesDep, job_key: JobKey, body: CompleteIn) -> TaskOut:
    return _out(await service.complete(services, caller, job_key, body.variables))
