"""The delivery channels: email over SMTP, DingTalk and WeCom group robots, a generic SMS gateway over HTTP.

Every sender raises ``DeliveryFailed`` with ``transient`` telling whether another attempt may succeed
(network trouble, a 5xx, a rate limit) or not (a refused address, a rejected signature): the outbox retries
only the former.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import smtplib
import time
import urllib.parse
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from services.workers.settings import WorkerSettings

# DingTalk: 130101 "sending too fast"; WeCom: 45009 "API freq out of limit". Other error codes will not heal.
_DINGTALK_TRANSIENT = {130101, -1}
_WECOM_TRANSIENT = {45009, 45033, -1}


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """The robot URL with DingTalk's ``timestamp`` and ``sign``: base64(HMAC-SHA256(secret, ts + "\\n" + secret))."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    separator = "&" if urllib.parse.urlsplit(webhook_url).query else "?"
    return f"{webhook_url}{separator}timestamp={timestamp}&sign={sign}"


async def _post(http: httpx.AsyncClient, url: str, *, json: dict, headers: dict[str, str] | None = None,
                what: str) -> httpx.Response:
    try:
        response = await http.post(url, json=json, headers=headers, timeout=10.0)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{what}: {type(error).__name__}: {error}", transient=True) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryFailed(f"{what}: HTTP {response.status_code}", transient=True)
    if response.status_code >= 400:
        raise DeliveryFailed(f"{what}: HTTP {response.status_code}: {response.text[:200]}", transient=False)
    return response


def _robot_answer(response: httpx.Response, what: str, transient_codes: set[int]) -> None:
    try:
        body = response.json()
        code = int(body.get("errcode", -1))
    except (ValueError, AttributeError, TypeError):
        raise DeliveryFailed(f"{what}: unreadable answer {response.text[:200]!r}", transient=True) from None
    if code != 0:
        raise DeliveryFailed(f"{what}: errcode {code}: {body.get('errmsg', '')}", transient=code in transient_codes)


async def send_dingtalk(http: httpx.AsyncClient, settings: WorkerSettings, text: str, mobiles: list[str]) -> None:
    assert settings.dingtalk_webhook_url is not None
    url = settings.dingtalk_webhook_url
    if settings.dingtalk_secret is not None:
        url = dingtalk_signed_url(url, settings.dingtalk_secret.get_secret_value())
    body = {"msgtype": "text", "text": {"content": text}, "at": {"atMobiles": mobiles, "isAtAll": False}}
    _robot_answer(await _post(http, url, json=body, what="DingTalk robot"), "DingTalk robot", _DINGTALK_TRANSIENT)


async def send_wecom(http: httpx.AsyncClient, settings: WorkerSettings, text: str, mobiles: list[str]) -> None:
    assert settings.wecom_webhook_url is not None
    body = {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": mobiles}}
    response = await _post(http, settings.wecom_webhook_url, json=body, what="WeCom robot")
    _robot_answer(response, "WeCom robot", _WECOM_TRANSIENT)


async def send_sms(http: httpx.AsyncClient, settings: WorkerSettings, phone: str, text: str, message_id: str) -> None:
    assert settings.sms_gateway_url is not None
    headers = {"Idempotency-Key": message_id}
    if settings.sms_gateway_token is not None:
        headers["Authorization"] = f"Bearer {settings.sms_gateway_token.get_secret_value()}"
    await _post(http, settings.sms_gateway_url, json={"to": phone, "content": text, "id": message_id},
                headers=headers, what="SMS gateway")


async def send_email(settings: WorkerSettings, to: str, subject: str, text: str, message_id: str) -> None:
    assert settings.smtp_host is not None
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(idstring=hashlib.sha1(message_id.encode()).hexdigest()[:16])
    message.set_content(text)
    await asyncio.to_thread(_smtp_send, settings, message)


def _smtp_send(settings: WorkerSettings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password is not None:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryFailed(f"SMTP refused the recipient: {error.recipients}", transient=False) from None
    except smtplib.SMTPResponseException as error:
        # 4xx replies are "try again later" in SMTP; 5xx are final.
        raise DeliveryFailed(f"SMTP {error.smtp_code}: {error.smtp_error!r}", transient=error.smtp_code < 500) from None
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryFailed(f"SMTP: {type(error).__name__}: {error}", transient=True) from None
