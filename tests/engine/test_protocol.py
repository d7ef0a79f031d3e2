"""The gateway protocol at its edges: long polling, deployment validation, rejections, health, management."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pyzeebe.proto import gateway_pb2 as pb

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import ROOT, EngineProcess, free_port


async def test_long_polling_hands_out_a_job_created_while_the_request_waits(gateway: RawGateway) -> None:
    await gateway.deploy(("lp.bpmn", bpmn.simple("lp", "arrives-later")))
    waiting = asyncio.create_task(gateway.activate("arrives-later", request_timeout=20_000))
    await asyncio.sleep(0.5)
    assert not waiting.done()  # nothing to hand out yet: the call waits
    started = time.monotonic()
    key = await gateway.create("lp")
    jobs = await asyncio.wait_for(waiting, 15)
    assert [j.processInstanceKey for j in jobs] == [key]
    # handed out as soon as it existed, long before the 20 s request timeout
    assert time.monotonic() - started < 15


async def test_long_poll_ends_empty_at_its_request_timeout(gateway: RawGateway) -> None:
    started = time.monotonic()
    jobs = await gateway.activate("never", request_timeout=700)
    assert jobs == []
    assert time.monotonic() - started >= 0.6


async def test_long_poll_with_default_timeout_ends_before_the_client_deadline(gateway: RawGateway) -> None:
    """requestTimeout 0 means Zeebe's default (10 s), but never past the caller's own deadline."""
    started = time.monotonic()
    jobs = await gateway.activate("never", request_timeout=0, deadline=2.0)
    assert jobs == []
    assert time.monotonic() - started < 2.0


async def test_waiting_requests_are_served_in_arrival_order(gateway: RawGateway) -> None:
    await gateway.deploy(("q.bpmn", bpmn.simple("q", "queued")))
    first = asyncio.create_task(gateway.activate("queued", worker="first", max_jobs=1, request_timeout=20_000))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(gateway.activate("queued", worker="second", max_jobs=1, request_timeout=20_000))
    await asyncio.sleep(0.3)
    await gateway.create("q")
    assert len(await asyncio.wait_for(first, 10)) == 1
    await gateway.create("q")
    got = await asyncio.wait_for(second, 10)
    assert len(got) == 1 and got[0].worker == "second"


async def test_max_jobs_to_activate_is_respected(gateway: RawGateway) -> None:
    await gateway.deploy(("m.bpmn", bpmn.simple("m", "many")))
    for _ in range(5):
        await gateway.create("m")
    first = await gateway.activate("many", max_jobs=3)
    rest = await gateway.activate("many", max_jobs=10)
    assert len(first) == 3 and len(rest) == 2
    assert not {j.key for j in first} & {j.key for j in rest}


@pytest.mark.parametrize(("resource", "content", "expected"), [
    ("broken.bpmn", b"<bpmn:definitions", "is not well-formed XML"),
    ("dtd.bpmn", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DTD"),
    ("xxe.bpmn", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DTD"),
    ("notbpmn.bpmn", b"<html/>", "is not a BPMN 2.0 model"),
    ("nojob.bpmn", bpmn.process("p", bpmn.start(), '<bpmn:serviceTask id="collect"/>', bpmn.end(),
                                bpmn.chain("start", "collect", "end")),
     "- Element: collect\n    - ERROR: Must have exactly one 'zeebe:taskDefinition' extension element"),
    ("badcond.bpmn", bpmn.process("p", bpmn.start(), bpmn.exclusive("g", default="d"), bpmn.end("a"),
                                  bpmn.end("b"), bpmn.flow("f", "start", "g"),
                                  bpmn.flow("c", "g", "a", "=x >> 2"), bpmn.flow("d", "g", "b")),
     "- Element: c\n    - ERROR: condition: failed to parse expression"),
    ("unknown.bpmn", bpmn.process("p", bpmn.start(), '<bpmn:complexGateway id="cg"/>', bpmn.end(),
                                  bpmn.chain("start", "cg", "end")), "- Element: cg"),
    ("noexec.bpmn", bpmn.definitions('<bpmn:process id="p" isExecutable="false"/>'),
     "Must contain at least one executable process"),
    ("dangling.bpmn", bpmn.process("p", bpmn.start(), bpmn.end(), bpmn.flow("f", "start", "nowhere")),
     "- Element: f"),
    ("notes.txt", b"hello", "Resource type is not supported"),
])
async def test_invalid_deployments_are_rejected_with_element_level_messages(
        gateway: RawGateway, resource: str, content: bytes, expected: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.deploy((resource, content))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.value.details()
    assert details.startswith("Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new "
                              "resources, but encountered the following errors:")
    assert f"'{resource}'" in details
    assert expected in details


async def test_a_rejected_deployment_stores_nothing(gateway: RawGateway, log: RecordLog) -> None:
    good = bpmn.simple("good", "x")
    bad = bpmn.process("bad", bpmn.start(), '<bpmn:serviceTask id="t"/>', bpmn.chain("start", "t"))
    with pytest.raises(grpc.aio.AioRpcError):
        await gateway.deploy(("good.bpmn", good), ("bad.bpmn", bad))
    assert log.records("PROCESS") == []
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.create("good")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    ok = await gateway.deploy(("good.bpmn", good))
    assert ok.deployments[0].process.version == 1


async def test_bad_variables_json_is_invalid_argument_and_changes_nothing(gateway: RawGateway,
                                                                          log: RecordLog) -> None:
    await gateway.deploy(("v.bpmn", bpmn.simple("v", "x")))
    before = len(log.records())
    for variables in ("{not json", "[1, 2]", '"text"'):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await gateway.stub.CreateProcessInstance(pb.CreateProcessInstanceRequest(
                bpmnProcessId="v", version=-1, variables=variables))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Property 'variables' is invalid" in error.value.details()
    assert len(log.records()) == before


async def test_unknown_process_and_invalid_job_requests(gateway: RawGateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.create("nope")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Expected to find process definition with process ID 'nope', but none found" in error.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.activate("x", max_jobs=0)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.update_retries(123, 0)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.resolve(42)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unsupported_rpcs_answer_unimplemented(gateway: RawGateway) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.stub.MigrateProcessInstance(pb.MigrateProcessInstanceRequest(processInstanceKey=1))
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "not supported" in error.value.details()
    # and the engine carries on
    assert (await gateway.stub.Topology(pb.TopologyRequest())).clusterSize == 1


async def test_topology_and_grpc_health(engine: EngineProcess, gateway: RawGateway) -> None:
    topology = await gateway.stub.Topology(pb.TopologyRequest())
    assert topology.partitionsCount == 1 and topology.replicationFactor == 1
    (broker,) = topology.brokers
    assert broker.partitions[0].partitionId == 1 and broker.partitions[0].role == pb.Partition.LEADER
    assert broker.version.startswith("8.")
    health = health_pb2_grpc.HealthStub(gateway.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service="gateway_protocol.Gateway"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_management_endpoints(engine: EngineProcess) -> None:
    assert httpx.get(f"{engine.management_url}/ready").status_code == 200
    assert httpx.get(f"{engine.management_url}/health").json()["status"] == "UP"
    metrics = engine.metrics()
    assert "# TYPE zeebe_process_instances_active gauge" in metrics
    assert "zeebe_journal_commit_seconds_bucket" in metrics


def test_actuator_clock_moves_by_64_bit_milliseconds(engine: EngineProcess) -> None:
    url = engine.management_url
    now = httpx.get(f"{url}/actuator/clock").json()
    ninety_days = 90 * 24 * 3600 * 1000
    moved = httpx.post(f"{url}/actuator/clock/add", json={"offsetMilli": ninety_days}).json()
    assert moved["epochMilli"] - now["epochMilli"] >= ninety_days
    pinned = httpx.post(f"{url}/actuator/clock/pin", json={"epochMilli": 4_102_444_800_000}).json()
    assert pinned == {"epochMilli": 4_102_444_800_000, "instant": "2100-01-01T00:00:00.000Z"}
    assert httpx.get(f"{url}/actuator/clock").json()["epochMilli"] == 4_102_444_800_000
    bad = httpx.post(f"{url}/actuator/clock/pin", json={"epochMilli": "soon"})
    assert bad.status_code == 400
    assert httpx.get(f"{url}/actuator/clock").json()["epochMilli"] == 4_102_444_800_000
    back = httpx.delete(f"{url}/actuator/clock").json()
    assert abs(back["epochMilli"] - time.time() * 1000) < 60_000


def test_clock_api_is_absent_without_the_flag(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "real", clock_controlled=False).start()
    try:
        assert httpx.get(f"{engine.management_url}/actuator/clock").status_code == 404
        assert httpx.post(f"{engine.management_url}/actuator/clock/add", json={"offsetMilli": 5}).status_code == 404
    finally:
        engine.stop()


def test_engine_refuses_a_port_that_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "services.engine", "--data-dir", str(tmp_path / "e"), "--port", str(port),
             "--management-port", str(free_port())], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"can't listen" in result.stderr or b"can't start" in result.stderr


def test_second_engine_on_the_same_data_dir_is_refused(engine: EngineProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.engine", "--data-dir", str(engine.data_dir), "--port", str(free_port()),
         "--management-port", str(free_port())], cwd=ROOT, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"in use by another engine" in result.stderr


async def test_tls_when_a_certificate_is_given(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "1", "-subj", "/CN=localhost",
                           "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], capture_output=True)
    assert made.returncode == 0, made.stderr
    port, management = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.engine", "--data-dir", str(tmp_path / "tls"), "--port", str(port),
         "--management-port", str(management), "--tls-cert", str(cert), "--tls-key", str(key)], cwd=ROOT)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{management}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
            from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

            topology = await GatewayStub(channel).Topology(pb.TopologyRequest(), timeout=10)
            assert topology.brokers[0].port == port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

            with pytest.raises(grpc.aio.AioRpcError):
                await GatewayStub(plain).Topology(pb.TopologyRequest(), timeout=5)
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_set_variables_local_and_propagated(gateway: RawGateway, log: RecordLog) -> None:
    model = bpmn.process("sv", bpmn.start(),
                         bpmn.sub_process("sub", bpmn.start("s0"), bpmn.service("t", "sv"), bpmn.end("s1"),
                                          bpmn.chain("s0", "t", "s1", prefix="g"), inputs={"level": "=\"sub\""}),
                         bpmn.end(), bpmn.chain("start", "sub", "end"))
    await gateway.deploy(("sv.bpmn", model))
    key = await gateway.create("sv", {"level": "root"})
    (job,) = await gateway.activate("sv")
    await gateway.set_variables(job.elementInstanceKey, {"level": "changed", "brand_new": 1})
    await gateway.set_variables(job.elementInstanceKey, {"mine": True}, local=True)
    await gateway.complete(job.key)
    variables = log.variables(key)
    assert variables["level"] == "root"  # the update went to the sub-process' own 'level'
    assert variables["brand_new"] == 1
    assert "mine" not in variables
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await gateway.set_variables(999, {"a": 1})
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
