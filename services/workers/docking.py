"""Docking: approval records from 工改 (``gonggai``) and 联合图审 (``tuzhi``) into stage changes and messages.

| task type | reads | writes |
|---|---|---|
| ``docking.ingest`` | ``source``, ``record`` (the raw record) | ``supervised``, ``projectCode``, ``progress`` |
| ``docking.publish-progress`` | ``projectCode``, ``progress``, ``rules`` | ``published`` |

``ingest`` stores the record once (by source and record id), moves the project's stage forward when the
record completes a later stage (never back), or else counts it as progress; a record it cannot read
throws ``RECORD_REJECTED``. ``publish-progress`` sends ``approval-progress`` (correlation key: the project
code; message id: the record, so a resent record is one message) to the project's life cycle, buffered
for ``progressMessageTtl`` in case the life cycle is not waiting yet.
"""

from typing import Any

from pyzeebe import ZeebeTaskRouter
from pyzeebe.errors import BusinessError, MessageAlreadyExistsError

from services.workers.lifecycle import rules_of
from services.workers.runtime import PermanentFailure, WorkerContext, iso
from shared.domain import docking, stages

FAMILY = "docking"
RECORD_REJECTED = "RECORD_REJECTED"
PROGRESS_MESSAGE = "approval-progress"


def router(ctx: WorkerContext) -> ZeebeTaskRouter:
    r = ZeebeTaskRouter()
    actor = ctx.actor(FAMILY)

    @r.task(task_type="docking.ingest")
    async def ingest(source: str | None = None, record: dict | None = None) -> dict[str, Any]:
        try:
            normalised = docking.normalise(source or "", record if record is not None else {},
                                           received_at=ctx.now())
        except docking.RecordRejected as error:
            raise BusinessError(RECORD_REJECTED, str(error)) from None
        saved = await ctx.store.approvals.record(normalised, actor=actor)
        approval = saved.item
        project = await ctx.store.projects.get(approval.project_code)
        if project is None:
            return {"supervised": False, "projectCode": approval.project_code, "progress": None}
        source_ref = approval.id
        if stages.advances(project.stage, approval.stage):
            assert approval.stage is not None
            previous = project.stage
            project = await ctx.store.projects.record_stage(project.project_code, approval.stage,
                                                            at=approval.occurred_at, source=source_ref, actor=actor)
            if project.stage != previous:
                await ctx.emit("project.stage", {"projectCode": project.project_code, "stage": project.stage.value,
                                                 "previous": previous.value, "recordId": approval.id},
                               project_code=project.project_code, county_code=project.county.code)
        else:
            project = await ctx.store.projects.record_progress(project.project_code, at=approval.occurred_at,
                                                               actor=actor)
        return {
            "supervised": True,
            "projectCode": project.project_code,
            "progress": {
                "recordId": approval.id, "source": approval.source.value, "itemCode": approval.item_code,
                "itemName": approval.item_name, "status": approval.status,
                "impliedStage": approval.stage.value if approval.stage else None,
                "stage": project.stage.value, "occurredAt": iso(approval.occurred_at),
            },
        }

    @r.task(task_type="docking.publish-progress")
    async def publish_progress(projectCode: str | None = None, progress: dict | None = None,
                               rules: dict | None = None) -> dict[str, Any]:
        knobs = rules_of(rules)
        if not projectCode or not isinstance(progress, dict) or not progress.get("recordId"):
            raise PermanentFailure("variables 'projectCode' and 'progress' (with a recordId) are required")
        ttl = knobs.message_ttl
        ttl_ms = (ttl.days * 86400 + ttl.seconds) * 1000 + ttl.months * 30 * 86400 * 1000
        try:
            await ctx.zeebe.publish_message(PROGRESS_MESSAGE, projectCode, variables={"progress": progress},
                                            time_to_live_in_milliseconds=ttl_ms,
                                            message_id=f"progress:{progress['recordId']}")
        except MessageAlreadyExistsError:
            pass  # published before this job was redelivered
        return {"published": True}

    return r
