"""The user-task inbox, filled from user-task jobs (idempotent by job key) and worked by people."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from shared.documents.driver import (
    And,
    CollectionSpec,
    Condition,
    Contains,
    ContainsAny,
    Eq,
    Index,
    Or,
    Range,
    Transaction,
)
from shared.documents.errors import ClaimConflict, Conflict, InvalidInput, NotFound
from shared.documents.models import Actor, NewTask, Page, PageRequest, Saved, Task, TaskFilter, TaskStatus
from shared.documents.repositories.base import Repository, Stale, aware, from_doc, to_doc

TASKS = "tasks"
SPECS = (
    CollectionSpec(TASKS, (
        Index(("status", "assignee")),
        Index(("candidate_groups", "status")),
        Index(("candidate_users", "status")),
        Index(("process_instance_key",)),
        Index(("project_code",)),
        Index(("created_at",)),
    )),
)


def _filter_conditions(f: TaskFilter) -> list[Condition]:
    c: list[Condition] = []
    if f.status is not None:
        c.append(Eq("status", f.status))
    if f.project_code is not None:
        c.append(Eq("project_code", f.project_code))
    if f.problem_id is not None:
        c.append(Eq("problem_id", f.problem_id))
    if f.bpmn_process_id is not None:
        c.append(Eq("bpmn_process_id", f.bpmn_process_id))
    if f.due_before is not None:
        c.append(Range("due_at", lt=f.due_before))
    if f.unassigned_only:
        c.append(Eq("_holder", ""))
    return c


class TaskRepository(Repository):
    async def insert(self, new: NewTask, *, actor: Actor) -> Saved[Task]:
        """Add a task for a user-task job; the same job key again returns the stored task (created=False)."""
        if not isinstance(new, NewTask):
            raise InvalidInput(f"expected NewTask, got {type(new).__name__}")
        task = Task(**NewTask.model_validate(new.model_dump()).model_dump(), updated_at=self.clock.now())

        async def work(tx: Transaction) -> Saved[Task]:
            existing = await self.driver.get(TASKS, task.job_key, tx)
            if existing is not None:
                return Saved[Task](item=from_doc(Task, existing), created=False)
            doc = _doc(task)
            if not await self.driver.insert(TASKS, doc, tx):
                raise Stale("task inserted concurrently")
            await self.audit(tx, actor, "task.create", "task", task.job_key, None, doc)
            return Saved[Task](item=task, created=True)

        return await self.unit_of_work(work, actor)

    async def get(self, job_key: int) -> Task | None:
        doc = await self.driver.get(TASKS, job_key)
        return from_doc(Task, doc) if doc else None

    async def claim(self, job_key: int, username: str, *, actor: Actor) -> Task:
        """Take an open task. Already yours: unchanged. Someone else's: ``ClaimConflict`` naming them."""
        if not username:
            raise InvalidInput("username must be non-empty")

        def change(t: Task) -> Task | None:
            _require_open(t)
            if t.assignee == username:
                return None
            if t.assignee is not None:
                raise ClaimConflict(t.job_key, t.assignee)
            return t.model_copy(update={"assignee": username})

        return await self._change(job_key, "task.claim", change, actor)

    async def unclaim(self, job_key: int, username: str, *, actor: Actor, force: bool = False) -> Task:
        """Give a task back. Only its holder may, unless ``force`` (an administrator)."""

        def change(t: Task) -> Task | None:
            _require_open(t)
            if t.assignee is None:
                return None
            if t.assignee != username and not force:
                raise ClaimConflict(t.job_key, t.assignee)
            return t.model_copy(update={"assignee": None})

        return await self._change(job_key, "task.unclaim", change, actor)

    async def assign(self, job_key: int, assignee: str | None, *, actor: Actor) -> Task:
        """Set the assignee whoever holds it now (administrators, the assignment worker)."""

        def change(t: Task) -> Task | None:
            _require_open(t)
            return None if t.assignee == assignee else t.model_copy(update={"assignee": assignee})

        return await self._change(job_key, "task.assign", change, actor)

    async def complete(self, job_key: int, *, by: str, at: datetime, actor: Actor) -> Task:
        """Mark done after CompleteJob succeeded. Completing again by the same person is a no-op; a task
        claimed by someone else, or cancelled, is a conflict."""
        at = aware(at)

        def change(t: Task) -> Task | None:
            if t.status == TaskStatus.COMPLETED and t.completed_by == by:
                return None
            _require_open(t)
            if t.assignee is not None and t.assignee != by:
                raise ClaimConflict(t.job_key, t.assignee)
            return t.model_copy(update={"status": TaskStatus.COMPLETED, "completed_at": at, "completed_by": by,
                                        "assignee": by})

        return await self._change(job_key, "task.complete", change, actor)

    async def cancel(self, job_key: int, *, at: datetime, actor: Actor) -> Task:
        """The job went away (instance cancelled, element terminated): the task leaves every inbox."""
        at = aware(at)

        def change(t: Task) -> Task | None:
            if t.status != TaskStatus.OPEN:
                return None
            return t.model_copy(update={"status": TaskStatus.CANCELLED, "completed_at": at})

        return await self._change(job_key, "task.cancel", change, actor)

    async def list_for_user(
        self,
        username: str,
        *,
        groups: Sequence[str] = (),
        filter: TaskFilter | None = None,
        page: PageRequest | None = None,
    ) -> Page[Task]:
        """Tasks assigned to the user, plus unassigned ones offered to them (as a candidate user, or to one
        of their ``groups``: unit ids, roles). Earliest due first, then oldest."""
        f = filter or TaskFilter()
        mine: Condition = Eq("assignee", username)
        if f.assigned_only:
            who: Condition = mine
        else:
            offered: list[Condition] = [Contains("candidate_users", username)]
            if groups:
                offered.append(ContainsAny("candidate_groups", tuple(groups)))
            who = Or((mine, *[_unassigned_and(o) for o in offered]))
        return await self.page(TASKS, Task, [who, *_filter_conditions(f)], page,
                               sort=[("due_at", 1), ("created_at", 1)])

    async def list(self, filter: TaskFilter | None = None, page: PageRequest | None = None) -> Page[Task]:
        return await self.page(TASKS, Task, _filter_conditions(filter or TaskFilter()), page,
                               sort=[("created_at", -1)])

    async def list_for_instance(self, process_instance_key: int) -> list[Task]:
        docs = await self.driver.find(TASKS, [Eq("process_instance_key", process_instance_key)],
                                      sort=[("created_at", 1)])
        return [from_doc(Task, d) for d in docs]

    async def _change(self, job_key: int, action: str, change: Callable[[Task], Task | None], actor: Actor) -> Task:
        async def work(tx: Transaction) -> Task:
            before = await self.driver.get(TASKS, job_key, tx)
            if before is None:
                raise NotFound("task", job_key)
            current = from_doc(Task, before)
            updated = change(current)
            if updated is None:
                return current
            updated.updated_at = self.clock.now()
            after = _doc(updated)
            await self.replace(TASKS, tx, before, after)
            await self.audit(tx, actor, action, "task", job_key, before, after)
            return from_doc(Task, after)

        return await self.unit_of_work(work, actor)


def _unassigned_and(condition: Condition) -> Condition:
    """Offered to the user and held by nobody: a claimed task leaves the other candidates' inboxes."""
    return And((Eq("_holder", ""), condition))


def _doc(task: Task) -> dict[str, object]:
    # "_holder" mirrors the assignee with "" for nobody, so "unclaimed" is a string match rather than a
    # null match inside $or/$and (which the nx-27017 stand-in gets wrong; real MongoDB is fine either way).
    return to_doc(task, task.job_key, _holder=task.assignee or "")


def _require_open(t: Task) -> None:
    if t.status != TaskStatus.OPEN:
        raise Conflict(f"task {t.job_key} is {t.status}")
