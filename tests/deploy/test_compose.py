"""docker-compose.yml, the Dockerfile, .env.example and deploy/ checked without a Docker engine (none runs on
the development machines): structure, start order by health, pinned images, a non-root image, commands that
name real modules, configuration that is complete, and monitoring files that match what the services export.
The validator itself is tested on broken inputs, so a green run means something."""

from __future__ import annotations

import copy
import importlib.metadata as md
import json
import re
import sys
from typing import Any

import pytest
import yaml

from tests.deploy import compose_check as cc

ROOT = cc.ROOT
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()
ENV, COMMENTED = cc.read_env_file(ROOT / ".env.example")
APP_SERVICES = ("engine", "workers", "gateway")


# -- the compose file ------------------------------------------------------------------------------------------


def test_the_compose_file_is_valid_and_starts_each_service_once_what_it_needs_is_healthy() -> None:
    assert cc.check_compose(COMPOSE, ENV) == []


def test_the_services_the_issue_asks_for_are_there_with_their_probes() -> None:
    services = COMPOSE["services"]
    assert {"engine", "workers", "gateway", "mongo", "mongo-init", "redis", "models"} <= set(services)
    engine_probe = " ".join(services["engine"]["healthcheck"]["test"])
    assert "127.0.0.1:9600/ready" in engine_probe
    assert "127.0.0.1:8000/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    # MongoDB: a replica set of one, initiated once, before anything uses it
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in (ROOT / "deploy" / "mongo-init.js").read_text()
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["mongo-init"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("workers", "gateway", "models"):
        assert services[name]["depends_on"]["engine"]["condition"] == "service_healthy", name
    # Redis keeps the event stream across restarts; the engine keeps its data on a volume
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert any(str(v).startswith("engine-data:/data") for v in services["engine"]["volumes"])
    assert any(str(v).startswith("mongo-data:") for v in services["mongo"]["volumes"])
    assert any(str(v).startswith("redis-data:") for v in services["redis"]["volumes"])


def test_secrets_are_required_from_the_environment_and_services_run_in_prod_mode() -> None:
    _, required = cc.compose_variables(COMPOSE)
    assert {"JWT_SECRET", "INGEST_HMAC_SECRET_GONGGAI", "INGEST_HMAC_SECRET_TUZHI", "REDIS_PASSWORD"} <= required
    for name in ("JWT_SECRET", "INGEST_HMAC_SECRET_GONGGAI", "INGEST_HMAC_SECRET_TUZHI", "REDIS_PASSWORD"):
        assert ENV.get(name) == "", f"{name} must be blank in .env.example (a real secret is generated per site)"
    assert ENV["QLY_ENV"] == "prod" and "QLY_ENV=prod" in DOCKERFILE
    assert "${QLY_ENV:-prod}" in (ROOT / "docker-compose.yml").read_text()
    # no credentials baked into the compose file
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(SECRET|PASSWORD|TOKEN)\s*:\s*['\"]?[A-Za-z0-9]{8,}", text)


def test_every_variable_the_compose_file_interpolates_is_in_the_env_example() -> None:
    referenced, _ = cc.compose_variables(COMPOSE)
    missing = sorted(name for name in referenced if name not in ENV and name not in COMMENTED)
    assert missing == []


def test_every_variable_the_services_read_is_in_the_env_example() -> None:
    read = cc.settings_variables() | cc.direct_variables()
    assert {"ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET", "ZEEBE_AUTHORIZATION_SERVER_URL",
            "ZEEBE_TOKEN_AUDIENCE", "DOCUMENTS_URL", "REDIS_URL", "ENGINE_SYNC", "EXPORTER_DOCUMENTS_URL",
            "WORKER_METRICS_PORT", "GATEWAY_METRICS_TOKEN", "GATEWAY_NEW_PASSWORD"} <= read  # the scan sees them
    missing = sorted(name for name in read if name not in ENV and name not in COMMENTED)
    assert missing == [], f"add these to .env.example: {missing}"


def test_each_app_service_gets_the_variables_it_reads() -> None:
    shared = {"ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET", "ZEEBE_AUTHORIZATION_SERVER_URL",
              "ZEEBE_TOKEN_AUDIENCE", "DOCUMENTS_URL", "REDIS_URL", "QLY_ENV", "LOG_FORMAT"}
    for name in APP_SERVICES:
        assert shared <= cc.service_environment(COMPOSE, name), name
    assert {"EXPORTER_DOCUMENTS_URL", "EXPORTER_REDIS_URL"} <= cc.service_environment(COMPOSE, "engine")
    assert {"JWT_SECRET", "INGEST_HMAC_SECRET_GONGGAI", "INGEST_HMAC_SECRET_TUZHI"} <= \
        cc.service_environment(COMPOSE, "gateway")
    from services.workers.settings import WorkerSettings

    worker_vars = {name.upper() for name in WorkerSettings.model_fields}
    assert worker_vars <= cc.service_environment(COMPOSE, "workers")


def test_the_external_cluster_switch_uses_the_settings_names() -> None:
    """ZEEBE_ADDRESS and Camunda 8's OAuth variables, as shared/settings.py reads them; the engine is a
    profile so that a deployment on Camunda 8 leaves it out and nothing waits for it."""
    from shared.settings import ZeebeSettings

    names = {"ZEEBE_" + field.upper() for field in ZeebeSettings.model_fields}
    assert {"ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET", "ZEEBE_AUTHORIZATION_SERVER_URL",
            "ZEEBE_TOKEN_AUDIENCE"} <= names
    services = COMPOSE["services"]
    assert services["engine"]["profiles"] == ["engine"] and ENV["COMPOSE_PROFILES"] == "engine"
    for name in ("workers", "gateway", "models"):
        assert services[name]["depends_on"]["engine"].get("required") is False, name
    settings = ZeebeSettings(address="abc.bru-2.zeebe.camunda.io:443", client_id="id", client_secret="secret",
                             authorization_server_url="https://login.cloud.camunda.io/oauth/token")
    assert settings.oauth_enabled


def test_blank_variables_in_a_compose_environment_mean_unset_for_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.workers.settings import WorkerSettings

    for name in ("DINGTALK_SECRET", "SMS_GATEWAY_TOKEN", "SMTP_HOST", "SMTP_PASSWORD"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("WORKER_MAX_JOBS", "")
    settings = WorkerSettings()
    assert settings.dingtalk_secret is None and settings.sms_gateway_token is None
    assert settings.smtp_host is None and settings.worker_max_jobs == 32


# -- the Dockerfile --------------------------------------------------------------------------------------------


def test_the_dockerfile_is_pinned_non_root_and_builds_from_the_lock_files() -> None:
    assert cc.check_dockerfile(DOCKERFILE, DOCKERIGNORE) == []


def test_the_image_ships_exactly_the_web_assets_the_gateway_serves() -> None:
    from gateway.web.vendor import VENDOR_FOLDERS

    assert cc.dockerfile_vendor_folders(DOCKERFILE) == set(VENDOR_FOLDERS.values())


def test_the_pruned_image_venv_keeps_every_distribution_the_services_import() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import prune_venv
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    keep = prune_venv.runtime_closure(prune_venv.runtime_roots(ROOT / "requirements.in"))
    assert {"pyzeebe", "fastapi", "pymongo", "grpcio", "uvicorn"} <= keep
    assert not {"pytest", "playwright", "schemathesis", "ruff", "nx-27017", "hypothesis"} & keep
    owners = md.packages_distributions()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    local = {"services", "gateway", "shared"}
    missing = {}
    for module, where in cc.imported_top_level_modules().items():
        if module in stdlib or module in local:
            continue
        dists = {prune_venv.canonical(d) for d in owners.get(module, [])}
        if not dists:
            missing[module] = f"{where}: no installed distribution provides it"
        elif not dists & keep:
            missing[module] = f"{where}: from {sorted(dists)}, which the image leaves out"
    assert missing == {}


def test_the_lock_pins_every_distribution_the_image_keeps() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import prune_venv
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    keep = prune_venv.runtime_closure(prune_venv.runtime_roots(ROOT / "requirements.in"))
    locked = {prune_venv.canonical(line.split("==")[0]) for line in (ROOT / "requirements.lock").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert keep - locked == set()


# -- monitoring files ------------------------------------------------------------------------------------------


def exported_metric_names() -> set[str]:
    """Every metric family the engine, the workers and the gateway export."""
    from gateway.metrics import REGISTRY as gateway_registry
    from services.engine.metrics import Metrics, render_jobs_by_type
    from services.workers.metrics import REGISTRY as workers_registry

    names: set[str] = set()
    text = (Metrics().render({"zeebe_incidents_open": 0}) + render_jobs_by_type([]) + gateway_registry.render()
            + workers_registry.render())
    names.update(re.findall(r"^# TYPE (\S+)", text, re.M))
    host = (ROOT / "services/engine/exporters/host.py").read_text()
    names.update(re.findall(r'"(zeebe_exporter_[a-z_]+|zeebe_log_[a-z_]+)"', host))
    return names


def test_the_dashboard_queries_only_metrics_the_services_export() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert len(exprs) >= 12
    families = exported_metric_names()
    used = set()
    for expr in exprs:
        for name in re.findall(r"\b((?:zeebe|qly)_[a-z_]+)", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            used.add(base)
            assert base in families, f"{expr}: {base} is not exported"
    # the four things the issue names are on the dashboard
    assert {"zeebe_jobs_open", "qly_worker_jobs_total", "qly_gateway_request_seconds", "qly_notification_outbox"} <= used
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_prometheus_scrapes_every_service_where_it_listens() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {job["job_name"]: target for job in config["scrape_configs"]
               for group in job["static_configs"] for target in group["targets"]}
    assert targets == {"engine": "engine:9600", "workers": "workers:9700", "gateway": "gateway:8000"}
    services = COMPOSE["services"]
    assert COMPOSE["services"]["workers"]["environment"]["WORKER_METRICS_PORT"] == "9700"
    for target in targets.values():
        assert target.split(":")[0] in services


def test_the_readme_says_the_compose_file_was_not_run_here() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deployment", 1)[1].split("\n## ", 1)[0]
    assert "not been run" in section or "were not run" in section
    for name in ("ZEEBE_ADDRESS", "ZEEBE_CLIENT_ID", "ZEEBE_CLIENT_SECRET", "ZEEBE_AUTHORIZATION_SERVER_URL",
                 "ZEEBE_TOKEN_AUDIENCE", ".env.example", "docker compose"):
        assert name in section, name


# -- the validator catches what it should ---------------------------------------------------------------------


def broken(change: Any) -> list[str]:
    compose = copy.deepcopy(COMPOSE)
    change(compose["services"], compose)
    return cc.check_compose(compose, ENV)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s, c: s["gateway"].pop("healthcheck"), "gateway: a long-running service needs a healthcheck"),
    (lambda s, c: s["redis"].update(image="redis:latest"), "redis: image 'redis:latest' is not pinned"),
    (lambda s, c: s["mongo"].update(image="mongo"), "mongo: image 'mongo' has no tag"),
    (lambda s, c: s["gateway"]["depends_on"]["redis"].update(condition="service_started"),
     "gateway: starts when redis has started, not when it is healthy"),
    (lambda s, c: s["workers"].update(depends_on=["engine"]), "workers: depends_on must use the long syntax"),
    (lambda s, c: s["workers"].update(command=["python", "-m", "services.wokers"]),
     "workers: command runs module 'services.wokers', which does not exist"),
    (lambda s, c: s["engine"].update(command=["python", "-m", "services.engine", "--data-directory", "/d"]),
     "engine: services.engine has no option --data-directory"),
    (lambda s, c: s["models"].update(command=["python", "-m", "services.demo", "deploi"]),
     "models: services.demo has no sub-command 'deploi'"),
    (lambda s, c: c["volumes"].pop("engine-data"), "volume 'engine-data' is used but not declared"),
    (lambda s, c: s["mongo-init"]["volumes"].__setitem__(0, "./deploy/nope.js:/x.js:ro"),
     "mongo-init: mounts ./deploy/nope.js, which does not exist"),
    (lambda s, c: s["redis"].update(depends_on={"gateway": {"condition": "service_healthy"}}), "depends_on cycle"),
    (lambda s, c: s["engine"].update(build={"context": ".", "dockerfile": "Dockerfile.nope"}),
     "engine: build file"),
    (lambda s, c: s["gateway"].update(helthcheck={}), "gateway: unknown service key 'helthcheck'"),
    (lambda s, c: s["workers"]["depends_on"].update(mongo={"condition": "service_healthy"},
                                                     redis={"condition": "service_completed_successfully"}),
     "workers: waits for redis to complete, but redis restarts"),
])
def test_the_compose_validator_catches(change: Any, expected: str) -> None:
    problems = broken(change)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("USER 10001:10001\n", ""), "the final stage has no USER"),
    (lambda t: t.replace("USER 10001:10001", "USER root"), "the final stage runs as root"),
    (lambda t: t.replace("python:3.11.13-slim-bookworm", "python:slim"), "is not pinned"),
    (lambda t: t.replace("node:20.19.2-bookworm-slim", "node:latest"), "is not pinned"),
    (lambda t: t.replace("EXPOSE 26500 9600 8000 9700", "EXPOSE 8000"), "port 9600 is not exposed"),
    (lambda t: t.replace("COPY bpmn ./bpmn", "COPY models ./models"), "COPY models: no such file"),
    (lambda t: t.replace("npm ci", "npm install"), "npm ci"),
])
def test_the_dockerfile_validator_catches(edit: Any, expected: str) -> None:
    problems = cc.check_dockerfile(edit(DOCKERFILE), DOCKERIGNORE)
    assert any(expected in problem for problem in problems), problems


def test_the_dockerignore_reading_catches_an_excluded_copy() -> None:
    problems = cc.check_dockerfile(DOCKERFILE, DOCKERIGNORE.replace("!bpmn/\n", ""))
    assert any("COPY bpmn: excluded by .dockerignore" in p for p in problems), problems


def test_interpolation_follows_the_compose_rules() -> None:
    interpolate = cc.Interpolation({"SET": "x", "EMPTY": ""})
    assert interpolate("${SET:-d}") == "x" and interpolate("${EMPTY:-d}") == "d" and interpolate("${EMPTY-d}") == ""
    assert interpolate("${UNSET-d}") == "d" and interpolate("${UNSET:-a${SET}b}") == "axb"
    assert interpolate("$${SET}") == "${SET}"  # "$$" escapes
    interpolate("${NEEDED:?set it}")
    assert "NEEDED" in interpolate.required and {"SET", "EMPTY", "UNSET", "NEEDED"} <= interpolate.referenced

