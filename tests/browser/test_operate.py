"""Operations: an incident shows on the instance's diagram with its message; the retry button gives the job
its retries back and resolves the incident, and the instance then finishes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import grpc
from playwright.sync_api import Page, expect
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from tests.browser.platform import WebPlatform
from tests.browser.support import login

MODELS = Path(__file__).parent / "models"
ERROR = "无法连接工改系统：connection refused"


def activate(stub: GatewayStub, job_type: str, deadline: float = 30.0) -> list[pb.ActivatedJob]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        request = pb.ActivateJobsRequest(type=job_type, worker="browser-test", timeout=60_000, maxJobsToActivate=10,
                                         requestTimeout=1_000)
        jobs = [job for response in stub.ActivateJobs(request, timeout=10) for job in response.jobs]
        if jobs:
            return jobs
    raise AssertionError(f"no {job_type} job became activatable")


def test_retry_an_incident_from_the_instance_view(page: Page, web_platform: WebPlatform) -> None:
    with web_platform.client("admin") as client:
        web_platform.deploy(client, MODELS / "check.bpmn")
        started = client.post("/api/processes/instances",
                              json={"bpmn_process_id": "web_check", "variables": {"project_code": "WEB-OP-1"}})
        assert started.status_code == 201, started.text
        instance_key = started.json()["process_instance_key"]

    with grpc.insecure_channel(f"127.0.0.1:{web_platform.engine_port}") as channel:
        stub = GatewayStub(channel)
        (job,) = [j for j in activate(stub, "web-check") if j.processInstanceKey == instance_key]
        stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=0, errorMessage=ERROR), timeout=10)

        login(page, web_platform, f"/operate/{instance_key}", "admin")
        # The exporter writes the incident view shortly after the engine commits it: reload until it shows.
        incident = page.locator("li.incident")
        for _ in range(40):
            if incident.count():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(incident).to_contain_text(ERROR)
        expect(incident).to_contain_text("check_task")
        task = page.locator('#instance-diagram .djs-element[data-element-id="check_task"]')
        expect(task).to_have_class(re.compile(r"\bhighlight-incident\b"))
        expect(page.locator("#instance-diagram .overlay-badge.incident")).to_be_visible()
        expect(page.locator("#instance-detail table")).to_contain_text("WEB-OP-1")

        page.click("li.incident button.retry")
        expect(page.locator("#instance-detail")).to_contain_text("没有未解决的故障")
        with web_platform.client("admin") as client:
            incidents = client.get("/api/processes/incidents",
                                   params={"process_instance_key": instance_key, "state": "resolved"}).json()["items"]
        assert len(incidents) == 1 and incidents[0]["error_message"] == ERROR

        # The job is back: a worker completes it and the instance ends.
        (job,) = [j for j in activate(stub, "web-check") if j.processInstanceKey == instance_key]
        stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key, variables="{}"), timeout=10)

    badge = page.locator("#instance-detail .page-title .badge")
    for _ in range(40):
        page.reload()
        if "已完成" in (badge.text_content() or ""):
            break
        page.wait_for_timeout(250)
    expect(badge).to_have_text("已完成")
    expect(page.locator("#cancel-instance")).to_have_count(0)


def test_cancel_an_instance_from_the_instance_view(page: Page, web_platform: WebPlatform) -> None:
    with web_platform.client("admin") as client:
        web_platform.deploy(client, MODELS / "check.bpmn")
        started = client.post("/api/processes/instances", json={"bpmn_process_id": "web_check", "variables": {}})
        instance_key = started.json()["process_instance_key"]
    login(page, web_platform, "/operate", "admin")
    page.fill("#f-process", "web_check")
    page.select_option("#f-state", "active")
    page.click("#filters button[type=submit]")
    item = page.locator(f'#instance-list a[href="/operate/{instance_key}"]')
    for _ in range(40):
        if item.count():
            break
        page.wait_for_timeout(250)
        page.click("#filters button[type=submit]")
    item.click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-instance")
    badge = page.locator("#instance-detail .page-title .badge")
    for _ in range(40):
        if "已取消" in (badge.text_content() or ""):
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(badge).to_have_text("已取消")


def two_step_model(path: Path, process_id: str = "web_two_steps") -> Path:
    """draft -> review, two service tasks nobody works on: the token stays where it is put."""
    tasks = "".join(
        f'<bpmn:serviceTask id="{i}" name="{n}"><bpmn:extensionElements><zeebe:taskDefinition type="web-{i}" />'
        f'</bpmn:extensionElements></bpmn:serviceTask>' for i, n in (("draft", "起草"), ("review", "审核")))
    shapes = "".join(f'<bpmndi:BPMNShape id="{i}_di" bpmnElement="{i}"><dc:Bounds x="{x}" y="{y}" width="{w}" '
                     f'height="{hh}" /></bpmndi:BPMNShape>' for i, x, y, w, hh in (
                         ("start", 150, 100, 36, 36), ("draft", 240, 78, 100, 80), ("review", 400, 78, 100, 80),
                         ("end", 560, 100, 36, 36)))
    edges = "".join(f'<bpmndi:BPMNEdge id="{i}_di" bpmnElement="{i}"><di:waypoint x="{a}" y="118" />'
                    f'<di:waypoint x="{b}" y="118" /></bpmndi:BPMNEdge>' for i, a, b in (
                        ("f1", 186, 240), ("f2", 340, 400), ("f3", 500, 560)))
    path.write_text(f'''<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Defs_2" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="start" />{tasks}<bpmn:endEvent id="end" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="draft" />
    <bpmn:sequenceFlow id="f2" sourceRef="draft" targetRef="review" />
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="d2"><bpmndi:BPMNPlane id="p2" bpmnElement="{process_id}">{shapes}{edges}</bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>''', encoding="utf-8")
    return path


def test_modify_moves_the_token_and_a_used_version_is_not_deleted(page: Page, web_platform: WebPlatform,
                                                                  tmp_path: Path) -> None:
    with web_platform.client("admin") as client:
        deployed = web_platform.deploy(client, two_step_model(tmp_path / "two_steps.bpmn"))
        definition_key = deployed["processes"][0]["process_definition_key"]
        started = client.post("/api/processes/instances", json={"bpmn_process_id": "web_two_steps"})
        instance_key = started.json()["process_instance_key"]

    login(page, web_platform, f"/operate/{instance_key}", "admin")
    draft = page.locator('#instance-diagram .djs-element[data-element-id="draft"]')
    review = page.locator('#instance-diagram .djs-element[data-element-id="review"]')
    active = re.compile(r"\bhighlight-active\b")
    for _ in range(40):
        if "highlight-active" in (draft.get_attribute("class") or ""):
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(draft).to_have_class(active)

    page.click("#modify-panel summary")
    page.check('#modify-terminate input[name="terminate"]')
    page.select_option("#modify-activate", "review")
    page.fill("#modify-variables", "[1, 2]")
    page.click("#modify-form button[type=submit]")
    expect(page.locator("#modify-variables-error")).to_contain_text("必须是 JSON 对象")
    page.fill("#modify-variables", '{"moved": ')
    page.click("#modify-form button[type=submit]")
    expect(page.locator("#modify-variables-error")).to_contain_text("不是有效的 JSON")
    expect(draft).to_have_class(active)  # nothing was sent

    page.fill("#modify-variables", '{"moved_by": "运维"}')
    page.click("#modify-form button[type=submit]")
    expect(review).to_have_class(active)
    expect(draft).not_to_have_class(active)
    expect(page.locator("#instance-detail table")).to_contain_text("运维")

    # the version still has a running instance: the engine's refusal is shown next to it
    page.click("#definitions summary")
    version = page.locator(f'#definition-list li[data-definition-key="{definition_key}"]')
    page.once("dialog", lambda dialog: dialog.accept())
    version.locator("button.delete-definition").click()
    expect(version.locator(".definition-error")).to_contain_text("running instances")
    with web_platform.client("admin") as client:
        listed = client.get("/api/processes/definitions", params={"bpmn_process_id": "web_two_steps"}).json()
    assert [d["key"] for d in listed["items"]] == [definition_key]


def test_delete_a_version_nothing_runs_on(page: Page, web_platform: WebPlatform, tmp_path: Path) -> None:
    with web_platform.client("admin") as client:
        deployed = web_platform.deploy(client, two_step_model(tmp_path / "unused.bpmn", "web_unused"))
    definition_key = deployed["processes"][0]["process_definition_key"]
    login(page, web_platform, "/operate", "admin")
    page.click("#definitions summary")
    version = page.locator(f'#definition-list li[data-definition-key="{definition_key}"]')
    expect(version).to_contain_text("web_unused")
    page.once("dialog", lambda dialog: dialog.accept())
    version.locator("button.delete-definition").click()
    expect(version).to_have_count(0)
    with web_platform.client("admin") as client:
        refused = client.post("/api/processes/instances", json={"bpmn_process_id": "web_unused"})
    assert refused.status_code == 404, refused.text
