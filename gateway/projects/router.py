from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from gateway.common import PageOut, Pagination
from gateway.context import ServicesDep
from gateway.errors import problem_responses
from gateway.projects import importing, service
from gateway.projects import schemas as s
from gateway.projects.auth import ProjectEditor, ProjectReader
from shared.documents.models import Light, ProjectFilter, Stage

router = APIRouter(prefix="/api/projects", tags=["projects"], responses=problem_responses(401, 403, 422))

ProjectCode = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\s$.][^\s$]*$")]


@router.get("", response_model=PageOut[s.ProjectOut], summary="Projects the caller may see, newest signing first")
async def list_projects(
    caller: ProjectReader, services: ServicesDep, page: Pagination,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    stage: Stage | None = None, light: Light | None = None,
    industry: Annotated[str | None, Query(max_length=100)] = None,
    text: Annotated[str | None, Query(max_length=100, description="in the name, code or investor")] = None,
) -> dict[str, object]:
    f = ProjectFilter(county_code=county_code, stage=stage, light=light, industry=industry, text=text or None)
    return await service.list_projects(services, caller, f, page)


@router.post("", response_model=s.SaveOut, status_code=status.HTTP_201_CREATED, responses=problem_responses(409, 503),
             summary="Register a signed project (and, unless sign=false, start its life cycle)")
async def create_project(caller: ProjectEditor, services: ServicesDep, body: s.ProjectIn,
                         sign: Annotated[bool, Query(description="publish the signing message")] = True) -> s.SaveOut:
    data = await service.project_data(services, body.project_code, body)
    return await service.save(services, caller, data, sign=sign, must_be_new=True)


@router.post("/import", response_model=s.ImportReport, responses=problem_responses(415, 503),
             summary="Import projects from CSV or JSON, with a report per row")
async def import_projects(
    caller: ProjectEditor, services: ServicesDep,
    file: Annotated[UploadFile, File(description=f"CSV with the columns {','.join(importing.CSV_COLUMNS)}, "
                                                 "or a JSON array of projects")],
    sign: Annotated[bool, Query(description="start the life cycle of each new project")] = True,
    dry_run: Annotated[bool, Query(description="check and report only; save nothing")] = False,
) -> s.ImportReport:
    rows = importing.parse(await file.read(), file.filename or "", file.content_type or "")
    return await importing.run(services, caller, rows, sign=sign, dry_run=dry_run)


@router.get("/{project_code}", response_model=s.ProjectDetail, responses=problem_responses(404),
            summary="A project with its stage timeline, approvals, problems and open flags")
async def get_project(caller: ProjectReader, services: ServicesDep, project_code: ProjectCode) -> s.ProjectDetail:
    return await service.detail(services, caller, project_code)


@router.get("/{project_code}/diagram", response_model=s.DiagramOut, responses=problem_responses(404),
            summary="The project's life-cycle instance on its diagram: tokens, completed elements, open incidents")
async def project_diagram(caller: ProjectReader, services: ServicesDep, project_code: ProjectCode) -> s.DiagramOut:
    return await service.diagram(services, caller, project_code)


@router.put("/{project_code}", response_model=s.SaveOut, responses={
    201: {"model": s.SaveOut, "description": "created"}, **problem_responses(503)},
    summary="Create or update what a project says about itself")
async def put_project(caller: ProjectEditor, services: ServicesDep, project_code: ProjectCode,
                      body: s.ProjectUpdate, response: Response,
                      sign: Annotated[bool, Query(description="publish the signing message if new")] = False,
                      ) -> s.SaveOut:
    data = await service.project_data(services, project_code, body)
    saved = await service.save(services, caller, data, sign=sign)
    if saved.created:
        response.status_code = status.HTTP_201_CREATED
    return saved


@router.post("/{project_code}/sign", response_model=s.SignOut, responses=problem_responses(404, 409, 503),
             summary="Publish the signing message that starts the project's life cycle")
async def sign_project(caller: ProjectEditor, services: ServicesDep, project_code: ProjectCode) -> s.SignOut:
    return await service.sign(services, caller, project_code)




class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


@router.post("/{project_code}/cancel", response_model=s.SignOut, responses=problem_responses(404, 409, 503),
             summary="Publish the cancellation message that ends the project's life cycle")
async def cancel_project(caller: ProjectEditor, services: ServicesDep, project_code: ProjectCode,
                         body: CancelIn) -> s.SignOut:
    return await service.cancel(services, caller, project_code, body.reason)
