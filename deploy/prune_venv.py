"""Keep only what the services need at run time in a virtualenv built from requirements.lock.

    /opt/venv/bin/pip install --no-deps -r requirements.lock      # every pin, exactly as locked
    /opt/venv/bin/python deploy/prune_venv.py requirements.in      # uninstall what the services never import

The image's Python packages come from requirements.lock, unchanged; but that lock also pins the test and
development tools (pytest, Playwright with its Node.js driver, schemathesis, ruff, nx-27017), which would
more than double the image. The run-time roots are the entries of requirements.in above its
``# development`` line; this script follows their ``Requires-Dist`` (markers evaluated, extras only
when asked for) through the installed metadata and uninstalls every other distribution, pip and
setuptools excepted. ``--dry-run`` prints what it would keep and remove.

tests/deploy/test_compose.py runs ``runtime_closure`` against the development venv and checks that every
third-party module the services import belongs to a kept distribution.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import subprocess
import sys
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover - pip always vendors it
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]

KEEP_ALWAYS = {"pip", "setuptools"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_roots(requirements_in: Path) -> list[Requirement]:
    """The requirements above the ``# development`` comment of requirements.in."""
    roots: list[Requirement] = []
    for line in requirements_in.read_text().splitlines():
        if line.strip().lower().startswith("# development"):
            break
        text = line.split("#", 1)[0].strip()
        if text:
            roots.append(Requirement(text))
    if not roots:
        raise SystemExit(f"{requirements_in}: no run-time requirements above '# development'")
    return roots


def installed() -> dict[str, md.Distribution]:
    return {canonical(d.metadata["Name"]): d for d in md.distributions()}


def runtime_closure(roots: list[Requirement], dists: dict[str, md.Distribution] | None = None) -> set[str]:
    """Canonical names of the roots and everything they require, as installed."""
    dists = dists if dists is not None else installed()
    keep: set[str] = set()
    pending: list[tuple[Requirement, frozenset[str]]] = [(r, frozenset(r.extras)) for r in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonical(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = dists.get(name)
        if dist is None:
            raise SystemExit(f"{requirement.name} is required at run time but not installed")
        keep.add(name)
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is not None:
                environments = [{"extra": e} for e in extras] or [{"extra": ""}]
                if not any(child.marker.evaluate(env) for env in environments):
                    continue
            pending.append((child, frozenset(child.extras)))
    return keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requirements_in", type=Path)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    dists = installed()
    keep = runtime_closure(runtime_roots(args.requirements_in), dists) | KEEP_ALWAYS
    remove = sorted(set(dists) - keep)
    print(f"keeping {len(keep & set(dists))} distributions: {', '.join(sorted(keep & set(dists)))}")
    print(f"removing {len(remove)}: {', '.join(remove)}")
    if remove and not args.dry_run:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *remove], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
