"""Contract: the user-task inbox (idempotent insert, claims, visibility, completion)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.documents import ClaimConflict, Conflict, DocumentStore, InvalidInput, NotFound
from shared.documents.models import PageRequest, TaskFilter, TaskStatus
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_task

BIG = 2**63 - 1000  # Zeebe keys are 64-bit: make sure the top of the range survives


async def test_insert_is_idempotent_by_job_key(store: DocumentStore) -> None:
    first = await store.tasks.insert(new_task(BIG, variables={"project": {"code": "P-1"}, "n": 2**62}),
                                     actor=SYSTEM)
    assert first.created and first.item.status == TaskStatus.OPEN
    again = await store.tasks.insert(new_task(BIG, name="renamed"), actor=SYSTEM)
    assert not again.created and again.item == first.item
    stored = await store.tasks.get(BIG)
    assert stored is not None and stored.job_key == BIG and stored.variables["n"] == 2**62
    assert (await store.tasks.list()).total == 1


async def test_claims_and_who_sees_what(store: DocumentStore) -> None:
    await store.tasks.insert(new_task(1, candidate_groups=["dept-zrzy"]), actor=SYSTEM)
    await store.tasks.insert(new_task(2, candidate_groups=[], candidate_users=["li"]), actor=SYSTEM)
    await store.tasks.insert(new_task(3, candidate_groups=["dept-fgw"], assignee="zhao"), actor=SYSTEM)

    async def inbox(user: str, groups: list[str], **filters: object) -> list[int]:
        page = await store.tasks.list_for_user(user, groups=groups, filter=TaskFilter(**filters))
        return [t.job_key for t in page.items]

    assert await inbox("wang", ["dept-zrzy"]) == [1]
    assert await inbox("li", ["dept-zrzy"]) == [1, 2]
    assert await inbox("zhao", []) == [3]
    assert await inbox("sun", ["dept-fgw"]) == []  # assigned to zhao: not offered to the group

    claimed = await store.tasks.claim(1, "wang", actor=ADMIN)
    assert claimed.assignee == "wang" and claimed.rev == 2
    assert await store.tasks.claim(1, "wang", actor=ADMIN) == claimed  # claiming your own task again
    assert await inbox("li", ["dept-zrzy"]) == [2]
    assert await inbox("wang", [], assigned_only=True) == [1]

    with pytest.raises(ClaimConflict, match="task 1 is claimed by 'wang'") as caught:
        await store.tasks.claim(1, "li", actor=ADMIN)
    assert caught.value.holder == "wang"
    with pytest.raises(ClaimConflict):
        await store.tasks.unclaim(1, "li", actor=ADMIN)
    assert (await store.tasks.get(1)).assignee == "wang"  # type: ignore[union-attr]

    released = await store.tasks.unclaim(1, "wang", actor=ADMIN)
    assert released.assignee is None
    assert await inbox("li", ["dept-zrzy"]) == [1, 2]
    forced = await store.tasks.unclaim(3, "admin", actor=ADMIN, force=True)
    assert forced.assignee is None
    assigned = await store.tasks.assign(3, "sun", actor=ADMIN)
    assert assigned.assignee == "sun" and await inbox("sun", ["dept-fgw"]) == [3]


async def test_only_one_of_many_concurrent_claims_wins(store: DocumentStore) -> None:
    await store.tasks.insert(new_task(7), actor=SYSTEM)
    users = [f"user{i}" for i in range(6)]
    results = await asyncio.gather(*[store.tasks.claim(7, u, actor=ADMIN) for u in users], return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, ClaimConflict) and e.holder == winners[0].assignee for e in losers)
    assert (await store.tasks.get(7)).assignee == winners[0].assignee  # type: ignore[union-attr]
    claims = [e for e in (await store.audit.list(target_kind="task", target_id=7)).items if e.action == "task.claim"]
    assert len(claims) == 1


async def test_completion_and_cancellation(store: DocumentStore) -> None:
    await store.tasks.insert(new_task(11), actor=SYSTEM)
    await store.tasks.claim(11, "wang", actor=ADMIN)
    with pytest.raises(ClaimConflict):
        await store.tasks.complete(11, by="li", at=at(2024, 5, 3), actor=ADMIN)
    done = await store.tasks.complete(11, by="wang", at=at(2024, 5, 3), actor=ADMIN)
    assert (done.status, done.completed_by, done.completed_at) == (TaskStatus.COMPLETED, "wang", at(2024, 5, 3))
    assert await store.tasks.complete(11, by="wang", at=at(2024, 5, 4), actor=ADMIN) == done
    with pytest.raises(Conflict, match="task 11 is completed"):
        await store.tasks.claim(11, "li", actor=ADMIN)
    assert await store.tasks.list_for_user("wang", groups=["dept-zrzy"]) == await store.tasks.list_for_user(
        "nobody")
    assert (await store.tasks.list_for_user("wang", filter=TaskFilter(status=TaskStatus.COMPLETED))).total == 1

    await store.tasks.insert(new_task(12), actor=SYSTEM)
    cancelled = await store.tasks.cancel(12, at=at(2024, 5, 5), actor=SYSTEM)
    assert cancelled.status == TaskStatus.CANCELLED
    assert (await store.tasks.cancel(12, at=at(2024, 5, 6), actor=SYSTEM)).completed_at == at(2024, 5, 5)
    with pytest.raises(Conflict):
        await store.tasks.complete(12, by="wang", at=at(2024, 5, 6), actor=ADMIN)
    with pytest.raises(NotFound, match="task 99 does not exist"):
        await store.tasks.claim(99, "wang", actor=ADMIN)
    with pytest.raises(InvalidInput):
        await store.tasks.claim(12, "", actor=ADMIN)


async def test_inbox_filters_order_and_pages(store: DocumentStore) -> None:
    for i in range(12):
        await store.tasks.insert(new_task(
            100 + i, due_at=at(2024, 6, 1) + timedelta(days=(i * 5) % 12), created_at=at(2024, 5, 1, i),
            project_code="P-A" if i % 3 == 0 else "P-B", bpmn_process_id="docking" if i % 4 == 0 else "problem"),
            actor=SYSTEM)
    tasks = [await store.tasks.get(100 + i) for i in range(12)]
    by_due = sorted(tasks, key=lambda t: (t.due_at, t.created_at, t.job_key))  # type: ignore[union-attr]
    pages = [await store.tasks.list_for_user("x", groups=["dept-zrzy"], page=PageRequest(page=n, size=5))
             for n in (1, 2, 3)]
    assert [p.total for p in pages] == [12, 12, 12]
    assert [t.job_key for p in pages for t in p.items] == [t.job_key for t in by_due]  # type: ignore[union-attr]

    only_a = await store.tasks.list_for_user("x", groups=["dept-zrzy"], filter=TaskFilter(project_code="P-A"))
    assert {t.job_key for t in only_a.items} == {100 + i for i in range(12) if i % 3 == 0}
    docking = await store.tasks.list(TaskFilter(bpmn_process_id="docking"))
    assert {t.job_key for t in docking.items} == {100 + i for i in range(12) if i % 4 == 0}
    due_soon = await store.tasks.list(TaskFilter(due_before=at(2024, 6, 4)))
    assert {t.job_key for t in due_soon.items} == {t.job_key for t in tasks if t.due_at < at(2024, 6, 4)}  # type: ignore[union-attr,operator]
    per_instance = await store.tasks.list_for_instance(2251799813685000)
    assert [t.job_key for t in per_instance] == [100 + i for i in range(12)]
