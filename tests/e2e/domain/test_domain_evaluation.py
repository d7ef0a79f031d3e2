"""An investor reports a problem, the units resolve it, the investor confirms: the problem closes, the
investor is asked to score the service, and the scores aggregate into the three figures."""

from __future__ import annotations

from shared.documents.models import Period, ProblemOrigin, ProblemStatus, Role, TaskFilter, TaskStatus
from tests.integration.workers.harness import Platform, project


async def test_problem_closes_and_its_evaluation_aggregates_into_the_three_scores(platform: Platform) -> None:
    code = "2025-320830-31-03-000020"
    await platform.front.sign(project(code, county="320830", investors=("investor02",)))
    await platform.settle()
    await platform.front.report_problem(problem_id="R-1", project_code=code, county_code="320830",
                                        reporter="investor02", origin=ProblemOrigin.INVESTOR,
                                        category="land", title="用地手续办理遇到困难", at=platform.now())
    await platform.settle()
    problem = await platform.store.problems.require("R-1")
    # category "land": the land authority, with the county's project assistants
    assert sorted(problem.unit_ids) == ["assist-320830", "dept-zrzy"]
    for task in await platform.open_tasks(problem_id="R-1"):
        unit = task.candidate_groups[0]
        await platform.front.complete(task, {"resolution": f"{unit} 已办结"}, by=f"{unit}.staff",
                                      role=Role.UNIT_STAFF, at=platform.now())
    await platform.settle()
    assert (await platform.store.problems.require("R-1")).status == ProblemStatus.REPORTED

    [confirm] = await platform.open_tasks(problem_id="R-1")
    assert confirm.element_id == "confirm" and confirm.candidate_users == ["investor02"]
    reports = {r["unitId"]: r["resolution"] for r in confirm.variables["reports"]}
    assert reports == {"assist-320830": "assist-320830 已办结", "dept-zrzy": "dept-zrzy 已办结"}
    await platform.front.complete(confirm, {"decision": "confirm", "confirmComment": "谢谢"}, by="investor02",
                                  role=Role.INVESTOR, at=platform.now())
    await platform.settle()
    closed = await platform.store.problems.require("R-1")
    assert closed.status == ProblemStatus.CLOSED and closed.history[-1].action == "confirmed"

    [score] = (await platform.store.tasks.list(TaskFilter(status=TaskStatus.OPEN,
                                                          bpmn_process_id="service-evaluation"))).items
    invitation = score.variables["invitation"]
    assert score.candidate_users == ["investor02"]
    assert (invitation["mainUnitId"], invitation["generalUnitId"], invitation["problemId"]) == (
        "dept-zrzy", "assist-320830", "R-1")
    await platform.front.complete(score, {"countyScore": "5", "mainDepartmentScore": "4",
                                          "generalDepartmentScore": "3", "comment": "及时"},
                                  by="investor02", role=Role.INVESTOR, at=platform.now())
    await platform.settle()

    [evaluation] = (await platform.store.evaluations.list()).items
    assert (evaluation.county_score, evaluation.main_department_score, evaluation.general_department_score) == (
        5, 4, 3)
    assert (evaluation.main_department_unit_id, evaluation.general_department_unit_id) == ("dept-zrzy",
                                                                                          "assist-320830")
    variables = platform.log.variables(score.process_instance_key)
    assert variables["scores"] == {"county": 5.0, "mainDepartment": 4.0, "generalDepartment": 3.0, "count": 1}
    assert variables["scoresByCounty"] == {"320830": 5.0}
    summary = await platform.store.evaluations.summary(Period(start=platform.now().replace(year=2024),
                                                              end=platform.now().replace(year=2026)))
    assert summary.by_main_department["dept-zrzy"].average == 4.0
    assert platform.incidents() == []


async def test_a_quarterly_round_asks_every_investor_and_withdraws_unanswered_invitations(
        platform: Platform) -> None:
    for n, county in enumerate(("320812", "320813")):
        await platform.front.sign(project(f"2025-{county}-31-03-00003{n}", county=county,
                                          investors=(f"investor0{n + 3}",)))
    await platform.settle()
    # 28 June → 1 July 09:00 Beijing: the third quarter's round.
    await platform.move(days=3)
    tasks = (await platform.store.tasks.list(TaskFilter(status=TaskStatus.OPEN,
                                                        bpmn_process_id="service-evaluation"))).items
    assert sorted(t.candidate_users[0] for t in tasks) == ["investor03", "investor04"]
    answered = next(t for t in tasks if t.candidate_users == ["investor03"])
    await platform.front.complete(answered, {"countyScore": 4, "mainDepartmentScore": 4.0,
                                             "generalDepartmentScore": "5"}, by="investor03",
                                  role=Role.INVESTOR, at=platform.now())
    await platform.settle()
    await platform.move(days=14)
    assert (await platform.store.tasks.list(TaskFilter(status=TaskStatus.OPEN,
                                                       bpmn_process_id="service-evaluation"))).items == []
    withdrawn = await platform.store.tasks.get(next(t for t in tasks if t is not answered).job_key)
    assert withdrawn is not None and withdrawn.status == TaskStatus.CANCELLED
    assert platform.log.variables(answered.process_instance_key)["scores"]["count"] == 1
    assert platform.incidents() == []
