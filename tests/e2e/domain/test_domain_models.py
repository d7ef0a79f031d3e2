"""The models deploy on the engine and import in bpmn-js without warnings; forms and decisions they
reference are there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pyzeebe import ZeebeClient

from services.demo.deploy import BPMN_DIR, deploy_models, model_files
from tests.fixtures.engine import ROOT

HERE = Path(__file__).resolve().parent
MODELS = sorted(BPMN_DIR.glob("*.bpmn"))


def bpmn_js_import(*files: Path) -> dict[str, dict]:
    node = shutil.which("node") or "/usr/bin/node"
    result = subprocess.run([node, "--import", str(HERE / "register.mjs"), str(HERE / "import_models.mjs"),
                             *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_models_deploy_on_the_engine(zeebe: ZeebeClient) -> None:
    response = await deploy_models(zeebe)
    deployed = {getattr(d, "bpmn_process_id", None) or getattr(d, "dmn_decision_id", None)
                or getattr(d, "form_id", None) for d in response.deployments}
    assert {"project-lifecycle", "problem-handling", "service-evaluation", "approval-docking", "unit-assignment",
            "problem-resolution", "problem-confirmation", "problem-assignment"} <= deployed
    again = await deploy_models(zeebe)  # unchanged files: no new versions
    assert {getattr(d, "version", 1) for d in again.deployments} == {1}


def test_models_import_in_bpmn_js_without_warnings() -> None:
    report = bpmn_js_import(*MODELS)
    assert len(report) == len(MODELS) == 4
    for name, outcome in report.items():
        assert outcome["warnings"] == [], name
        assert outcome["elements"] >= 15 and outcome["drawn"] > outcome["elements"], name  # + the process itself


def test_the_import_check_reports_missing_and_dangling_diagram_elements(tmp_path: Path) -> None:
    text = (BPMN_DIR / "approval-docking.bpmn").read_text()
    no_shape = re.sub(r'<bpmndi:BPMNShape id="ingest_di".*?</bpmndi:BPMNShape>', "", text, flags=re.S)
    dangling = text.replace('bpmnElement="published"', 'bpmnElement="nowhere"')
    unknown = text.replace("<zeebe:taskDefinition ", '<zeebe:taskDefinition color="red" ')
    for name, content in (("no_shape", no_shape), ("dangling", dangling), ("unknown", unknown)):
        (tmp_path / f"{name}.bpmn").write_text(content)
    report = {Path(k).stem: v["warnings"] for k, v in bpmn_js_import(*sorted(tmp_path.glob("*.bpmn"))).items()}
    assert any("ingest" in w for w in report["no_shape"])
    assert any("nowhere" in w for w in report["dangling"])
    assert any("color" in w for w in report["unknown"])


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.stem)
def test_every_form_a_model_names_is_deployed_with_it(model: Path) -> None:
    forms = {p.stem: json.loads(p.read_text()) for p in BPMN_DIR.glob("*.form")}
    for form_id in re.findall(r'formId="([^"]+)"', model.read_text()):
        assert form_id in forms, f"{model.name} names form {form_id}"
        assert forms[form_id]["id"] == form_id
        keys = [c["key"] for c in forms[form_id]["components"] if "key" in c]
        assert len(keys) == len(set(keys)) and keys


def test_every_model_file_is_deployed() -> None:
    assert {p.suffix for p in model_files()} == {".bpmn", ".dmn", ".form"}
