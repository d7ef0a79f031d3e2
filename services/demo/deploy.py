"""Deploy every model of bpmn/ (processes, the decision table, the forms) in one deployment.

``await deploy_models(client)`` is what ``python -m services.demo deploy`` and ``make run`` use; deploying
unchanged files again creates no new versions (the engine compares checksums, as Zeebe does).
"""

from __future__ import annotations

from pathlib import Path

from pyzeebe import ZeebeClient
from pyzeebe.grpc_internals.types import DeployResourceResponse

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
KINDS = (".bpmn", ".dmn", ".form")


def model_files(directory: Path = BPMN_DIR) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.suffix in KINDS)
    if not files:
        raise FileNotFoundError(f"no .bpmn, .dmn or .form files in {directory}")
    return files


async def deploy_models(client: ZeebeClient, directory: Path = BPMN_DIR) -> DeployResourceResponse:
    return await client.deploy_resource(*model_files(directory))
