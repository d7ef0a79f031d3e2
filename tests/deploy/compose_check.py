"""A focused validator of docker-compose.yml and the Dockerfile, for machines without a Docker engine.

It checks what `docker compose config` and a build would catch first, and what this project promises on top:
the compose file's shape (the parts of the compose specification it uses), healthchecks and start order by
health, declared volumes, files that exist, commands that name real modules and flags, pinned images, a
non-root image user, and configuration that is complete. Each function returns a list of problems (empty when
all is well), so a test failure lists everything wrong at once.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

TOP_LEVEL = {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "depends_on", "healthcheck", "ports",
    "expose", "volumes", "restart", "profiles", "init", "stop_grace_period", "stop_signal", "read_only", "tmpfs",
    "security_opt", "cap_drop", "cap_add", "logging", "user", "working_dir", "networks", "deploy", "labels",
    "ulimits", "mem_limit", "cpus", "secrets", "configs", "container_name", "hostname", "extra_hosts",
}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
RESTART = {"no", "always", "on-failure", "unless-stopped"}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}")


# -- interpolation (the compose specification's ${VAR}, ${VAR:-default}, ${VAR:?error}) ----------------------


@dataclass
class Interpolation:
    env: dict[str, str]
    referenced: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)

    def __call__(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, op, arg = match.group(1), match.group(2), match.group(3)
            self.referenced.add(name)
            value = self.env.get(name)
            if op in (":?", "?"):
                self.required.add(name)
                return value or "<required>"
            if op == ":-" and not value:
                return self(arg or "")
            if op == "-" and value is None:
                return self(arg or "")
            return value or ""

        text = text.replace("$$", "\0")  # "$$" is a literal "$", never the start of a variable
        previous = None
        while previous != text:  # nested defaults resolve from the inside out
            previous, text = text, VARIABLE.sub(one, text)
        return text.replace("\0", "$")


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(key)
            yield from walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk_strings(item)


def resolve(value: Any, interpolate: Interpolation) -> Any:
    if isinstance(value, str):
        return interpolate(value)
    if isinstance(value, dict):
        return {resolve(k, interpolate): resolve(v, interpolate) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, interpolate) for v in value]
    return value


def read_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(variables set in the file, variables only mentioned in comments as ``# NAME=``)."""
    values: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text().splitlines():
        stripped = line.strip()
        match = re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", stripped)
        if match:
            commented.add(match.group(1))
            continue
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if sep:
            values[name.strip()] = value.strip()
    return values, commented


# -- compose -----------------------------------------------------------------------------------------------------


def _image_pinned(image: str) -> str | None:
    """None when ``image`` names an exact version (or a digest); else what is wrong."""
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return f"image {image!r} has no tag"
    if tag == "latest" or not re.search(r"\d+\.\d+", tag):
        return f"image {image!r} is not pinned to an exact version (tag {tag!r})"
    return None


def _command_problems(service: str, command: list[str]) -> list[str]:
    import importlib.util

    problems: list[str] = []
    if len(command) >= 3 and command[0] == "python" and command[1] == "-m":
        module = command[2]
        if importlib.util.find_spec(module) is None:
            return [f"{service}: command runs module {module!r}, which does not exist"]
        main = ROOT.joinpath(*module.split(".")) / "__main__.py"
        source = main.read_text() if main.exists() else ""
        for arg in command[3:]:
            if arg.startswith("--") and f'"{arg.split("=", 1)[0]}"' not in source:
                problems.append(f"{service}: {module} has no option {arg}")
            elif not arg.startswith("-") and not arg.startswith("/") and arg.isidentifier() and \
                    f'"{arg}"' not in source:
                problems.append(f"{service}: {module} has no sub-command {arg!r}")
    if len(command) >= 3 and command[0] == "python" and command[1] == "-c":
        try:
            compile(command[2], f"<{service} healthcheck>", "exec")
        except SyntaxError as error:
            problems.append(f"{service}: python -c code does not compile: {error}")
    return problems


def check_compose(compose: dict[str, Any], env: dict[str, str]) -> list[str]:
    problems: list[str] = []
    interpolate = Interpolation(env)
    resolved = resolve({k: v for k, v in compose.items() if not str(k).startswith("x-")}, interpolate)
    for key in compose:
        if key not in TOP_LEVEL and not str(key).startswith("x-"):
            problems.append(f"unknown top-level key {key!r}")
    services: dict[str, Any] = resolved.get("services") or {}
    if not isinstance(services, dict) or not services:
        return [*problems, "no services"]
    declared_volumes = set((resolved.get("volumes") or {}).keys())
    used_volumes: set[str] = set()
    for name, service in services.items():
        if not isinstance(service, dict):
            problems.append(f"{name}: a service must be a mapping")
            continue
        for key in service:
            if key not in SERVICE_KEYS:
                problems.append(f"{name}: unknown service key {key!r}")
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: neither image nor build")
        if "image" in service and "build" not in service and (why := _image_pinned(service["image"])):
            problems.append(f"{name}: {why}")
        if "image" in service and "build" in service and (why := _image_pinned(service["image"])):
            problems.append(f"{name}: the built image's tag: {why}")
        build = service.get("build")
        if build is not None:
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
            if not dockerfile.is_file():
                problems.append(f"{name}: build file {dockerfile} does not exist")
        restart = str(service.get("restart", "no"))
        if restart.split(":")[0] not in RESTART:
            problems.append(f"{name}: restart {restart!r} is not one of {sorted(RESTART)}")
        one_shot = restart == "no"
        health = service.get("healthcheck")
        if not one_shot:
            if not isinstance(health, dict) or health.get("disable"):
                problems.append(f"{name}: a long-running service needs a healthcheck")
            else:
                test = health.get("test")
                if not isinstance(test, list) or not test or test[0] not in ("CMD", "CMD-SHELL"):
                    problems.append(f"{name}: healthcheck test must be a list starting with CMD or CMD-SHELL")
                elif test[0] == "CMD":
                    problems.extend(_command_problems(name, test[1:]))
                for key in ("interval", "timeout", "start_period"):
                    if key in health and not DURATION.match(str(health[key])):
                        problems.append(f"{name}: healthcheck {key} {health[key]!r} is not a duration")
                if not isinstance(health.get("retries", 3), int):
                    problems.append(f"{name}: healthcheck retries must be an integer")
        command = service.get("command")
        if command is not None:
            args = command if isinstance(command, list) else shlex.split(command)
            problems.extend(_command_problems(name, [str(a) for a in args]))
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            problems.append(f"{name}: depends_on must use the long syntax with a condition")
            depends = {}
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"{name}: depends on unknown service {target!r}")
                continue
            condition = (spec or {}).get("condition")
            if condition not in CONDITIONS:
                problems.append(f"{name}: depends_on {target} has condition {condition!r}")
            elif condition == "service_healthy" and "healthcheck" not in services[target]:
                problems.append(f"{name}: waits for {target} to be healthy, but {target} has no healthcheck")
            elif condition == "service_completed_successfully" and services[target].get("restart", "no") != "no":
                problems.append(f"{name}: waits for {target} to complete, but {target} restarts")
            elif condition == "service_started":
                problems.append(f"{name}: starts when {target} has started, not when it is healthy")
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith((".", "/")):
                if not (ROOT / source).exists():
                    problems.append(f"{name}: mounts {source}, which does not exist")
            else:
                used_volumes.add(source)
        for entry in service.get("env_file") or []:
            path = entry if isinstance(entry, str) else entry.get("path")
            required = True if isinstance(entry, str) else entry.get("required", True)
            if required and not (ROOT / path).exists():
                problems.append(f"{name}: env_file {path} does not exist")
    for volume in sorted(used_volumes - declared_volumes):
        problems.append(f"volume {volume!r} is used but not declared under volumes:")
    problems.extend(_cycles(services))
    return problems


def _cycles(services: dict[str, Any]) -> list[str]:
    state: dict[str, int] = {}
    problems: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            problems.append("depends_on cycle: " + " -> ".join([*path, name]))
            return
        state[name] = 1
        for target in (services[name].get("depends_on") or {}):
            if target in services:
                visit(target, [*path, name])
        state[name] = 2

    for name in services:
        visit(name, [])
    return problems


def compose_variables(compose: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(every variable the compose file interpolates, those it requires with ``:?``)."""
    interpolate = Interpolation({})
    for text in walk_strings(compose):
        interpolate(text)
    return interpolate.referenced, interpolate.required


def service_environment(compose: dict[str, Any], service: str) -> set[str]:
    environment = compose["services"][service].get("environment") or {}
    if isinstance(environment, list):
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


# -- Dockerfile ----------------------------------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


def dockerfile_instructions(text: str) -> list[Instruction]:
    out: list[Instruction] = []
    buffer, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = ""
    return out


def check_dockerfile(text: str, dockerignore: str) -> list[str]:
    problems: list[str] = []
    instructions = dockerfile_instructions(text)
    args: dict[str, str] = {}
    stages: list[str] = []
    last_from = -1
    for index, ins in enumerate(instructions):
        if ins.keyword == "ARG" and last_from == -1:
            name, _, default = ins.args.partition("=")
            args[name] = default
        if ins.keyword == "FROM":
            last_from = index
            parts = ins.args.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            if len(parts) >= 3 and parts[1].upper() == "AS":
                stages.append(parts[2])
            if image in stages:
                continue
            if why := _image_pinned(image):
                problems.append(f"line {ins.line}: FROM {why}")
    final = instructions[last_from + 1:]
    users = [ins for ins in final if ins.keyword == "USER"]
    if not users:
        problems.append("the final stage has no USER: the services would run as root")
    else:
        user = users[-1].args.split(":")[0]
        if user in ("root", "0"):
            problems.append(f"the final stage runs as {user}")
        if final and final[-1].keyword not in ("CMD", "ENTRYPOINT") and not any(
                ins.keyword in ("CMD", "ENTRYPOINT") for ins in final[final.index(users[-1]):]):
            problems.append("CMD/ENTRYPOINT must come after USER")
    exposed = {port.split("/")[0] for ins in final if ins.keyword == "EXPOSE" for port in ins.args.split()}
    for port in ("26500", "9600", "8000", "9700"):
        if port not in exposed:
            problems.append(f"port {port} is not exposed")
    allowed = _dockerignore_allows(dockerignore)
    for ins in instructions:
        if ins.keyword != "COPY" or "--from=" in ins.args:
            continue
        sources = [s for s in shlex.split(ins.args) if not s.startswith("--")][:-1]
        for source in sources:
            if not (ROOT / source).exists():
                problems.append(f"line {ins.line}: COPY {source}: no such file")
            elif not allowed(source):
                problems.append(f"line {ins.line}: COPY {source}: excluded by .dockerignore")
    runs = " ".join(ins.args for ins in instructions if ins.keyword == "RUN")
    if "npm ci" not in runs or "package-lock.json" not in text:
        problems.append("npm packages must come from package-lock.json with npm ci")
    if "-r requirements.lock" not in runs:
        problems.append("Python packages must come from requirements.lock")
    return problems


def _dockerignore_allows(text: str) -> Any:
    """A small reading of .dockerignore: '*' then '!path' exceptions (the form this repository uses)."""
    patterns = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]

    def allows(path: str) -> bool:
        allowed = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            body = body.rstrip("/")
            if body == "*" or path == body or path.startswith(body + "/"):
                allowed = negate
        return allowed

    return allows


def dockerfile_vendor_folders(text: str) -> set[str]:
    match = re.search(r"for folder in ([^;]+);", text)
    return set(match.group(1).split()) if match else set()


# -- what the services read ----------------------------------------------------------------------------------------


def settings_variables() -> set[str]:
    """Every environment variable a pydantic-settings class of the services reads."""
    from pydantic_settings import BaseSettings

    import gateway.settings
    import services.workers.settings
    import shared.settings

    names: set[str] = set()
    for module in (shared.settings, gateway.settings, services.workers.settings):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseSettings) and value is not BaseSettings:
                prefix = value.model_config.get("env_prefix", "") or ""
                for field_name, info in value.model_fields.items():
                    names.add((info.validation_alias if isinstance(info.validation_alias, str)
                               else prefix + field_name).upper())
    return names


def direct_variables(roots: tuple[str, ...] = ("services", "gateway", "shared"),
                     skip: tuple[str, ...] = ("services/launcher",)) -> set[str]:
    """Variables read with os.environ / env.get(...) in the services' code (the launcher is not deployed)."""
    names: set[str] = set()
    pattern = re.compile(r"""(?:environ|env)(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
    for root in roots:
        for path in (ROOT / root).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if any(relative.startswith(s) for s in skip):
                continue
            names.update(pattern.findall(path.read_text()))
    from services.engine.exporters.service import KINDS

    names.update(f"EXPORTER_{kind.upper()}_URL" for kind in KINDS)  # built from the exporter kinds
    return names - {"PYTHONPATH"}  # the interpreter's, set for child processes: not configuration


def imported_top_level_modules(roots: tuple[str, ...] = ("services", "gateway", "shared"),
                               skip: tuple[str, ...] = ("services/launcher",)) -> dict[str, str]:
    """Top-level module -> a file importing it, for every import in the image's code."""
    found: dict[str, str] = {}
    for root in roots:
        for path in (ROOT / root).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if any(relative.startswith(s) for s in skip):
                continue
            tree = ast.parse(path.read_text(), relative)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        found.setdefault(alias.name.split(".")[0], relative)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.setdefault(node.module.split(".")[0], relative)
    return found
