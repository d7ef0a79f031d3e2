"""The demo seed: the city, its people with their demo passwords, projects with their stage histories and
life cycles; running it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from pyzeebe import create_insecure_channel

from services.demo import city
from services.demo.actors import Front
from services.demo.deploy import deploy_models
from services.demo.seed import seed
from shared.documents import open_store
from shared.documents.models import PageRequest, Role, Stage
from tests.engine.support import RecordLog
from tests.fixtures.engine import EngineProcess

NOW = datetime(2025, 6, 30, 2, 0, tzinfo=UTC)


async def test_seed_builds_the_city_and_is_idempotent(engine: EngineProcess, tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'documents.sqlite3'}")
    channel = create_insecure_channel(grpc_address=engine.address)
    front = Front(channel, store)
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        await deploy_models(front.zeebe)
        first = await seed(store, front.zeebe, now=NOW, projects=40, hasher=hasher)
        audit_after_first = (await store.audit.list(page=PageRequest(size=1))).total
        second = await seed(store, front.zeebe, now=NOW, projects=40, hasher=hasher)
        assert (first.projects_created, first.users_created) == (40, len(city.people()))
        assert (second.projects_created, second.projects_existing, second.users_created,
                second.signings_published) == (0, 40, 0, 0)
        assert (await store.audit.list(page=PageRequest(size=1))).total == audit_after_first

        assert len(await store.units.list()) == len(city.units()) == 35
        staff = await store.users.get("xzsp-320812.staff")
        assert staff is not None and staff.unit_ids == ["xzsp-320812"] and staff.roles == [Role.UNIT_STAFF]
        assert hasher.verify(staff.password_hash or "", city.DEMO_PASSWORDS[Role.UNIT_STAFF])
        leader = await store.users.get("leader.mayor")
        assert leader is not None and PasswordHasher().verify(leader.password_hash or "", "Leader#2024")

        projects = (await store.projects.list(None, PageRequest(size=100))).items
        story = next(p for p in projects if p.name == "淮安恒力液压科技有限公司年产10万套液压件项目")
        assert story.signed_at.month == 2 and story.stage == Stage.SIGNED
        for project in projects:
            entries = project.stage_history
            assert entries[0].stage == Stage.SIGNED and [e.at for e in entries] == sorted(e.at for e in entries)
            assert project.signed_at < NOW
            approvals = await store.approvals.list_for_project(project.project_code)
            assert len(approvals) == len([e for e in entries if e.stage not in (Stage.SIGNED, Stage.CANCELLED)])
        active = [p for p in projects if p.stage not in (Stage.IN_PRODUCTION, Stage.CANCELLED)]
        assert first.signings_published == len(active) > 0
        started = [r for r in RecordLog(engine).records("PROCESS_INSTANCE", "ELEMENT_ACTIVATED",
                                                         bpmnProcessId="project-lifecycle", bpmnElementType="PROCESS")]
        assert len(started) == len(active)  # one life cycle per active project, even after the second run
    finally:
        await channel.close()
        await store.close()
