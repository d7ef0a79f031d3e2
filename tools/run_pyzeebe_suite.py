"""Run pyzeebe's own integration suite against our engine, without Docker.

    .venv/bin/python tools/run_pyzeebe_suite.py <pyzeebe checkout> [pytest args...]

pyzeebe's tests/integration starts a Zeebe container through testcontainers. This runner copies that suite
(from a checkout you provide, e.g. `git clone` of camunda-community-hub/pyzeebe at the tag matching the
locked pyzeebe, v4.7.0) into a temporary directory, puts a stand-in `testcontainers` package first on the
path whose `DockerContainer` starts `python -m services.engine` on free ports instead, and runs pytest there.
Nothing of pyzeebe's is copied into this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = '''
"""A stand-in for testcontainers' DockerContainer that runs the Qianliyan engine as a local process."""
import socket, subprocess, sys, tempfile, time, urllib.request


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DockerContainer:
    def __init__(self, image, **kwargs):
        self.image = image
        self.process = None

    def with_envs(self, **envs):
        return self

    def with_exposed_ports(self, *ports):
        return self

    def waiting_for(self, strategy):
        return self

    def start(self):
        self.port, self.management = _free_port(), _free_port()
        self.data = tempfile.mkdtemp(prefix="pyzeebe-suite-engine-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.engine", "--data-dir", self.data, "--port", str(self.port),
             "--management-port", str(self.management)], cwd=ENGINE_ROOT)
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.management}/ready", timeout=1).status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the engine did not start")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def get_container_host_ip(self):
        return "127.0.0.1"

    def get_exposed_port(self, port):
        return self.port
'''


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    checkout = Path(argv[0]).resolve()
    suite = checkout / "tests" / "integration"
    if not suite.is_dir():
        print(f"{suite} is not pyzeebe's integration suite", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pyzeebe-suite-") as tmp:
        work = Path(tmp)
        shutil.copytree(suite, work / "tests" / "integration")
        (work / "tests" / "__init__.py").write_text("")
        stand_in = work / "stand_in" / "testcontainers" / "core"
        stand_in.mkdir(parents=True)
        (stand_in.parent / "__init__.py").write_text("")
        (stand_in / "__init__.py").write_text("")
        (stand_in / "container.py").write_text(f"ENGINE_ROOT = {str(ROOT)!r}\n" + textwrap.dedent(STAND_IN))
        (stand_in / "wait_strategies.py").write_text(
            "class LogMessageWaitStrategy:\n"
            "    def __init__(self, *a, **k):\n        pass\n"
            "    def with_startup_timeout(self, *a):\n        return self\n")
        (work / "pytest.ini").write_text("[pytest]\nmarkers =\n    e2e: end to end tests\n"
                                         "python_files = *_test.py\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(work / "stand_in"), str(work), str(ROOT)])}
        command = [sys.executable, "-m", "pytest", "-p", "no:locust", "-p", "anyio", "-p", "no:cacheprovider",
                   "tests/integration", "-q", *argv[1:]]
        return subprocess.call(command, cwd=work, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
