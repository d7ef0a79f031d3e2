"""Hostile requests to the running gateway (`python -m gateway`, its own process, with the real engine, Redis
and a SQLite documents store): forged, stale and malformed signed ingest posts, malformed and oversized task
completions, random bodies, CORS from a stranger, and a production start without secrets. Every case gets a
precise problem (4xx, application/problem+json) within a time bound, and leaves the documents and the engine as
they were: no approval stored, no instance started, the task still open and its job not completed.

Found by these tests and fixed in the gateway: a signed post whose JSON nests deeper than the interpreter's
recursion limit answered 500, and so did an X-Qly-Timestamp made of non-ASCII digits ("²"); a production
start without secrets failed with a traceback that echoed the refused secret (it now says what is missing,
in one line, exit code 2, before anything listens)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
import types
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.tokens import TokenService
from shared.clock import SystemClock
from shared.documents import DocumentStore, open_store
from shared.documents.models import Role, TaskStatus, User
from shared.redis_server import RedisServer
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import ROOT, EngineProcess
from tests.integration.gateway.support import (
    GatewayProcess,
    form_json,
    inbox_task,
    review_process,
    seed_store,
    service_process,
    snapshot,
)

SECRETS = {"jwt": "hostile-jwt-secret-0123456789abcdef0123456789", "gonggai": "hostile-gonggai-0123456789abcdef0123",
           "tuzhi": "hostile-tuzhi-0123456789abcdef0123456"}
BODY_LIMIT = 1024 * 1024
HANG_BOUND = 20.0  # seconds: a hang detector; these answer in milliseconds
VALID = {"resolution": "拆除旧厂房，已办结", "days": 5, "outcome": "resolved", "confirmed": True,
         "visited_on": "2024-05-20", "docs": ["permit"]}


@dataclass
class Stack:
    engine: EngineProcess
    gateway: GatewayProcess
    documents: str
    tokens: TokenService

    def token(self, username: str, roles: list[Role], units: list[str] | None = None) -> dict[str, str]:
        user = User(username=username, display_name=username, roles=roles, unit_ids=units or [])
        return {"Authorization": f"Bearer {self.tokens.issue(user).access_token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("hostile-gateway")
    engine = EngineProcess(base / "engine").start()
    documents = f"sqlite:///{base / 'documents.sqlite3'}"
    gateway = GatewayProcess(engine_address=engine.address, management_url=engine.management_url,
                             documents_url=documents, redis_url=redis_server.url, secrets=SECRETS,
                             log_path=base / "gateway.log",
                             extra_env={"GATEWAY_MAX_BODY_BYTES": str(BODY_LIMIT),
                                        "GATEWAY_APPROVAL_DOCKING_PROCESS": "hostile-docking",
                                        "GATEWAY_DASHBOARD_STALE_SECONDS": "0"})
    try:
        asyncio.run(deploy_docking(engine))
        gateway.start()
        yield Stack(engine, gateway, documents,
                    TokenService(SECRETS["jwt"].encode(), access_seconds=3600, refresh_seconds=3600))
    finally:
        gateway.stop()
        engine.stop()


async def deploy_docking(engine: EngineProcess) -> None:
    """What accepted records start: a service task no worker serves, so instances stay put and countable."""
    raw = RawGateway(engine.address)
    try:
        await raw.deploy(("hostile-docking.bpmn", service_process("hostile-docking", "hostile.docking")))
    finally:
        await raw.close()


@pytest.fixture
async def store(stack: Stack) -> AsyncIterator[DocumentStore]:
    opened = await open_store(stack.documents)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=HANG_BOUND) as http:
        yield http


def assert_problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json", response.headers
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]
    assert response.elapsed.total_seconds() < HANG_BOUND
    return body


def engine_instances(stack: Stack) -> int:
    return len(RecordLog(stack.engine).records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnElementType="PROCESS"))


# -- signed ingest -----------------------------------------------------------------------------------------------


def signed(body: bytes, *, secret: str = SECRETS["gonggai"], timestamp: str | None = None,
           system: str = "gonggai") -> dict[str, str]:
    ts = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Qly-System": system, "X-Qly-Timestamp": ts, "X-Qly-Signature": f"sha256={digest}",
            "Content-Type": "application/json"}


def record(lsh: str) -> dict[str, str]:
    return {"lsh": lsh, "xmdm": "P-HOSTILE-1", "sxbm": "GG-HP-01", "sxmc": "环境影响评价审批", "blzt": "受理",
            "blsj": "2024-05-20 10:30:00", "bljgmc": "生态环境局"}


GOOD = json.dumps(record("HOSTILE-GOOD"), ensure_ascii=False).encode()
DEEP = b"[" * 200_000 + b"]" * 200_000


def forged_cases() -> list[tuple[str, bytes, dict[str, str], int]]:
    now = int(time.time())
    good_headers = signed(GOOD)
    return [
        ("no headers", GOOD, {"Content-Type": "application/json"}, 422),
        ("unknown system", GOOD, signed(GOOD, system="evil"), 401),
        ("wrong secret", GOOD, signed(GOOD, secret="not-the-secret-0123456789abcdef"), 401),
        ("the other system's secret", GOOD, signed(GOOD, secret=SECRETS["tuzhi"]), 401),
        ("signature of another body", GOOD.replace(b"HOSTILE-GOOD", b"HOSTILE-EVIL"), good_headers, 401),
        ("stale", GOOD, signed(GOOD, timestamp=str(now - 3600)), 401),
        ("from the future", GOOD, signed(GOOD, timestamp=str(now + 3600)), 401),
        ("negative time", GOOD, signed(GOOD, timestamp="-5"), 401),
        ("time in unicode digits", GOOD, signed(GOOD, timestamp="\u00b2"), 401),
        ("time far away", GOOD, signed(GOOD, timestamp="9" * 30), 401),
        ("no sha256 prefix", GOOD, {**good_headers, "X-Qly-Signature": good_headers["X-Qly-Signature"][7:].upper()},
         None),
        ("empty signature", GOOD, {**good_headers, "X-Qly-Signature": ""}, 401),
        ("signature too long", GOOD, {**good_headers, "X-Qly-Signature": "sha256=" + "a" * 500}, 422),
    ]


@pytest.mark.parametrize("index", range(13))
async def test_forged_or_stale_signatures_are_refused_and_store_nothing(
        stack: Stack, store: DocumentStore, client: httpx.AsyncClient, index: int) -> None:
    label, body, headers, status = forged_cases()[index]
    before, instances = await snapshot(store), engine_instances(stack)
    response = await client.post("/api/ingest/approvals", content=body,
                                 headers={k: v.encode("latin-1") for k, v in headers.items()})
    if status is None:  # the prefix is optional and the hex case-insensitive: accepted, the only success here
        assert response.status_code in (201, 200), (label, response.text)
        return
    problem = assert_problem(response, status)
    assert (await snapshot(store)) == before, label
    assert engine_instances(stack) == instances, label
    if status == 401:
        assert response.headers.get("www-authenticate") == "HMAC", label
        assert problem["type"] == "/problems/unauthorized"


MALFORMED = [
    ("not json", b"<xml>nope</xml>", 422),
    ("json array", b"[1, 2, 3]", 422),
    ("json string", b'"record"', 422),
    ("empty", b"", 422),
    ("nested deeper than the interpreter can parse", DEEP, 422),
    ("invalid utf-8", b'{"lsh": "\xff\xfe"}', 422),
    ("nan", b'{"lsh": NaN}', 422),
    ("missing fields", b'{"lsh": "HOSTILE-X"}', 422),
    ("a field of the wrong type", json.dumps({**record("HOSTILE-T"), "blsj": 12}).encode(), 422),
    ("a date from the year 10000", json.dumps({**record("HOSTILE-Y"), "blsj": "10000-01-01 00:00:00"}).encode(), 422),
    ("an unknown status", json.dumps({**record("HOSTILE-S"), "blzt": "DROP TABLE"}).encode(), 422),
]


@pytest.mark.parametrize(("label", "body", "status"), MALFORMED, ids=[case[0] for case in MALFORMED])
async def test_malformed_signed_bodies_get_a_precise_problem_and_store_nothing(
        stack: Stack, store: DocumentStore, client: httpx.AsyncClient, label: str, body: bytes, status: int) -> None:
    before, instances = await snapshot(store), engine_instances(stack)
    response = await client.post("/api/ingest/approvals", content=body, headers=signed(body))
    assert_problem(response, status)
    assert (await snapshot(store)) == before
    assert engine_instances(stack) == instances


async def announce_over_the_limit(stack: Stack, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """A request whose Content-Length is over the limit, sent without its body: the gateway must answer 413
    from the header alone (a client that sends the body first may see the connection closed under it)."""
    host, port = "127.0.0.1", stack.gateway.port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {BODY_LIMIT + 1}\r\n\r\n"
                     .encode("latin-1"))
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), HANG_BOUND)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    headers_text, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in headers_text.lower(), raw[:500]
    return int(status_line.split()[1]), json.loads(body)


async def test_bodies_over_the_limit_are_refused_before_they_are_read(stack: Stack, store: DocumentStore) -> None:
    before, instances = await snapshot(store), engine_instances(stack)
    status, problem = await announce_over_the_limit(stack, "/api/ingest/approvals", signed(b"{}"))
    assert status == 413 and problem["status"] == 413 and str(BODY_LIMIT) in problem["detail"]
    staff = stack.token("zrzy", [Role.UNIT_STAFF], ["dept-zrzy"])
    status, problem = await announce_over_the_limit(stack, "/api/tasks/1/complete",
                                                    {**staff, "Content-Type": "application/json"})
    assert status == 413 and problem["type"] == "/problems/payload-too-large"
    assert (await snapshot(store)) == before
    assert engine_instances(stack) == instances


async def test_batches_over_the_limit_or_malformed_are_refused_whole(
        stack: Stack, store: DocumentStore, client: httpx.AsyncClient) -> None:
    before, instances = await snapshot(store), engine_instances(stack)
    for body in (json.dumps({"records": [record(f"HOSTILE-B{i}") for i in range(501)]}).encode(),
                 json.dumps({"records": []}).encode(), b'{"records": {"a": 1}}', b'{"rows": []}', DEEP):
        assert_problem(await client.post("/api/ingest/approvals/batch", content=body, headers=signed(body)), 422)
    assert (await snapshot(store)) == before
    assert engine_instances(stack) == instances


async def test_random_signed_bodies_never_break_the_gateway(
        stack: Stack, store: DocumentStore, client: httpx.AsyncClient) -> None:
    """Random JSON shapes and values, correctly signed: each is refused precisely, or accepted as a record."""
    rng = random.Random("qianliyan-ingest")
    atoms: list[Any] = [None, True, 0, -1, 2**70, 1.5e308, "", " ", "x" * 5000, "🚧", "\u0000", "2024-05-20 10:30:00",
                        "P-HOSTILE-1", "受理", "办结", "GG-HP-01", [], {}]

    def value(depth: int = 0) -> Any:
        roll = rng.random()
        if depth > 3 or roll < 0.6:
            return rng.choice(atoms)
        if roll < 0.8:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(["lsh", "xmdm", "sxbm", "blzt", "blsj", "x", ""]): value(depth + 1) for _ in range(3)}

    statuses = []
    for i in range(60):
        raw = record(f"HOSTILE-R{i}")
        for key in rng.sample(list(raw), rng.randint(1, 3)):
            if rng.random() < 0.3:
                raw.pop(key)
            else:
                raw[key] = value()
        body = json.dumps(raw if rng.random() < 0.9 else value(), ensure_ascii=rng.random() < 0.5).encode()
        response = await client.post("/api/ingest/approvals", content=body, headers=signed(body))
        statuses.append(response.status_code)
        if response.status_code >= 400:
            assert_problem(response, 422)
        else:
            assert response.status_code in (200, 201), response.text
            stored = await store.approvals.get(response.json()["record"]["source"],
                                               response.json()["source_record_id"])
            assert stored is not None
    assert statuses.count(422) > 20


# -- task completion ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> None:
    seed_store(stack.documents)


async def open_task(stack: Stack, store: DocumentStore, client: httpx.AsyncClient) -> tuple[int, int, str]:
    """A review task with a form (deployed through the gateway), in dept-zrzy's inbox."""
    tag = os.urandom(4).hex()
    process_id, form_id, next_job = f"review-{tag}", f"resolution-{tag}", f"after-{tag}"
    designer = stack.token("designer", [Role.PROCESS_DESIGNER])
    files = [("files", (f"{process_id}.bpmn", review_process(process_id, form_id=form_id, next_job=next_job),
                        "application/xml")),
             ("files", (f"{form_id}.form", form_json(form_id), "application/json"))]
    deployed = await client.post("/api/processes/deployments", files=files, headers=designer)
    assert deployed.status_code == 201, deployed.text
    raw = RawGateway(stack.engine.address)
    try:
        instance = await raw.create(process_id, {"projectCode": "P-QJP-1"})
        job = None
        for _ in range(100):
            jobs = await raw.activate("io.camunda.zeebe:userTask", max_jobs=32, timeout=600_000, request_timeout=200)
            for other in jobs:
                if other.processInstanceKey == instance:
                    job = other
                else:
                    await raw.fail(other.key, retries=other.retries)
            if job is not None:
                break
        assert job is not None
    finally:
        await raw.close()
    task = await inbox_task(types.SimpleNamespace(store=store, clock=SystemClock()), job, project_code="P-QJP-1")
    return task.job_key, instance, next_job


def completion_cases() -> list[tuple[str, dict[str, Any], int]]:
    json_headers = {"Content-Type": "application/json"}
    return [
        ("not json", {"content": b"variables=1", "headers": json_headers}, 422),
        # FastAPI's own body parser: 400 "There was an error parsing the body" (the OpenAPI document's 400)
        ("nested deeper than the interpreter can parse", {"content": DEEP, "headers": json_headers}, 400),
        ("variables not an object", {"json": {"variables": [1, 2]}}, 422),
        ("no variables", {"json": {}}, 422),
        ("a required field missing", {"json": {"variables": {k: v for k, v in VALID.items() if k != "resolution"}}},
         422),
        ("a number out of range", {"json": {"variables": {**VALID, "days": 10**40}}}, 422),
        ("a field the form does not have", {"json": {"variables": {**VALID, "__proto__": {"admin": True}}}}, 422),
        ("an option not offered", {"json": {"variables": {**VALID, "outcome": "'; DROP TABLE tasks; --"}}}, 422),
        ("a wrong type", {"json": {"variables": {**VALID, "confirmed": "yes"}}}, 422),
        ("variables larger than allowed", {"json": {"variables": {**VALID, "resolution": "x" * 300_000}}}, 422),
        ("form data as a string", {"content": b'"variables"', "headers": json_headers}, 422),
        ("the wrong media type", {"content": b"resolution=x", "headers": {"Content-Type": "text/plain"}}, 422),
    ]


async def test_hostile_completions_are_refused_and_the_task_stays_open(
        stack: Stack, seeded: None, store: DocumentStore, client: httpx.AsyncClient) -> None:
    key, instance, _ = await open_task(stack, store, client)
    staff = stack.token("zrzy", [Role.UNIT_STAFF], ["dept-zrzy"])
    log = RecordLog(stack.engine)
    before = await snapshot(store)
    for label, request, status in completion_cases():
        response = await client.post(f"/api/tasks/{key}/complete", headers={**staff, **request.pop("headers", {})},
                                     **request)
        body = assert_problem(response, status)
        assert body["detail"], label
        assert (await snapshot(store)) == before, label
    # who may not complete it, or cannot name it
    others = [({}, 401), ({"Authorization": "Bearer forged.token.value"}, 401),
              (stack.token("zjj", [Role.UNIT_STAFF], ["dept-zjj"]), 404),
              (stack.token("investor", [Role.INVESTOR]), 404)]
    for headers, status in others:
        assert_problem(await client.post(f"/api/tasks/{key}/complete", json={"variables": VALID}, headers=headers),
                       status)
    for path, status in ((f"/api/tasks/{key + 10**6}/complete", 404), ("/api/tasks/not-a-key/complete", 422),
                         (f"/api/tasks/{2**70}/complete", 422), ("/api/tasks/-1/complete", 422)):
        assert_problem(await client.post(path, json={"variables": VALID}, headers=staff), status)
    assert (await snapshot(store)) == before
    task = await store.tasks.get(key)
    assert task is not None and task.status == TaskStatus.OPEN
    assert log.records("JOB", "COMPLETED", processInstanceKey=instance) == []
    # and the real completion still works, once
    done = await client.post(f"/api/tasks/{key}/complete", json={"variables": VALID}, headers=staff)
    assert done.status_code == 200, done.text
    again = await client.post(f"/api/tasks/{key}/complete", json={"variables": VALID}, headers=staff)
    assert again.status_code == 200
    assert len(log.records("JOB", "COMPLETED", processInstanceKey=instance)) == 1


# -- CORS, headers, production secrets ---------------------------------------------------------------------------


async def test_cors_is_closed_and_every_answer_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/api/projects", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in preflight.headers
    for response in (preflight, await client.get("/api/projects", headers={"Origin": "https://evil.example"}),
                     await client.get("/healthz")):
        assert "access-control-allow-origin" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("env", "named"), [
    ({}, "JWT_SECRET is missing"),
    ({"JWT_SECRET": "tooshort-SECRETVALUE"}, "JWT_SECRET is shorter than 32 bytes"),
    ({"JWT_SECRET": SECRETS["jwt"], "INGEST_HMAC_SECRET_TUZHI": SECRETS["tuzhi"]},
     "INGEST_HMAC_SECRET_GONGGAI is missing"),
    ({"JWT_SECRET": SECRETS["jwt"], "INGEST_HMAC_SECRET_GONGGAI": "x" * 31, "INGEST_HMAC_SECRET_TUZHI": SECRETS["tuzhi"]},
     "INGEST_HMAC_SECRET_GONGGAI is shorter than 32 bytes"),
], ids=["none", "short-jwt", "no-gonggai", "short-gonggai"])
def test_a_production_start_without_real_secrets_refuses_and_names_what_is_missing(
        tmp_path: Path, env: dict[str, str], named: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "INGEST_HMAC_", "GATEWAY_", "QLY_"))}
    result = subprocess.run([sys.executable, "-m", "gateway", "--port", "1"], cwd=ROOT, capture_output=True,
                            timeout=60, env={**clean, "PYTHONPATH": str(ROOT), "QLY_ENV": "prod", **env,
                                             "DOCUMENTS_URL": f"sqlite:///{tmp_path / 'never-created.sqlite3'}"})
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 2, output[-2000:]
    assert named in output and "QLY_ENV=prod needs a real secret" in output, output[-2000:]
    for value in env.values():
        assert value not in output  # a refused secret is never echoed
    assert not (tmp_path / "never-created.sqlite3").exists()  # refused before touching anything


def test_a_production_start_with_real_secrets_serves(stack: Stack, redis_server: RedisServer, tmp_path: Path) -> None:
    gateway = GatewayProcess(engine_address=stack.engine.address, management_url=stack.engine.management_url,
                             documents_url=f"sqlite:///{tmp_path / 'documents.sqlite3'}", redis_url=redis_server.url,
                             secrets=SECRETS, log_path=tmp_path / "gateway.log", extra_env={"QLY_ENV": "prod"})
    try:
        gateway.start()
        assert httpx.get(f"{gateway.url}/readyz", timeout=10).status_code == 200
    finally:
        gateway.stop()
