"""Hostile calls to the engine's gRPC API and hostile expressions evaluated by the engine: each gets a precise
status (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION) or an incident naming the problem, never INTERNAL or
UNKNOWN; what was refused changed nothing (the job can still be activated and completed, no instance was
half created), and the engine keeps serving. Found by these tests and fixed in the engine: an ActivateJobs
timeout whose deadline does not fit the answer lost the jobs it activated (UNKNOWN); variables nested deeper
than 1024 levels answered INTERNAL; a timer duration past the year 9999 answered INTERNAL after the instance
was half created; a model looping over a regular expression that may backtrack held the engine for one
second per iteration."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from services.engine.feel import FeelError, compile_expression
from tests.engine import bpmn
from tests.engine.scenario import module_engine, unique
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess

engine = module_engine()

INT64_MAX = 2**63 - 1
HANG_BOUND = 30.0  # seconds: a hang detector (the regex loop below held the engine ~1000 s before its fix)
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
async def gateway(engine: EngineProcess) -> Any:
    client = RawGateway(engine.address)
    try:
        yield client
    finally:
        await client.close()


async def status_of(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    started = time.monotonic()
    try:
        await call
    except grpc.aio.AioRpcError as error:
        code, details = error.code(), error.details() or ""
    else:
        code, details = grpc.StatusCode.OK, ""
    assert time.monotonic() - started < HANG_BOUND
    assert code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), details
    return code, details


async def one_job(gateway: RawGateway, job_type: str) -> pb.ActivatedJob:
    jobs = await gateway.activate(job_type, max_jobs=1, request_timeout=2_000)
    assert len(jobs) == 1
    return jobs[0]


async def test_an_activation_timeout_beyond_the_representable_is_refused_and_loses_no_job(
        gateway: RawGateway, engine: EngineProcess) -> None:
    process, job_type = unique("huge-timeout"), unique("huge-timeout.work")
    await gateway.deploy((f"{process}.bpmn", bpmn.simple(process, job_type)))
    instance = await gateway.create(process)

    async def activate(timeout: int) -> list[pb.ActivatedJob]:
        jobs = []
        async for response in gateway.stub.ActivateJobs(pb.ActivateJobsRequest(
                type=job_type, worker="hostile", timeout=timeout, maxJobsToActivate=1, requestTimeout=200)):
            jobs.extend(response.jobs)
        return jobs

    for timeout in (INT64_MAX, INT64_MAX - 1, 10**17):
        code, details = await status_of(activate(timeout))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "timeout" in details, (timeout, code, details)
    code, _ = await status_of(activate(0))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    job = await one_job(gateway, job_type)  # still there to be handed out
    assert job.processInstanceKey == instance
    await gateway.complete(job.key)
    assert RecordLog(engine).instance_state(instance) == "ELEMENT_COMPLETED"


@pytest.mark.parametrize("variables", [
    DEEP, '{"a": ' + DEEP + "}", "[1, 2]", '"text"', "{", '{"a": 1,}', "\x00", '{"a": "\\ud800"}' + "x",
], ids=["deep-array", "deep-value", "array", "string", "unclosed", "trailing-comma", "nul", "junk-after"])
async def test_malformed_variables_are_refused_and_the_job_stays_completable(
        gateway: RawGateway, engine: EngineProcess, variables: str) -> None:
    process, job_type = unique("bad-vars"), unique("bad-vars.work")
    await gateway.deploy((f"{process}.bpmn", bpmn.simple(process, job_type)))
    code, details = await status_of(gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
        bpmnProcessId=process, version=-1, variables=variables)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "variables" in details, (code, details[:300])
    log = RecordLog(engine)
    assert log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnProcessId=process) == []  # nothing half made
    instance = await gateway.create(process)
    job = await one_job(gateway, job_type)
    code, details = await status_of(gateway.stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key,
                                                                                   variables=variables)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "variables" in details, (code, details[:300])
    assert log.records("JOB", "COMPLETED", processInstanceKey=instance) == []
    await gateway.complete(job.key, {"fine": True})
    assert log.instance_state(instance) == "ELEMENT_COMPLETED"


async def test_extreme_numbers_and_unknown_keys_get_precise_answers(gateway: RawGateway) -> None:
    stub = gateway.stub
    cases: list[tuple[str, Awaitable[Any], set[grpc.StatusCode]]] = [
        ("cancel an unknown instance", stub.CancelProcessInstance(
            pb.CancelProcessInstanceRequest(processInstanceKey=INT64_MAX)), {grpc.StatusCode.NOT_FOUND}),
        ("complete an unknown job", stub.CompleteJob(pb.CompleteJobRequest(jobKey=-1)), {grpc.StatusCode.NOT_FOUND}),
        ("fail an unknown job", stub.FailJob(pb.FailJobRequest(jobKey=0, retries=-1)),
         {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}),
        ("negative retries", stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=1, retries=-5)),
         {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT}),
        ("resolve an unknown incident", stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=-1)),
         {grpc.StatusCode.NOT_FOUND}),
        ("variables of no element", stub.SetVariables(pb.SetVariablesRequest(elementInstanceKey=-1, variables="{}")),
         {grpc.StatusCode.NOT_FOUND}),
        ("a version that does not exist", stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
            bpmnProcessId="nothing-here", version=2**31 - 1)), {grpc.StatusCode.NOT_FOUND}),
        ("a negative message TTL", stub.PublishMessage(pb.PublishMessageRequest(
            name="m", correlationKey="c", timeToLive=-1)), {grpc.StatusCode.INVALID_ARGUMENT}),
        ("a blank job type", stub.ActivateJobs(pb.ActivateJobsRequest(type="  ", timeout=1000, maxJobsToActivate=1)),
         {grpc.StatusCode.INVALID_ARGUMENT}),
        ("no resources", stub.DeployResource(pb.DeployResourceRequest()), {grpc.StatusCode.INVALID_ARGUMENT}),
        ("an unknown resource type", stub.DeployResource(pb.DeployResourceRequest(
            resources=[pb.Resource(name="evil.exe", content=b"MZ")])), {grpc.StatusCode.INVALID_ARGUMENT}),
        ("a decision that does not exist", stub.EvaluateDecision(pb.EvaluateDecisionRequest(decisionId="nope")),
         {grpc.StatusCode.NOT_FOUND}),
    ]
    for label, call, expected in cases:
        if label == "a blank job type":
            async def drain(stream: Any = call) -> None:
                async for _ in stream:
                    pass
            code, details = await status_of(drain())
        else:
            code, details = await status_of(call)
        assert code in expected, (label, code, details)
        assert details, label
    topology = await gateway.stub.Topology(pb.TopologyRequest())
    assert topology.brokers


# -- hostile expressions, evaluated by the engine --------------------------------------------------------------


async def test_a_timer_past_the_year_9999_is_an_incident_not_a_half_made_instance(
        gateway: RawGateway, engine: EngineProcess) -> None:
    process = unique("far-timer")
    model = bpmn.process(process, bpmn.start(), bpmn.catch("wait", bpmn.timer("duration", "=wait")), bpmn.end(),
                         bpmn.chain("start", "wait", "end"))
    await gateway.deploy((f"{process}.bpmn", model))
    log = RecordLog(engine)
    for wait in ("P99999999999Y", "P9999Y", "P999999999999D", "PT99999999999999H"):
        code, details = await status_of(gateway.create(process, {"wait": wait}))
        assert code == grpc.StatusCode.OK, details
        [instance] = [r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnProcessId=process,
                                                     bpmnElementType="PROCESS")][-1:]
        [incident] = log.open_incidents(instance)
        assert wait in incident["value"]["errorMessage"] or "outside the years" in incident["value"]["errorMessage"]
        assert incident["value"]["elementId"] == "wait"
    static = bpmn.process(unique("far-static"), bpmn.start(), bpmn.catch("wait", bpmn.timer("duration", "P9999999999D")),
                          bpmn.end(), bpmn.chain("start", "wait", "end"))
    code, details = await status_of(gateway.deploy(("far-static.bpmn", static)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "P9999999999D" in details


HOSTILE_FEEL = [
    ("=" + "(" * 5000 + "1" + ")" * 5000, "deploy"),
    ('="unterminated', "deploy"),
    ("=1 +", "deploy"),
    ("=x" + "+1" * 60_000, "deploy"),
    ("=for x in 1..10000000000 return x", "incident"),
    ("={f: function(n) f(n)}.f(1)", "incident"),
    ('=for i in 1..1000 return matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "(a+)+$")', "incident"),
    ("=2 ** 999999999", "value"),
    ('=string join(for i in 1..100000 return "xxxxxxxxxx")', "value"),
    ('=date("9999999999-01-01")', "value"),
]


@pytest.mark.parametrize(("expression", "outcome"), HOSTILE_FEEL, ids=range(len(HOSTILE_FEEL)))
async def test_a_hostile_expression_is_refused_or_becomes_an_incident(
        gateway: RawGateway, engine: EngineProcess, expression: str, outcome: str) -> None:
    process = unique("hostile-feel")
    model = bpmn.process(process, bpmn.start(), bpmn.service("work", unique("feel.work"), inputs={"x": expression}),
                         bpmn.end(), bpmn.chain("start", "work", "end"))
    code, details = await status_of(gateway.deploy((f"{process}.bpmn", model)))
    if outcome == "deploy":
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "Element: work" in details, details[:300]
        with pytest.raises(FeelError):
            compile_expression(expression[1:])
        return
    assert code == grpc.StatusCode.OK, details[:300]
    started = time.monotonic()
    code, details = await status_of(gateway.create(process, {"x": 1}))
    assert code == grpc.StatusCode.OK, details
    assert time.monotonic() - started < HANG_BOUND
    log = RecordLog(engine)
    [instance] = [r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnProcessId=process,
                                                 bpmnElementType="PROCESS")]
    incidents = log.open_incidents(instance)
    if outcome == "incident":
        assert len(incidents) == 1 and incidents[0]["value"]["errorType"] == "IO_MAPPING_ERROR"
        assert "failed to evaluate" in incidents[0]["value"]["errorMessage"]
    else:
        assert incidents == []
    # and the engine answers others meanwhile
    assert (await gateway.stub.Topology(pb.TopologyRequest())).brokers
