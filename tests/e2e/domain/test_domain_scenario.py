"""The scenario runner's figures agree with the documents and with what its simulated people and systems
did (a smaller city than the full run, for time: the full-size run is measured, not tested)."""

from __future__ import annotations

from collections import Counter
from datetime import time
from pathlib import Path

from services.demo.dashboard import all_flags, all_problems, all_projects
from services.demo.scenario import Scenario, ScenarioConfig, at_day
from shared.documents import open_store
from shared.documents.models import ProblemOrigin, ProblemStatus, UnitTaskStatus


async def test_a_simulated_city_agrees_with_its_documents(tmp_path: Path) -> None:
    config = ScenarioConfig(projects=45, days=130, seed=7, stall_share=0.7, report_share=0.3, unit_report_share=0.15,
                            slow_unit_share=0.5, data_dir=tmp_path, progress=False)
    scenario = Scenario(config)
    dashboard = await scenario.run()
    tally = scenario.tally
    store = await open_store(f"sqlite:///{tmp_path / 'documents.sqlite3'}")
    try:
        projects = await all_projects(store)
        problems = await all_problems(store)
        flags = await all_flags(store)
        evaluations = (await store.evaluations.list()).total
    finally:
        await store.close()

    assert dashboard.engine["incidents"] == 0
    # what was signed, and where each project stands: exactly what its approval records and cancellations say
    assert dashboard.projects_signed == tally.signed == len(projects) == config.projects
    assert {p.project_code: p.stage.value for p in projects} == tally.stage_expected
    assert dashboard.by_stage == dict(Counter(p.stage.value for p in projects))
    assert tally.records_posted == sum(len(v) for v in scenario.plan.postings.values())

    # problems: every one found is a warning or a report the scenario made; the figures are the documents'
    origins = Counter(p.origin for p in problems)
    assert origins[ProblemOrigin.INVESTOR] == tally.investor_reports
    assert origins[ProblemOrigin.UNIT] == tally.unit_reports
    assert origins[ProblemOrigin.WARNING] == dashboard.red_lights_raised > 0
    assert dashboard.problems_found == len(problems) > tally.investor_reports
    closed = [p for p in problems if p.status == ProblemStatus.CLOSED]
    assert dashboard.problems_resolved == len(closed) > 0
    assert dashboard.completion_rate == len(closed) / len(problems)
    assert dashboard.open_problems == len(problems) - len(closed)
    for problem in closed:
        how = problem.history[-1].action
        assert how in ("confirmed", "confirmed_by_default", "closed_with_project"), problem.history
        if how != "closed_with_project":
            assert all(u.status == UnitTaskStatus.REPORTED for u in problem.units), problem.id
    decided = Counter(h.action for p in problems for h in p.history)
    with_project = {p.id for p in closed if p.history[-1].action == "closed_with_project"}
    # a reporter's answer can race its project's end; only those may be missing from the history
    assert tally.confirmations - len(with_project) <= decided["confirmed"] <= tally.confirmations
    assert tally.send_backs - len(with_project) <= decided["sent_back"] <= tally.send_backs
    assert dashboard.escalations == decided["escalated"]

    # yellow flags: each on a unit of its problem that had not reported 30 days after being assigned
    assert dashboard.yellow_flags_raised == len(flags)
    for flag in flags:
        problem = next(p for p in problems if p.id == flag.problem_id)
        unit = problem.unit(flag.unit_id)
        assert unit is not None and unit.assigned_at is not None
        assert (flag.raised_at - unit.assigned_at).days >= 30
        # raised while the unit's task was open: its (last) report, if any, came later
        assert unit.reported_at is None or unit.reported_at > flag.raised_at

    # evaluations: every score the investors gave, in the three averages
    assert dashboard.evaluations == evaluations == tally.evaluations > 0
    assert dashboard.scores["count"] == evaluations
    assert all(1 <= dashboard.scores[k] <= 5 for k in ("county", "mainDepartment", "generalDepartment"))
    assert at_day(config.start, config.days, time(0)) > max(p.signed_at for p in projects)

