"""Property-based testing of the whole API from its OpenAPI document (schemathesis), against the gateway
running as its own process on real services: no 5xx, and every answer (status, content type, body) is one
the document declares. Each operation is called as a person allowed to call it, so most requests get past
the role check; a bounded number of examples per operation keeps the run short."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.auth.tokens import TokenService
from shared.redis_server import RedisServer
from tests.fixtures.engine import EngineProcess
from tests.integration.gateway.conftest import INGEST_SECRETS
from tests.integration.gateway.support import GatewayProcess, seed_store
from tests.integration.gateway.test_gateway_access import CASES

JWT_SECRET = "schemathesis-jwt-secret-0123456789abcdef"
EXAMPLES = 20
CALLS: dict[GenerationMode, int] = {}
ALLOWED = {(c.method, c.path): sorted(c.allowed) for c in CASES}


@pytest.fixture(scope="module")
def running_gateway(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("schemathesis")
    documents_url = f"sqlite:///{base / 'documents.sqlite3'}"
    seed_store(documents_url)
    engine = EngineProcess(base / "engine")  # its own engine: the clock endpoints move it at random
    gateway = GatewayProcess(engine_address=engine.address, management_url=engine.management_url,
                             documents_url=documents_url, redis_url=redis_server.url.rsplit("/", 1)[0] + "/7",
                             secrets={"jwt": JWT_SECRET, **INGEST_SECRETS}, log_path=base / "gateway.log")
    try:
        engine.start()
        yield gateway.start()
    finally:
        gateway.stop()
        engine.stop()


@pytest.fixture(scope="module")
def tokens(running_gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from shared.documents.models import Role, User

    service = TokenService(JWT_SECRET.encode(), access_seconds=3600, refresh_seconds=3600)
    people = {"admin": ([Role.ADMIN], []), "leader": ([Role.LEADER], []), "designer": ([Role.PROCESS_DESIGNER], []),
              "zrzy": ([Role.UNIT_STAFF], ["dept-zrzy"]), "investor": ([Role.INVESTOR], [])}
    return {name: service.issue(User(username=name, display_name=name, roles=roles, unit_ids=units)).access_token
            for name, (roles, units) in people.items()}


def operations(base_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()  # a malformed operation in our own document fails here, by design
        if (operation.method.upper(), operation.path) == ("GET", "/api/events"):
            continue  # the live stream never ends: test_gateway_events covers it
        found.append(operation)
    return found


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def runner(operation: Any, mode: GenerationMode, token: str, base_url: str) -> Any:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        # A generated Authorization header is the case itself (a bad token must get 401): keep it.
        headers = {} if case.headers and "Authorization" in case.headers else {"Authorization": f"Bearer {token}"}
        CALLS[mode] = CALLS.get(mode, 0) + 1
        case.call_and_validate(base_url=base_url, headers=headers, timeout=30, checks=CHECKS)

    return run


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_contract(mode: GenerationMode, running_gateway: GatewayProcess,
                                    tokens: dict[str, str]) -> None:
    """Every operation, positive data (valid by the schema) and negative data (invalid), as an allowed person."""
    failures: list[str] = []
    ops = operations(running_gateway.url)
    assert len(ops) > 40
    for operation in ops:
        person = ALLOWED.get((operation.method.upper(), operation.path), ["admin"])[0]
        try:
            runner(operation, mode, tokens[person], running_gateway.url)()
        except Unsatisfiable:
            continue  # nothing can be invalid about an operation without input
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    # Most operations take input, so most get the full number of examples.
    assert CALLS[mode] > len(ops) * EXAMPLES // 2, CALLS


def test_the_process_survived(running_gateway: GatewayProcess) -> None:
    import httpx

    assert httpx.get(f"{running_gateway.url}/readyz", timeout=10).json()["status"] == "ready"
    assert "Traceback" not in running_gateway.log()


