from __future__ import annotations

from fastapi import APIRouter, Response, status

from gateway.context import ServicesDep
from gateway.errors import problem_responses
from gateway.ingest import service
from gateway.ingest.auth import ApprovalSystem
from gateway.ingest.schemas import BatchIn, BatchOut, IngestResult

router = APIRouter(prefix="/api/ingest", tags=["approval ingest"], responses=problem_responses(401, 413, 422, 503))

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "one record in the approval system's own field names "
                                     "(gonggai: lsh, xmdm, sxbm, sxmc, blzt, blsj, bljgdm, bljgmc; "
                                     "tuzhi: reviewId, projectCode, reviewType, conclusion, finishedAt, agencyCode, agency)"}}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": BatchIn.model_json_schema()}}}}


@router.post("/approvals", response_model=IngestResult, status_code=status.HTTP_201_CREATED,
             responses={200: {"model": IngestResult, "description": "a duplicate of a stored record"}},
             openapi_extra=_BODY, summary="One approval record from an approval system (HMAC-signed)")
async def ingest_approval(post: ApprovalSystem, services: ServicesDep, response: Response) -> IngestResult:
    result = await service.ingest_single(services, post)
    if result.status == "duplicate":
        response.status_code = status.HTTP_200_OK
    return result


@router.post("/approvals/batch", response_model=BatchOut, openapi_extra=_BATCH_BODY,
             summary="A batch of approval records (back-fills), with a result per record")
async def ingest_batch(post: ApprovalSystem, services: ServicesDep) -> BatchOut:
    return await service.ingest_batch(services, post)
