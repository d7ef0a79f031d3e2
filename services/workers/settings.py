"""Worker-only configuration (environment variables; ZEEBE_*, DOCUMENTS_URL etc. are in shared/settings.py).

| variable | default | meaning |
|---|---|---|
| ``WORKER_NAME`` | ``qianliyan-workers`` | the worker name the engine records on activated jobs |
| ``WORKER_MAX_JOBS`` | ``32`` | jobs activated and run at once, per task type |
| ``INBOX_JOB_TIMEOUT`` | ``P30D`` | how long the inbox holds a user-task job before the engine hands it out again |
| ``WORKER_METRICS_HOST`` | ``127.0.0.1`` | where ``/metrics`` (Prometheus) listens |
| ``WORKER_METRICS_PORT`` | ``9700`` | its port; ``0``: no metrics endpoint |
| ``WORKER_EVENTS`` | ``true`` | publish domain events (red lights, flags, problems) on the Redis stream (REDIS_URL) |
| ``NOTIFY_BACKOFF`` | ``PT30S`` | first back-off after a failed delivery (doubles per attempt, at most an hour) |
| ``SMTP_HOST`` | unset | email off when unset |
| ``SMTP_PORT`` | ``25`` | |
| ``SMTP_STARTTLS`` | ``false`` | upgrade with STARTTLS before authenticating |
| ``SMTP_USERNAME`` / ``SMTP_PASSWORD`` | unset | authenticate when both are set |
| ``SMTP_FROM`` | ``qianliyan@localhost`` | sender address |
| ``DINGTALK_WEBHOOK_URL`` | unset | DingTalk group robot (``https://oapi.dingtalk.com/robot/send?access_token=…``) |
| ``DINGTALK_SECRET`` | unset | the robot's signing secret (``SEC…``); messages are signed when set |
| ``WECOM_WEBHOOK_URL`` | unset | WeCom group robot (``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``) |
| ``SMS_GATEWAY_URL`` | unset | SMS gateway: POST JSON ``{"to", "content", "id"}`` |
| ``SMS_GATEWAY_TOKEN`` | unset | sent as ``Authorization: Bearer …`` when set |
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.durations import Duration


class WorkerSettings(BaseSettings):
    # An empty variable means "not set": a compose file or .env lists every variable, most of them blank, and a
    # blank DINGTALK_SECRET must not sign with an empty key, nor a blank SMS token send "Bearer ".
    model_config = SettingsConfigDict(extra="ignore", frozen=True, env_ignore_empty=True)

    worker_name: str = "qianliyan-workers"
    worker_max_jobs: int = Field(32, ge=1, le=1000)
    inbox_job_timeout: str = "P30D"
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(9700, ge=0, le=65535)
    worker_events: bool = True
    notify_backoff: str = "PT30S"

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "qianliyan@localhost"

    dingtalk_webhook_url: str | None = None
    dingtalk_secret: SecretStr | None = None
    wecom_webhook_url: str | None = None
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None

    @field_validator("inbox_job_timeout", "notify_backoff")
    @classmethod
    def _duration(cls, value: str) -> str:
        if Duration.parse(value).months:
            raise ValueError(f"{value!r}: give days or less (months have no fixed length)")
        return value

    @staticmethod
    def _millis(text: str) -> int:
        d = Duration.parse(text)
        return (d.days * 86400 + d.seconds) * 1000

    @property
    def inbox_timeout_ms(self) -> int:
        return self._millis(self.inbox_job_timeout)

    @property
    def notify_backoff_ms(self) -> int:
        return self._millis(self.notify_backoff)
