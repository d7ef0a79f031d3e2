"""The notifications outbox: one document per message, keyed by an idempotency key (e.g. the job key).

Deliveries are bookkeeping of their own, so they are not copied into the audit trail.
A sender claims a message for a lease before sending; a redelivered job finds it claimed or sent and
sends nothing. A sender that dies mid-lease leaves the message claimable again once the lease runs out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Transaction
from shared.documents.errors import Conflict, InvalidInput, NotFound
from shared.documents.models import (
    NewNotification,
    Notification,
    NotificationStatus,
    Page,
    PageRequest,
    Saved,
)
from shared.documents.repositories.base import Repository, Stale, aware, from_doc, to_doc

NOTIFICATIONS = "notifications"
SPECS = (CollectionSpec(NOTIFICATIONS, (Index(("status", "created_at")),)),)


class NotificationRepository(Repository):
    async def enqueue(self, new: NewNotification) -> Saved[Notification]:
        if not isinstance(new, NewNotification):
            raise InvalidInput(f"expected NewNotification, got {type(new).__name__}")
        note = Notification(**NewNotification.model_validate(new.model_dump()).model_dump())

        async def work(tx: Transaction) -> Saved[Notification]:
            existing = await self.driver.get(NOTIFICATIONS, note.id, tx)
            if existing is not None:
                return Saved[Notification](item=from_doc(Notification, existing), created=False)
            if not await self.driver.insert(NOTIFICATIONS, to_doc(note, note.id), tx):
                raise Stale("notification enqueued concurrently")
            return Saved[Notification](item=note, created=True)

        return await self.unit_of_work(work, audited=False)

    async def claim_for_sending(
        self, notification_id: str, *, at: datetime, lease: timedelta = timedelta(minutes=5)
    ) -> Notification | None:
        """Take the message for sending; None when it is sent, failed for good, or claimed by a live lease."""
        at = aware(at)
        if lease <= timedelta(0):
            raise InvalidInput("lease must be positive")

        def change(n: Notification) -> Notification | None:
            claimable = n.status == NotificationStatus.PENDING or (
                n.status == NotificationStatus.SENDING and n.claimed_until is not None and n.claimed_until <= at
            )
            if not claimable:
                return None
            return n.model_copy(update={"status": NotificationStatus.SENDING, "attempts": n.attempts + 1,
                                        "claimed_until": at + lease})

        return await self._change(notification_id, change, claimed=True)

    async def mark_sent(self, notification_id: str, *, at: datetime) -> Notification:
        at = aware(at)

        def change(n: Notification) -> Notification | None:
            if n.status == NotificationStatus.SENT:
                return None
            if n.status != NotificationStatus.SENDING:
                raise Conflict(f"notification {notification_id} is {n.status}, not sending")
            return n.model_copy(update={"status": NotificationStatus.SENT, "sent_at": at, "claimed_until": None})

        result = await self._change(notification_id, change)
        assert result is not None
        return result

    async def mark_failed(self, notification_id: str, *, error: str, final: bool = False) -> Notification:
        """Record a failed attempt; unless ``final`` the message goes back to pending for another try."""

        def change(n: Notification) -> Notification | None:
            if n.status != NotificationStatus.SENDING:
                raise Conflict(f"notification {notification_id} is {n.status}, not sending")
            status = NotificationStatus.FAILED if final else NotificationStatus.PENDING
            return n.model_copy(update={"status": status, "last_error": error[:2000], "claimed_until": None})

        result = await self._change(notification_id, change)
        assert result is not None
        return result

    async def get(self, notification_id: str) -> Notification | None:
        doc = await self.driver.get(NOTIFICATIONS, notification_id)
        return from_doc(Notification, doc) if doc else None

    async def list(
        self, *, status: NotificationStatus | None = None, page: PageRequest | None = None
    ) -> Page[Notification]:
        c: list[Condition] = [] if status is None else [Eq("status", NotificationStatus(status))]
        return await self.page(NOTIFICATIONS, Notification, c, page, sort=[("created_at", 1)])

    async def _change(
        self, notification_id: str, change: Callable[[Notification], Notification | None], *, claimed: bool = False
    ) -> Notification | None:
        async def work(tx: Transaction) -> Notification | None:
            before = await self.driver.get(NOTIFICATIONS, notification_id, tx)
            if before is None:
                raise NotFound("notification", notification_id)
            current = from_doc(Notification, before)
            updated = change(current)
            if updated is None:
                return None if claimed else current
            after = to_doc(updated, notification_id)
            await self.replace(NOTIFICATIONS, tx, before, after)
            return from_doc(Notification, after)

        return await self.unit_of_work(work, audited=False)
