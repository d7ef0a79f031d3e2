"""zbctl (the Go command-line client of Zeebe 8.4, from the npm package `zbctl`) against the engine, unmodified."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engine import bpmn
from tests.engine.support import RecordLog
from tests.fixtures.engine import ROOT, EngineProcess

ZBCTL = ROOT / "node_modules" / "zbctl" / "bin" / "zbctl-cli.linux"

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="node/npm is not installed on this machine")


def zbctl(engine: EngineProcess, *args: str) -> str:
    assert ZBCTL.exists(), f"{ZBCTL} is missing: run `make node` (npm ci) first"
    result = subprocess.run([str(ZBCTL), *args, "--insecure", "--address", engine.address],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"zbctl {' '.join(args)} failed: {result.stderr}"
    return result.stdout


def test_zbctl_status_deploy_create_activate_complete_publish(engine: EngineProcess, tmp_path: Path) -> None:
    status = zbctl(engine, "status")
    assert "Partition 1 : Leader, Healthy" in status
    assert "Cluster size: 1" in status

    model = bpmn.process(
        "zb", bpmn.start(), bpmn.service("work", "zb-work"),
        bpmn.catch("wait", bpmn.message_event("m")), bpmn.end(),
        bpmn.chain("start", "work", "wait", "end"),
        extra=bpmn.message_def("m", "zb-message", "=orderId"),
    )
    path = tmp_path / "zb.bpmn"
    path.write_bytes(model)
    deployed = json.loads(zbctl(engine, "deploy", "resource", str(path)))
    assert deployed["deployments"][0]["process"]["bpmnProcessId"] == "zb"

    created = json.loads(zbctl(engine, "create", "instance", "zb", "--variables", '{"orderId": "A-7"}'))
    instance_key = int(created["processInstanceKey"])

    activated = json.loads(zbctl(engine, "activate", "jobs", "zb-work", "--maxJobsToActivate", "5"))
    (job,) = activated["jobs"]
    assert json.loads(job["variables"]) == {"orderId": "A-7"}

    zbctl(engine, "complete", "job", job["key"], "--variables", '{"packed": true}')
    published = json.loads(zbctl(engine, "publish", "message", "zb-message", "--correlationKey", "A-7",
                                 "--variables", '{"arrived": 1}'))
    assert int(published["key"]) > 0

    log = RecordLog(engine)
    assert log.instance_state(instance_key) == "ELEMENT_COMPLETED"
    assert log.variables(instance_key) == {"orderId": "A-7", "packed": True, "arrived": 1}
