"""Locust load of the engine over the Zeebe gateway protocol: systems signing projects and job workers doing
the life cycle's work.

Runs in its own venv (.venv-load; locust monkey-patches with gevent) and imports nothing of the project. The
engine's address is locust's ``--host`` (``host:port``, plaintext gRPC: ours or a Zeebe/Camunda 8 gateway).
``load/run.py`` starts an engine and runs this headless; by hand:

    .venv-load/bin/locust -f load/locustfile_engine.py --host 127.0.0.1:26500 --headless -u 30 -r 10 -t 60s

At test start the model load/models/lifecycle-load.bpmn is deployed. Users:

- ``InstanceCreator`` (LOAD_CREATORS of them, default 20): CreateProcessInstance of ``lifecycle-load`` with a
  project's variables at LOAD_CREATE_RATE creates/s each (default 5; 0: as fast as answers come). 30% of the
  projects wait for approval progress: a PublishMessage ``approval-progress`` (correlation key: the code) comes
  1-5 s later for nine in ten of them; the rest stall, and after LOAD_APPROVAL_WITHIN (PT20S) a boundary timer
  sends a stall notice;
- ``JobWorker`` (LOAD_WORKERS, default 10, at least one per job type): ActivateJobs of one job type with a short
  long-polling timeout, then CompleteJob for each job with variables like our workers return, or FailJob (with
  retries left and a short back-off) for LOAD_FAIL_RATE of them (default 0.01).

Each RPC is reported to locust under its own name (request type ``grpc``). ActivateJobs' time includes the
long-polling wait when there is no work, so its percentiles say how idle the workers were, not how slow the
engine was.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gevent
import grpc
import grpc.experimental.gevent
from locust import User, constant, constant_throughput, events, task
from locust.env import Environment
from locust.runners import WorkerRunner
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

# Without it a blocking gRPC call holds the whole process: no other user runs until the answer comes.
grpc.experimental.gevent.init_gevent()

MODEL = Path(__file__).resolve().parent / "models" / "lifecycle-load.bpmn"
PROCESS_ID = "lifecycle-load"
MESSAGE = "approval-progress"
JOB_TYPES = ("load.docking", "load.assignment", "load.notification")
CREATORS = int(os.environ.get("LOAD_CREATORS", "20"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "10"))
CREATE_RATE = float(os.environ.get("LOAD_CREATE_RATE", "5"))
FAIL_RATE = float(os.environ.get("LOAD_FAIL_RATE", "0.01"))
AWAIT_SHARE = 0.3  # of new projects wait for approval progress ...
STALL_SHARE = 0.1  # ... and of these, some never get it: their boundary timer fires after APPROVAL_WITHIN
APPROVAL_WITHIN = os.environ.get("LOAD_APPROVAL_WITHIN", "PT20S")
RPC_TIMEOUT = 30.0
LONG_POLL_MS = 1000

COUNTIES = ("城关区", "七里河区", "西固区", "安宁区", "红古区", "永登县", "皋兰县", "榆中县")
INDUSTRIES = ("新能源", "装备制造", "生物医药", "文旅", "现代物流", "数据中心")
UNITS = ("发改委", "自然资源局", "住建局", "生态环境局", "商务局")
_RUN = uuid.uuid4().hex[:6]
_serial = itertools.count(1)
_worker_types = itertools.cycle(JOB_TYPES)


class RpcFailure(Exception):
    """A gRPC error as locust groups failures: by status and message, not by the call's object identity."""


def address(host: str | None) -> str:
    if not host:
        raise SystemExit("give the engine's gRPC address as --host host:port")
    return host.split("://", 1)[-1].rstrip("/")


def rpc(name: str, call: Callable[[], Any], count: Callable[[Any], int] = lambda _: 0) -> Any:
    """Run one RPC and report it; None when it failed (the failure is in locust's statistics)."""
    started = time.perf_counter()
    result, failure = None, None
    try:
        result = call()
    except grpc.RpcError as error:
        failure = RpcFailure(f"{error.code().name}: {error.details()}")  # type: ignore[attr-defined]
    events.request.fire(request_type="grpc", name=name, response_time=(time.perf_counter() - started) * 1000,
                        response_length=count(result) if result is not None else 0, exception=failure, context={})
    return result


@events.test_start.add_listener
def deploy(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):  # the master (or the local runner) deploys once
        return
    with grpc.insecure_channel(address(environment.host)) as channel:
        request = pb.DeployResourceRequest(resources=[pb.Resource(name=MODEL.name, content=MODEL.read_bytes())])
        if rpc("DeployResource", lambda: GatewayStub(channel).DeployResource(request, timeout=RPC_TIMEOUT)) is None:
            # Every create would fail the same way; stop here so the run says why.
            environment.process_exit_code = 2
            if environment.runner is not None:
                gevent.spawn_later(0, environment.runner.quit)


@events.quit.add_listener
def last_csv_write(**_: Any) -> None:
    # Locust rewrites the --csv files once a second while it runs but not at exit, so they would miss the
    # run's last second; the users have stopped by now: one more pass of its writer makes them whole.
    gevent.sleep(1.2)


class GrpcUser(User):
    abstract = True

    def on_start(self) -> None:
        self.channel = grpc.insecure_channel(address(self.environment.host))
        self.gateway = GatewayStub(self.channel)

    def on_stop(self) -> None:
        self.channel.close()


class InstanceCreator(GrpcUser):
    """A signing system: a new project's life cycle each time, and approval progress for the projects it signed a
    few seconds ago that wait for it (by then their instances wait at the receive task)."""

    fixed_count = CREATORS
    wait_time = constant_throughput(CREATE_RATE) if CREATE_RATE > 0 else constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.awaiting: deque[tuple[float, str]] = deque()  # (when its progress comes, project code)

    @task
    def sign(self) -> None:
        code = f"LOAD-{_RUN}-{next(_serial):07d}"
        awaits = random.random() < AWAIT_SHARE
        variables = {
            "code": code, "name": f"{random.choice(INDUSTRIES)}项目 {code}", "county": random.choice(COUNTIES),
            "industry": random.choice(INDUSTRIES), "investment": round(random.uniform(0.5, 80.0), 2),
            "signingDate": (date.today() - timedelta(days=random.randint(0, 30))).isoformat(),
            "stage": "signed", "awaitApproval": awaits, "approvalWithin": APPROVAL_WITHIN,
        }
        request = pb.CreateProcessInstanceRequest(bpmnProcessId=PROCESS_ID, version=-1,
                                                  variables=json.dumps(variables, ensure_ascii=False))
        created = rpc("CreateProcessInstance", lambda: self.gateway.CreateProcessInstance(request, timeout=RPC_TIMEOUT))
        if created is not None and awaits and random.random() >= STALL_SHARE:
            self.awaiting.append((time.monotonic() + random.uniform(1.0, 5.0), code))
        while self.awaiting and self.awaiting[0][0] <= time.monotonic():
            self.approval_progress(self.awaiting.popleft()[1])

    def approval_progress(self, code: str) -> None:
        # Should the instance not be at the receive task yet, the TTL keeps the message until it is.
        request = pb.PublishMessageRequest(
            name=MESSAGE, correlationKey=code, timeToLive=60_000, messageId=f"{code}-filing",
            variables=json.dumps({"stage": "filing", "approvalItem": "项目备案", "progressAt": int(time.time() * 1000)},
                                 ensure_ascii=False))
        rpc("PublishMessage", lambda: self.gateway.PublishMessage(request, timeout=RPC_TIMEOUT))


def job_result(job: Any) -> dict[str, Any]:
    """What our workers return for this kind of job (services/workers), in shape."""
    if job.type == "load.docking":
        return {"dockingStatus": "matched", "approvalItems": ["立项", "用地预审", "环评", "施工许可"]}
    if job.type == "load.assignment":
        return {"unitIds": random.sample(UNITS, 2), "assignedAt": int(time.time() * 1000)}
    return {"notified": ["office", "leaders"], "template": json.loads(job.customHeaders or "{}").get("template")}


class JobWorker(GrpcUser):
    """A job worker of one job type (the types are dealt out in turn), activating and completing in a loop."""

    fixed_count = WORKERS
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        self.job_type = next(_worker_types)
        self.worker_name = f"load-{self.job_type.split('.')[1]}-{uuid.uuid4().hex[:4]}"

    @task
    def work(self) -> None:
        request = pb.ActivateJobsRequest(type=self.job_type, worker=self.worker_name, timeout=60_000, maxJobsToActivate=32,
                                         requestTimeout=LONG_POLL_MS)

        def activate() -> list[Any]:
            return [job for response in self.gateway.ActivateJobs(request, timeout=RPC_TIMEOUT)
                    for job in response.jobs]

        for job in rpc("ActivateJobs", activate, len) or ():
            if job.retries > 1 and random.random() < FAIL_RATE:
                failed = pb.FailJobRequest(jobKey=job.key, retries=job.retries - 1, retryBackOff=500,
                                           errorMessage="load: the approval system timed out")
                rpc("FailJob", lambda r=failed: self.gateway.FailJob(r, timeout=RPC_TIMEOUT))
            else:
                done = pb.CompleteJobRequest(jobKey=job.key, variables=json.dumps(job_result(job), ensure_ascii=False))
                rpc("CompleteJob", lambda r=done: self.gateway.CompleteJob(r, timeout=RPC_TIMEOUT))
