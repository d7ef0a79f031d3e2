"""Every endpoint states who may call it: each operation of the OpenAPI document is listed here with the
people allowed, and everybody else gets 403 (or 404 where the thing is someone else's) with nothing
changed in the store. A new endpoint that is not listed fails the first test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.documents.models import NewProblem, NewTask, ProblemOrigin, ResponsibleUnit
from tests.fixtures.domain import at
from tests.integration.gateway.support import SEED, Api, problem_of, snapshot

PEOPLE = ("admin", "leader", "designer", "zrzy", "investor")
READERS = {"admin", "leader", "zrzy", "investor"}
EVERYONE = set(PEOPLE)
OPERATORS = {"admin", "designer"}
EDITORS = {"admin", "leader"}
PROJECT = {"name": "x", "investor": {"company": "x"}, "county_code": "320812", "industry": "x", "amount_cny": 1,
           "signed_at": "2024-01-01"}
TASK_KEY = 2251799813690001


@dataclass
class Case:
    method: str
    path: str  # the OpenAPI path template
    allowed: set[str]
    url: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)

    def target(self) -> str:
        return self.url or self.path


CASES = [
    Case("GET", "/api/auth/me", EVERYONE),
    Case("GET", "/api/users", {"admin"}),
    Case("POST", "/api/users", {"admin"}, kwargs={"json": {"username": "new", "display_name": "n",
                                                           "password": "0123456789", "roles": ["leader"]}}),
    Case("GET", "/api/users/{username}", {"admin"}, "/api/users/zrzy"),
    Case("PATCH", "/api/users/{username}", {"admin"}, "/api/users/zrzy", {"json": {"active": False}}),
    Case("GET", "/api/units", EVERYONE),
    Case("PUT", "/api/units/{unit_id}", {"admin"}, "/api/units/new", {"json": {"name": "n", "kind": "department"}}),
    Case("GET", "/api/projects", READERS),
    Case("POST", "/api/projects", EDITORS, kwargs={"json": {**PROJECT, "project_code": "NEW-1"}}),
    Case("POST", "/api/projects/import", EDITORS, kwargs={"files": {"file": ("p.json", b"[]", "application/json")}}),
    Case("GET", "/api/projects/{project_code}", READERS, "/api/projects/P-QJP-1"),
    Case("GET", "/api/projects/{project_code}/diagram", READERS, "/api/projects/P-QJP-1/diagram"),
    Case("PUT", "/api/projects/{project_code}", EDITORS, "/api/projects/NEW-2", {"json": PROJECT}),
    Case("POST", "/api/projects/{project_code}/sign", EDITORS, "/api/projects/P-QJP-1/sign"),
    Case("POST", "/api/projects/{project_code}/cancel", EDITORS, "/api/projects/P-QJP-1/cancel",
         {"json": {"reason": "x"}}),
    Case("GET", "/api/tasks", EVERYONE),
    Case("GET", "/api/tasks/history", EVERYONE),
    Case("POST", "/api/tasks/{job_key}/assign", EDITORS, f"/api/tasks/{TASK_KEY}/assign", {"json": {"assignee": "zjj"}}),
    Case("GET", "/api/problems", READERS),
    Case("POST", "/api/problems", {"zrzy", "investor"},
         kwargs={"json": {"project_code": "P-QJP-1", "category": "land", "title": "t"}}),
    Case("GET", "/api/problems/{problem_id}", READERS, "/api/problems/pb-1"),
    Case("GET", "/api/flags", {"admin", "leader", "zrzy"}),
    Case("POST", "/api/evaluations", {"investor"}, kwargs={"json": {
        "project_code": "P-QJP-1", "county_score": 5, "main_department_score": 5, "general_department_score": 5}}),
    Case("GET", "/api/evaluations", {"admin", "leader", "investor"}),
    Case("GET", "/api/evaluations/summary", EDITORS),
    Case("GET", "/api/dashboards/summary", EDITORS),
    Case("GET", "/api/dashboards/problems", EDITORS),
    Case("GET", "/api/dashboards/horse-race", EDITORS),
    Case("GET", "/api/events/recent", EVERYONE),
    Case("POST", "/api/processes/deployments", OPERATORS, kwargs={"files": {"files": ("x.txt", b"x", "text/plain")}}),
    Case("GET", "/api/processes/definitions", OPERATORS),
    Case("GET", "/api/processes/definitions/{key}/xml", OPERATORS, "/api/processes/definitions/1/xml"),
    Case("DELETE", "/api/processes/definitions/{key}", OPERATORS, "/api/processes/definitions/1"),
    Case("GET", "/api/processes/forms", OPERATORS),
    Case("POST", "/api/processes/instances", OPERATORS, kwargs={"json": {"bpmn_process_id": "nothing-here"}}),
    Case("GET", "/api/processes/instances", OPERATORS),
    Case("GET", "/api/processes/instances/{key}", OPERATORS, "/api/processes/instances/1"),
    Case("POST", "/api/processes/instances/{key}/cancel", OPERATORS, "/api/processes/instances/1/cancel"),
    Case("POST", "/api/processes/instances/{key}/modify", OPERATORS, "/api/processes/instances/1/modify",
         {"json": {"terminate": [2]}}),
    Case("GET", "/api/processes/incidents", OPERATORS),
    Case("POST", "/api/processes/incidents/{key}/retry", OPERATORS, "/api/processes/incidents/1/retry"),
    Case("GET", "/api/processes/clock", OPERATORS),
    Case("POST", "/api/processes/clock/add", OPERATORS, kwargs={"json": {"offset_milli": 0}}),
    Case("POST", "/api/processes/clock/pin", OPERATORS, kwargs={"json": {"epoch_milli": 1}}),
    Case("DELETE", "/api/processes/clock", OPERATORS),
]
# Open to everyone with a token, but each answers only with the caller's own things: checked by scope below.
SCOPED = {("GET", "/api/tasks/{job_key}"), ("GET", "/api/tasks/{job_key}/form"), ("POST", "/api/tasks/{job_key}/claim"),
          ("POST", "/api/tasks/{job_key}/unclaim"), ("POST", "/api/tasks/{job_key}/complete"), ("GET", "/api/events")}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/api/auth/token"), ("POST", "/api/auth/logout")}
SIGNED = {("POST", "/api/ingest/approvals"), ("POST", "/api/ingest/approvals/batch")}  # HMAC: test_gateway_ingest


async def test_every_operation_is_listed(api: Api) -> None:
    async with api.anonymous() as client:
        schema = (await client.get("/openapi.json")).json()
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    listed = {(c.method, c.path) for c in CASES} | SCOPED | PUBLIC | SIGNED
    assert operations == listed
    for method, path in operations - PUBLIC - SIGNED - {("GET", "/api/events")}:
        security = schema["paths"][path][method.lower()].get("security")
        assert security == [{"OAuth2PasswordBearer": []}], (method, path)


async def seed_scoped(api: Api) -> None:
    store = api.services.store
    await store.tasks.insert(NewTask(job_key=TASK_KEY, process_instance_key=1, element_id="review",
                                     bpmn_process_id="p", name="Review", candidate_groups=["dept-zjj"],
                                     created_at=at(2024, 5, 1)), actor=SEED)
    await store.problems.create(NewProblem(id="pb-1", project_code="P-HA-1", county_code="320803",
                                           origin=ProblemOrigin.WARNING, category="land", title="t",
                                           raised_by="system", raised_at=at(2024, 5, 1),
                                           units=[ResponsibleUnit(unit_id="dept-zjj", role="approval")]), actor=SEED)


async def test_wrong_roles_get_403_and_change_nothing(api: Api) -> None:
    await seed_scoped(api)
    before = await snapshot(api.services.store)
    refused = 0
    for case in CASES:
        for person in sorted(EVERYONE - case.allowed):
            client = await api.as_(person)
            response = await client.request(case.method, case.target(), **case.kwargs)
            body = problem_of(response, 403)
            assert body["required_roles"], (case.method, case.path, person)
            refused += 1
        async with api.anonymous() as client:
            assert problem_of(await client.request(case.method, case.target(), **case.kwargs), 401)
    assert refused > 80
    assert await snapshot(api.services.store) == before


async def test_wrong_unit_or_owner_gets_404_and_changes_nothing(api: Api) -> None:
    await seed_scoped(api)
    before = await snapshot(api.services.store)
    zrzy, investor, designer = await api.as_("zrzy"), await api.as_("investor"), await api.as_("designer")
    for method, path in sorted(SCOPED - {("GET", "/api/events")}):
        url = path.replace("{job_key}", str(TASK_KEY))
        kwargs = {"json": {"variables": {}}} if path.endswith("complete") else {}
        for client in (zrzy, investor, designer):  # the task is offered to dept-zjj only
            assert problem_of(await client.request(method, url, **kwargs), 404)
    assert problem_of(await zrzy.get("/api/problems/pb-1"), 404)
    assert problem_of(await investor.get("/api/problems/pb-1"), 404)
    assert problem_of(await investor.get("/api/projects/P-HA-1"), 404)
    assert problem_of(await investor.get("/api/projects/P-HA-1/diagram"), 404)
    assert problem_of(await investor.post("/api/projects/P-HA-1/sign"), 403)
    assert problem_of(await investor.post("/api/problems", json={"project_code": "P-HA-1", "category": "x",
                                                                 "title": "t"}), 404)
    assert problem_of(await investor.post("/api/evaluations", json={
        "project_code": "P-HA-1", "county_score": 5, "main_department_score": 5, "general_department_score": 5}), 404)
    assert problem_of(await zrzy.get("/api/flags", params={"unit_id": "dept-zjj"}), 403)
    assert problem_of(await investor.get("/api/evaluations", params={"project_code": "P-HA-1"}), 403)
    assert (await zrzy.get("/api/problems")).json()["total"] == 0
    assert (await zrzy.get("/api/tasks")).json()["total"] == 0
    assert await snapshot(api.services.store) == before
    assert (await (await api.as_("zjj")).get(f"/api/tasks/{TASK_KEY}")).status_code == 200
