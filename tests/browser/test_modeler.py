"""The modeler: the engine's deployment errors land on their element; a diagram edited in the Zeebe
properties panel deploys, and a deployed version opens, is edited and deploys as the next version."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.platform import WebPlatform
from tests.browser.support import login

MODELS = Path(__file__).parent / "models"


def open_group(page: Page, group: str) -> None:
    header = page.locator(f'#properties [data-group-id="group-{group}"] .bio-properties-panel-group-header')
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def definitions(platform: WebPlatform, bpmn_process_id: str) -> list[dict]:
    with platform.client("designer") as client:
        response = client.get("/api/processes/definitions", params={"bpmn_process_id": bpmn_process_id})
        response.raise_for_status()
        return sorted(response.json()["items"], key=lambda d: d["version"])


def deployed_xml(platform: WebPlatform, key: int) -> str:
    with platform.client("designer") as client:
        response = client.get(f"/api/processes/definitions/{key}/xml")
        response.raise_for_status()
        return response.text


def test_engine_errors_are_marked_then_an_edited_diagram_deploys(page: Page, web_platform: WebPlatform) -> None:
    login(page, web_platform, "/modeler", "designer")
    page.wait_for_selector("#canvas .djs-container")
    page.set_input_files("#bpmn-file", str(MODELS / "check_untyped.bpmn"))
    task = page.locator('.djs-element[data-element-id="check_task"]')
    expect(task).to_be_visible()

    # The engine refuses a service task without a job type; the page names and marks that element.
    page.click("#bpmn-deploy")
    problems = page.locator("#bpmn-problems")
    expect(problems).to_contain_text("check_task")
    expect(problems).to_contain_text("zeebe:taskDefinition")
    expect(task).to_have_class(re.compile(r"\bhighlight-error\b"))
    expect(page.locator('.overlay-error[data-element-id="check_task"]')).to_contain_text("taskDefinition")
    assert definitions(web_platform, "web_check_draft") == []

    # Fix it in the properties panel: a job type, and a new name.
    task.click()
    open_group(page, "general")
    page.fill("#bio-properties-panel-name", "核查审批材料")
    open_group(page, "taskDefinition")
    page.fill("#bio-properties-panel-taskDefinitionType", "web-draft")
    page.click("#bpmn-deploy")
    expect(page.locator("#bpmn-status")).to_contain_text("web_check_draft v1")
    expect(task).not_to_have_class(re.compile(r"\bhighlight-error\b"))

    versions = definitions(web_platform, "web_check_draft")
    assert [d["version"] for d in versions] == [1]
    xml = deployed_xml(web_platform, versions[0]["key"])
    assert 'type="web-draft"' in xml
    assert "核查审批材料" in xml

    # Open the deployed version again, edit it, deploy the next version.
    page.click("#bpmn-new")
    page.select_option("#process-select", str(versions[0]["key"]))
    expect(page.locator("#bpmn-status")).to_contain_text("web_check_draft")
    page.locator('.djs-element[data-element-id="check_task"]').click()
    open_group(page, "general")
    page.fill("#bio-properties-panel-name", "核查审批材料（第二版）")
    page.click("#bpmn-deploy")
    expect(page.locator("#bpmn-status")).to_contain_text("web_check_draft v2")
    versions = definitions(web_platform, "web_check_draft")
    assert [d["version"] for d in versions] == [1, 2]
    assert "核查审批材料（第二版）" in deployed_xml(web_platform, versions[1]["key"])
    assert "核查审批材料（第二版）" not in deployed_xml(web_platform, versions[0]["key"])


def test_a_form_built_in_the_form_editor_deploys(page: Page, web_platform: WebPlatform) -> None:
    login(page, web_platform, "/modeler", "designer")
    page.click("#tab-form")
    page.wait_for_selector("#form-editor .fjs-editor-container")
    schema = page.evaluate("() => window.qlyFormEditor.saveSchema()")
    form_id = schema["id"]
    page.click("#form-deploy")
    expect(page.locator("#form-status")).to_contain_text(f"{form_id} v1")
    with web_platform.client("designer") as client:
        forms = client.get("/api/processes/forms", params={"form_id": form_id}).json()["items"]
    assert [f["version"] for f in forms] == [1]
    assert forms[0]["schema"]["components"][0]["key"] == "comment"
