"""Projects and problems: a leader finds a project by search and opens it; its investor reports a problem
and scores the service from the project page, and sees where its life cycle stands on the diagram; the problem
page shows it; English is one click away."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.platform import ROOT, WebPlatform
from tests.browser.support import login

CODE = "2025-320831-34-03-700001"
NAME = "金湖光伏支架项目"


@pytest.fixture(scope="module")
def project(web_platform: WebPlatform) -> str:
    with web_platform.client("admin") as client:
        response = client.post("/api/projects", params={"sign": "false"}, json={
            "project_code": CODE, "name": NAME, "county_code": "320831", "industry": "新能源",
            "amount_cny": 180_000_000, "signed_at": "2025-03-01", "investor_user_ids": ["investor1"],
            "investor": {"company": "金湖阳光新能源有限公司", "contact_name": "李总"}})
        assert response.status_code == 201, response.text
    web_platform.adduser("investor1", "investor", projects=(CODE,), display_name="李总")
    return CODE


def test_a_leader_finds_a_project_and_sees_its_stages(page: Page, web_platform: WebPlatform, project: str) -> None:
    login(page, web_platform, "/projects", "leader")
    page.fill("#p-text", "光伏支架")
    page.click("#project-filters button[type=submit]")
    row = page.locator(f'#project-rows tr[data-project-code="{project}"]')
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text("金湖县")
    expect(row).to_contain_text("1.8 亿元")
    expect(page.locator("#project-rows tr")).to_have_count(1)
    row.get_by_role("link", name=NAME).click()
    expect(page.locator("h1")).to_have_text(NAME)
    expect(page.locator('.stages li[aria-current="step"]')).to_contain_text("签约")
    expect(page.locator("#project")).to_contain_text("金湖阳光新能源有限公司")
    # A leader is not the investor: no report or evaluation forms.
    expect(page.locator("#report-form")).to_have_count(0)


def test_the_investor_reports_a_problem_and_scores_the_service(page: Page, web_platform: WebPlatform,
                                                               project: str) -> None:
    login(page, web_platform, f"/projects/{project}", "investor1")
    page.fill("#report-title", "用地指标迟迟未下达")
    page.select_option("#report-category", "land")
    page.fill("#report-description", "土地挂牌已过两个月，指标仍未下达，影响开工。")
    page.click("#report-form button[type=submit]")
    page.wait_for_url("**/problem/**")
    expect(page.locator("h1")).to_have_text("用地指标迟迟未下达")
    expect(page.locator("#problem")).to_contain_text("投资方反映")
    expect(page.locator("#problem")).to_contain_text("用地")
    with web_platform.client("admin") as client:
        problems = client.get("/api/problems", params={"project_code": project}).json()["items"]
    assert [(p["title"], p["origin"], p["category"]) for p in problems] == [("用地指标迟迟未下达", "investor", "land")]

    page.goto(f"{web_platform.base_url}/projects/{project}")
    expect(page.locator("#problems-heading + ul")).to_contain_text("用地指标迟迟未下达")
    form = page.locator("#evaluation-form")
    form.locator('fieldset:has-text("县区") input[value="5"]').check()
    form.locator('fieldset:has-text("主要服务部门") input[value="4"]').check()
    form.locator('fieldset:has-text("综合服务部门") input[value="3"]').check()
    page.fill("#eval-comment", "帮办人员响应及时。")
    form.locator("button[type=submit]").click()
    expect(page.locator(".toast-success")).to_contain_text("感谢评价")
    with web_platform.client("admin") as client:
        evaluations = client.get("/api/evaluations", params={"project_code": project}).json()["items"]
    assert [(e["county_score"], e["main_department_score"], e["general_department_score"], e["comment"])
            for e in evaluations] == [(5, 4, 3, "帮办人员响应及时。")]


def test_english_is_one_click_away(page: Page, web_platform: WebPlatform, project: str) -> None:
    login(page, web_platform, f"/projects/{project}", "leader")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.click("button.lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("header.topbar nav")).to_contain_text("Projects")
    expect(page.locator("#facts-heading")).to_have_text("Facts")
    expect(page.locator('.stages li[aria-current="step"]')).to_contain_text("Signed")
    page.click("button.lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#facts-heading")).to_have_text("基本情况")


def test_the_investor_sees_the_life_cycle_on_the_diagram(page: Page, web_platform: WebPlatform) -> None:
    code = "2025-320831-34-03-700002"
    with web_platform.client("admin") as client:
        # only the life cycle: its 90-day timer is far beyond any clock move of the session's tests
        web_platform.deploy(client, ROOT / "bpmn" / "project-lifecycle.bpmn")
        response = client.post("/api/projects", params={"sign": "true"}, json={
            "project_code": code, "name": "金湖储能电池项目", "county_code": "320831", "industry": "新能源",
            "amount_cny": 260_000_000, "signed_at": web_platform.today(), "investor_user_ids": ["investor2"],
            "investor": {"company": "金湖储能科技有限公司"}})
        assert response.status_code == 201, response.text
    web_platform.adduser("investor2", "investor", projects=(code,), display_name="王总")
    # The register worker links the instance and the documents exporter fills its views shortly after signing.
    with web_platform.client("investor2") as client:
        for _ in range(120):
            diagram = client.get(f"/api/projects/{code}/diagram")
            if diagram.status_code == 200 and "register" in diagram.json()["marks"]["completed"]:
                break
            time.sleep(0.25)
        assert diagram.status_code == 200 and "register" in diagram.json()["marks"]["completed"], diagram.text
    login(page, web_platform, f"/projects/{code}", "investor2")
    register = page.locator('#project-diagram .djs-element[data-element-id="register"]')
    expect(register).to_have_class(re.compile(r"\bhighlight-completed\b"))
    expect(page.locator("#project-diagram .djs-element.highlight-active").first).to_be_visible()
    expect(page.locator("#project-diagram .highlight-incident")).to_have_count(0)
