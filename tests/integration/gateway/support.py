"""Helpers of the gateway tests: people of every role, an authenticated client per person, store snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from argon2 import PasswordHasher

from gateway.app import create_app
from gateway.auth.passwords import hash_password
from gateway.context import Services
from shared.documents import DocumentStore, open_store
from shared.documents.models import Actor, County, Investor, ProjectData, Role, Unit, UnitKind, User
from shared.documents.store import COLLECTIONS
from shared.processes import free_port, stop_process, wait_until_ready
from tests.fixtures.domain import at

# Cheap parameters: the hash records them, so verification stays as cheap. Production uses the defaults.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "correct horse battery"
SEED = Actor.system("tests")

UNITS = [
    Unit(id="office", name="市委营商办", kind=UnitKind.OFFICE),
    Unit(id="county-qjp", name="清江浦区营商办", kind=UnitKind.COUNTY, county_code="320812"),
    Unit(id="county-ha", name="淮安区营商办", kind=UnitKind.COUNTY, county_code="320803"),
    Unit(id="dept-zrzy", name="自然资源和规划局", kind=UnitKind.DEPARTMENT),
    Unit(id="dept-zjj", name="住房和城乡建设局", kind=UnitKind.DEPARTMENT),
    Unit(id="assist-qjp", name="清江浦区项目帮办", kind=UnitKind.ASSISTANT, county_code="320812"),
]

PEOPLE: dict[str, dict[str, Any]] = {
    "admin": {"roles": [Role.ADMIN]},
    "leader": {"roles": [Role.LEADER]},
    "designer": {"roles": [Role.PROCESS_DESIGNER]},
    "zrzy": {"roles": [Role.UNIT_STAFF], "unit_ids": ["dept-zrzy"]},
    "zjj": {"roles": [Role.UNIT_STAFF], "unit_ids": ["dept-zjj"]},
    "assist": {"roles": [Role.UNIT_STAFF], "unit_ids": ["assist-qjp"]},
    "qjp": {"roles": [Role.UNIT_STAFF], "unit_ids": ["county-qjp"]},
    "investor": {"roles": [Role.INVESTOR], "project_codes": ["P-QJP-1"]},
    "investor2": {"roles": [Role.INVESTOR], "project_codes": ["P-HA-1"]},
}
ROLES_OF = {name: spec["roles"][0] for name, spec in PEOPLE.items()}


def project(code: str, county: str = "320812", **overrides: Any) -> ProjectData:
    names = {"320812": "清江浦区", "320803": "淮安区", "320804": "淮阴区"}
    fields: dict[str, Any] = {
        "project_code": code, "name": f"液压设备项目 {code}",
        "investor": Investor(company=f"{code} 机械有限公司", contact_name="王经理", contact_phone="13800000000"),
        "county": County(code=county, name=names[county]), "industry": "machinery", "amount_cny": 120_000_000,
        "signed_at": at(2024, 2, 1), "assistant_unit_id": "assist-qjp" if county == "320812" else None,
    }
    fields.update(overrides)
    return ProjectData(**fields)


async def seed_people(store: DocumentStore) -> None:
    for unit in UNITS:
        await store.units.save(unit, actor=SEED)
    password_hash = hash_password(PASSWORD, FAST_HASHER)
    for name, spec in PEOPLE.items():
        await store.users.save(User(username=name, display_name=name.title(), password_hash=password_hash,
                                    **spec), actor=SEED)


async def seed_projects(store: DocumentStore) -> None:
    await store.projects.upsert(project("P-QJP-1", investor_user_ids=["investor"]), actor=SEED)
    await store.projects.upsert(project("P-QJP-2"), actor=SEED)
    await store.projects.upsert(project("P-HA-1", "320803", investor_user_ids=["investor2"]), actor=SEED)


def seed_store(documents_url: str) -> None:
    """The people and projects of the gateway tests, into the store at ``documents_url`` (outside a running loop:
    for module fixtures that start the gateway as its own process)."""

    async def seed() -> None:
        async with await open_store(documents_url) as store:
            await seed_people(store)
            await seed_projects(store)

    asyncio.run(seed())


@dataclass
class Api:
    """One httpx client per person, each sending that person's bearer token."""

    services: Services
    transport: httpx.AsyncBaseTransport
    base_url: str = "http://gateway"

    def anonymous(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url=self.base_url, timeout=30)

    async def token(self, username: str) -> str:
        user = await self.services.store.users.get(username)
        assert user is not None, username
        return self.services.tokens.issue(user).access_token

    async def as_(self, username: str) -> httpx.AsyncClient:
        client = self.anonymous()
        client.headers["Authorization"] = f"Bearer {await self.token(username)}"
        return client


async def snapshot(store: DocumentStore, skip: Iterable[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection: compared before and after a refused request."""
    out: dict[str, list[dict[str, Any]]] = {}
    for spec in COLLECTIONS:
        if spec.name in skip:
            continue
        docs = await store.driver.find(spec.name, sort=[("_id", 1)])
        out[spec.name] = docs
    return out


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a signed ingest post: HMAC-SHA256 over "<timestamp>.<body>"."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Qly-Timestamp": ts, "X-Qly-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["title"] and body["detail"]
    assert body["instance"] == response.request.url.path
    return body


BPMN_NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
           'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
           'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" targetNamespace="http://qianliyan/test"')


def bpmn(process_id: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {BPMN_NS} id="defs-{process_id}">'
            f'<bpmn:process id="{process_id}" isExecutable="true">{body}</bpmn:process>'
            f'</bpmn:definitions>').encode()


def user_task_process(process_id: str, *, form_key: str | None = None, form_id: str | None = None,
                      groups: str = "dept-zrzy", extra: str = "") -> bytes:
    form = ""
    if form_key:
        form = f'<zeebe:formDefinition formKey="{form_key}"/>'
    elif form_id:
        form = f'<zeebe:formDefinition formId="{form_id}"/>'
    return bpmn(process_id, f'''
      <bpmn:startEvent id="start"/>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
      <bpmn:userTask id="review" name="Review the problem">
        <bpmn:extensionElements>{form}
          <zeebe:assignmentDefinition candidateGroups="{groups}"/>
          {extra}
        </bpmn:extensionElements>
      </bpmn:userTask>
      <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
      <bpmn:endEvent id="end"/>''')


def form_json(form_id: str) -> bytes:
    return json.dumps({
        "id": form_id, "type": "default", "schemaVersion": 16,
        "components": [
            {"type": "text", "text": "# 办结反馈"},
            {"type": "textfield", "key": "resolution", "label": "Resolution", "validate": {"required": True,
                                                                                      "minLength": 2}},
            {"type": "number", "key": "days", "label": "Days", "validate": {"min": 0, "max": 30}},
            {"type": "select", "key": "outcome", "label": "Outcome", "validate": {"required": True},
             "values": [{"label": "Resolved", "value": "resolved"}, {"label": "Sent back", "value": "sent_back"}]},
            {"type": "checkbox", "key": "confirmed", "label": "Confirmed"},
            {"type": "datetime", "key": "visited_on", "subtype": "date", "label": "Visited on"},
            {"type": "checklist", "key": "docs", "label": "Documents",
             "values": [{"label": "Permit", "value": "permit"}, {"label": "Map", "value": "map"}]},
        ],
    }, ensure_ascii=False).encode()


def message_start_process(process_id: str, message_name: str, job_type: str) -> bytes:
    """A message start event followed by a service task: what arrived shows as the job's variables."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {BPMN_NS} id="defs-{process_id}">'
            f'<bpmn:message id="msg-{process_id}" name="{message_name}"/>'
            f'<bpmn:process id="{process_id}" isExecutable="true">'
            f'<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="msg-{process_id}"/></bpmn:startEvent>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>'
            f'<bpmn:serviceTask id="work"><bpmn:extensionElements><zeebe:taskDefinition type="{job_type}"/>'
            f'</bpmn:extensionElements></bpmn:serviceTask>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/><bpmn:endEvent id="end"/>'
            f'</bpmn:process></bpmn:definitions>').encode()


async def activate_jobs(services: Services, job_type: str, *, expect: int = 1, timeout: float = 10.0,
                        job_timeout_ms: int = 60_000) -> list[Any]:
    """Activate jobs of a type through the engine's gRPC API until ``expect`` arrived (or the time is up)."""
    import asyncio

    from pyzeebe.proto import gateway_pb2 as pb

    jobs: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(jobs) < expect and time.monotonic() < deadline:
        request = pb.ActivateJobsRequest(type=job_type, worker="gateway-tests", timeout=job_timeout_ms,
                                         maxJobsToActivate=expect - len(jobs), requestTimeout=500)
        async for response in services.engine.stub.ActivateJobs(request):
            jobs.extend(response.jobs)
        if len(jobs) < expect:
            await asyncio.sleep(0.05)
    return jobs


def variables_of(job: Any) -> dict[str, Any]:
    return json.loads(job.variables)


async def deploy(services: Services, *resources: tuple[str, bytes]) -> Any:
    return await services.engine.deploy(list(resources))


async def inbox_task(services: Services, job: Any, *, project_code: str | None = None,
                     problem_id: str | None = None, variables: dict[str, Any] | None = None) -> Any:
    """What the inbox worker writes for an activated user-task job (the gateway reads only the store)."""
    from shared.documents.models import NewTask

    headers = json.loads(job.customHeaders or "{}")

    def header_list(name: str) -> list[str]:
        text = headers.get(f"io.camunda.zeebe:{name}")
        return [str(v) for v in json.loads(text)] if text else []

    task = NewTask(job_key=job.key, process_instance_key=job.processInstanceKey, element_id=job.elementId,
                   element_instance_key=job.elementInstanceKey, bpmn_process_id=job.bpmnProcessId,
                   process_definition_key=job.processDefinitionKey, name="Review the problem",
                   candidate_groups=header_list("candidateGroups"), candidate_users=header_list("candidateUsers"),
                   assignee=headers.get("io.camunda.zeebe:assignee"),
                   form_key=headers.get("io.camunda.zeebe:formKey"), project_code=project_code,
                   problem_id=problem_id,
                   variables={**({"projectCode": project_code} if project_code else {}), **(variables or {})},
                   created_at=services.clock.now())
    return (await services.store.tasks.insert(task, actor=Actor.system("inbox"))).item


def service_process(process_id: str, job_type: str, *, retries: int = 3) -> bytes:
    """A none start event followed by a service task (a stand-in for a model started by CreateProcessInstance)."""
    return bpmn(process_id, f'''
      <bpmn:startEvent id="start"/>
      <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
      <bpmn:serviceTask id="work"><bpmn:extensionElements>
        <zeebe:taskDefinition type="{job_type}" retries="{retries}"/></bpmn:extensionElements></bpmn:serviceTask>
      <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
      <bpmn:endEvent id="end"/>''')


async def activate_user_task(services: Services, process_instance_key: int, timeout: float = 10.0) -> Any:
    """The user-task job of one instance. Other tests' user-task jobs activated on the way are handed back
    at once (FailJob keeping their retries), so tests sharing the engine do not hold each other's jobs."""
    import asyncio

    from pyzeebe.proto import gateway_pb2 as pb

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = pb.ActivateJobsRequest(type="io.camunda.zeebe:userTask", worker="gateway-tests", timeout=600_000,
                                         maxJobsToActivate=32, requestTimeout=300)
        mine = None
        async for response in services.engine.stub.ActivateJobs(request):
            for job in response.jobs:
                if job.processInstanceKey == process_instance_key and mine is None:
                    mine = job
                else:
                    await services.engine.stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=job.retries,
                                                                         errorMessage="not this test's", retryBackOff=0))
        if mine is not None:
            return mine
        await asyncio.sleep(0.05)
    raise AssertionError(f"no user-task job for instance {process_instance_key}")


def review_process(process_id: str, *, form_id: str | None = None, form_key: str | None = None, next_job: str,
                   groups: str = "dept-zrzy", embedded: str | None = None) -> bytes:
    """A user task for ``groups`` with a form, then a service task whose job shows the submitted variables."""
    form = f'<zeebe:formDefinition formId="{form_id}"/>' if form_id else (
        f'<zeebe:formDefinition formKey="{form_key}"/>' if form_key else "")
    embedded_xml = (f'<bpmn:extensionElements><zeebe:userTaskForm id="embedded">{embedded}</zeebe:userTaskForm>'
                    f'</bpmn:extensionElements>') if embedded else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {BPMN_NS} id="defs-{process_id}">'
            f'<bpmn:process id="{process_id}" isExecutable="true">{embedded_xml}'
            f'<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>'
            f'<bpmn:userTask id="review" name="Review"><bpmn:extensionElements>{form}'
            f'<zeebe:assignmentDefinition candidateGroups="{groups}"/></bpmn:extensionElements></bpmn:userTask>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="after"/>'
            f'<bpmn:serviceTask id="after"><bpmn:extensionElements><zeebe:taskDefinition type="{next_job}"/>'
            f'</bpmn:extensionElements></bpmn:serviceTask>'
            f'<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/><bpmn:endEvent id="end"/>'
            f'</bpmn:process></bpmn:definitions>').encode()


@contextlib.asynccontextmanager
async def served(services: Services) -> AsyncIterator[str]:
    """The gateway app over real HTTP on a free port, in this event loop; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services=services), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False, lifespan="on"))
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # open SSE connections must not hold the shutdown
        await asyncio.wait_for(task, 20)


class GatewayProcess:
    """``python -m gateway`` as its own process on a free port, configured through the environment only."""

    def __init__(self, *, engine_address: str, management_url: str, documents_url: str, redis_url: str,
                 secrets: dict[str, str], log_path: Any, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.env = {
            "ZEEBE_ADDRESS": engine_address, "ZEEBE_MANAGEMENT_URL": management_url, "DOCUMENTS_URL": documents_url,
            "REDIS_URL": redis_url, "JWT_SECRET": secrets["jwt"], "INGEST_HMAC_SECRET_GONGGAI": secrets["gonggai"],
            "INGEST_HMAC_SECRET_TUZHI": secrets["tuzhi"], "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
            "QLY_ENV": "dev", **(extra_env or {}),
        }
        self.log_path = log_path
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> GatewayProcess:
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[3]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "gateway", "--port", str(self.port)], cwd=root,
                                        env={**os.environ, **self.env, "PYTHONPATH": str(root)}, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()
        if wait_until_ready(self.process, f"{self.url}/healthz", timeout):
            return self
        if self.process.poll() is not None:
            raise RuntimeError(f"the gateway exited with {self.process.returncode}: {self.log()}")
        self.stop()
        raise RuntimeError(f"the gateway did not start: {self.log()}")

    def log(self) -> str:
        from pathlib import Path

        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        return stop_process(self.process) if self.process is not None else None
