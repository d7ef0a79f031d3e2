"""The supervision story through the gateway's API only: the platform's models, workers and engine run as in
production (tests/integration/workers/harness.py); people and approval systems act over HTTP.

Import two projects, an approval system reports progress on one, the clock moves 90 days: the other one
lights red on the dashboard, its two units find the work order in their inboxes, resolve it with the form,
the county's business office confirms, the completion rate rises, and the live stream told each step."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.context import Services
from gateway.engine import EngineGateway
from gateway.settings import GatewaySettings
from shared.clock import EngineClock, to_display
from shared.documents import open_store
from shared.events import EventBus, connect_redis
from shared.settings import AppSettings, SecretSettings, ZeebeSettings
from tests.fixtures.engine import EngineProcess, eventually, started_engine
from tests.integration.gateway.support import served, sign
from tests.integration.workers.harness import Platform

SECRETS = {"jwt": "e2e-jwt-secret-0123456789abcdef0123456789", "gonggai": "e2e-gonggai-secret-0123456789abcdef",
           "tuzhi": "e2e-tuzhi-secret-0123456789abcdef01"}
PASSWORDS = {"admin": "Admin#2024", "leader.office": "Leader#2024", "assist-320812.staff": "Staff#2024",
             "xzsp-320812.staff": "Staff#2024", "office-320812.staff": "Staff#2024", "dept-zjj.staff": "Staff#2024",
             "investor01": "Investor#2024"}
MOVING = "2025-320812-34-03-100001"
STALLED = "2025-320812-34-03-100002"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    """The engine with its documents exporter on the workers' file, as `make run` has it, so the instance
    views behind the project's diagram are filled."""
    with started_engine(tmp_path / "engine", exporters={"documents": f"sqlite:///{tmp_path / 'documents.sqlite3'}"}) as process:
        yield process


@pytest.fixture
async def gateway(platform: Platform, tmp_path: Path, redis_url: str) -> AsyncIterator[str]:
    engine = platform.engine
    zeebe = ZeebeSettings(address=engine.address, management_url=engine.management_url)
    clock = EngineClock(engine.management_url, refresh_interval=1.0)
    await clock.refresh()
    store = await open_store(f"sqlite:///{tmp_path / 'documents.sqlite3'}", clock=clock)  # the workers' file
    redis = connect_redis(redis_url)
    secrets = SecretSettings(jwt_secret=SecretStr(SECRETS["jwt"]),
                             ingest_hmac_secret_gonggai=SecretStr(SECRETS["gonggai"]),
                             ingest_hmac_secret_tuzhi=SecretStr(SECRETS["tuzhi"]))
    services = Services(settings=GatewaySettings(), app=AppSettings(qly_env="dev"), secrets=secrets, zeebe=zeebe,
                        store=store, redis=redis, bus=EventBus(redis, clock=clock),
                        engine=EngineGateway.from_settings(zeebe), clock=clock, owned=True)
    try:
        async with served(services) as url:
            yield url
    finally:
        await services.close()


class Person:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


async def log_in(client: httpx.AsyncClient, username: str) -> Person:
    response = await client.post("/api/auth/token", data={"grant_type": "password", "username": username,
                                                          "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    return Person(client, response.json()["access_token"])


async def follow(base_url: str, token: str, last_id: str, into: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=None) as client, client.stream(
            "GET", "/api/events", headers={"Authorization": f"Bearer {token}", "Last-Event-ID": last_id}) as response:
        event: dict[str, Any] = {}
        async for line in response.aiter_lines():
            if not line:
                if "event" in event:
                    into.append(event)
                event = {}
            elif not line.startswith((":", "retry:")):
                name, _, value = line.partition(": ")
                event[name] = json.loads(value) if name == "data" else value


async def test_the_story_through_the_api(platform: Platform, gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        admin, leader = await log_in(client, "admin"), await log_in(client, "leader.office")
        assistant, approver = await log_in(client, "assist-320812.staff"), await log_in(client, "xzsp-320812.staff")
        office, bystander = await log_in(client, "office-320812.staff"), await log_in(client, "dept-zjj.staff")
        investor = await log_in(client, "investor01")

        stream: list[dict[str, Any]] = []
        follower = asyncio.get_running_loop().create_task(
            follow(gateway, leader.headers["Authorization"][7:], await platform.events.last_id(), stream))
        investor_stream: list[dict[str, Any]] = []
        investor_follower = asyncio.get_running_loop().create_task(
            follow(gateway, investor.headers["Authorization"][7:], await platform.events.last_id(), investor_stream))
        before = await leader.call("GET", "/api/dashboards/summary")
        assert before["problems"]["found"] == 0 and before["projects"]["total"] == 0

        # 1. The business office imports the signed projects; signing starts their life cycles.
        signed_on = to_display(platform.now()).date().isoformat()
        csv_text = ("project_code,name,investor_company,county_code,industry,amount_cny,signed_at,"
                    "assistant_unit_id,investor_user_ids\n"
                    f"{MOVING},液压机组厂,淮安恒力液压科技有限公司,320812,machinery,300000000,{signed_on},"
                    "assist-320812,investor01\n"
                    f"{STALLED},新材料产业园,淮安新材科技有限公司,320812,new_materials,500000000,{signed_on},"
                    "assist-320812,investor02\n")
        report = await leader.call("POST", "/api/projects/import",
                                   files={"file": ("signed.csv", csv_text.encode(), "text/csv")})
        assert report["counts"]["created"] == 2 and all(r["signed"] for r in report["rows"])
        await platform.settle()
        for code in (MOVING, STALLED):
            project = (await leader.call("GET", f"/api/projects/{code}"))["project"]
            assert project["process_instance_key"] is not None and project["light"] == "green"

        # 2. A month later the 工改 system reports the filing of one project (signed post, its own fields).
        await admin.call("POST", "/api/processes/clock/add", json={"offset_milli": 30 * 86_400_000})
        await platform.settle()
        when = to_display(platform.now()).strftime("%Y-%m-%d %H:%M:%S")
        record = {"lsh": "GG-2025-000731", "xmdm": MOVING, "sxbm": "GG-LX-01", "sxmc": "企业投资项目备案",
                  "blzt": "办结", "blsj": when, "bljgdm": "xzsp-320812", "bljgmc": "清江浦区行政审批局"}
        body = json.dumps(record, ensure_ascii=False).encode()
        posted = await client.post("/api/ingest/approvals", content=body,
                                   headers={**sign(SECRETS["gonggai"].encode(), body), "X-Qly-System": "gonggai"})
        assert posted.status_code == 201 and posted.json()["supervised"] is True, posted.text
        await platform.settle()
        moving = await investor.call("GET", f"/api/projects/{MOVING}")
        assert moving["project"]["stage"] == "filing" and [a["item_code"] for a in moving["approvals"]] == ["GG-LX-01"]
        # its investor sees where the life cycle stands on the diagram (not its variables); others see nothing
        diagram = await exported_diagram(investor, MOVING, until="apply_progress")
        assert diagram["process_instance_key"] == moving["project"]["process_instance_key"]
        assert diagram["bpmn_process_id"] == "project-lifecycle" and diagram["state"] == "active"
        assert 'id="register"' in diagram["xml"] and "variables" not in diagram
        assert {"register", "apply_progress"} <= set(diagram["marks"]["completed"])
        assert diagram["marks"]["active"] and not diagram["marks"]["incidents"]
        assert set(diagram["marks"]["active"]) <= set(re.findall(r'<bpmn:\w+ id="([^"]+)"', diagram["xml"]))
        await bystander.call("GET", f"/api/projects/{MOVING}/diagram", expect=404)

        # 3. Sixty more days: the project nobody moved has had no progress for 90 days since signing.
        await admin.call("POST", "/api/processes/clock/add", json={"offset_milli": 60 * 86_400_000})
        await platform.settle()
        summary = await leader.call("GET", "/api/dashboards/summary")
        assert [r["project_code"] for r in summary["red_lights_month"]] == [STALLED]
        assert {c["code"]: c["red"] for c in summary["counties"]} == {"320812": 1}
        assert summary["problems"]["found"] == 1 and summary["problems"]["completion_rate"] == 0.0
        assert (await leader.call("GET", f"/api/projects/{MOVING}"))["project"]["light"] == "green"

        # 4. The work order is in the two right inboxes, and nowhere else.
        problems = await leader.call("GET", "/api/problems", params={"project_code": STALLED})
        (problem,) = problems["items"]
        assert problem["origin"] == "warning" and sorted(problem["unit_ids"]) == ["assist-320812", "xzsp-320812"]
        inboxes = {}
        for name, person in (("assistant", assistant), ("approver", approver)):
            (task,) = (await person.call("GET", "/api/tasks"))["items"]
            assert task["project_code"] == STALLED and task["problem_id"] == problem["id"]
            inboxes[name] = task
        assert (await bystander.call("GET", "/api/tasks"))["total"] == 0
        assert (await investor.call("GET", "/api/tasks"))["total"] == 0
        await bystander.call("GET", f"/api/tasks/{inboxes['assistant']['job_key']}", expect=404)

        # 5. Both units report with the form; the form's rules are the gateway's rules.
        form = await assistant.call("GET", f"/api/tasks/{inboxes['assistant']['job_key']}/form")
        assert form["form_id"] == "problem-resolution"
        short = await assistant.call("POST", f"/api/tasks/{inboxes['assistant']['job_key']}/complete", expect=422,
                                     json={"variables": {"resolution": "ok"}})
        assert short["errors"][0]["field"] == "resolution"
        await assistant.call("POST", f"/api/tasks/{inboxes['assistant']['job_key']}/claim")
        await assistant.call("POST", f"/api/tasks/{inboxes['assistant']['job_key']}/complete",
                             json={"variables": {"resolution": "已协调拆除违建，土地证明已补齐"}})
        await approver.call("POST", f"/api/tasks/{inboxes['approver']['job_key']}/complete",
                            json={"variables": {"resolution": "施工许可材料已受理并办结"}})
        await platform.settle()

        # 6. The county's business office confirms the resolution (its own inbox, its own form).
        (confirm,) = (await office.call("GET", "/api/tasks"))["items"]
        assert (await office.call("GET", f"/api/tasks/{confirm['job_key']}/form"))["form_id"] == "problem-confirmation"
        await office.call("POST", f"/api/tasks/{confirm['job_key']}/complete", expect=422,
                          json={"variables": {"decision": "maybe"}})
        await office.call("POST", f"/api/tasks/{confirm['job_key']}/complete",
                          json={"variables": {"decision": "confirm", "confirmComment": "核实已解决"}})
        await platform.settle()
        closed = await leader.call("GET", f"/api/problems/{problem['id']}")
        assert closed["status"] == "closed"
        history = [t["job_key"] for t in (await assistant.call("GET", "/api/tasks/history"))["items"]]
        assert history == [inboxes["assistant"]["job_key"]]

        # 7. The completion rate moved, once the workers' events invalidated the cached figures.
        async def rate() -> Any:
            return (await leader.call("GET", "/api/dashboards/summary"))["problems"]
        figures = await rate()
        for _ in range(200):  # the deployment default lets figures lag a change by up to 5 s
            if figures["resolved"] == 1:
                break
            await asyncio.sleep(0.1)
            figures = await rate()
        assert figures["found"] == 1 and figures["resolved"] == 1 and figures["completion_rate"] == 1.0
        race = await leader.call("GET", "/api/dashboards/horse-race")
        assert race["counties"][0]["code"] == "320812" and race["counties"][0]["problems_resolved"] == 1

        # 8. The live stream told each step, to the leader; the investor heard only of their own project.
        await asyncio.sleep(0.5)
        for task in (follower, investor_follower):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        kinds = [e["event"] for e in stream]
        for expected in ("project.created", "project.signed", "approval.recorded", "project.red_light",
                         "problem.raised", "task.completed"):
            assert expected in kinds, (expected, sorted(set(kinds)))
        order = [kinds.index(k) for k in ("project.signed", "approval.recorded", "project.red_light",
                                          "task.completed")]
        assert order == sorted(order)
        assert any(e["event"] == "approval.recorded" for e in investor_stream)
        assert not any(e["data"]["scope"].get("project_code") == STALLED for e in investor_stream)
        assert platform.incidents() == []
        assert timedelta(days=90) <= platform.now() - (await platform.store.projects.require(MOVING)).signed_at


async def exported_diagram(person: Person, code: str, *, until: str, within: float = 30.0) -> dict[str, Any]:
    """The project's diagram once the documents exporter has caught up with ``until`` completing."""

    async def shown() -> dict[str, Any] | None:
        response = await person.client.get(f"/api/projects/{code}/diagram", headers=person.headers)
        found = response.json() if response.status_code == 200 else None
        return found if found and until in found["marks"]["completed"] else None

    diagram = await eventually(shown, timeout=within, interval=0.2)
    assert diagram, f"the diagram of {code} never showed {until} completed"
    return dict(diagram)
