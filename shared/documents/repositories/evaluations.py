"""Investors' service evaluations and their averages by county and by department."""

from __future__ import annotations

import uuid
from collections import defaultdict

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Range, Transaction
from shared.documents.errors import InvalidInput
from shared.documents.models import (
    Actor,
    Evaluation,
    EvaluationSummary,
    Page,
    PageRequest,
    Period,
    Saved,
    ScoreAggregate,
)
from shared.documents.repositories.base import Repository, Stale, from_doc, to_doc

EVALUATIONS = "evaluations"
SPECS = (CollectionSpec(EVALUATIONS, (Index(("at",)), Index(("county_code", "at")), Index(("project_code",)))),)


def _aggregate(scores: dict[str, list[int]]) -> dict[str, ScoreAggregate]:
    return {k: ScoreAggregate(count=len(v), average=sum(v) / len(v)) for k, v in sorted(scores.items())}


class EvaluationRepository(Repository):
    async def add(self, evaluation: Evaluation, *, actor: Actor) -> Saved[Evaluation]:
        """Store an evaluation; with ``id`` set, the same id again returns the stored one (created=False)."""
        if not isinstance(evaluation, Evaluation):
            raise InvalidInput(f"expected Evaluation, got {type(evaluation).__name__}")
        evaluation = Evaluation.model_validate(evaluation.model_dump())
        if evaluation.id is None:
            evaluation.id = uuid.uuid4().hex
        eval_id = evaluation.id

        async def work(tx: Transaction) -> Saved[Evaluation]:
            existing = await self.driver.get(EVALUATIONS, eval_id, tx)
            if existing is not None:
                return Saved[Evaluation](item=from_doc(Evaluation, existing), created=False)
            doc = to_doc(evaluation, eval_id)
            if not await self.driver.insert(EVALUATIONS, doc, tx):
                raise Stale("evaluation added concurrently")
            await self.audit(tx, actor, "evaluation.add", "evaluation", eval_id, None, doc)
            return Saved[Evaluation](item=evaluation, created=True)

        return await self.unit_of_work(work, actor)

    async def list(
        self, *, project_code: str | None = None, county_code: str | None = None, period: Period | None = None,
        page: PageRequest | None = None,
    ) -> Page[Evaluation]:
        return await self.page(EVALUATIONS, Evaluation, _conditions(project_code, county_code, period), page,
                               sort=[("at", -1)])

    async def summary(self, period: Period, *, county_code: str | None = None) -> EvaluationSummary:
        by_county: dict[str, list[int]] = defaultdict(list)
        by_department: dict[str, list[int]] = defaultdict(list)
        by_main: dict[str, list[int]] = defaultdict(list)
        by_general: dict[str, list[int]] = defaultdict(list)
        count = 0
        async for doc in self.driver.iterate(EVALUATIONS, _conditions(None, county_code, period)):
            e = from_doc(Evaluation, doc)
            count += 1
            by_county[e.county_code].append(e.county_score)
            if e.main_department_unit_id:
                by_main[e.main_department_unit_id].append(e.main_department_score)
                by_department[e.main_department_unit_id].append(e.main_department_score)
            if e.general_department_unit_id:
                by_general[e.general_department_unit_id].append(e.general_department_score)
                by_department[e.general_department_unit_id].append(e.general_department_score)
        return EvaluationSummary(
            count=count,
            by_county=_aggregate(by_county),
            by_department=_aggregate(by_department),
            by_main_department=_aggregate(by_main),
            by_general_department=_aggregate(by_general),
        )


def _conditions(project_code: str | None, county_code: str | None, period: Period | None) -> list[Condition]:
    c: list[Condition] = []
    if project_code is not None:
        c.append(Eq("project_code", project_code))
    if county_code is not None:
        c.append(Eq("county_code", county_code))
    if period is not None:
        c.append(Range("at", gte=period.start, lt=period.end))
    return c
