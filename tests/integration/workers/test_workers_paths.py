"""The less travelled paths of the models, with the workers: bad configuration, no unit for a problem,
a resolution sent back, a reporter who never answers, the inbox handing out a job twice."""

from __future__ import annotations

import pytest

from services.workers.settings import WorkerSettings
from shared.documents.models import (
    ProblemOrigin,
    ProblemStatus,
    Role,
    TaskStatus,
    Unit,
    UnitKind,
    UnitTaskStatus,
)
from tests.integration.workers.harness import Platform, project
from tests.integration.workers.sinks import HttpSink


@pytest.fixture
def robot_settings(sink: HttpSink) -> WorkerSettings:  # the harness's, with a short inbox timeout
    return WorkerSettings(dingtalk_webhook_url=sink.url, inbox_job_timeout="PT1H")


async def report(platform: Platform, code: str, county: str, problem_id: str, category: str = "land") -> None:
    await platform.front.sign(project(code, county=county, investors=("investor01",)))
    await platform.settle()
    await platform.front.report_problem(problem_id=problem_id, project_code=code, county_code=county,
                                        reporter="investor01", origin=ProblemOrigin.INVESTOR, category=category,
                                        title="用地手续办理遇到困难", at=platform.now())
    await platform.settle()


async def resolve_all(platform: Platform, problem_id: str) -> None:
    for task in await platform.open_tasks(problem_id=problem_id):
        assert task.element_id == "resolve"
        unit = task.candidate_groups[0]
        await platform.front.complete(task, {"resolution": f"{unit} 已办结"}, by=f"{unit}.staff",
                                      role=Role.UNIT_STAFF, at=platform.now())
    await platform.settle()


async def test_bad_rules_and_unknown_projects_are_incidents_that_say_what_to_fix(platform: Platform) -> None:
    await platform.front.sign(project("2025-320812-31-03-000040"), rules={"stallWarningAfter": "90 days"})
    await platform.front.zeebe.publish_message("project-signed", "NO-SUCH-PROJECT",
                                               variables={"projectCode": "NO-SUCH-PROJECT"})
    await platform.settle()
    messages = sorted(i["value"]["errorMessage"] for i in platform.incidents())
    assert len(messages) == 2
    assert "rules.stallWarningAfter" in messages[1] and "90 days" in messages[1]
    assert "project NO-SUCH-PROJECT is not in the documents store" in messages[0]


async def test_no_unit_for_a_problem_goes_to_the_business_office(platform: Platform) -> None:
    await platform.store.units.save(Unit(id="assist-320831", name="金湖县项目帮办中心", kind=UnitKind.ASSISTANT,
                                         county_code="320831", active=False), actor=platform.front_actor)
    await report(platform, "2025-320831-31-03-000041", "320831", "R-41")
    [by_hand] = await platform.open_tasks(problem_id="R-41")
    assert by_hand.element_id == "assign_by_hand" and by_hand.candidate_groups == ["office-city"]
    assert {"label": "金湖县行政审批局", "value": "xzsp-320831"} in by_hand.variables["approvalOptions"]
    assert "assist-320831" not in [o["value"] for o in by_hand.variables["assistantOptions"]]
    await platform.front.complete(by_hand, {"assistantUnitId": "assist-320831", "approvalUnitId": "dept-zrzy"},
                                  by="office-city.staff", role=Role.UNIT_STAFF, at=platform.now())
    await platform.settle()
    [again] = await platform.open_tasks(problem_id="R-41")  # an inactive unit is refused: choose again
    assert again.element_id == "assign_by_hand" and again.job_key != by_hand.job_key
    await platform.front.complete(again, {"assistantUnitId": "assist-320830", "approvalUnitId": "dept-zrzy"},
                                  by="office-city.staff", role=Role.UNIT_STAFF, at=platform.now())
    await platform.settle()
    problem = await platform.store.problems.require("R-41")
    assert problem.status == ProblemStatus.ASSIGNED and sorted(problem.unit_ids) == ["assist-320830", "dept-zrzy"]
    assert sorted(t.candidate_groups[0] for t in await platform.open_tasks(problem_id="R-41")) == [
        "assist-320830", "dept-zrzy"]
    assert platform.incidents() == []


async def test_sent_back_then_confirmed_by_default(platform: Platform) -> None:
    await report(platform, "2025-320812-31-03-000042", "320812", "R-42")
    first_due = (await platform.store.problems.require("R-42")).due_at
    await resolve_all(platform, "R-42")
    await platform.move(days=3)
    [confirm] = await platform.open_tasks(problem_id="R-42")
    await platform.front.complete(confirm, {"decision": "sendBack", "confirmComment": "证书还没拿到"},
                                  by="investor01", role=Role.INVESTOR, at=platform.now())
    await platform.settle()
    sent_back = await platform.store.problems.require("R-42")
    assert sent_back.status == ProblemStatus.SENT_BACK
    assert {u.status for u in sent_back.units} == {UnitTaskStatus.SENT_BACK}
    assert [h.action for h in sent_back.history].count("sent_back") == 1
    assert len(await platform.open_tasks(problem_id="R-42")) == 2  # both units work it again, to a new deadline
    second_due = sent_back.due_at
    assert first_due is not None and second_due is not None and second_due > first_due
    await resolve_all(platform, "R-42")
    [confirm] = await platform.open_tasks(problem_id="R-42")
    await platform.move(days=15)  # the investor never answers
    closed = await platform.store.problems.require("R-42")
    assert closed.status == ProblemStatus.CLOSED and closed.history[-1].action == "confirmed_by_default"
    withdrawn = await platform.store.tasks.get(confirm.job_key)
    assert withdrawn is not None and withdrawn.status == TaskStatus.CANCELLED
    assert platform.incidents() == []


async def test_the_inbox_keeps_one_task_per_job_when_a_job_is_handed_out_again(platform: Platform) -> None:
    await report(platform, "2025-320813-31-03-000043", "320813", "R-43")
    tasks = await platform.open_tasks(problem_id="R-43")
    assert len(tasks) == 2
    await platform.move(hours=3)  # past INBOX_JOB_TIMEOUT (PT1H): the engine hands both jobs out again
    assert len(platform.log.records("JOB", "TIMED_OUT")) >= 2
    again = await platform.open_tasks(problem_id="R-43")
    assert sorted(t.job_key for t in again) == sorted(t.job_key for t in tasks)
    assert (await platform.store.tasks.list()).total == 2
    await resolve_all(platform, "R-43")  # a task whose job was handed out again still completes
    assert (await platform.store.problems.require("R-43")).status == ProblemStatus.REPORTED
