"""Checking, storing and handing approval records to the engine.

Each accepted record starts an ``approval-docking`` instance (variables ``source`` and ``record``, the record
as posted), whose docking worker moves the project's stage and tells its life cycle; with no docking
process configured, a message is published instead (correlation key = project code, message id = record).

Order matters for a sender that retries: a record already stored is a duplicate and goes to the engine no
more; otherwise the engine is told first and the record stored after. If the engine is down, nothing is
stored and the sender is told to retry (503); if the store fails after the engine accepted, the retry
docks the record again, which the docking worker and the message ids make harmless.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.announce import announce
from gateway.context import Services
from gateway.engine import EngineError
from gateway.errors import FieldError, Unprocessable
from gateway.ingest.auth import SignedPost
from gateway.ingest.schemas import BatchIn, BatchOut, BatchResult, IngestResult
from gateway.projects.schemas import ApprovalOut
from shared.documents.models import Actor, ApprovalRecord, ApprovalSource
from shared.domain.docking import RecordRejected, normalise


class Rejected(ValueError):
    def __init__(self, detail: str, record: ApprovalRecord | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.record = record


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Unprocessable(f"the body is not JSON: {exc}") from exc
    except RecursionError:
        raise Unprocessable("the body nests arrays or objects too deeply to be a record") from None


async def check(services: Services, system: ApprovalSource, raw: Any) -> ApprovalRecord:
    try:
        return normalise(system.value, raw, received_at=services.clock.now())
    except RecordRejected as exc:
        raise Rejected(str(exc)) from exc


def message_variables(record: ApprovalRecord, raw: dict[str, Any]) -> dict[str, Any]:
    return {"source": record.source.value, "record": raw, "projectCode": record.project_code,
            "project_code": record.project_code, "approval": record.model_dump(mode="json", exclude={"raw"})}


async def ingest_one(services: Services, post: SignedPost, raw: Any) -> IngestResult:
    """Raises ``Rejected`` for a record that cannot be read and ``EngineError`` when the engine is down.

    A record of a project the platform does not supervise is still kept (the approval system reports every
    project it handles); ``supervised`` says which it was."""
    record = await check(services, post.system, raw)
    project = await services.store.projects.get(record.project_code)
    existing = await services.store.approvals.get(record.source, record.source_record_id)
    if existing is not None:
        return IngestResult(status="duplicate", source_record_id=existing.source_record_id,
                            project_code=existing.project_code, supervised=project is not None,
                            record=ApprovalOut.model_validate(existing.model_dump()))
    settings = services.settings
    instance_key = message_key = None
    if settings.approval_docking_process:
        instance_key, _, _ = await services.engine.create_instance(
            settings.approval_docking_process, {"source": record.source.value, "record": raw})
    else:
        message_key = await services.engine.publish(
            settings.approval_message, record.project_code, message_variables(record, raw),
            ttl_ms=settings.approval_message_ttl_seconds * 1000, message_id=record.id)
    actor = Actor.system(f"ingest-{post.system.value}", post.request_id)
    saved = await services.store.approvals.record(record, actor=actor)
    await announce(services, "approval.recorded", {
        "project_code": record.project_code, "project_name": project.name if project else None,
        "source": record.source.value, "item_code": record.item_code, "item_name": record.item_name,
        "status": record.status, "stage": record.stage.value if record.stage else None,
        "unit_name": record.unit_name, "occurred_at": record.occurred_at.isoformat()},
        project_code=record.project_code, county_code=project.county.code if project else None,
        unit_ids=[project.assistant_unit_id] if project and project.assistant_unit_id else [])
    # "accepted" even when the docking worker stored the record first: this post is what handed it over.
    return IngestResult(status="accepted",
                        source_record_id=record.source_record_id, project_code=record.project_code,
                        supervised=project is not None, record=ApprovalOut.model_validate(saved.item.model_dump()),
                        process_instance_key=instance_key, message_key=message_key)


async def ingest_single(services: Services, post: SignedPost) -> IngestResult:
    raw = parse_json(post.body)
    try:
        return await ingest_one(services, post, raw)
    except Rejected as exc:
        raise Unprocessable(exc.detail, errors=[FieldError(pointer="#/body", field="record", message=exc.detail)],
                            source_record_id=exc.record.source_record_id if exc.record else None) from exc


async def ingest_batch(services: Services, post: SignedPost) -> BatchOut:
    try:
        batch = BatchIn.model_validate(parse_json(post.body))
    except Exception as exc:
        if isinstance(exc, Unprocessable):
            raise
        raise Unprocessable(f"a batch is {{\"records\": [...]}} with 1 to 500 records: {exc}") from exc
    results: list[BatchResult] = []
    for index, raw in enumerate(batch.records):
        try:
            result = await ingest_one(services, post, raw)
            results.append(BatchResult(index=index, **result.model_dump()))
        except Rejected as exc:
            results.append(BatchResult(index=index, status="invalid", detail=exc.detail,
                                       source_record_id=exc.record.source_record_id if exc.record else None,
                                       project_code=exc.record.project_code if exc.record else None))
        except EngineError as exc:
            results.append(BatchResult(index=index, status="failed", detail=f"{exc.title}: {exc.detail}; resend"))
    counts: dict[str, int] = {k: 0 for k in ("accepted", "duplicate", "invalid", "failed")}
    for r in results:
        counts[r.status] += 1
    return BatchOut(counts=counts, results=results)  # type: ignore[arg-type]
