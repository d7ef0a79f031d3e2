"""Durability: a SIGKILL loses nothing that was acknowledged, and a restart continues exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import grpc
from pyzeebe.proto import gateway_pb2 as pb

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess, eventually

INSTANCES = 200


async def _worker(address: str, acked: list[int], executed: Counter[int], stop: asyncio.Event) -> None:
    """Activate and complete jobs until told to stop, riding out the engine's death and restart."""
    channel = grpc.aio.insecure_channel(address)
    client = RawGateway.__new__(RawGateway)
    client.channel, client.stub = channel, __import__("pyzeebe.proto.gateway_pb2_grpc",
                                                      fromlist=["x"]).GatewayStub(channel)
    try:
        while not stop.is_set():
            try:
                jobs = await client.activate("step", max_jobs=5, timeout=3_000, request_timeout=500, deadline=5)
                for job in jobs:
                    executed[job.key] += 1
                    await asyncio.sleep(0.005)  # the work itself
                    await client.complete(job.key, {"done_by": "worker"})
                    acked.append(job.key)
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.NOT_FOUND:
                    continue  # a job completed before the crash and handed out again after a timeout
                await asyncio.sleep(0.05)  # the engine is down: try again
    finally:
        await channel.close()


async def test_sigkill_while_workers_complete_jobs_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine", sync="FULL").start()
    log = RecordLog(engine)
    gateway = RawGateway(engine.address)
    acked: list[int] = []
    executed: Counter[int] = Counter()
    stop = asyncio.Event()
    workers = []
    try:
        await gateway.deploy(("durable.bpmn", bpmn.simple("durable", "step")))
        created = [await gateway.create("durable", {"n": i}) for i in range(INSTANCES)]
        workers = [asyncio.create_task(_worker(engine.address, acked, executed, stop)) for _ in range(2)]
        assert await eventually(lambda: len(acked) >= INSTANCES // 3, timeout=60)
        engine.kill()
        acked_before_kill = set(acked)
        assert 0 < len(acked_before_kill) < INSTANCES
        await asyncio.sleep(0.5)
        engine.start()
        # every acknowledged completion survived the crash
        completed_jobs = {r["key"] for r in log.records("JOB", "COMPLETED")}
        assert acked_before_kill <= completed_jobs

        def finished() -> int:
            return sum(1 for r in log.records("PROCESS_INSTANCE", "ELEMENT_COMPLETED", bpmnElementType="PROCESS"))

        assert await eventually(lambda: finished() >= INSTANCES, timeout=120)
        stop.set()
        await asyncio.gather(*workers)
        # exactly once: each instance completed one time, each job completed one time
        completions = Counter(r["key"] for r in log.records("PROCESS_INSTANCE", "ELEMENT_COMPLETED",
                                                            bpmnElementType="PROCESS"))
        assert sorted(completions) == sorted(created)
        assert set(completions.values()) == {1}
        job_completions = Counter(r["key"] for r in log.records("JOB", "COMPLETED"))
        assert len(job_completions) == INSTANCES and set(job_completions.values()) == {1}
        assert all(json.loads(v) == "worker" for v in _done_by_values(log))
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        await gateway.close()
        engine.stop()


def _done_by_values(log: RecordLog) -> list[str]:
    return [r["value"]["value"] for r in log.records("VARIABLE", "CREATED", name="done_by")]


async def test_restart_continues_from_committed_state(tmp_path: Path) -> None:
    """Instances, jobs, incidents and buffered work survive a clean restart as they were."""
    engine = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(engine.address)
    log = RecordLog(engine)
    try:
        await gateway.deploy(("r.bpmn", bpmn.simple("r", "work", retries=1)))
        waiting = await gateway.create("r", {"keep": "me"})
        failing = await gateway.create("r")
        jobs = await gateway.activate("work", max_jobs=2)
        failed_job = next(j for j in jobs if j.processInstanceKey == failing)
        await gateway.fail(failed_job.key, retries=0, message="broken")
        engine.kill()
        engine.start()
        await gateway.close()
        gateway = RawGateway(engine.address)
        (incident,) = log.open_incidents(failing)
        assert incident["value"]["errorMessage"] == "broken"
        # the other job is still activated by its first worker until its deadline
        assert await gateway.activate("work") == []
        engine.clock_add(10 * 60_000)
        (job,) = await gateway.activate("work")
        assert job.processInstanceKey == waiting and json.loads(job.variables) == {"keep": "me"}
        await gateway.complete(job.key)
        assert log.instance_state(waiting) == "ELEMENT_COMPLETED"
        await gateway.update_retries(failed_job.key, 1)
        await gateway.resolve(incident["key"])
        (retried,) = await gateway.activate("work")
        assert retried.key == failed_job.key
        # keys keep growing after a restart: nothing is handed out twice
        highest_before = max(r["key"] for r in log.records())
        new_key = await gateway.create("r")
        assert new_key > highest_before
        topology = await gateway.stub.Topology(pb.TopologyRequest())
        assert topology.clusterSize == 1
    finally:
        await gateway.close()
        engine.stop()


async def test_positions_continue_after_the_whole_log_was_compacted(tmp_path: Path) -> None:
    """Exporters resume by position: a log emptied by compaction must not restart positions at 1."""
    import sqlite3

    engine = EngineProcess(tmp_path / "engine").start()
    gateway = RawGateway(engine.address)
    try:
        await gateway.deploy(("p.bpmn", bpmn.simple("p", "x")))
        await gateway.create("p")
        last = max(r["position"] for r in RecordLog(engine).records())
        engine.stop()
        with sqlite3.connect(engine.data_dir / "engine.sqlite3") as conn:
            conn.execute("DELETE FROM records")
        engine.start()
        await gateway.close()
        gateway = RawGateway(engine.address)
        await gateway.create("p")
        positions = [r["position"] for r in RecordLog(engine).records()]
        assert positions and min(positions) == last + 1
    finally:
        await gateway.close()
        engine.stop()
