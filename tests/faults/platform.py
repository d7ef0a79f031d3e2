"""The whole platform as separate processes, for the fault tests: Redis (append-only file), the engine (with its
documents and Redis exporters, clock controlled), `python -m services.workers`, `python -m gateway`, and a local
DingTalk robot endpoint. Any of them can be killed with SIGKILL and started again on the same ports and data.

`Reporters` is the load: people reporting problems through the gateway at a steady rate, each report carrying
its own id and retried until the gateway acknowledges it, as a client that wants exactly once must do.
`check_invariants` then compares the documents with the engine's record log: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from gateway.auth.tokens import TokenService
from services.demo.seed import SeedReport, fast_hasher, seed_directory
from shared.documents import DocumentStore, open_store
from shared.documents.models import Actor, NotificationStatus, PageRequest, Role, TaskFilter, User
from shared.redis_server import RedisServer, free_port
from tests.integration.workers.harness import project
from tests.integration.workers.sinks import HttpSink

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"jwt": "faults-jwt-secret-0123456789abcdef0123456789", "gonggai": "faults-gonggai-0123456789abcdef0123",
           "tuzhi": "faults-tuzhi-0123456789abcdef012345678"}
USER_TASK = "io.camunda.zeebe:userTask"
# Saturday 28 June 2025, 10:00 in Huai'an, as the domain tests use: no timer of problem handling is due for days.
T0 = datetime(2025, 6, 28, 2, 0, tzinfo=UTC)
PROJECTS = [f"2024-320812-FAULT-{n:02d}" for n in range(4)]


@dataclass
class Proc:
    """A child process that can be killed and started again with the same command and environment."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[[httpx.AsyncClient], Awaitable[bool]]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    async def start(self, within: float = 60.0) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)},
                                            stdout=log, stderr=subprocess.STDOUT)
        self.starts += 1
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if await self.ready(http):
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to finish, flush or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        for _ in range(300):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.1)
        self.kill()

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-3000:]
        return ""


def _http_ok(url: str) -> Callable[[httpx.AsyncClient], Awaitable[bool]]:
    async def ready(http: httpx.AsyncClient) -> bool:
        return (await http.get(url)).status_code == 200

    return ready


class Platform:
    def __init__(self, base: Path, documents_url: str) -> None:
        self.base = base
        self.documents_url = documents_url
        self.redis = RedisServer(data_dir=base / "redis", persistence="aof")
        self.sink = HttpSink()
        self.engine_port, self.management_port = free_port(), free_port()
        self.gateway_port, self.metrics_port = free_port(), free_port()
        self.tokens = TokenService(SECRETS["jwt"].encode(), access_seconds=3600, refresh_seconds=3600)
        self.engine: Proc
        self.workers: Proc
        self.gateway: Proc

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def engine_db(self) -> Path:
        return self.base / "engine" / "engine.sqlite3"

    async def start(self) -> None:
        self.redis.start()
        await self.sink.start()
        python = sys.executable
        common = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "QLY_ENV": "dev",
                  "ZEEBE_ADDRESS": f"127.0.0.1:{self.engine_port}", "ZEEBE_MANAGEMENT_URL": self.management_url,
                  "DOCUMENTS_URL": self.documents_url, "REDIS_URL": self.redis.url}
        self.engine = Proc("engine", [
            python, "-m", "services.engine", "--data-dir", str(self.base / "engine"), "--port", str(self.engine_port),
            "--management-port", str(self.management_port), "--clock-controlled", "--sync", "NORMAL",
            "--exporter", f"documents={self.documents_url}", "--exporter", f"redis={self.redis.url}"],
            {**common, "LOG_LEVEL": "WARNING"}, self.base / "engine.log", _http_ok(f"{self.management_url}/ready"))
        self.workers = Proc("workers", [python, "-m", "services.workers"], {
            **common, "DINGTALK_WEBHOOK_URL": self.sink.url, "NOTIFY_BACKOFF": "PT1S",
            "WORKER_METRICS_PORT": str(self.metrics_port)}, self.base / "workers.log",
            _http_ok(f"http://127.0.0.1:{self.metrics_port}/metrics"))
        self.gateway = Proc("gateway", [python, "-m", "gateway", "--port", str(self.gateway_port)], {
            **common, "JWT_SECRET": SECRETS["jwt"], "INGEST_HMAC_SECRET_GONGGAI": SECRETS["gonggai"],
            "INGEST_HMAC_SECRET_TUZHI": SECRETS["tuzhi"], "GATEWAY_ENGINE_TIMEOUT_SECONDS": "5"},
            self.base / "gateway.log", _http_ok(f"{self.gateway_url}/healthz"))
        await self.engine.start()
        async with httpx.AsyncClient() as http:
            pinned = await http.post(f"{self.management_url}/actuator/clock/pin",
                                     json={"epochMilli": int(T0.timestamp() * 1000)})
            pinned.raise_for_status()
        await self._deploy_and_seed()
        await self.workers.start()
        await self.gateway.start()

    async def _deploy_and_seed(self) -> None:
        from pyzeebe import ZeebeClient, create_insecure_channel

        from services.demo.deploy import deploy_models

        channel = create_insecure_channel(grpc_address=f"127.0.0.1:{self.engine_port}")
        try:
            await deploy_models(ZeebeClient(channel))
        finally:
            await channel.close()
        async with await open_store(self.documents_url) as store:
            await seed_directory(store, fast_hasher(), SeedReport(), investors=2)
            for code in PROJECTS:
                await store.projects.upsert(project(code, investors=("investor01",)), actor=Actor.system("faults"))

    async def stop(self) -> None:
        for proc in (getattr(self, "gateway", None), getattr(self, "workers", None), getattr(self, "engine", None)):
            if proc is not None:
                await proc.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        await self.sink.stop()

    # -- the engine, read from its SQLite file (committed state only) ---------------------------------------------

    def records(self, value_type: str, intent: str | None = None) -> list[dict[str, Any]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.engine_db}?mode=ro", uri=True, timeout=30)) as db:
            sql = "SELECT record_key, intent, value FROM records WHERE value_type = ?"
            args: list[Any] = [value_type]
            if intent is not None:
                sql += " AND intent = ?"
                args.append(intent)
            return [{"key": key, "intent": i, "value": json.loads(value)} for key, i, value in db.execute(sql, args)]

    def instances_of(self, bpmn_process_id: str) -> dict[int, dict[str, Any]]:
        """Every process instance of ``bpmn_process_id`` the engine started: key -> its activation record value."""
        return {r["key"]: r["value"] for r in self.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATED")
                if r["value"].get("bpmnElementType") == "PROCESS" and r["value"]["bpmnProcessId"] == bpmn_process_id}

    def head(self) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.engine_db}?mode=ro", uri=True, timeout=30)) as db:
            return int(db.execute("SELECT max(position) FROM records").fetchone()[0] or 0)

    async def metrics(self, http: httpx.AsyncClient) -> str:
        return (await http.get(f"{self.management_url}/metrics", timeout=10)).text

    async def clock_add(self, ms: int) -> None:
        async with httpx.AsyncClient(timeout=120) as http:
            (await http.post(f"{self.management_url}/actuator/clock/add", json={"offsetMilli": ms})).raise_for_status()

    def token(self, username: str, role: Role) -> str:
        return self.tokens.issue(User(username=username, display_name=username, roles=[role])).access_token


@contextlib.asynccontextmanager
async def running(base: Path, documents_url: str) -> AsyncIterator[Platform]:
    platform = Platform(base, documents_url)
    try:
        await platform.start()
        yield platform
    finally:
        await platform.stop()


def gauge(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(k) == v for k, v in labels.items()):
            out.append((found, float(value)))
    return out


# -- the load ------------------------------------------------------------------------------------------------------


@dataclass
class Reporters:
    """Investors reporting problems: ``rate`` reports a second, each retried (same id) until acknowledged."""

    platform: Platform
    rate: float = 6.0
    attempted: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    refusals: Counter[str] = field(default_factory=Counter)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run()))

    async def stop_and_drain(self, within: float = 90.0) -> None:
        """Stop starting new reports, and see every report already started acknowledged."""
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), within)

    async def _run(self) -> None:
        token = self.platform.token("investor01", Role.INVESTOR)
        headers = {"Authorization": f"Bearer {token}"}
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(base_url=self.platform.gateway_url, timeout=8.0, headers=headers) as http:
            n = 0
            while not self._stop.is_set():
                problem_id = f"fault-{n:05d}"
                self.attempted.append(problem_id)
                task = asyncio.create_task(self._report(http, problem_id, n))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1 / self.rate)
            if pending:
                await asyncio.gather(*pending)

    async def _report(self, http: httpx.AsyncClient, problem_id: str, n: int) -> None:
        body = {"id": problem_id, "project_code": PROJECTS[n % len(PROJECTS)], "category": "land",
                "title": f"故障测试 {problem_id}", "description": "reported under load while a service fails"}
        while True:
            try:
                response = await http.post("/api/problems", json=body)
            except httpx.HTTPError as error:
                self.refusals[type(error).__name__] += 1
            else:
                if response.status_code in (200, 201):
                    self.acknowledged.add(problem_id)
                    return
                self.refusals[str(response.status_code)] += 1
                if response.status_code < 500:
                    raise AssertionError(f"{problem_id}: {response.status_code} {response.text[:300]}")
            await asyncio.sleep(0.3)


# -- settling and the invariants -----------------------------------------------------------------------------------


async def settle(platform: Platform, store: DocumentStore, expected: set[str], within: float = 150.0) -> None:
    """Wait until every report has its problem-handling instance waiting at its user tasks, each task in the
    inbox, no job waiting or backing off, and both exporters at the engine's head."""
    deadline = time.monotonic() + within
    last = ""
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            text = await platform.metrics(http)
            waiting = [labels for labels, v in gauge(text, "zeebe_jobs_open") if v and (
                labels["state"] in ("ACTIVATABLE", "FAILED") or (labels["state"] == "ACTIVATED"
                                                                 and labels["type"] != USER_TASK))]
            lag = [v for _, v in gauge(text, "zeebe_exporter_lag_records")]
            user_tasks = sum(v for _, v in gauge(text, "zeebe_jobs_open", type=USER_TASK))
            tasks = (await store.tasks.list(TaskFilter(), PageRequest(size=1))).total
            problems = (await store.problems.list(page=PageRequest(size=1))).total
            last = f"waiting jobs {waiting}, exporter lag {lag}, user tasks {user_tasks}, inbox {tasks}, problems {problems}"
            if not waiting and lag and not any(lag) and problems == len(expected) and tasks == user_tasks and tasks:
                return
            await asyncio.sleep(0.5)
    raise TimeoutError(f"the platform did not settle within {within} s: {last}")


async def all_pages(fetch: Callable[[PageRequest], Awaitable[Any]]) -> list[Any]:
    items: list[Any] = []
    page = 1
    while True:
        found = await fetch(PageRequest(page=page, size=500))
        items.extend(found.items)
        if page >= found.pages:
            return items
        page += 1


async def check_invariants(platform: Platform, store: DocumentStore, reporters: Reporters) -> dict[str, int]:
    """Nothing lost, nothing doubled: problems, instances, jobs, inbox tasks, notifications, audit entries,
    and the exporter's views of the instances."""
    attempted = set(reporters.attempted)
    assert reporters.acknowledged == attempted, "every report was retried until acknowledged"
    problems = {p.id: p for p in await all_pages(lambda page: store.problems.list(page=page))}
    assert set(problems) == attempted, (sorted(attempted - set(problems))[:10], sorted(set(problems) - attempted)[:10])

    # one problem-handling instance per problem (the message id is the problem id)
    instances = platform.instances_of("problem-handling")
    problem_of: dict[int, str] = {}
    for record in platform.records("VARIABLE", "CREATED"):
        value = record["value"]
        if value.get("name") == "problemId" and value.get("scopeKey") in instances:
            problem_of[value["scopeKey"]] = json.loads(value["value"])
    per_problem = Counter(problem_of.values())
    assert set(problem_of) == set(instances), "every instance names its problem"
    assert set(per_problem) == attempted and set(per_problem.values()) == {1}, per_problem.most_common(3)

    # jobs: each completed at most once, none left waiting, no incident
    completed = Counter(r["key"] for r in platform.records("JOB", "COMPLETED"))
    assert not completed or max(completed.values()) == 1
    assert platform.records("INCIDENT", "CREATED") == [], platform.records("INCIDENT", "CREATED")[:3]
    created = {r["key"]: r["value"] for r in platform.records("JOB", "CREATED")}
    user_jobs = {key: v for key, v in created.items() if v["type"] == USER_TASK and key not in completed}
    service_jobs = [key for key, v in created.items() if v["type"] != USER_TASK]
    assert set(service_jobs) <= set(completed) | {r["key"] for r in platform.records("JOB", "CANCELED")}

    # the inbox: every open user-task job exactly once, on its instance
    tasks = await all_pages(lambda page: store.tasks.list(TaskFilter(), page))
    inbox = Counter(t.job_key for t in tasks)
    assert inbox == Counter(user_jobs.keys()), ("one inbox task per open user-task job",
                                         sorted(set(user_jobs) - set(inbox))[:5], sorted(set(inbox) - set(user_jobs))[:5],
                                         [k for k, n in inbox.items() if n > 1][:5])
    for task in tasks:
        assert user_jobs[task.job_key]["processInstanceKey"] == task.process_instance_key
    tasks_per_instance = Counter(t.process_instance_key for t in tasks)
    assert set(tasks_per_instance) == set(instances)

    # notifications: each sent, each delivered once (a second delivery only after a claim that died)
    notes = await all_pages(lambda page: store.notifications.list(page=page))
    assert notes and all(n.status == NotificationStatus.SENT for n in notes), Counter(n.status for n in notes)
    delivered = Counter()
    for request in platform.sink.requests:
        text = json.dumps(request.body, ensure_ascii=False)
        for problem_id in re.findall(r"fault-\d{5}", text):
            delivered[problem_id] += 1
    by_problem: dict[str, list[Any]] = defaultdict(list)
    for note in notes:
        match = re.search(r"fault-\d{5}", note.body)
        assert match, note.body
        by_problem[match.group(0)].append(note)
    assert set(by_problem) == attempted
    for problem_id, its_notes in by_problem.items():
        retried = sum(n.attempts - 1 for n in its_notes)
        assert len(its_notes) <= delivered[problem_id] <= len(its_notes) + retried, (problem_id, delivered[problem_id])

    # audit: one creation per problem, one entry per change of its history
    for problem_id, problem in problems.items():
        entries = await all_pages(lambda page, pid=problem_id: store.audit.list(target_kind="problem",
                                                                              target_id=pid, page=page))
        actions = Counter(e.action for e in entries)
        assert actions["problem.create"] == 1, (problem_id, actions)
        assert sum(actions.values()) == len(problem.history), (problem_id, actions, len(problem.history))

    # the documents exporter's views: every instance, active, once
    for key in instances:
        view = await store.engine.get_process_instance(key)
        assert view is not None and view.state == "active", (key, view)
    return {"problems": len(problems), "instances": len(instances), "jobs_completed": len(completed),
            "inbox_tasks": len(tasks), "notifications": len(notes), "deliveries": len(platform.sink.requests)}
