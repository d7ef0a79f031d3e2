"""Deploying resources (and keeping them), reading definitions, instances and incidents, operating on them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import grpc
import httpx

from gateway.audit import audited
from gateway.auth.principal import Caller
from gateway.context import Services
from gateway.engine import ActivateElement, EngineError
from gateway.errors import ConflictProblem, FieldError, NotFoundProblem, ServiceUnavailable, Unprocessable
from gateway.processes import schemas as s
from shared.documents.models import DeployedResource, PageRequest, ProcessDefinitionView, ResourceKind

ALLOWED_SUFFIXES = (".bpmn", ".xml", ".dmn", ".form")
MAX_FILES = 20


def _file_error(index: int, message: str) -> FieldError:
    return FieldError(pointer=f"#/body/files/{index}", field=f"files[{index}]", message=message)


def check_files(files: list[tuple[str, bytes]]) -> dict[str, str]:
    """Refuse what the engine would refuse for reasons the gateway can name itself; returns name -> text."""
    if not files:
        raise Unprocessable("upload at least one .bpmn, .dmn or .form file",
                            errors=[FieldError(pointer="#/body/files", field="files", message="no file")])
    if len(files) > MAX_FILES:
        raise Unprocessable(f"at most {MAX_FILES} files per deployment, got {len(files)}")
    texts: dict[str, str] = {}
    errors: list[FieldError] = []
    for i, (name, content) in enumerate(files):
        base = PurePosixPath(name.replace("\\", "/")).name
        if not base.lower().endswith(ALLOWED_SUFFIXES):
            errors.append(_file_error(i, f"'{name}': expected a .bpmn, .xml, .dmn or .form file"))
            continue
        if base in texts:
            errors.append(_file_error(i, f"'{base}' is uploaded twice"))
            continue
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(_file_error(i, f"'{base}' is not UTF-8 text"))
            continue
        if not text.strip():
            errors.append(_file_error(i, f"'{base}' is empty"))
            continue
        if base.lower().endswith(".form"):
            try:
                form = json.loads(text)
            except ValueError as exc:
                errors.append(_file_error(i, f"'{base}' is not JSON: {exc}"))
                continue
            if not isinstance(form, dict) or not isinstance(form.get("id"), str) or not form["id"].strip():
                errors.append(_file_error(i, f"'{base}' must be a form-js JSON object with a non-empty 'id'"))
                continue
            if not isinstance(form.get("components", []), list):
                errors.append(_file_error(i, f"'{base}': 'components' must be a list"))
                continue
        texts[base] = text
    if errors:
        raise Unprocessable("; ".join(e.message for e in errors), errors=errors)
    return texts


async def deploy(services: Services, caller: Caller, files: list[tuple[str, bytes]]) -> s.DeploymentOut:
    texts = check_files(files)
    deployment = await services.engine.deploy([(name, text.encode()) for name, text in texts.items()])
    now = services.clock.now()
    user = caller.username

    async def keep(key: int, kind: ResourceKind, resource_id: str, version: int, name: str) -> None:
        content = texts.get(name)
        if content is None:  # the engine names the resource as uploaded; anything else is not ours to keep
            return
        await services.store.resources.save(DeployedResource(
            key=key, kind=kind, resource_id=resource_id, version=version, resource_name=name,
            deployment_key=deployment.key, content=content, deployed_at=now, deployed_by=user), actor=caller.actor)

    for p in deployment.processes:
        await keep(p.process_definition_key, ResourceKind.PROCESS, p.bpmn_process_id, p.version, p.resource_name)
    for f in deployment.forms:
        await keep(f.form_key, ResourceKind.FORM, f.form_id, f.version, f.resource_name)
    for r in deployment.requirements:
        await keep(r.decision_requirements_key, ResourceKind.DECISION_REQUIREMENTS, r.decision_requirements_id,
                   r.version, r.resource_name)
    return s.DeploymentOut(
        deployment_key=deployment.key,
        processes=[s.DeployedProcessOut(**vars(p)) for p in deployment.processes],
        forms=[s.DeployedFormOut(**vars(f)) for f in deployment.forms],
        decisions=[s.DeployedDecisionOut(**vars(d)) for d in deployment.decisions],
        decision_requirements=[s.DeployedRequirementsOut(**vars(r)) for r in deployment.requirements],
    )


async def start_instance(services: Services, caller: Caller, body: s.StartInstanceIn) -> s.StartInstanceOut:
    key, definition_key, version = await services.engine.create_instance(body.bpmn_process_id, body.variables,
                                                                         body.version)
    await audited(services, caller, "engine.instance.start", "process_instance", key, {
        "bpmn_process_id": body.bpmn_process_id, "version": version, "process_definition_key": definition_key,
        "variables": sorted(body.variables or {})})
    return s.StartInstanceOut(process_instance_key=key, process_definition_key=definition_key,
                              bpmn_process_id=body.bpmn_process_id, version=version)


def _view_xml(view: ProcessDefinitionView) -> str | None:
    extra = view.model_extra or {}
    for name in ("resource", "bpmn_xml", "xml"):
        if isinstance(extra.get(name), str):
            return str(extra[name])
    return None


def _deleted(view: ProcessDefinitionView) -> bool:
    return bool((view.model_extra or {}).get("deleted"))


async def definitions(services: Services, bpmn_process_id: str | None, page: PageRequest) -> dict[str, Any]:
    """What the gateway deployed, joined with what the exporter saw (deployments made by other clients).
    Both are small (versions of a few dozen models), so they are merged in memory."""
    merged: dict[int, s.DefinitionOut] = {}
    kept = await services.store.resources.list(kind=ResourceKind.PROCESS, resource_id=bpmn_process_id,
                                               page=PageRequest(page=1, size=500))
    for r in kept.items:
        merged[r.key] = s.DefinitionOut(key=r.key, bpmn_process_id=r.resource_id, version=r.version,
                                        resource_name=r.resource_name, deployed_at=r.deployed_at,
                                        deployed_by=r.deployed_by, has_xml=True)
    views = await services.store.engine.list_process_definitions(bpmn_process_id=bpmn_process_id,
                                                                 page=PageRequest(page=1, size=500))
    for v in views.items:
        if _deleted(v):
            merged.pop(v.key, None)
        elif v.key not in merged:
            merged[v.key] = s.DefinitionOut(key=v.key, bpmn_process_id=v.bpmn_process_id, version=v.version,
                                            resource_name=v.resource_name, deployed_at=v.deployed_at,
                                            has_xml=_view_xml(v) is not None)
    ordered = sorted(merged.values(), key=lambda d: (d.bpmn_process_id, -d.version))
    items = ordered[page.offset:page.offset + page.size]
    total = len(ordered)
    return {"items": items, "total": total, "page": page.page, "size": page.size,
            "pages": (total + page.size - 1) // page.size}


async def definition_xml(services: Services, key: int) -> tuple[str, str]:
    """(file name, XML) of a deployed process definition."""
    kept = await services.store.resources.get(key)
    if kept is not None and kept.kind == ResourceKind.PROCESS:
        return kept.resource_name, kept.content
    view = await services.store.engine.get_process_definition(key)
    xml = _view_xml(view) if view is not None else None
    if view is None or xml is None:
        raise NotFoundProblem(f"no BPMN XML is known for process definition {key}")
    return view.resource_name or f"{view.bpmn_process_id}.bpmn", xml


async def forms(services: Services, form_id: str | None, page: PageRequest) -> dict[str, Any]:
    kept = await services.store.resources.list(kind=ResourceKind.FORM, resource_id=form_id, page=page)
    items = [s.FormOut(key=r.key, form_id=r.resource_id, version=r.version, resource_name=r.resource_name,
                       deployed_at=r.deployed_at, schema=json.loads(r.content)) for r in kept.items]
    return {"items": items, "total": kept.total, "page": kept.page, "size": kept.size, "pages": kept.pages}


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def marks(elements: Iterable[Any], incidents: Iterable[Any]) -> s.Marks:
    """Tokens, completed elements and open incidents per element id (the process element itself left out)."""
    active: Counter[str] = Counter()
    completed: dict[str, None] = {}
    for element in elements:
        if element.element_type == "PROCESS":
            continue
        if element.state.endswith("COMPLETED"):
            completed[element.element_id] = None
        elif not element.state.endswith("TERMINATED"):
            active[element.element_id] += 1
    open_incidents = Counter(i.element_id for i in incidents if i.state == "active" and i.element_id)
    return s.Marks(active=dict(active), completed=list(completed), incidents=dict(open_incidents))


async def instance_view(services: Services, key: int) -> Any:
    view = await services.store.engine.get_process_instance(key)
    if view is None:
        raise NotFoundProblem(f"process instance {key} is not known (yet) to the instance views")
    return view


async def instance_detail(services: Services, key: int) -> s.InstanceDetail:
    view = await instance_view(services, key)
    elements = await services.store.engine.element_instances(key)
    variables = await services.store.engine.variables(key)
    incidents = await services.store.engine.incidents(process_instance_key=key, page=PageRequest(page=1, size=500))
    jobs = await services.store.engine.jobs(key)
    tasks = await services.store.tasks.list_for_instance(key)
    return s.InstanceDetail(
        instance=s.InstanceOut.model_validate(view.model_dump()),
        elements=sorted((s.ElementOut.model_validate(e.model_dump()) for e in elements), key=lambda e: e.key),
        variables=sorted((s.VariableOut(key=v.key, scope_key=v.scope_key, name=v.name, value=_parsed(v.value))
                          for v in variables), key=lambda v: (v.scope_key, v.name)),
        incidents=[s.IncidentOut.model_validate(i.model_dump()) for i in incidents.items],
        jobs=sorted((s.JobOut.model_validate(j.model_dump()) for j in jobs), key=lambda j: j.key),
        tasks=[s.InstanceTaskOut.model_validate(t.model_dump()) for t in tasks],
        marks=marks(elements, incidents.items),
    )


async def retry_incident(services: Services, caller: Caller, key: int, body: s.RetryIn) -> s.RetryOut:
    """A job incident needs retries before it is resolved, or the job fails straight back into one."""
    view = await services.store.engine.get_incident(key)
    job_key = body.job_key if body.job_key is not None else (view.job_key if view else None)
    if view is not None and view.state == "resolved":
        raise ConflictProblem(f"incident {key} is already resolved")
    updated = False
    if job_key:
        await services.engine.update_job_retries(job_key, body.retries)
        updated = True
    await services.engine.resolve_incident(key)
    await audited(services, caller, "engine.incident.retry", "incident", key, {
        "job_key": job_key or None, "retries": body.retries if updated else None,
        "process_instance_key": view.process_instance_key if view is not None else None})
    return s.RetryOut(incident_key=key, job_key=job_key or None, retries_updated=updated, resolved=True)


async def cancel_instance(services: Services, caller: Caller, key: int) -> None:
    await services.engine.cancel_instance(key)
    await audited(services, caller, "engine.instance.cancel", "process_instance", key)


async def modify_instance(services: Services, caller: Caller, key: int, body: s.ModifyIn) -> None:
    """The engine names the instruction it refuses; that message is the caller's 422."""
    activate = [ActivateElement(
        element_id=a.element_id,
        ancestor_element_instance_key=-1 if a.ancestor_element_instance_key is None else a.ancestor_element_instance_key,
        variables=a.variables or {}, variables_scope_id=a.variables_scope_id or "") for a in body.activate]
    try:
        await services.engine.modify_instance(key, activate, body.terminate)
    except EngineError as exc:
        if exc.code == grpc.StatusCode.INVALID_ARGUMENT:
            raise Unprocessable(exc.detail, grpc_status=exc.grpc_status) from exc
        raise
    # variable names, not values: the values stay in the engine, where operators with access can read them
    await audited(services, caller, "engine.instance.modify", "process_instance", key, {
        "terminate": list(body.terminate),
        "activate": [{"element_id": a.element_id, "variables": sorted(a.variables or {})} for a in body.activate]})


async def delete_definition(services: Services, caller: Caller, key: int) -> None:
    """Deletes the version in the engine. The XML kept by the gateway stays: finished instances of the
    version still draw their diagram from it. The definition list hides the version once the exporter's
    view says it is deleted."""
    kept = await services.store.resources.get(key)
    view = await services.store.engine.get_process_definition(key)
    # DeleteResource takes any resource key: a form's or a DRG's key must not be deleted through this path.
    if (kept is None or kept.kind != ResourceKind.PROCESS) and view is None:
        raise NotFoundProblem(f"{key} is not the key of a known process definition")
    if view is not None and _deleted(view):
        raise NotFoundProblem(f"process definition {key} is already deleted")
    try:
        await services.engine.delete_resource(key)
    except EngineError as exc:
        if exc.code == grpc.StatusCode.NOT_FOUND:
            raise NotFoundProblem(f"no process definition with key {key} in the engine "
                                  f"(never deployed or already deleted): {exc.detail}") from exc
        raise
    name = view.bpmn_process_id if view is not None else (kept.resource_id if kept is not None else None)
    version = view.version if view is not None else (kept.version if kept is not None else None)
    await audited(services, caller, "engine.definition.delete", "process_definition", key,
                  {"bpmn_process_id": name, "version": version})


async def clock(services: Services, method: str, path: str = "", body: dict[str, Any] | None = None,
                caller: Caller | None = None) -> s.ClockOut:
    """``caller`` for the moves, which are audited; reading the clock is not."""
    if not services.dev_tools:
        raise NotFoundProblem("the engine clock can only be moved in development or demo mode "
                              "(QLY_ENV=dev or DEMO_MODE=true)")
    url = services.zeebe.actuator_url + "/actuator/clock" + path
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            response = await client.request(method, url, json=body)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"the engine's management endpoint {url} did not answer: {exc}") from exc
    if response.status_code == 404:
        raise ConflictProblem("the engine's clock is not controllable (start it with --clock-controlled)")
    if 400 <= response.status_code < 500:
        raise Unprocessable(f"the engine refused the clock change: {response.text[:300]}")
    if response.status_code >= 400:
        raise ServiceUnavailable(f"the engine answered {response.status_code} to {method} {url}: {response.text[:200]}")
    data = response.json()
    refresh = getattr(services.clock, "refresh", None)
    if refresh is not None:  # follow the move at once, not at the next background refresh
        await refresh()
    epoch = int(data["epochMilli"])
    if caller is not None and method != "GET":
        await audited(services, caller, f"engine.clock.{path.strip('/') or 'reset'}", "engine_clock", "clock",
                      {**(body or {}), "epoch_milli": epoch})
    return s.ClockOut(epoch_milli=epoch, instant=datetime.fromtimestamp(epoch / 1000, UTC))
