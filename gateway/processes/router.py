from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile, status
from fastapi.responses import Response

from gateway.common import PageOut, Pagination, page_out
from gateway.context import ServicesDep
from gateway.errors import problem_responses
from gateway.processes import schemas as s
from gateway.processes import service
from gateway.processes.auth import ProcessOperator

router = APIRouter(prefix="/api/processes", tags=["processes"],
                   responses=problem_responses(401, 403, 413, 422, 503))

Key = Annotated[int, Path(ge=0, le=2**63 - 1, description="a 64-bit Zeebe key")]


@router.post("/deployments", response_model=s.DeploymentOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(400, 409), summary="Deploy BPMN, DMN and form files to the engine")
async def deploy(caller: ProcessOperator, services: ServicesDep,
                 files: Annotated[list[UploadFile], File(description=".bpmn, .dmn or .form files")]) -> s.DeploymentOut:
    contents = [(f.filename or "unnamed", await f.read()) for f in files]
    return await service.deploy(services, caller, contents)


@router.get("/definitions", response_model=PageOut[s.DefinitionOut], summary="Process definitions and versions")
async def definitions(caller: ProcessOperator, services: ServicesDep, page: Pagination,
                      bpmn_process_id: Annotated[str | None, Query(max_length=256)] = None) -> dict[str, object]:
    return await service.definitions(services, bpmn_process_id, page)


@router.get("/definitions/{key}/xml", response_class=Response, responses={
    200: {"content": {"application/xml": {"schema": {"type": "string"}}}, "description": "the BPMN XML"},
    **problem_responses(404)}, summary="Download a definition's BPMN XML")
async def definition_xml(caller: ProcessOperator, services: ServicesDep, key: Key) -> Response:
    name, xml = await service.definition_xml(services, key)
    return Response(xml, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{name.encode("ascii", "replace").decode()}"'})


@router.delete("/definitions/{key}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409),
               summary="Delete a process definition version that has no running instances")
async def delete_definition(caller: ProcessOperator, services: ServicesDep, key: Key) -> None:
    await service.delete_definition(services, caller, key)


@router.get("/forms", response_model=PageOut[s.FormOut], summary="Deployed forms (form-js JSON)")
async def forms(caller: ProcessOperator, services: ServicesDep, page: Pagination,
                form_id: Annotated[str | None, Query(max_length=256)] = None) -> dict[str, object]:
    return await service.forms(services, form_id, page)


@router.post("/instances", response_model=s.StartInstanceOut, status_code=status.HTTP_201_CREATED,
             responses=problem_responses(400, 404), summary="Start a process instance")
async def start_instance(caller: ProcessOperator, services: ServicesDep, body: s.StartInstanceIn) -> s.StartInstanceOut:
    return await service.start_instance(services, caller, body)


@router.get("/instances", response_model=PageOut[s.InstanceOut], summary="Process instances (from the exporter's views)")
async def instances(caller: ProcessOperator, services: ServicesDep, page: Pagination,
                    state: Literal["active", "completed", "terminated"] | None = None,
                    bpmn_process_id: Annotated[str | None, Query(max_length=256)] = None) -> dict[str, object]:
    found = await services.store.engine.list_process_instances(state=state, bpmn_process_id=bpmn_process_id, page=page)
    return page_out(found, [s.InstanceOut.model_validate(v.model_dump()) for v in found.items])


@router.get("/instances/{key}", response_model=s.InstanceDetail, responses=problem_responses(404),
            summary="An instance with its element instances, variables, incidents, jobs and tasks")
async def instance(caller: ProcessOperator, services: ServicesDep, key: Key) -> s.InstanceDetail:
    return await service.instance_detail(services, key)


@router.post("/instances/{key}/cancel", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409),
             summary="Cancel a process instance")
async def cancel(caller: ProcessOperator, services: ServicesDep, key: Key) -> None:
    await service.cancel_instance(services, caller, key)


@router.post("/instances/{key}/modify", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(404, 409),
             summary="Modify an active instance: terminate element instances, activate elements (all or nothing)")
async def modify(caller: ProcessOperator, services: ServicesDep, key: Key, body: s.ModifyIn) -> None:
    await service.modify_instance(services, caller, key, body)


@router.get("/incidents", response_model=PageOut[s.IncidentOut], summary="Incidents (from the exporter's views)")
async def incidents(caller: ProcessOperator, services: ServicesDep, page: Pagination,
                    state: Literal["active", "resolved"] | None = "active",
                    process_instance_key: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None) -> dict[str, object]:
    found = await services.store.engine.incidents(process_instance_key=process_instance_key, state=state, page=page)
    return page_out(found, [s.IncidentOut.model_validate(v.model_dump()) for v in found.items])


@router.post("/incidents/{key}/retry", response_model=s.RetryOut, responses=problem_responses(400, 404, 409),
             summary="Give a failed job retries (job incidents) and resolve the incident")
async def retry(caller: ProcessOperator, services: ServicesDep, key: Key, body: s.RetryIn | None = None) -> s.RetryOut:
    return await service.retry_incident(services, caller, key, body or s.RetryIn())


@router.get("/clock", response_model=s.ClockOut, responses=problem_responses(404, 409),
            summary="The engine's clock (development and demo mode)")
async def get_clock(caller: ProcessOperator, services: ServicesDep) -> s.ClockOut:
    return await service.clock(services, "GET")


@router.post("/clock/add", response_model=s.ClockOut, responses=problem_responses(404, 409),
             summary="Move the engine's clock forward; everything due fires before the answer")
async def add_clock(caller: ProcessOperator, services: ServicesDep, body: s.ClockAddIn) -> s.ClockOut:
    return await service.clock(services, "POST", "/add", {"offsetMilli": body.offset_milli}, caller)


@router.post("/clock/pin", response_model=s.ClockOut, responses=problem_responses(404, 409),
             summary="Stop the engine's clock at an instant")
async def pin_clock(caller: ProcessOperator, services: ServicesDep, body: s.ClockPinIn) -> s.ClockOut:
    return await service.clock(services, "POST", "/pin", {"epochMilli": body.epoch_milli}, caller)


@router.delete("/clock", response_model=s.ClockOut, responses=problem_responses(404, 409),
               summary="Give the engine back the real time")
async def reset_clock(caller: ProcessOperator, services: ServicesDep) -> s.ClockOut:
    return await service.clock(services, "DELETE", caller=caller)


