"""Projects, keyed by the national project code, with their stage timeline and light."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import TypeAdapter

from shared.documents.driver import (
    CollectionSpec,
    Condition,
    Contains,
    Eq,
    In,
    Index,
    Range,
    Text,
    Transaction,
)
from shared.documents.errors import InvalidInput, NotFound
from shared.documents.models import (
    Actor,
    CountyProgress,
    Light,
    Page,
    PageRequest,
    Project,
    ProjectData,
    ProjectFilter,
    ProjectStats,
    Saved,
    Stage,
    StageEntry,
    UtcDateTime,
)
from shared.documents.repositories.base import Repository, Stale, aware, from_doc, to_doc

PROJECTS = "projects"
# Instants come back as datetimes (MongoDB) or as text (SQLite); read both the way the models do.
_INSTANT: TypeAdapter[datetime] = TypeAdapter(UtcDateTime)
SPECS = (
    CollectionSpec(PROJECTS, (
        Index(("county.code", "stage")),
        Index(("stage",)),
        Index(("light",)),
        Index(("signed_at",)),
        Index(("last_progress_at",)),
        Index(("assistant_unit_id",)),
        Index(("investor_user_ids", "signed_at")),
    )),
)


def _conditions(f: ProjectFilter) -> list[Condition]:
    c: list[Condition] = []
    if f.county_code is not None:
        c.append(Eq("county.code", f.county_code))
    if f.stage is not None:
        c.append(Eq("stage", f.stage))
    if f.stages is not None:
        c.append(In("stage", tuple(f.stages)))
    if f.light is not None:
        c.append(Eq("light", f.light))
    if f.industry is not None:
        c.append(Eq("industry", f.industry))
    if f.assistant_unit_id is not None:
        c.append(Eq("assistant_unit_id", f.assistant_unit_id))
    if f.investor_user_id is not None:
        c.append(Contains("investor_user_ids", f.investor_user_id))
    if f.project_codes is not None:
        c.append(In("_id", tuple(f.project_codes)))
    if f.signed is not None:
        c.append(Range("signed_at", gte=f.signed.start, lt=f.signed.end))
    if f.stalled_since is not None:
        c.append(Range("last_progress_at", lt=f.stalled_since))
    if f.text:
        c.append(Text(("name", "project_code", "investor.company"), f.text))
    return c


class ProjectRepository(Repository):
    async def get(self, project_code: str) -> Project | None:
        doc = await self.driver.get(PROJECTS, project_code)
        return from_doc(Project, doc) if doc else None

    async def require(self, project_code: str) -> Project:
        project = await self.get(project_code)
        if project is None:
            raise NotFound("project", project_code)
        return project

    async def list(self, filter: ProjectFilter | None = None, page: PageRequest | None = None) -> Page[Project]:
        """Newest signing first."""
        return await self.page(PROJECTS, Project, _conditions(filter or ProjectFilter()), page,
                               sort=[("signed_at", -1)])

    async def codes(self, filter: ProjectFilter | None = None) -> list[str]:
        """The codes of every matching project, without building the models (for scoping by role)."""
        return [str(doc["_id"]) async for doc in self.driver.iterate(PROJECTS, _conditions(filter or ProjectFilter()),
                                                                     sort=[("_id", 1)])]

    async def stats(self, filter: ProjectFilter | None = None) -> ProjectStats:
        by_stage: Counter[str] = Counter()
        by_light: Counter[str] = Counter()
        by_county: Counter[str] = Counter()
        total = amount = 0
        async for doc in self.driver.iterate(PROJECTS, _conditions(filter or ProjectFilter())):
            total += 1
            amount += int(doc["amount_cny"])
            by_stage[doc["stage"]] += 1
            by_light[doc["light"]] += 1
            by_county[doc["county"]["code"]] += 1
        return ProjectStats(total=total, amount_cny=amount, by_stage=dict(by_stage), by_light=dict(by_light),
                            by_county=dict(by_county))

    async def progress_by_county(self, stages: Iterable[Stage | str], since: datetime) -> dict[str, CountyProgress]:
        """Per county: the projects at one of ``stages``, and how many of them have made no progress since
        ``since``: the ``by_county`` of ``stats(ProjectFilter(stages=...))`` and of
        ``stats(ProjectFilter(stages=..., stalled_since=since))`` in one pass.

        The pass reads every project in key order and selects the stages here. Handing the database a
        condition on stage would not read less when the stages are most projects (the live ones), and on
        SQLite the paged scan would then sort every match again for each batch (1.8 s for 10,000 projects,
        against 0.1 s).
        """
        asked = list(stages)
        try:
            wanted = {Stage(s).value for s in asked}
        except ValueError as exc:
            raise InvalidInput(f"unknown stage among {asked!r}; expected {[s.value for s in Stage]}") from exc
        since = aware(since, "since")
        projects: Counter[str] = Counter()
        stalled: Counter[str] = Counter()
        async for doc in self.driver.iterate(PROJECTS):
            if doc["stage"] not in wanted:
                continue
            county = doc["county"]["code"]
            projects[county] += 1
            if _INSTANT.validate_python(doc["last_progress_at"]) < since:
                stalled[county] += 1
        return {county: CountyProgress(projects=n, stalled=stalled[county]) for county, n in sorted(projects.items())}

    async def upsert(self, data: ProjectData, *, actor: Actor) -> Saved[Project]:
        """Create the project (stage signed, at signing), or update what it says about itself.

        Stage, timeline, light and process instance are kept on update: they change only through the
        dedicated methods. Writing the same data twice changes nothing and audits nothing.
        """
        if not isinstance(data, ProjectData):
            raise InvalidInput(f"expected ProjectData, got {type(data).__name__}")
        fields = ProjectData.model_validate(data.model_dump()).model_dump()

        async def work(tx: Transaction) -> Saved[Project]:
            now = self.clock.now()
            before = await self.driver.get(PROJECTS, data.project_code, tx)
            if before is None:
                project = Project(
                    **fields,
                    stage=Stage.SIGNED,
                    stage_history=[StageEntry(stage=Stage.SIGNED, at=data.signed_at, source="signing")],
                    last_progress_at=data.signed_at,
                    created_at=now,
                    updated_at=now,
                )
                doc = to_doc(project, project.project_code)
                if not await self.driver.insert(PROJECTS, doc, tx):
                    raise Stale("project created concurrently")
                await self.audit(tx, actor, "project.create", "project", project.project_code, None, doc)
                return Saved[Project](item=project, created=True)
            current = from_doc(Project, before)
            updated = Project.model_validate({**current.model_dump(), **fields})
            if updated.model_dump(exclude={"updated_at"}) == current.model_dump(exclude={"updated_at"}):
                return Saved[Project](item=current, created=False)
            updated.updated_at = now
            after = to_doc(updated, current.project_code)
            await self.replace(PROJECTS, tx, before, after)
            await self.audit(tx, actor, "project.update", "project", current.project_code, before, after)
            return Saved[Project](item=from_doc(Project, after), created=False)

        return await self.unit_of_work(work, actor)

    async def record_stage(
        self, project_code: str, stage: Stage | str, *, at: datetime, source: str, actor: Actor
    ) -> Project:
        """Add a timeline entry; the project's stage is that of its latest entry by time.

        The same (stage, at, source) again is a redelivery and changes nothing.
        """
        try:
            stage = Stage(stage)
        except ValueError as exc:
            raise InvalidInput(f"unknown stage {stage!r}; expected one of {[s.value for s in Stage]}") from exc
        entry = StageEntry(stage=stage, at=aware(at), source=source)

        def change(p: Project) -> Project | None:
            if entry in p.stage_history:
                return None
            history = sorted([*p.stage_history, entry], key=lambda e: e.at)
            return p.model_copy(update={
                "stage_history": history,
                "stage": history[-1].stage,
                "last_progress_at": max(p.last_progress_at, entry.at),
            })

        return await self._change(project_code, "project.stage", change, actor)

    async def record_progress(self, project_code: str, *, at: datetime, actor: Actor) -> Project:
        """Progress without a stage change (an approval step): moves last_progress_at forward only."""
        at = aware(at)

        def change(p: Project) -> Project | None:
            if at <= p.last_progress_at:
                return None
            return p.model_copy(update={"last_progress_at": at})

        return await self._change(project_code, "project.progress", change, actor)

    async def set_light(
        self, project_code: str, light: Light | str, *, at: datetime, reason: str | None, actor: Actor
    ) -> Project:
        try:
            light = Light(light)
        except ValueError as exc:
            raise InvalidInput(f"unknown light {light!r}; expected green or red") from exc
        at = aware(at)

        def change(p: Project) -> Project | None:
            if p.light == light:
                return None
            return p.model_copy(update={"light": light, "light_changed_at": at, "light_reason": reason})

        return await self._change(project_code, "project.light", change, actor)

    async def set_process_instance(self, project_code: str, process_instance_key: int, *, actor: Actor) -> Project:
        def change(p: Project) -> Project | None:
            if p.process_instance_key == process_instance_key:
                return None
            return Project.model_validate({**p.model_dump(), "process_instance_key": process_instance_key})

        return await self._change(project_code, "project.process_instance", change, actor)

    async def _change(
        self, project_code: str, action: str, change: Callable[[Project], Project | None], actor: Actor
    ) -> Project:
        async def work(tx: Transaction) -> Project:
            before = await self.driver.get(PROJECTS, project_code, tx)
            if before is None:
                raise NotFound("project", project_code)
            current = from_doc(Project, before)
            updated = change(current)
            if updated is None:
                return current
            updated.updated_at = self.clock.now()
            after = to_doc(updated, project_code)
            await self.replace(PROJECTS, tx, before, after)
            await self.audit(tx, actor, action, "project", project_code, before, after)
            return from_doc(Project, after)

        return await self.unit_of_work(work, actor)
