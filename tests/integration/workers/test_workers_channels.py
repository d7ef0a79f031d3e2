"""The delivery channels against local stand-ins at their wire boundary (HTTP, SMTP): what goes out, and
which failures are worth another attempt."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest

from services.workers.notification import channels
from services.workers.settings import WorkerSettings
from tests.integration.workers.sinks import HttpSink, SmtpSink


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def test_dingtalk_signature_follows_the_documented_recipe() -> None:
    url = channels.dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "SECxyz",
                                       timestamp_ms=1700000000000)
    query = parse_qs(urlsplit(url).query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == ["1700000000000"]
    digest = hmac.new(b"SECxyz", b"1700000000000\nSECxyz", hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    # the raw query keeps the base64 urlencoded ('+', '/' and '=' escaped), as DingTalk requires
    raw_sign = urlsplit(url).query.split("sign=")[1]
    assert "%" in raw_sign and unquote_plus(raw_sign) == base64.b64encode(digest).decode()
    bare = channels.dingtalk_signed_url("http://robot/send", "s", timestamp_ms=1)
    assert bare.startswith("http://robot/send?timestamp=1&sign=")


async def test_dingtalk_and_wecom_bodies(sink: HttpSink, http: httpx.AsyncClient) -> None:
    settings = WorkerSettings(dingtalk_webhook_url=sink.url, dingtalk_secret="SEC1", wecom_webhook_url=sink.url)
    await channels.send_dingtalk(http, settings, "【千里眼】预警", ["13900000001"])
    await channels.send_wecom(http, settings, "【千里眼】预警", ["13900000001"])
    dingtalk, wecom = sink.requests
    assert dingtalk.body == {"msgtype": "text", "text": {"content": "【千里眼】预警"},
                             "at": {"atMobiles": ["13900000001"], "isAtAll": False}}
    assert "sign" in dingtalk.query and "timestamp" in dingtalk.query
    assert wecom.body == {"msgtype": "text", "text": {"content": "【千里眼】预警",
                                                      "mentioned_mobile_list": ["13900000001"]}}
    assert "sign" not in wecom.query


@pytest.mark.parametrize(("status", "errcode", "transient"), [
    (500, 0, True), (503, 0, True), (429, 0, True), (400, 0, False), (404, 0, False),
    (200, 130101, True), (200, 310000, False),
])
async def test_robot_failures_are_classified(sink: HttpSink, http: httpx.AsyncClient, status: int, errcode: int,
                                             transient: bool) -> None:
    sink.statuses.append(status)
    sink.errcodes.append(errcode)
    with pytest.raises(channels.DeliveryFailed) as caught:
        await channels.send_dingtalk(http, WorkerSettings(dingtalk_webhook_url=sink.url), "x", [])
    assert caught.value.transient is transient


async def test_unreachable_endpoint_is_transient(http: httpx.AsyncClient) -> None:
    from shared.processes import free_port

    settings = WorkerSettings(sms_gateway_url=f"http://127.0.0.1:{free_port()}/sms")
    with pytest.raises(channels.DeliveryFailed) as caught:
        await channels.send_sms(http, settings, "13900000001", "hi", "id-1")
    assert caught.value.transient


async def test_sms_gateway_request(sink: HttpSink, http: httpx.AsyncClient) -> None:
    settings = WorkerSettings(sms_gateway_url=sink.url, sms_gateway_token="tok")
    await channels.send_sms(http, settings, "13900000001", "【千里眼】提醒", "job-1:sms:13900000001")
    [request] = sink.requests
    assert request.body == {"to": "13900000001", "content": "【千里眼】提醒", "id": "job-1:sms:13900000001"}
    assert request.headers["authorization"] == "Bearer tok"
    assert request.headers["idempotency-key"] == "job-1:sms:13900000001"


async def test_email_over_smtp(smtp: SmtpSink) -> None:
    settings = WorkerSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="qly@huaian.gov.cn")
    await channels.send_email(settings, "wang@huaian.gov.cn", "新工单：用地手续", "【千里眼】请于 2025-10-13 前办结。",
                              "job-7:email:wang")
    [message] = smtp.messages
    assert message["To"] == "wang@huaian.gov.cn" and message["From"] == "qly@huaian.gov.cn"
    assert message["Subject"] == "新工单：用地手续"
    assert message.get_content().strip() == "【千里眼】请于 2025-10-13 前办结。"


async def test_refused_recipient_is_final_and_a_dead_server_is_not(smtp: SmtpSink) -> None:
    smtp.refuse_recipients.add("nobody@huaian.gov.cn")
    settings = WorkerSettings(smtp_host="127.0.0.1", smtp_port=smtp.port)
    with pytest.raises(channels.DeliveryFailed) as refused:
        await channels.send_email(settings, "nobody@huaian.gov.cn", "s", "b", "id")
    assert not refused.value.transient
    from shared.processes import free_port

    dead = WorkerSettings(smtp_host="127.0.0.1", smtp_port=free_port())
    with pytest.raises(channels.DeliveryFailed) as down:
        await channels.send_email(dead, "wang@huaian.gov.cn", "s", "b", "id")
    assert down.value.transient
