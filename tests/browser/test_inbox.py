"""The inbox: unit staff see their group's tasks (overdue ones marked), claim one, fill its deployed form,
are stopped by the form's validation, submit, and the task leaves the inbox while the process moves on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.platform import WebPlatform
from tests.browser.support import login

MODELS = Path(__file__).parent / "models"
PHONE = {"width": 390, "height": 844}


def engine_now(platform: WebPlatform) -> datetime:
    epoch_ms = httpx.get(f"{platform.management_url}/actuator/clock", timeout=30).json()["epochMilli"]
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def start_review(platform: WebPlatform, client: httpx.Client, code: str, name: str, due: datetime) -> dict[str, Any]:
    """Start an instance of the review process and wait until the inbox worker has put its task in the store."""
    started = client.post("/api/processes/instances", json={"bpmn_process_id": "web_inbox", "variables": {
        "projectCode": code, "projectName": name, "dueAt": due.isoformat().replace("+00:00", "Z")}})
    assert started.status_code == 201, started.text
    instance_key = started.json()["process_instance_key"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = client.get("/api/tasks", params={"view": "all", "project": code}).json()["items"]
        mine = [t for t in tasks if t["process_instance_key"] == instance_key]
        if mine:
            return mine[0]
        time.sleep(0.2)
    raise AssertionError(f"the inbox worker did not pick up the task of instance {instance_key}:\n{platform.logs()}")


@pytest.fixture(scope="module")
def review_model(web_platform: WebPlatform) -> None:
    with web_platform.client("admin") as client:
        web_platform.deploy(client, MODELS / "web-review.form", MODELS / "inbox.bpmn")


def test_complete_a_task_through_its_form(page: Page, web_platform: WebPlatform, review_model: None) -> None:
    now = engine_now(web_platform)
    with web_platform.client("admin") as admin:
        late = start_review(web_platform, admin, "WEB-INBOX-LATE", "逾期项目", now - timedelta(days=2))
        task = start_review(web_platform, admin, "WEB-INBOX-1", "液压机组生产基地", now + timedelta(days=5))

    login(page, web_platform, "/tasks", "clerk")
    # Nothing is claimed yet: the page opens on the group's tasks, the overdue one marked.
    expect(page.locator('[role="tab"][data-view="group"]')).to_have_attribute("aria-selected", "true")
    late_item = page.locator(f'#task-list li:has(a[data-job-key="{late["job_key"]}"])')
    expect(late_item).to_have_class("due-overdue")
    expect(late_item).to_contain_text("已超期")
    item = page.locator(f'#task-list a[data-job-key="{task["job_key"]}"]')
    expect(item).to_contain_text("审核项目材料")
    expect(item).to_contain_text("液压机组生产基地")

    item.click()
    page.click("#task-claim")
    expect(page.locator("#task-assignee")).to_have_text("clerk")
    expect(page.locator("#task-form")).to_contain_text("液压机组生产基地")
    expect(page.locator('[role="tab"][data-view="mine"] .count')).to_have_text("1")

    # The form's own rules hold the submission back.
    page.click("#task-complete")
    expect(page.locator("#task-detail .form-error")).to_contain_text("表单有 2 处需要修改")
    with web_platform.client("admin") as admin:
        assert admin.get(f"/api/tasks/{task['job_key']}").json()["task"]["status"] == "open"

    page.get_by_label("通过").check()
    page.get_by_label("审核意见").fill("材料齐全，同意。")
    page.click("#task-complete")
    expect(page.locator("#task-done")).to_be_visible()
    expect(page.locator(f'#task-list a[data-job-key="{task["job_key"]}"]')).to_have_count(0)
    expect(page.locator('[role="tab"][data-view="mine"] .count')).to_have_text("0")

    # The inbox shows it as done, and the engine moved on with the form's data.
    page.click('[role="tab"][data-view="completed"]')
    expect(page.locator(f'#task-list a[data-job-key="{task["job_key"]}"]')).to_be_visible()
    with web_platform.client("admin") as admin:
        done = admin.get(f"/api/tasks/{task['job_key']}").json()["task"]
        assert done["status"] == "completed" and done["completed_by"] == "clerk"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            detail = admin.get(f"/api/processes/instances/{task['process_instance_key']}").json()
            if detail["instance"]["state"] == "completed":
                break
            time.sleep(0.2)
        assert detail["instance"]["state"] == "completed"
        variables = {v["name"]: v["value"] for v in detail["variables"]}
        assert variables["decision"] == "approve"
        assert variables["opinion"] == "材料齐全，同意。"


@pytest.mark.parametrize("context", [PHONE], indirect=True)
def test_the_inbox_on_a_phone(page: Page, web_platform: WebPlatform, review_model: None) -> None:
    with web_platform.client("admin") as admin:
        task = start_review(web_platform, admin, "WEB-INBOX-PHONE", "手机上的项目", engine_now(web_platform) + timedelta(days=3))
    login(page, web_platform, "/tasks", "clerk")
    item = page.locator(f'#task-list a[data-job-key="{task["job_key"]}"]')
    expect(item).to_be_visible()
    expect(page.locator("#task-detail")).to_be_hidden()
    item.click()
    expect(page.locator("#task-detail h2")).to_have_text("审核项目材料")
    expect(page.locator("#task-list")).to_be_hidden()
    page.click("#task-claim")
    expect(page.locator("#task-assignee")).to_have_text("clerk")
    page.get_by_label("退回补正").check()
    page.get_by_label("审核意见").fill("缺少用地批文。")
    page.click("#task-complete")
    expect(page.locator("#task-list")).to_be_visible()
    expect(item).to_have_count(0)
    # Nothing in the page is wider than the phone.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
