"""A signed project left alone lights red after 90 days and becomes a problem for the two right units, due
on the right working day across National Day; one unit reporting and the other not flags the other yellow
at 30 days."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from shared.calendar import SHANGHAI
from shared.documents.models import Light, ProblemOrigin, ProblemStatus, Role, UnitTaskStatus
from tests.fixtures.engine import eventually
from tests.integration.workers.harness import DINGTALK_SECRET, HttpSink, Platform, project


async def test_stall_red_light_problem_tasks_and_yellow_flag(platform: Platform, sink: HttpSink) -> None:
    await platform.front.sign(project("2025-320812-34-03-000001"))
    await platform.settle()
    signed = await platform.store.projects.require("2025-320812-34-03-000001")
    assert signed.process_instance_key is not None and signed.light == Light.GREEN

    await platform.move(days=89)
    assert (await platform.store.projects.require(signed.project_code)).light == Light.GREEN
    await platform.move(days=1)
    red = await platform.store.projects.require(signed.project_code)
    assert red.light == Light.RED

    problems = (await platform.store.problems.list()).items
    assert len(problems) == 1
    problem = problems[0]
    assert problem.origin == ProblemOrigin.WARNING and problem.project_code == signed.project_code
    assert {(u.unit_id, u.role) for u in problem.units} == {("assist-320812", "assistant"),
                                                            ("xzsp-320812", "approval")}
    # Raised Friday 26 September 2025; 28 September (a Sunday) is worked; 1-8 October are National Day.
    due = datetime(2025, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert problem.due_at == due
    tasks = await platform.open_tasks(problem_id=problem.id)
    assert sorted((t.candidate_groups, t.due_at) for t in tasks) == [
        (["assist-320812"], due), (["xzsp-320812"], due)]
    assert all(t.element_id == "resolve" and t.form_key for t in tasks)

    # The assistant unit resolves and reports; the approval unit does not.
    assistant_task = next(t for t in tasks if t.candidate_groups == ["assist-320812"])
    await platform.front.complete(assistant_task, {"resolution": "已协调拆除违建，土地证明已补齐"},
                                  by="assist-320812.staff", role=Role.UNIT_STAFF, at=platform.now())
    await platform.settle()
    reported = await platform.store.problems.require(problem.id)
    assert reported.unit("assist-320812").status == UnitTaskStatus.REPORTED  # type: ignore[union-attr]
    assert reported.status == ProblemStatus.ASSIGNED

    await platform.move(days=29)
    assert await platform.store.flags.list_open() == []
    await platform.move(days=1)
    flags = await platform.store.flags.list_open()
    assert [(f.unit_id, f.problem_id) for f in flags] == [("xzsp-320812", problem.id)]

    # On the way: the reminder and the overdue escalation for the approval unit only.
    history = (await platform.store.problems.require(problem.id)).history
    escalations = [h for h in history if h.action == "escalated"]
    assert len(escalations) == 1 and "xzsp-320812" in (escalations[0].note or "")
    assert platform.incidents() == []

    # Everyone concerned heard about it through the (signed) DingTalk robot, once per event.
    texts = [r.body["text"]["content"] for r in sink.requests]
    assert [t.split("：", 1)[0] for t in texts] == [
        "【千里眼】预警", "【千里眼】" + signed.name + "（" + signed.project_code + "）", "【千里眼】提醒",
        "【千里眼】督办", "【千里眼】黄旗"]
    assert "清江浦区行政审批局" in texts[2] and "项目帮办" not in texts[2]  # the reminder went to the late unit
    for request in sink.requests:
        timestamp, sign = request.query["timestamp"][0], request.query["sign"][0]
        expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        assert sign == expected


async def test_stall_events_reach_the_live_stream(platform: Platform) -> None:
    before = await platform.events.last_id()
    await platform.front.sign(project("2025-320803-34-03-000002", county="320803"))
    await platform.settle()
    await platform.move(days=90)
    events = await eventually(lambda: platform.events.read_after(before), timeout=10)
    kinds = [e.type for e in events]
    assert "project.red_light" in kinds and "problem.raised" in kinds and "problem.assigned" in kinds
    red = next(e for e in events if e.type == "project.red_light")
    assert red.scope.project_code == "2025-320803-34-03-000002" and red.scope.county_code == "320803"
