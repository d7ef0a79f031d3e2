"""Registering and reading projects; signing publishes the message the life-cycle model starts on."""

from __future__ import annotations

from typing import Any

from gateway.announce import announce
from gateway.audit import audited
from gateway.auth.principal import Caller
from gateway.common import local_instant, page_out
from gateway.context import Services
from gateway.errors import ConflictProblem, FieldError, NotFoundProblem, Unprocessable
from gateway.processes import service as processes
from gateway.projects import schemas as s
from gateway.projects.counties import KNOWN_COUNTIES
from gateway.scope import Scope, scope_of
from shared.documents.models import (
    County,
    Investor,
    PageRequest,
    ProblemFilter,
    Project,
    ProjectData,
    ProjectFilter,
    Stage,
)


class CountyUnknown(ValueError):
    pass


async def county_name(services: Services, code: str, given: str | None) -> str:
    if given:
        return given
    if code in KNOWN_COUNTIES:
        return KNOWN_COUNTIES[code]
    known = await services.store.projects.list(ProjectFilter(county_code=code), PageRequest(page=1, size=1))
    if known.items:
        return known.items[0].county.name
    raise CountyUnknown(f"county {code} is not known yet: give its county_name")


async def project_data(services: Services, code: str, body: s.ProjectIn | s.ProjectUpdate) -> ProjectData:
    try:
        name = await county_name(services, body.county_code, body.county_name)
    except CountyUnknown as exc:
        raise Unprocessable(str(exc), errors=[FieldError(pointer="#/body/county_name", field="county_name",
                                                         message=str(exc))]) from exc
    if body.assistant_unit_id and await services.store.units.get(body.assistant_unit_id) is None:
        raise Unprocessable(f"unknown assistant unit {body.assistant_unit_id!r}", errors=[FieldError(
            pointer="#/body/assistant_unit_id", field="assistant_unit_id", message="unknown unit")])
    return ProjectData(
        project_code=code, name=body.name, investor=Investor(**body.investor.model_dump()),
        county=County(code=body.county_code, name=name), industry=body.industry, amount_cny=body.amount_cny,
        signed_at=local_instant(body.signed_at), assistant_unit_id=body.assistant_unit_id,
        investor_user_ids=list(dict.fromkeys(body.investor_user_ids)),
    )


def project_out(project: Project) -> s.ProjectOut:
    return s.ProjectOut.model_validate(project.model_dump())


async def _announce_project(services: Services, event: str, project: Project, **extra: Any) -> None:
    units = [project.assistant_unit_id] if project.assistant_unit_id else []
    await announce(services, event, {"project_code": project.project_code, "name": project.name,
                                     "stage": project.stage.value, "light": project.light.value, **extra},
                   project_code=project.project_code, unit_ids=units, county_code=project.county.code,
                   membership=event in ("project.created", "project.updated"))


async def save(services: Services, caller: Caller, data: ProjectData, *, sign: bool,
               must_be_new: bool = False) -> s.SaveOut:
    existing = await services.store.projects.get(data.project_code)
    if must_be_new and existing is not None:
        raise ConflictProblem(f"project {data.project_code} already exists; PUT /api/projects/{data.project_code} "
                              "updates it")
    saved = await services.store.projects.upsert(data, actor=caller.actor)
    if saved.created or saved.item != existing:
        await _announce_project(services, "project.created" if saved.created else "project.updated", saved.item)
    signing = None
    if sign and saved.item.process_instance_key is None and saved.item.stage != Stage.CANCELLED:
        signing = await publish_signing(services, saved.item)
    return s.SaveOut(project=project_out(saved.item), created=saved.created, signing=signing)


def signing_variables(project: ProjectData) -> dict[str, Any]:
    """The project's own fields as ``project`` (what the life-cycle model registers), and its code both as the
    workers read it (``projectCode``) and as the live-events exporter scopes events (``project_code``)."""
    data = ProjectData.model_validate(project.model_dump(include=set(ProjectData.model_fields)))
    return {"projectCode": project.project_code, "project_code": project.project_code,
            "project": data.model_dump(mode="json")}


async def publish_signing(services: Services, project: Project) -> s.SignOut:
    """Publish the signing message (correlation key = project code). Its message id makes a repeat within the
    TTL a no-op, and a message start event never starts a second instance for a key whose instance is active."""
    name = services.settings.signing_message
    key = await services.engine.publish(name, project.project_code, signing_variables(project),
                                        ttl_ms=services.settings.signing_message_ttl_seconds * 1000,
                                        message_id=f"signed:{project.project_code}")
    await _announce_project(services, "project.signed", project, message_key=key)
    return s.SignOut(project_code=project.project_code, message_name=name, message_key=key, published=key is not None)


async def cancel(services: Services, caller: Caller, code: str, reason: str) -> s.SignOut:
    """Publish the cancellation message the life cycle waits for; its close step records the stage."""
    project = await visible_project(services, caller, code)
    if project.stage in (Stage.CANCELLED, Stage.IN_PRODUCTION):
        raise ConflictProblem(f"project {code} is {project.stage.value}: its life cycle is over")
    name = services.settings.cancel_message
    key = await services.engine.publish(name, code, {"cancelReason": reason},
                                        ttl_ms=services.settings.signing_message_ttl_seconds * 1000,
                                        message_id=f"cancelled:{code}")
    await _announce_project(services, "project.cancel_requested", project, reason=reason)
    await audited(services, caller, "project.cancel_request", "project", code,
                  {"reason": reason, "message_name": name, "message_key": key})
    return s.SignOut(project_code=code, message_name=name, message_key=key, published=key is not None)


async def visible_project(services: Services, caller: Caller, code: str, scope: Scope | None = None) -> Project:
    scope = scope or await scope_of(services, caller.principal)
    project = await services.store.projects.get(code) if scope.sees_project(code) else None
    if project is None:
        raise NotFoundProblem(f"project {code} does not exist or is not visible to you")
    return project


async def diagram(services: Services, caller: Caller, code: str) -> s.DiagramOut:
    project = await visible_project(services, caller, code)
    key = project.process_instance_key
    if key is None:
        raise NotFoundProblem(f"project {code} has no life-cycle instance yet")
    view = await processes.instance_view(services, key)
    if view.process_definition_key is None:
        raise NotFoundProblem(f"the process definition of instance {key} is not known (yet) to the instance views")
    _, xml = await processes.definition_xml(services, view.process_definition_key)
    elements = await services.store.engine.element_instances(key)
    incidents = await services.store.engine.incidents(process_instance_key=key, state="active",
                                                      page=PageRequest(page=1, size=500))
    return s.DiagramOut(process_instance_key=key, process_definition_key=view.process_definition_key,
                        bpmn_process_id=view.bpmn_process_id, version=view.version, state=view.state, xml=xml,
                        marks=processes.marks(elements, incidents.items))


async def sign(services: Services, caller: Caller, code: str) -> s.SignOut:
    project = await visible_project(services, caller, code)
    if project.stage == Stage.CANCELLED:
        raise ConflictProblem(f"project {code} is cancelled: its life cycle cannot start")
    if project.process_instance_key is not None:
        raise ConflictProblem(f"project {code} already has its life-cycle instance {project.process_instance_key}")
    signed = await publish_signing(services, project)
    await audited(services, caller, "project.sign", "project", code,
                  {"message_name": signed.message_name, "message_key": signed.message_key})
    return signed


async def list_projects(services: Services, caller: Caller, f: ProjectFilter, page: PageRequest) -> dict[str, Any]:
    scope = await scope_of(services, caller.principal)
    if not scope.everything:
        f = f.model_copy(update={"project_codes": sorted(scope.project_codes)})
    found = await services.store.projects.list(f, page)
    return page_out(found, [project_out(p) for p in found.items])


async def detail(services: Services, caller: Caller, code: str) -> s.ProjectDetail:
    scope = await scope_of(services, caller.principal)
    project = await visible_project(services, caller, code, scope)
    approvals = await services.store.approvals.list_for_project(code)
    problems = await services.store.problems.list(ProblemFilter(project_code=code, visible_to=scope.problems()),
                                                  PageRequest(page=1, size=200))
    flags = await services.store.flags.list_open(project_code=code) if scope.everything else [
        f for f in await services.store.flags.list_open(project_code=code) if f.unit_id in scope.unit_ids]
    return s.ProjectDetail(
        project=project_out(project),
        timeline=[s.StageEntryOut.model_validate(e.model_dump()) for e in project.stage_history],
        approvals=[s.ApprovalOut.model_validate(a.model_dump()) for a in approvals],
        problems=[s.ProblemBrief.model_validate(p.model_dump()) for p in problems.items],
        open_flags=[s.FlagBrief.model_validate(f.model_dump()) for f in flags],
    )

