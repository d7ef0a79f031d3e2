"""Contract: the notifications outbox (no double sending) and the audit trail."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared.documents import Conflict, DocumentStore, InvalidInput, NotFound
from shared.documents.models import (
    Actor,
    Channel,
    NewNotification,
    NotificationStatus,
    PageRequest,
    Period,
    Role,
)
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_problem, project_data


def note(key: str) -> NewNotification:
    return NewNotification(id=key, channel=Channel.SMS, recipient="13800000000", subject="督办",
                           body="请尽快办理", project_code="P-1", created_at=at(2024, 5, 1))


async def test_enqueue_is_idempotent_and_a_message_is_claimed_once(store: DocumentStore) -> None:
    assert (await store.notifications.enqueue(note("job-2251799813685249"))).created
    again = await store.notifications.enqueue(note("job-2251799813685249").model_copy(update={"body": "x"}))
    assert not again.created and again.item.body == "请尽快办理"

    claims = await asyncio.gather(*[
        store.notifications.claim_for_sending("job-2251799813685249", at=at(2024, 5, 1, 9)) for _ in range(5)])
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].status == NotificationStatus.SENDING and won[0].attempts == 1
    sent = await store.notifications.mark_sent("job-2251799813685249", at=at(2024, 5, 1, 9, 1))
    assert sent.status == NotificationStatus.SENT and sent.sent_at == at(2024, 5, 1, 9, 1)
    # A redelivered job finds it sent and sends nothing.
    assert await store.notifications.claim_for_sending("job-2251799813685249", at=at(2024, 5, 2)) is None
    assert (await store.notifications.mark_sent("job-2251799813685249", at=at(2024, 5, 2))).sent_at == sent.sent_at


async def test_failures_retry_and_expired_leases_are_reclaimed(store: DocumentStore) -> None:
    await store.notifications.enqueue(note("n-1"))
    first = await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 1, 9), lease=timedelta(minutes=5))
    assert first is not None
    assert await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 1, 9, 4)) is None  # lease alive
    failed = await store.notifications.mark_failed("n-1", error="gateway timeout")
    assert failed.status == NotificationStatus.PENDING and failed.last_error == "gateway timeout"
    second = await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 1, 9, 5))
    assert second is not None and second.attempts == 2
    # The sender died: after the lease the message may be claimed again.
    third = await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 1, 9, 11))
    assert third is not None and third.attempts == 3
    final = await store.notifications.mark_failed("n-1", error="number unknown", final=True)
    assert final.status == NotificationStatus.FAILED
    assert await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 2)) is None
    with pytest.raises(Conflict, match="is failed, not sending"):
        await store.notifications.mark_sent("n-1", at=at(2024, 5, 2))
    with pytest.raises(NotFound):
        await store.notifications.claim_for_sending("n-2", at=at(2024, 5, 2))
    with pytest.raises(InvalidInput, match="lease must be positive"):
        await store.notifications.claim_for_sending("n-1", at=at(2024, 5, 2), lease=timedelta(0))
    assert [n.id for n in (await store.notifications.list(status=NotificationStatus.FAILED)).items] == ["n-1"]


async def test_every_change_is_audited_with_its_actor_and_no_op_writes_are_not(store: DocumentStore) -> None:
    clerk = Actor(user="wang", role=Role.UNIT_STAFF, request_id="req-42")
    await store.projects.upsert(project_data("P-1"), actor=ADMIN)
    await store.projects.upsert(project_data("P-1"), actor=ADMIN)  # no change: no entry
    problem = (await store.problems.create(new_problem("P-1"), actor=SYSTEM)).item
    await store.problems.update_unit(problem.id, "assist-qjp", unit_status="reported", action="report",
                                     actor=clerk, at=at(2024, 5, 3), status="reported")
    entries = (await store.audit.list(page=PageRequest(size=50))).items
    assert [(e.action, e.user, e.role) for e in entries] == [
        ("problem.report", "wang", Role.UNIT_STAFF),
        ("problem.create", SYSTEM.user, Role.SYSTEM),
        ("project.create", "admin", Role.ADMIN),
    ]
    report = entries[0]
    assert report.request_id == "req-42" and report.target_kind == "problem" and report.target_id == problem.id
    assert report.before is not None and report.after is not None
    assert report.before["status"] == "assigned" and report.after["status"] == "reported"
    assert "history" not in report.after  # summaries leave out what only repeats itself
    assert (await store.audit.list(user="wang")).total == 1
    assert (await store.audit.list(period=Period(start=at(2020, 1, 1), end=at(2021, 1, 1)))).total == 0
    assert (await store.audit.list(period=Period(start=at(2024, 1, 1), end=at(2025, 1, 1)))).total == 3


async def test_an_outside_change_is_recorded_with_its_actor_and_a_bad_actor_writes_nothing(store: DocumentStore) -> None:
    await store.audit.record(ADMIN, "engine.instance.cancel", "process_instance", 2251799813685249,
                             {"reason": "duplicate"})
    (entry,) = (await store.audit.list(target_kind="process_instance", target_id=2251799813685249)).items
    assert (entry.user, entry.role, entry.action, entry.target_id) == (ADMIN.user, ADMIN.role, "engine.instance.cancel",
                                                                      "2251799813685249")
    assert entry.before is None and entry.after == {"reason": "duplicate"}
    with pytest.raises(InvalidInput):
        await store.audit.record("someone", "engine.instance.cancel", "process_instance", 1)  # type: ignore[arg-type]
    assert (await store.audit.list(target_kind="process_instance", target_id=1)).total == 0
