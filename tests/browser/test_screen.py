"""The big screen against the whole platform (real models in bpmn/, workers, engine clock): 90 days
without progress turn a project red on the map, in the ticker and in this month's list, live, without
a reload; a gateway restart is survived by reconnecting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.platform import WebPlatform, bpmn_models
from tests.browser.support import OUTPUT, login, platform_with_users

WALL = {"width": 1920, "height": 1080}
DAY_MS = 86_400_000
PROJECTS = [
    ("2025-320830-34-03-900001", "凹土新材料产业园", "320830"),
    ("2025-320812-34-03-900002", "液压机组生产基地", "320812"),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebPlatform]:
    """A platform of its own: this module moves the engine clock by months."""
    with platform_with_users(tmp_path_factory.mktemp("screen-platform")) as platform:
        models = bpmn_models()
        assert models, "bpmn/ has no models to deploy"
        with platform.client("admin") as client:
            platform.deploy(client, *models)
        yield platform



def sign(client: httpx.Client, code: str, name: str, county: str, signed_at: str) -> dict[str, Any]:
    response = client.post("/api/projects", json={
        "project_code": code, "name": name, "county_code": county, "industry": "装备制造", "amount_cny": 320_000_000,
        "signed_at": signed_at, "investor": {"company": f"{name}有限公司", "contact_name": "王经理"}})
    assert response.status_code == 201, response.text
    return dict(response.json())


def map_row(page: Page, county: str) -> Any:
    return page.locator(f'#map-table tr[data-code="{county}"]')


def test_a_red_light_appears_live_when_the_clock_passes_90_days(page: Page, city: WebPlatform) -> None:
    page.set_viewport_size(WALL)
    today = city.today()
    with city.client("admin") as client:
        for code, name, county in PROJECTS:
            sign(client, code, name, county, today)

    login(page, city, "/screen", "leader")
    page.wait_for_selector("html[data-ready=true]")
    expect(map_row(page, "320830")).to_have_attribute("data-red", "0")
    expect(page.locator("#kpi-red")).to_have_text("0")
    expect(page.locator("#live-state")).to_have_class("live-state open")
    # Proof that what follows arrives live: a reload would lose this.
    page.evaluate("() => { window.__sameDocument = true; }")

    city.clock_add(91 * DAY_MS)

    expect(map_row(page, "320830")).to_have_attribute("data-red", "1", timeout=60_000)
    expect(map_row(page, "320812")).to_have_attribute("data-red", "1", timeout=60_000)
    expect(page.locator("#kpi-red")).to_have_text("2")
    expect(page.locator("#red-list")).to_contain_text("凹土新材料产业园")
    ticker = page.locator('#ticker li[data-type="project.red_light"]')
    expect(ticker.filter(has_text="凹土新材料产业园")).to_have_count(1, timeout=30_000)
    expect(ticker.first).to_contain_text("亮红灯")
    # The clock shows the engine's time, three months on.
    expect(page.locator("#clock-kind")).to_have_text("引擎时间")
    assert page.evaluate("() => window.__sameDocument === true")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "screen_red_light_1920x1080.png"))


def test_the_screen_reconnects_after_a_gateway_restart(page: Page, city: WebPlatform) -> None:
    page.set_viewport_size(WALL)
    login(page, city, "/screen", "leader")
    page.wait_for_selector("html[data-ready=true]")
    expect(page.locator("#live-state")).to_have_class("live-state open")
    page.evaluate("() => { window.__sameDocument = true; }")

    city.stop_gateway()
    expect(page.locator("#live-state")).not_to_have_class("live-state open", timeout=30_000)
    city.start_gateway()
    expect(page.locator("#live-state")).to_have_class("live-state open", timeout=60_000)

    # News after the restart reaches the same page.
    with city.client("admin") as client:
        sign(client, "2025-320826-34-03-900003", "食品加工产业园", "320826", city.today())
    expect(map_row(page, "320826")).to_have_attribute("data-projects", "1", timeout=60_000)
    expect(page.locator('#ticker li[data-type="project.signed"]').filter(has_text="食品加工产业园")).to_have_count(1)
    assert page.evaluate("() => window.__sameDocument === true")
