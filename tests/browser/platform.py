"""The whole platform as real processes on free ports, for browser tests and the screenshot tool.

Redis, the engine (controlled clock, exporters to the documents store and Redis), the workers (when the
package exists) and the gateway, each a child process with its log under the platform's directory.
Users are made with ``python -m gateway adduser``; models are deployed through the gateway's API, as a
designer would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.processes import free_port, stop_process, wait_until_ready
from shared.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "browser-test-pw-1"


class PlatformError(RuntimeError):
    pass


def bpmn_models() -> list[Path]:
    """The models, decisions and forms in bpmn/, as a designer deploys them."""
    return sorted(p for p in (ROOT / "bpmn").iterdir() if p.suffix in {".bpmn", ".dmn", ".form"})


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True)
        if self.ready_url is None:
            time.sleep(0.5)
            self.check()
            return
        if wait_until_ready(self.process, self.ready_url, timeout, interval=0.1, request_timeout=2.0):
            return
        self.check()
        raise PlatformError(f"{self.name} did not become ready in {timeout:.0f} s:\n{self.tail()}")

    def check(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise PlatformError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


@dataclass
class WebPlatform:
    """Start with ``start()``; ``stop()`` ends every child it started (and only those)."""

    directory: Path
    with_workers: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    engine_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    redis: RedisServer | None = None
    children: dict[str, Child] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def documents_url(self) -> str:
        return f"sqlite:///{self.directory / 'documents.sqlite3'}"

    def env(self) -> dict[str, str]:
        assert self.redis is not None
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ZEEBE_ADDRESS": f"127.0.0.1:{self.engine_port}",
            "ZEEBE_MANAGEMENT_URL": self.management_url,
            "DOCUMENTS_URL": self.documents_url,
            "REDIS_URL": self.redis.url,
            "QLY_ENV": "dev",
            "DEMO_MODE": "true",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            # One secret for every process, so tokens survive a gateway restart within a test.
            "JWT_SECRET": "browser-tests-jwt-secret-0123456789abcdef",
            "INGEST_HMAC_SECRET_GONGGAI": "browser-tests-gonggai-secret-0123456789abcdef",
            "INGEST_HMAC_SECRET_TUZHI": "browser-tests-tuzhi-secret-0123456789abcdef",
            **self.extra_env,
        }

    def _child(self, name: str, argv: list[str], ready_url: str | None = None) -> Child:
        child = Child(name, argv, self.env(), self.directory / f"{name}.log", ready_url)
        self.children[name] = child
        return child

    def start(self) -> WebPlatform:
        self.directory.mkdir(parents=True, exist_ok=True)
        python = sys.executable
        try:
            self.redis = RedisServer(data_dir=self.directory / "redis", persistence="none")
            self.redis.start()
            self._child("engine", [
                python, "-m", "services.engine", "--data-dir", str(self.directory / "engine"),
                "--port", str(self.engine_port), "--management-port", str(self.management_port), "--clock-controlled",
                "--sync", "NORMAL", "--exporter", f"documents={self.documents_url}",
                "--exporter", f"redis={self.redis.url}",
            ], ready_url=f"{self.management_url}/ready").start()
            if self.with_workers and (ROOT / "services" / "workers" / "__main__.py").exists():
                self._child("workers", [python, "-m", "services.workers"]).start()
            self.start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def start_gateway(self) -> None:
        self._child("gateway", [sys.executable, "-m", "gateway", "--port", str(self.gateway_port)],
                    ready_url=f"{self.base_url}/healthz").start()

    def stop_gateway(self) -> None:
        if "gateway" in self.children:
            self.children.pop("gateway").stop()

    def stop(self) -> None:
        for name in reversed(list(self.children)):
            self.children[name].stop()
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    # -- people and models ----------------------------------------------------------------------------

    def adduser(self, username: str, *roles: str, units: tuple[str, ...] = (), projects: tuple[str, ...] = (),
                display_name: str | None = None) -> None:
        argv = [sys.executable, "-m", "gateway", "adduser", username]
        for role in roles:
            argv += ["--role", role]
        for unit in units:
            argv += ["--unit", unit]
        for project in projects:
            argv += ["--project", project]
        if display_name:
            argv += ["--display-name", display_name]
        result = subprocess.run(argv, cwd=ROOT, env={**self.env(), "GATEWAY_NEW_PASSWORD": PASSWORD},
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PlatformError(f"adduser {username} failed: {result.stdout}{result.stderr}")

    def token(self, username: str) -> str:
        response = httpx.post(f"{self.base_url}/api/auth/token",
                              data={"grant_type": "password", "username": username, "password": PASSWORD}, timeout=30)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def client(self, username: str) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token(username)}"},
                            timeout=60)

    def deploy(self, client: httpx.Client, *paths: Path) -> dict[str, Any]:
        files = [("files", (path.name, path.read_bytes(), "application/octet-stream")) for path in paths]
        response = client.post("/api/processes/deployments", files=files)
        if response.status_code != 201:
            raise PlatformError(f"deploying {[p.name for p in paths]} failed: {response.status_code} {response.text}")
        return dict(response.json())

    def today(self) -> str:
        """The engine clock's date (UTC), ISO: a project signed on it is not due anything for 90 days."""
        epoch_ms = httpx.get(f"{self.management_url}/actuator/clock", timeout=30).json()["epochMilli"]
        return datetime.fromtimestamp(epoch_ms / 1000, UTC).date().isoformat()

    def clock_add(self, milliseconds: int) -> int:
        response = httpx.post(f"{self.management_url}/actuator/clock/add", json={"offsetMilli": milliseconds},
                              timeout=120)
        response.raise_for_status()
        return int(response.json()["epochMilli"])

    def clock_pin(self, epoch_ms: int) -> int:
        response = httpx.post(f"{self.management_url}/actuator/clock/pin", json={"epochMilli": epoch_ms}, timeout=120)
        response.raise_for_status()
        return int(response.json()["epochMilli"])

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{child.tail()}" for name, child in self.children.items())
