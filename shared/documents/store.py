"""``DocumentStore``: the port the services program against, and ``open_store`` to get one."""

from __future__ import annotations

from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from shared.clock import Clock, SystemClock
from shared.documents.driver import CollectionSpec, Driver
from shared.documents.repositories import (
    approvals,
    audit,
    directory,
    engine_views,
    evaluations,
    flags,
    notifications,
    problems,
    projects,
    resources,
    tasks,
)
from shared.settings import DocumentsSettings

COLLECTIONS: tuple[CollectionSpec, ...] = (
    *projects.SPECS,
    *approvals.SPECS,
    *problems.SPECS,
    *flags.SPECS,
    *evaluations.SPECS,
    *directory.SPECS,
    *tasks.SPECS,
    *notifications.SPECS,
    *audit.SPECS,
    *engine_views.SPECS,
    *resources.SPECS,
)


class DocumentStore:
    """One repository per aggregate. Every domain write takes an ``actor`` and leaves an audit entry.

    ``atomic`` tells whether multi-document changes are transactions (always on SQLite; on MongoDB only
    on a replica set or sharded cluster).
    """

    def __init__(self, driver: Driver, *, clock: Clock | None = None) -> None:
        self.driver = driver
        self.clock = clock or SystemClock()
        args = (driver, self.clock)
        self.projects = projects.ProjectRepository(*args)
        self.approvals = approvals.ApprovalRepository(*args)
        self.problems = problems.ProblemRepository(*args)
        self.flags = flags.FlagRepository(*args)
        self.evaluations = evaluations.EvaluationRepository(*args)
        self.units = directory.UnitRepository(*args)
        self.users = directory.UserRepository(*args)
        self.tasks = tasks.TaskRepository(*args)
        self.notifications = notifications.NotificationRepository(*args)
        self.audit = audit.AuditRepository(*args)
        self.engine = engine_views.EngineViewRepository(*args)
        self.resources = resources.ResourceRepository(*args)

    @property
    def atomic(self) -> bool:
        return self.driver.atomic_transactions

    async def ping(self) -> None:
        """Raise if the database cannot answer a read (for readiness checks)."""
        await self.driver.get(engine_views.EXPORTERS, "__ping__")

    async def close(self) -> None:
        await self.driver.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def open_store(url: str | None = None, *, clock: Clock | None = None) -> DocumentStore:
    """Connect to ``url`` (default DOCUMENTS_URL) and create missing collections and indexes.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path``, ``mongodb://host/database`` (database
    ``qianliyan`` when the URL names none).
    """
    url = url or DocumentsSettings().documents_url
    scheme = urlsplit(url).scheme
    driver: Driver
    if scheme == "sqlite":
        from shared.documents.sqlite import SqliteDriver

        driver = SqliteDriver.from_url(url)
    elif scheme in ("mongodb", "mongodb+srv"):
        from shared.documents.mongo import MongoDriver

        driver = MongoDriver(url)
    else:
        raise ValueError(f"unsupported documents URL {url!r}: use sqlite:///path or mongodb://host/db")
    try:
        await driver.open(COLLECTIONS)
    except BaseException:
        await driver.close()
        raise
    return DocumentStore(driver, clock=clock)
