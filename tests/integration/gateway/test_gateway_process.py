"""``python -m gateway`` as deployed: configured by the environment, first admin made with ``adduser``,
ready when its dependencies are, clean exit on SIGTERM."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from shared.redis_server import RedisServer
from tests.integration.gateway.conftest import INGEST_SECRETS
from tests.integration.gateway.support import GatewayProcess

ROOT = Path(__file__).resolve().parents[3]


def test_the_gateway_process(tmp_path: Path, shared_engine, redis_server: RedisServer) -> None:  # type: ignore[no-untyped-def]
    documents_url = f"sqlite:///{tmp_path / 'documents.sqlite3'}"
    made = subprocess.run(
        [sys.executable, "-m", "gateway", "adduser", "root", "--role", "admin", "--display-name", "Root"],
        cwd=ROOT, env={**os.environ, "DOCUMENTS_URL": documents_url, "GATEWAY_NEW_PASSWORD": "first admin pass",
                       "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "created user root (admin)"
    short = subprocess.run([sys.executable, "-m", "gateway", "adduser", "x", "--role", "admin"], cwd=ROOT,
                           env={**os.environ, "DOCUMENTS_URL": documents_url, "GATEWAY_NEW_PASSWORD": "short",
                                "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "at least 8 characters" in short.stderr

    gateway = GatewayProcess(engine_address=shared_engine.address, management_url=shared_engine.management_url,
                             documents_url=documents_url, redis_url=redis_server.url.rsplit("/", 1)[0] + "/8",
                             secrets={"jwt": "process-test-jwt-secret-0123456789abcdef", **INGEST_SECRETS},
                             log_path=tmp_path / "gateway.log", extra_env={"GATEWAY_WORKERS": "2"}).start()
    try:
        ready = httpx.get(f"{gateway.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        token = httpx.post(f"{gateway.url}/api/auth/token", data={
            "grant_type": "password", "username": "root", "password": "first admin pass"}, timeout=10)
        assert token.status_code == 200, token.text
        me = httpx.get(f"{gateway.url}/api/auth/me", timeout=10,
                       headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert me.json()["roles"] == ["admin"]
    finally:
        assert gateway.stop() == 0, gateway.log()
