"""The gateway's own configuration (``GATEWAY_*`` variables); shared ones live in ``shared.settings``.

| variable | default | meaning |
|---|---|---|
| ``GATEWAY_HOST`` | ``127.0.0.1`` | listen address |
| ``GATEWAY_PORT`` | ``8000`` | listen port |
| ``GATEWAY_WORKERS`` | ``1`` | processes serving requests (each with its own connections and cache follower) |
| ``GATEWAY_ACCESS_TOKEN_MINUTES`` | ``15`` | life of an access token |
| ``GATEWAY_REFRESH_TOKEN_HOURS`` | ``168`` | life of a refresh token (rotated on every use) |
| ``GATEWAY_CORS_ORIGINS`` | empty | comma-separated origins allowed by CORS; empty: CORS closed |
| ``GATEWAY_MAX_BODY_BYTES`` | ``5242880`` | largest request body (uploads included) |
| ``GATEWAY_LOGIN_MAX_FAILURES`` | ``5`` | failed logins per user (and 4x that per address) before throttling |
| ``GATEWAY_LOGIN_WINDOW_SECONDS`` | ``900`` | window of the login throttle |
| ``GATEWAY_INGEST_REPLAY_SECONDS`` | ``300`` | accepted age (either way) of a signed ingest timestamp |
| ``GATEWAY_SIGNING_MESSAGE`` | ``project-signed`` | message the life-cycle model starts on (correlation key = project code) |
| ``GATEWAY_SIGNING_MESSAGE_TTL_SECONDS`` | ``3600`` | how long a signing waits for a deployed life-cycle model |
| ``GATEWAY_CANCEL_MESSAGE`` | ``project-cancelled`` | message that ends a project's life cycle as cancelled |
| ``GATEWAY_APPROVAL_DOCKING_PROCESS`` | ``approval-docking`` | process started for each accepted approval record (variables ``source``, ``record``); empty: publish ``GATEWAY_APPROVAL_MESSAGE`` instead |
| ``GATEWAY_APPROVAL_MESSAGE`` | ``approval-recorded`` | message published per record when no docking process is configured (correlation key = project code) |
| ``GATEWAY_APPROVAL_MESSAGE_TTL_SECONDS`` | ``2592000`` | how long that message waits for its project's instance (the models' ``progressMessageTtl``) |
| ``GATEWAY_PROBLEM_MESSAGE`` | ``problem-reported`` | message that starts problem handling (correlation key and message id = problem id) |
| ``GATEWAY_FORMS_DIR`` | the repository's ``bpmn/`` | where to find a task's ``.form`` by form id when it was deployed by another client |
| ``GATEWAY_DASHBOARD_CACHE_SECONDS`` | ``60`` | upper bound on the age of a cached dashboard |
| ``GATEWAY_DASHBOARD_STALE_SECONDS`` | ``5`` | how long after a change a dashboard may still show the figures from before it (0: never) |
| ``GATEWAY_SCOPE_CACHE_SECONDS`` | ``5`` | how long a person's set of visible projects is kept (a change through another service shows after this) |
| ``GATEWAY_ENGINE_TIMEOUT_SECONDS`` | ``10`` | deadline of one engine call |
| ``GATEWAY_METRICS_TOKEN`` | unset | when set, ``GET /metrics`` (Prometheus) asks for it as a bearer token |
| ``GATEWAY_SSE_HEARTBEAT_SECONDS`` | ``15`` | comment sent on a quiet event stream to keep proxies from closing it |
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_hours: int = Field(default=168, ge=1, le=24 * 90)
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    ingest_replay_seconds: int = Field(default=300, ge=1)
    signing_message: str = Field(default="project-signed", min_length=1)
    signing_message_ttl_seconds: int = Field(default=3600, ge=0)
    cancel_message: str = Field(default="project-cancelled", min_length=1)
    approval_docking_process: str = "approval-docking"
    approval_message: str = Field(default="approval-recorded", min_length=1)
    approval_message_ttl_seconds: int = Field(default=30 * 86_400, ge=0)
    problem_message: str = Field(default="problem-reported", min_length=1)
    forms_dir: Path | None = Path(__file__).resolve().parents[1] / "bpmn"
    dashboard_cache_seconds: int = Field(default=60, ge=1)
    dashboard_stale_seconds: float = Field(default=5.0, ge=0)
    scope_cache_seconds: float = Field(default=5.0, ge=0)
    engine_timeout_seconds: float = Field(default=10.0, gt=0)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    metrics_token: SecretStr | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value
