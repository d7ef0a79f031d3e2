"""Child processes on this machine (the launcher, the demo, the tests): a free port to give one, waiting until
it answers over HTTP, and stopping it."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(process: subprocess.Popen[bytes], url: str, timeout: float, *, interval: float = 0.05,
                     request_timeout: float = 1.0) -> bool:
    """Poll ``url`` until it answers 200 (True). False as soon as ``process`` exits, or once ``timeout`` has
    passed: the caller tells which by ``process.poll()`` and words the error for what it started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=request_timeout).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    return False


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM, so it can shut down cleanly; SIGKILL if it has not exited within ``timeout``. The exit status."""
    if process.poll() is not None:
        return process.returncode
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
