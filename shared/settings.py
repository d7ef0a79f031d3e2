"""Configuration of every Qianliyan service, read from environment variables.

One small class per concern; each reads the environment when constructed (``ZeebeSettings()`` or
``ZeebeSettings.from_env()``) and accepts keyword overrides for tests. Every variable below is listed in
README with its default.

| variable | default | meaning |
|---|---|---|
| ``QLY_ENV`` | ``dev`` | ``dev`` or ``prod``; ``prod`` refuses to start without real secrets |
| ``DEMO_MODE`` | ``false`` | seed demo data and allow moving the clock |
| ``TIMEZONE`` | ``Asia/Shanghai`` | zone used to *show* times (storage is always UTC) |
| ``ZEEBE_ADDRESS`` | ``127.0.0.1:26500`` | Zeebe gateway gRPC address (our engine or Camunda 8) |
| ``ZEEBE_MANAGEMENT_URL`` | ``http://<host of ZEEBE_ADDRESS>:9600`` | management HTTP (``/ready``, ``/actuator/clock``) |
| ``ZEEBE_CLIENT_ID`` | unset | Camunda 8 OAuth client id (OAuth is used when id and secret are set) |
| ``ZEEBE_CLIENT_SECRET`` | unset | Camunda 8 OAuth client secret |
| ``ZEEBE_AUTHORIZATION_SERVER_URL`` | unset | OAuth token endpoint |
| ``ZEEBE_TOKEN_AUDIENCE`` | ``zeebe-api`` | OAuth audience |
| ``DOCUMENTS_URL`` | ``sqlite:///./data/documents.sqlite3`` | documents store: ``sqlite:///path`` or ``mongodb://…`` |
| ``REDIS_URL`` | ``redis://127.0.0.1:6379/0`` | Redis for the live event stream |
| ``EVENTS_STREAM`` | ``qly:events`` | Redis stream key of the event bus |
| ``EVENTS_MAXLEN`` | ``100000`` | approximate number of events kept in the stream |
| ``LOG_FORMAT`` | ``console`` on a TTY, else ``json`` | log rendering |
| ``LOG_LEVEL`` | ``INFO`` | minimum level |
| ``JWT_SECRET`` | ephemeral in dev | signs the gateway's bearer tokens (at least 32 bytes in prod) |
| ``INGEST_HMAC_SECRET_GONGGAI`` | ephemeral in dev | HMAC key of the 工改 system's signed posts |
| ``INGEST_HMAC_SECRET_TUZHI`` | ephemeral in dev | HMAC key of the 联合图审 system's signed posts |
"""

from __future__ import annotations

import logging
import secrets
import sys
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def from_env(cls) -> Self:
        return cls()


class AppSettings(_Settings):
    """``QLY_ENV``, ``DEMO_MODE``, ``TIMEZONE``."""

    qly_env: Literal["dev", "prod"] = "dev"
    demo_mode: bool = False
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"TIMEZONE {value!r} is not a known IANA time zone") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_dev(self) -> bool:
        return self.qly_env == "dev"


class ZeebeSettings(_Settings):
    """``ZEEBE_ADDRESS``, ``ZEEBE_MANAGEMENT_URL`` and the optional Camunda 8 OAuth variables."""

    model_config = SettingsConfigDict(env_prefix="ZEEBE_", extra="ignore", frozen=True)

    address: str = "127.0.0.1:26500"
    management_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    authorization_server_url: str | None = None
    token_audience: str = "zeebe-api"

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"ZEEBE_ADDRESS must be host:port, got {value!r}")
        return value

    @property
    def host(self) -> str:
        return self.address.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def actuator_url(self) -> str:
        """Base URL of the management endpoints; Zeebe serves them on port 9600 of the gateway host."""
        if self.management_url:
            return self.management_url.rstrip("/")
        return f"http://{self.host}:9600"

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)


class DocumentsSettings(_Settings):
    """``DOCUMENTS_URL``: ``sqlite:///relative/path``, ``sqlite:////absolute/path`` or ``mongodb://…``."""

    documents_url: str = "sqlite:///./data/documents.sqlite3"

    @field_validator("documents_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "mongodb", "mongodb+srv"}:
            raise ValueError(f"DOCUMENTS_URL must start with sqlite:// or mongodb://, got {value!r}")
        return value


class RedisSettings(_Settings):
    """``REDIS_URL``, ``EVENTS_STREAM``, ``EVENTS_MAXLEN``."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    events_stream: str = "qly:events"
    events_maxlen: int = Field(default=100_000, ge=100)

    @field_validator("redis_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {value!r}")
        return value


class LoggingSettings(_Settings):
    """``LOG_FORMAT`` (``console`` | ``json``; default depends on whether stderr is a TTY), ``LOG_LEVEL``."""

    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
        return upper

    @property
    def format(self) -> Literal["console", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "console" if sys.stderr.isatty() else "json"


class SecretSettings(_Settings):
    """``JWT_SECRET``, ``INGEST_HMAC_SECRET_GONGGAI``, ``INGEST_HMAC_SECRET_TUZHI``.

    In ``QLY_ENV=prod`` each must be set and at least 32 bytes long. In ``dev`` a missing one is replaced by
    a random secret for the life of the process (tokens and signatures stop verifying after a restart), and
    a warning says so: an insecure fixed default would end up in some deployment.
    """

    # A refused secret must not be echoed into the logs by the validation error that refuses it.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    qly_env: Literal["dev", "prod"] = "dev"
    jwt_secret: SecretStr | None = None
    ingest_hmac_secret_gonggai: SecretStr | None = None
    ingest_hmac_secret_tuzhi: SecretStr | None = None

    @model_validator(mode="after")
    def _no_insecure_defaults(self) -> Self:
        names = ("jwt_secret", "ingest_hmac_secret_gonggai", "ingest_hmac_secret_tuzhi")
        for name in names:
            value: SecretStr | None = getattr(self, name)
            if value is not None and len(value.get_secret_value().encode()) >= MIN_SECRET_BYTES:
                continue
            if self.qly_env == "prod":
                state = "missing" if value is None else f"shorter than {MIN_SECRET_BYTES} bytes"
                raise ValueError(f"{name.upper()} is {state}; QLY_ENV=prod needs a real secret")
            if value is None:
                _log.warning("%s is not set: using an ephemeral secret (QLY_ENV=dev)", name.upper())
                object.__setattr__(self, name, SecretStr(secrets.token_urlsafe(MIN_SECRET_BYTES)))
            else:
                _log.warning("%s is shorter than %d bytes (accepted in dev only)", name.upper(), MIN_SECRET_BYTES)
        return self

    def ingest_secret(self, system: str) -> bytes:
        """The HMAC key of an approval system (``gonggai`` or ``tuzhi``)."""
        value = {"gonggai": self.ingest_hmac_secret_gonggai, "tuzhi": self.ingest_hmac_secret_tuzhi}.get(system)
        if value is None:
            raise KeyError(f"unknown approval system {system!r}; expected 'gonggai' or 'tuzhi'")
        return value.get_secret_value().encode()
