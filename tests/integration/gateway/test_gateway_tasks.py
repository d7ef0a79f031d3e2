"""The task inbox against the real engine: who sees a task, claims, assignment, and completion with form data
validated against the deployed form (CompleteJob, then the store)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.integration.gateway.support import (
    Api,
    activate_jobs,
    activate_user_task,
    form_json,
    inbox_task,
    problem_of,
    review_process,
    snapshot,
    variables_of,
)

VALID = {"resolution": "拆除旧厂房，已办结", "days": 5, "outcome": "resolved", "confirmed": True,
         "visited_on": "2024-05-20", "docs": ["permit"]}


async def open_task(api: Api, *, groups: str = "dept-zrzy", project: str | None = "P-QJP-1",
                    deploy_form: bool = True) -> tuple[Any, str]:
    """Deploy (through the gateway) a review process with its form, start it, and put its task in the inbox."""
    tag = uuid.uuid4().hex[:8]
    process_id, form_id, next_job = f"review-{tag}", f"resolution-{tag}", f"after-{tag}"
    designer = await api.as_("designer")
    files = [("files", (f"{process_id}.bpmn", review_process(process_id, form_id=form_id, next_job=next_job,
                                                              groups=groups), "application/xml"))]
    if deploy_form:
        files.append(("files", (f"{form_id}.form", form_json(form_id), "application/json")))
    else:  # deployed by another client (as the demo does): the engine has it, the gateway's store does not
        await api.services.engine.deploy([(f"{form_id}.form", form_json(form_id))])
    assert (await designer.post("/api/processes/deployments", files=files)).status_code == 201
    started = await designer.post("/api/processes/instances", json={"bpmn_process_id": process_id,
                                                                    "variables": {"projectCode": project}})
    job = await activate_user_task(api.services, started.json()["process_instance_key"])
    task = await inbox_task(api.services, job, project_code=project)
    return task, next_job


async def keys(api: Api, user: str, **params: Any) -> list[int]:
    client = await api.as_(user)
    response = await client.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return [t["job_key"] for t in response.json()["items"]]


async def test_inbox_visibility_claims_and_assignment(api: Api) -> None:
    task, _ = await open_task(api)
    key = task.job_key
    assert await keys(api, "zrzy") == [key]
    assert await keys(api, "zjj") == []
    assert await keys(api, "investor") == []
    assert await keys(api, "leader") == []  # not a candidate: their inbox is empty...
    assert await keys(api, "leader", view="all") == [key]  # ...but they oversee every task
    assert problem_of(await (await api.as_("zrzy")).get("/api/tasks", params={"view": "all"}), 403)
    assert await keys(api, "zrzy", project="P-QJP-1") == [key]
    assert await keys(api, "zrzy", project="P-HA-1") == []
    assert await keys(api, "zrzy", process=task.bpmn_process_id) == [key]
    assert await keys(api, "zrzy", unassigned="true") == [key]
    assert await keys(api, "zrzy", mine="true") == []

    zrzy, zjj = await api.as_("zrzy"), await api.as_("zjj")
    detail = (await zrzy.get(f"/api/tasks/{key}")).json()
    assert detail["can_claim"] and detail["can_complete"]
    assert detail["form"]["schema"]["components"][1]["key"] == "resolution"
    assert problem_of(await zjj.get(f"/api/tasks/{key}"), 404)  # not theirs: not even its existence
    assert problem_of(await zjj.post(f"/api/tasks/{key}/claim"), 404)

    claimed = await zrzy.post(f"/api/tasks/{key}/claim")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "zrzy"
    assert await keys(api, "zrzy", mine="true") == [key]
    assert await keys(api, "zrzy", unassigned="true") == []
    assert (await zrzy.post(f"/api/tasks/{key}/claim")).json()["assignee"] == "zrzy"  # claiming again: no-op

    assert problem_of(await zrzy.post(f"/api/tasks/{key}/assign", json={"assignee": "zjj"}), 403)
    leader = await api.as_("leader")
    assert problem_of(await leader.post(f"/api/tasks/{key}/assign", json={"assignee": "ghost"}), 422)
    moved = await leader.post(f"/api/tasks/{key}/assign", json={"assignee": "zjj"})
    assert moved.status_code == 200 and moved.json()["assignee"] == "zjj"
    assert await keys(api, "zjj") == [key]  # assigned to them now
    assert await keys(api, "zrzy") == []  # held by someone else: out of the candidates' inbox
    assert problem_of(await zrzy.post(f"/api/tasks/{key}/unclaim"), 409)["holder"] == "zjj"
    released = await zjj.post(f"/api/tasks/{key}/unclaim")
    assert released.json()["assignee"] is None
    actions = [e.action for e in (await api.services.store.audit.list(target_kind="task", target_id=key)).items]
    assert actions == ["task.unclaim", "task.assign", "task.claim", "task.create"]


async def test_completion_validates_the_form_then_completes_the_job(api: Api) -> None:
    task, next_job = await open_task(api)
    key = task.job_key
    zrzy = await api.as_("zrzy")
    before = await snapshot(api.services.store)
    invalid = await zrzy.post(f"/api/tasks/{key}/complete", json={"variables": {
        "days": 45, "outcome": "maybe", "confirmed": "yes", "visited_on": "20 May", "docs": ["cake"],
        "hack": 1}})
    errors = {e["field"]: e["message"] for e in problem_of(invalid, 422)["errors"]}
    assert errors == {
        "resolution": "Resolution: required",
        "days": "Days: at most 30",
        "outcome": "Outcome: 'maybe' is not one of ['resolved', 'sent_back']",
        "confirmed": "Confirmed: expected true or false",
        "visited_on": "Visited on: expected a date in ISO 8601 form",
        "docs": "Documents: ['cake'] not among the options ['permit', 'map']",
        "hack": "'hack' is not a field of the form",
    }
    short = await zrzy.post(f"/api/tasks/{key}/complete", json={"variables": {**VALID, "resolution": "x"}})
    assert problem_of(short, 422)["errors"][0]["message"] == "Resolution: at least 2 characters"
    assert await snapshot(api.services.store) == before
    assert await activate_jobs(api.services, next_job, timeout=0.3) == []  # the engine has not moved

    zjj = await api.as_("zjj")
    assert problem_of(await zjj.post(f"/api/tasks/{key}/complete", json={"variables": VALID}), 404)
    done = await zrzy.post(f"/api/tasks/{key}/complete", json={"variables": VALID})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and done.json()["completed_by"] == "zrzy"
    (after,) = await activate_jobs(api.services, next_job)
    assert {k: variables_of(after)[k] for k in VALID} == VALID
    again = await zrzy.post(f"/api/tasks/{key}/complete", json={"variables": VALID})
    assert again.status_code == 200 and again.json()["completed_at"] == done.json()["completed_at"]
    assert await keys(api, "zrzy") == []
    history = (await zrzy.get("/api/tasks/history")).json()
    assert [t["job_key"] for t in history["items"]] == [key]
    assert (await zjj.get("/api/tasks/history")).json()["total"] == 0


async def test_a_task_whose_job_is_gone_is_withdrawn(api: Api) -> None:
    task, _ = await open_task(api)
    await api.services.engine.cancel_instance(task.process_instance_key)
    zrzy = await api.as_("zrzy")
    gone = await zrzy.post(f"/api/tasks/{task.job_key}/complete", json={"variables": VALID})
    assert "no longer exists in the engine" in problem_of(gone, 409)["detail"]
    stored = await api.services.store.tasks.get(task.job_key)
    assert stored is not None and stored.status == "cancelled"
    assert problem_of(await zrzy.post(f"/api/tasks/{task.job_key}/claim"), 409)


async def test_forms_found_by_id_in_the_repository_or_embedded_or_missing(api: Api) -> None:
    task, _ = await open_task(api, deploy_form=False)
    zrzy = await api.as_("zrzy")
    # Deployed by another client and not a file of bpmn/: the gateway cannot check the data.
    unknown = await zrzy.get(f"/api/tasks/{task.job_key}/form")
    assert "unknown to the gateway" in problem_of(unknown, 409)["detail"]
    assert problem_of(await zrzy.post(f"/api/tasks/{task.job_key}/complete", json={"variables": VALID}), 409)

    # A form of the platform's own models (bpmn/problem-resolution.form) deployed by the demo directly: the
    # inbox worker keeps the task's formId header, and the gateway finds the repository's copy.
    started = await (await api.as_("designer")).post("/api/processes/instances",
                                                      json={"bpmn_process_id": task.bpmn_process_id})
    job = await activate_user_task(api.services, started.json()["process_instance_key"])
    assert job.customHeaders and json.loads(job.customHeaders)["io.camunda.zeebe:formKey"].isdigit()
    known = await inbox_task(api.services, job, variables={"formId": "problem-resolution"})
    form = (await zrzy.get(f"/api/tasks/{known.job_key}/form")).json()
    assert form["form_id"] == "problem-resolution"
    assert "resolution" in [c.get("key") for c in form["schema"]["components"]]

    tag = uuid.uuid4().hex[:8]
    embedded = json.dumps({"id": "embedded", "components": [
        {"type": "textfield", "key": "note", "label": "Note", "validate": {"required": True}}]})
    designer = await api.as_("designer")
    process_id = f"embedded-{tag}"
    xml = review_process(process_id, form_key="camunda-forms:bpmn:embedded", next_job=f"x-{tag}", embedded=embedded)
    assert (await designer.post("/api/processes/deployments",
                                files=[("files", (f"{process_id}.bpmn", xml, "application/xml"))])).status_code == 201
    started = await designer.post("/api/processes/instances", json={"bpmn_process_id": process_id})
    job = await activate_user_task(api.services, started.json()["process_instance_key"])
    embedded_task = await inbox_task(api.services, job)
    assert embedded_task.form_key == "camunda-forms:bpmn:embedded"
    refused = await zrzy.post(f"/api/tasks/{job.key}/complete", json={"variables": {}})
    assert problem_of(refused, 422)["errors"][0]["field"] == "note"
    assert (await zrzy.post(f"/api/tasks/{job.key}/complete", json={"variables": {"note": "ok"}})).status_code == 200
