"""The MongoDB adapter's transaction path (replica sets, sharded clusters), through the real driver.

nx-27017 answers ``hello`` like a standalone server, so the contract suite runs the adapter's
non-transactional path against it. Here transactions are forced on to exercise the other path: every
operation must carry the session, commit must publish, and an exception must abort. nx-27017 implements
transactions as savepoints on one SQLite connection, which does not isolate concurrent sessions, so
these checks are sequential; concurrency under transactions is covered only against a real replica set
(MONGODB_URL pointing at one runs the whole contract suite on this path).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.clock import FixedClock
from shared.documents import DocumentStore, InvalidInput
from shared.documents.models import ProblemStatus, Stage
from shared.documents.mongo import MongoDriver
from shared.documents.store import COLLECTIONS
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_problem, new_task, project_data
from tests.fixtures.mongo import Nx27017


@pytest.fixture
async def tx_store(nx27017: Nx27017, clock: FixedClock) -> AsyncIterator[DocumentStore]:
    driver = MongoDriver(f"{nx27017.url}qly_tx_{uuid.uuid4().hex[:12]}", transactions=True)
    await driver.open(COLLECTIONS)
    store = DocumentStore(driver, clock=clock)
    try:
        yield store
    finally:
        await driver.client.drop_database(driver.db.name)
        await store.close()


async def test_writes_commit_through_sessions(tx_store: DocumentStore) -> None:
    assert tx_store.atomic
    await tx_store.projects.upsert(project_data("P-1"), actor=ADMIN)
    project = await tx_store.projects.record_stage("P-1", Stage.LAND, at=at(2024, 3, 1), source="gonggai:1",
                                                   actor=SYSTEM)
    assert project.stage == Stage.LAND and project.rev == 2
    problem = (await tx_store.problems.create(new_problem("P-1", id="pr-1"), actor=SYSTEM)).item
    closed = await tx_store.problems.transition(problem.id, status=ProblemStatus.CLOSED, action="close",
                                                actor=ADMIN, at=at(2024, 5, 3))
    assert [h.status for h in closed.history] == [ProblemStatus.ASSIGNED, ProblemStatus.CLOSED]
    await tx_store.tasks.insert(new_task(2**63 - 1), actor=SYSTEM)
    assert (await tx_store.tasks.claim(2**63 - 1, "wang", actor=ADMIN)).assignee == "wang"
    assert await tx_store.engine.apply_export_batch("documents", 3, [
        {"kind": "process_instance", "key": 42, "value": {"bpmn_process_id": "p", "state": "active"}}])
    assert await tx_store.engine.exporter_position("documents") == 3
    assert (await tx_store.audit.list()).total == 6


async def test_an_exception_aborts_every_write_of_the_unit(tx_store: DocumentStore) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with tx_store.driver.transaction() as tx:
            await tx_store.driver.put("engine_exporters", {"_id": "probe", "position": 1}, tx)
            await tx_store.driver.insert("projects", {"_id": "ghost", "rev": 1}, tx)
            raise Boom
    assert await tx_store.engine.exporter_position("probe") is None
    assert await tx_store.driver.get("projects", "ghost") is None
    with pytest.raises(InvalidInput):
        await tx_store.engine.apply_export_batch("documents", 1, [{"kind": "nope", "key": 1, "value": None}])
    assert await tx_store.engine.exporter_position("documents") is None
