"""Contract: deployed resources kept by key, latest version by id; and the inbox's unassigned filter."""

from __future__ import annotations

import pytest

from shared.documents import Conflict, DocumentStore, InvalidInput
from shared.documents.models import DeployedResource, ResourceKind, TaskFilter
from tests.fixtures.domain import ADMIN, SYSTEM, at, new_task

BIG = 2**63 - 7


def resource(key: int, version: int, **overrides: object) -> DeployedResource:
    fields: dict[str, object] = {
        "key": key, "kind": ResourceKind.PROCESS, "resource_id": "project-lifecycle", "version": version,
        "resource_name": "project-lifecycle.bpmn", "deployment_key": key - 1,
        "content": f"<definitions version='{version}'/>", "deployed_at": at(2024, 3, 1), "deployed_by": "designer",
    }
    fields.update(overrides)
    return DeployedResource.model_validate(fields)


async def test_resources_are_kept_by_key_and_found_by_latest_version(store: DocumentStore) -> None:
    first = await store.resources.save(resource(BIG, 1), actor=ADMIN)
    assert first.created
    second = await store.resources.save(resource(BIG - 2, 2), actor=ADMIN)
    await store.resources.save(resource(101, 1, kind=ResourceKind.FORM, resource_id="report", content="{}"),
                               actor=ADMIN)
    again = await store.resources.save(resource(BIG, 1), actor=ADMIN)
    assert not again.created and again.item == first.item

    assert await store.resources.get(BIG) == first.item
    assert await store.resources.latest("process", "project-lifecycle") == second.item
    assert await store.resources.latest(ResourceKind.FORM, "project-lifecycle") is None
    page = await store.resources.list(kind=ResourceKind.PROCESS)
    assert [r.version for r in page.items] == [2, 1] and page.total == 2
    audit = await store.audit.list(target_kind="process")
    assert {e.target_id for e in audit.items} == {str(BIG), str(BIG - 2)}
    assert all("content" not in (e.after or {}) for e in audit.items)  # the XML is not copied into the audit


async def test_a_key_never_changes_content_and_bad_input_writes_nothing(store: DocumentStore) -> None:
    await store.resources.save(resource(5, 1), actor=ADMIN)
    with pytest.raises(Conflict, match="other content"):
        await store.resources.save(resource(5, 1, content="<other/>"), actor=ADMIN)
    with pytest.raises(InvalidInput):
        await store.resources.save({"key": 6}, actor=ADMIN)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await store.resources.save(resource(7, 1), actor="admin")  # type: ignore[arg-type]
    assert (await store.resources.list()).total == 1
    assert (await store.resources.get(5)).content == "<definitions version='1'/>"  # type: ignore[union-attr]


async def test_inbox_unassigned_only(store: DocumentStore) -> None:
    await store.tasks.insert(new_task(1, candidate_groups=["dept-zrzy"]), actor=SYSTEM)
    await store.tasks.insert(new_task(2, candidate_groups=["dept-zrzy"]), actor=SYSTEM)
    await store.tasks.claim(2, "wang", actor=ADMIN)
    mine_and_offered = await store.tasks.list_for_user("wang", groups=["dept-zrzy"])
    assert [t.job_key for t in mine_and_offered.items] == [1, 2]
    unassigned = await store.tasks.list_for_user("wang", groups=["dept-zrzy"],
                                                 filter=TaskFilter(unassigned_only=True))
    assert [t.job_key for t in unassigned.items] == [1]
    assert [t.job_key for t in (await store.tasks.list(TaskFilter(unassigned_only=True))).items] == [1]


async def test_incident_view_by_key(store: DocumentStore) -> None:
    key = 2251799813685248 + 99
    assert await store.engine.get_incident(key) is None
    await store.engine.apply_export_batch("documents", 1, [{"kind": "incident", "key": key, "value": {
        "process_instance_key": key - 9, "job_key": key - 3, "error_type": "JOB_NO_RETRIES",
        "error_message": "boom", "state": "active"}}])
    incident = await store.engine.get_incident(key)
    assert incident is not None and incident.job_key == key - 3 and incident.state == "active"


async def test_problems_visible_to_a_scope(store: DocumentStore) -> None:
    from shared.documents.models import ProblemFilter, ProblemScope, ResponsibleUnit, UnitRole
    from tests.fixtures.domain import new_problem

    async def ids(**scope: list[str]) -> list[str]:
        page = await store.problems.list(ProblemFilter(visible_to=ProblemScope(**scope)))
        return sorted(p.id for p in page.items)

    await store.problems.create(new_problem("P-1", id="a", units=[
        ResponsibleUnit(unit_id="dept-zrzy", role=UnitRole.APPROVAL)]), actor=SYSTEM)
    await store.problems.create(new_problem("P-2", id="b", county_code="320803", units=[
        ResponsibleUnit(unit_id="assist-ha", role=UnitRole.ASSISTANT)]), actor=SYSTEM)
    await store.problems.create(new_problem("P-3", id="c", county_code=None, units=[]), actor=SYSTEM)

    assert await ids(unit_ids=["dept-zrzy"]) == ["a"]
    assert await ids(unit_ids=["dept-zrzy", "assist-ha"]) == ["a", "b"]
    assert await ids(county_codes=["320803"]) == ["b"]
    assert await ids(project_codes=["P-3"]) == ["c"]
    assert await ids(unit_ids=["dept-zrzy"], project_codes=["P-3"]) == ["a", "c"]
    assert await ids(county_codes=["320999"]) == []  # a null county never matches
    assert await ids() == []
    both = ProblemFilter(visible_to=ProblemScope(unit_ids=["dept-zrzy", "assist-ha"]), county_code="320803")
    assert [p.id for p in (await store.problems.list(both)).items] == ["b"]


async def test_project_codes_by_filter(store: DocumentStore) -> None:
    from tests.fixtures.domain import project_data

    for code, county in (("B-2", "320812"), ("A-1", "320812"), ("C-3", "320803")):
        await store.projects.upsert(project_data(code, county_code=county, assistant_unit_id=f"assist-{county}"),
                                    actor=ADMIN)
    from shared.documents.models import ProjectFilter

    assert await store.projects.codes() == ["A-1", "B-2", "C-3"]
    assert await store.projects.codes(ProjectFilter(county_code="320812")) == ["A-1", "B-2"]
    assert await store.projects.codes(ProjectFilter(assistant_unit_id="assist-320803")) == ["C-3"]
    assert await store.projects.codes(ProjectFilter(county_code="999999")) == []
