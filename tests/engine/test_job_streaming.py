"""StreamActivatedJobs: jobs that become activatable are pushed to open streams first, as Zeebe favours
streams; jobs already waiting stay for ActivateJobs; a job a vanished stream held comes back at its deadline."""

from __future__ import annotations

import asyncio

import grpc
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.proto import gateway_pb2 as pb

from tests.engine import bpmn
from tests.engine.support import RawGateway, RecordLog
from tests.fixtures.engine import EngineProcess, eventually


def _stream(gateway: RawGateway, job_type: str, worker: str = "streamer") -> grpc.aio.UnaryStreamCall:
    return gateway.stub.StreamActivatedJobs(pb.StreamActivatedJobsRequest(
        type=job_type, worker=worker, timeout=60_000))


async def test_new_jobs_are_pushed_to_the_stream_before_long_polls(gateway: RawGateway, log: RecordLog) -> None:
    await gateway.deploy(("s.bpmn", bpmn.simple("s", "pushed")))
    old = await gateway.create("s")  # activatable before any stream opens: polling's business
    call = _stream(gateway, "pushed")
    await asyncio.sleep(0.3)
    poll = asyncio.create_task(gateway.activate("pushed", worker="poller", max_jobs=5, request_timeout=3000))
    await asyncio.sleep(0.3)
    polled_first = await asyncio.wait_for(poll, 10)
    assert [j.processInstanceKey for j in polled_first] == [old]
    poll = asyncio.create_task(gateway.activate("pushed", worker="poller", max_jobs=5, request_timeout=2000))
    await asyncio.sleep(0.3)
    new = await gateway.create("s", {"n": 1})
    streamed = await asyncio.wait_for(call.read(), 10)
    assert streamed.processInstanceKey == new and streamed.worker == "streamer"
    assert await asyncio.wait_for(poll, 10) == []  # the waiting poll got nothing: the stream was favoured
    await gateway.complete(streamed.key)
    assert log.instance_state(new) == "ELEMENT_COMPLETED"
    call.cancel()


async def test_jobs_pushed_to_a_stream_that_went_away_come_back_after_their_deadline(
        engine: EngineProcess, gateway: RawGateway) -> None:
    await gateway.deploy(("y.bpmn", bpmn.simple("y", "lost")))
    call = _stream(gateway, "lost")
    await asyncio.sleep(0.3)
    first = await gateway.create("y")
    got = await asyncio.wait_for(call.read(), 10)
    assert got.processInstanceKey == first and got.deadline > 0
    call.cancel()  # the worker died holding the job
    assert await gateway.activate("lost") == []
    engine.clock_add(61_000)
    (again,) = await gateway.activate("lost", worker="second")
    assert again.key == got.key and again.worker == "second"


async def test_pyzeebe_worker_with_streaming_completes_jobs(engine: EngineProcess, gateway: RawGateway,
                                                            log: RecordLog) -> None:
    await gateway.deploy(("w.bpmn", bpmn.simple("w", "streamed-work")))
    channel = create_insecure_channel(grpc_address=engine.address)
    worker = ZeebeWorker(channel, name="streaming-worker", stream_enabled=True, poll_retry_delay=0)

    @worker.task(task_type="streamed-work")
    async def work(n: int) -> dict:
        return {"doubled": n * 2}

    running = asyncio.create_task(worker.work())
    try:
        await asyncio.sleep(0.5)
        client = ZeebeClient(channel)
        keys = [(await client.run_process("w", {"n": n})).process_instance_key for n in range(5)]
        assert await eventually(lambda: all(log.instance_state(k) == "ELEMENT_COMPLETED" for k in keys), timeout=20)
        assert sorted(log.variables(k)["doubled"] for k in keys) == [0, 2, 4, 6, 8]
    finally:
        await worker.stop()
        running.cancel()
        await channel.close()
