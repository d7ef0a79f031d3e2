"""notification.send through the engine: every (channel, recipient) once, retries with back-off through
FailJob for failures that may heal, a final failure recorded without holding up the rest."""

from __future__ import annotations

import pytest

from services.workers.settings import WorkerSettings
from shared.documents.models import Channel, NotificationStatus
from tests.engine import bpmn
from tests.engine.support import RawGateway
from tests.integration.workers.harness import Platform
from tests.integration.workers.sinks import HttpSink, SmtpSink

MODEL = bpmn.process(
    "notify-office",
    bpmn.start(),
    bpmn.service("notify", "notification.send", retries=5,
                 headers={"template": "red-light", "audience": "office"}),
    bpmn.end(),
    bpmn.chain("start", "notify", "end"),
)


@pytest.fixture
def robot_settings(sink: HttpSink, smtp: SmtpSink) -> WorkerSettings:  # overrides the harness's: SMS and email
    return WorkerSettings(sms_gateway_url=sink.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                          notify_backoff="PT30S")


async def start(platform: Platform) -> int:
    gateway = RawGateway(platform.engine.address)
    try:
        await gateway.deploy(("notify-office.bpmn", MODEL))
        return await gateway.create("notify-office", {"projectCode": "P-1"})
    finally:
        await gateway.close()


async def test_failures_that_may_heal_are_retried_with_back_off_and_nothing_goes_twice(
        platform: Platform, sink: HttpSink, smtp: SmtpSink) -> None:
    sink.statuses += [500, 503]  # the SMS gateway fails both messages of the first attempt
    instance = await start(platform)
    await platform.settle()
    failed = platform.log.records("JOB", "FAILED")
    assert len(failed) == 1 and failed[0]["value"]["retryBackoff"] == 30_000
    assert platform.log.instance_state(instance) != "ELEMENT_COMPLETED"
    assert len(smtp.messages) == 1  # the email went out on the first attempt

    await platform.move(hours=0.01)  # 36 s: past the back-off
    assert platform.log.instance_state(instance) == "ELEMENT_COMPLETED"
    assert len(smtp.messages) == 1  # ... and was not sent again
    assert sorted(r.body["to"] for r in sink.delivered) == ["13905170002", "13905171000"]
    assert len(sink.requests) == 4
    notes = (await platform.store.notifications.list()).items
    assert {(n.channel, n.recipient, n.status, n.attempts) for n in notes} == {
        (Channel.EMAIL, "office-city.staff@demo.qianliyan.cn", NotificationStatus.SENT, 1),
        (Channel.SMS, "13905170002", NotificationStatus.SENT, 2),
        (Channel.SMS, "13905171000", NotificationStatus.SENT, 2),
    }
    assert platform.incidents() == []


async def test_a_final_failure_is_recorded_and_the_rest_goes_out(platform: Platform, sink: HttpSink,
                                                                 smtp: SmtpSink) -> None:
    sink.statuses.append(400)
    instance = await start(platform)
    await platform.settle()
    assert platform.log.instance_state(instance) == "ELEMENT_COMPLETED"
    notes = {n.recipient: n for n in (await platform.store.notifications.list()).items}
    failed = [n for n in notes.values() if n.status == NotificationStatus.FAILED]
    assert len(failed) == 1 and "HTTP 400" in (failed[0].last_error or "")
    assert sum(n.status == NotificationStatus.SENT for n in notes.values()) == 2
    assert len(smtp.messages) == 1
