"""Contract: engine views written by the exporter (batches with positions) and read by the pages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.documents import DocumentStore, InvalidInput
from shared.documents.models import PageRequest, ViewChange, ViewKind
from tests.fixtures.domain import at

BASE = 2251799813685248  # partition 1 in Zeebe's key layout


def instance(key: int, state: str = "active", process: str = "project-lifecycle", day: int = 1) -> dict[str, Any]:
    return {"kind": "process_instance", "key": key, "value": {
        "bpmn_process_id": process, "version": 1, "process_definition_key": BASE + 1, "state": state,
        "start_date": at(2024, 1, day)}}


def element(key: int, pik: int, element_id: str, state: str = "ELEMENT_ACTIVATED") -> dict[str, Any]:
    return {"kind": "element_instance", "key": key, "value": {
        "process_instance_key": pik, "element_id": element_id, "element_type": "USER_TASK", "state": state}}


async def test_batches_apply_once_and_positions_only_move_forward(store: DocumentStore) -> None:
    pik = BASE + 10
    assert await store.engine.exporter_position("documents") is None
    assert await store.engine.apply_export_batch("documents", 5, [
        {"kind": "process_definition", "key": BASE + 1, "value": {"bpmn_process_id": "project-lifecycle",
                                                                  "version": 1, "resource_name": "p.bpmn"}},
        instance(pik),
        element(pik + 1, pik, "signing"),
        {"kind": "variable", "key": pik + 2, "value": {"process_instance_key": pik, "scope_key": pik,
                                                       "name": "amount", "value": json.dumps(2**70)}},
    ])
    assert await store.engine.exporter_position("documents") == 5
    # Replaying an applied batch (at-least-once delivery) or an older one changes nothing.
    assert not await store.engine.apply_export_batch("documents", 5, [instance(pik, state="completed")])
    assert not await store.engine.apply_export_batch("documents", 3, [instance(pik, state="completed")])
    assert (await store.engine.get_process_instance(pik)).state == "active"  # type: ignore[union-attr]

    assert await store.engine.apply_export_batch("documents", 9, [
        element(pik + 1, pik, "signing", "ELEMENT_COMPLETED"),
        {"kind": "variable", "key": pik + 2, "value": None},
        instance(pik, state="completed"),
    ])
    assert await store.engine.exporter_position("documents") == 9
    assert (await store.engine.get_process_instance(pik)).state == "completed"  # type: ignore[union-attr]
    assert [e.state for e in await store.engine.element_instances(pik)] == ["ELEMENT_COMPLETED"]
    assert await store.engine.variables(pik) == []
    assert await store.engine.exporter_position("redis") is None  # positions are per exporter
    definition = await store.engine.get_process_definition(BASE + 1)
    assert definition is not None and definition.resource_name == "p.bpmn"


async def test_variables_keep_values_beyond_64_bits_and_extra_fields(store: DocumentStore) -> None:
    pik = BASE + 20
    await store.engine.apply_export_batch("documents", 1, [
        instance(pik),
        {"kind": "variable", "key": pik + 1, "value": {"process_instance_key": pik, "scope_key": pik,
                                                       "name": "big", "value": json.dumps(2**70),
                                                       "tenant_id": "<default>"}},
    ])
    [variable] = await store.engine.variables(pik)
    assert json.loads(variable.value) == 2**70
    assert variable.model_extra == {"tenant_id": "<default>"}


async def test_a_bad_change_rejects_the_whole_batch(store: DocumentStore) -> None:
    pik = BASE + 30
    await store.engine.apply_export_batch("documents", 1, [instance(pik)])
    bad_batches: list[tuple[list[Any], str]] = [
        ([instance(pik, "completed"), {"kind": "gateway", "key": pik + 1, "value": {}}], "view change #1"),
        ([instance(pik, "completed"), {"kind": "process_instance", "key": 2**63, "value": None}], "key"),
        ([instance(pik, "completed"), {"kind": "incident", "key": pik + 2,
                                        "value": {"process_instance_key": pik, "state": "active"}}], "error_type"),
        ([instance(pik, "completed"), {"kind": "job", "key": pik + 3, "value": {
            "process_instance_key": pik, "type": "t", "state": "created", "custom": {1, 2}}}], "set cannot be stored"),
        ([instance(pik, "completed"), {"kind": "job", "key": pik + 3, "value": {
            "process_instance_key": pik, "type": "t", "state": "created", "key": pik + 4}}], "carries key"),
    ]
    for changes, message in bad_batches:
        with pytest.raises(InvalidInput, match=message):
            await store.engine.apply_export_batch("documents", 2, changes)
    with pytest.raises(InvalidInput, match="position"):
        await store.engine.apply_export_batch("documents", -1, [instance(pik, "completed")])
    with pytest.raises(InvalidInput, match="exporter"):
        await store.engine.apply_export_batch("", 2, [])
    assert await store.engine.exporter_position("documents") == 1
    assert (await store.engine.get_process_instance(pik)).state == "active"  # type: ignore[union-attr]
    assert await store.engine.jobs(pik) == []


async def test_transactions_are_atomic_where_the_adapter_says_so(store: DocumentStore) -> None:
    """A unit of work that fails after its first write: rolled back when ``store.atomic``; on a
    standalone MongoDB (no transactions) the first write stays, which is why repositories order their
    writes so that a retry repairs the state (documented in shared/documents/mongo.py)."""

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.driver.transaction() as tx:
            await store.driver.put("engine_exporters", {"_id": "probe", "position": 1}, tx)
            raise Boom
    written = await store.engine.exporter_position("probe")
    assert written == (None if store.atomic else 1)


async def test_instance_lists_filter_and_page(store: DocumentStore) -> None:
    changes = [instance(BASE + 100 + i, state="completed" if i % 3 == 0 else "active",
                        process="docking" if i % 2 else "project-lifecycle", day=1 + i) for i in range(11)]
    changes.append({"kind": "incident", "key": BASE + 200, "value": {
        "process_instance_key": BASE + 101, "error_type": "JOB_NO_RETRIES", "error_message": "boom",
        "state": "active", "created_at": at(2024, 2, 1)}})
    changes.append({"kind": "incident", "key": BASE + 201, "value": {
        "process_instance_key": BASE + 102, "error_type": "EXTRACT_VALUE_ERROR", "state": "resolved",
        "created_at": at(2024, 2, 2)}})
    changes.append({"kind": "job", "key": BASE + 300, "value": {
        "process_instance_key": BASE + 101, "type": "notify", "state": "failed", "retries": 0}})
    changes.append({"kind": "timer", "key": BASE + 400, "value": {
        "process_instance_key": BASE + 101, "element_id": "stall", "due_date": at(2024, 4, 30)}})
    changes.append({"kind": "message_subscription", "key": BASE + 500, "value": {
        "process_instance_key": BASE + 101, "message_name": "approval", "correlation_key": "P-1"}})
    await store.engine.apply_export_batch("documents", 1, [ViewChange.model_validate(c) for c in changes])

    active = [c for c in changes[:11] if c["value"]["state"] == "active"]
    page1 = await store.engine.list_process_instances(state="active", page=PageRequest(page=1, size=4))
    page2 = await store.engine.list_process_instances(state="active", page=PageRequest(page=2, size=4))
    assert page1.total == len(active)
    newest_first = sorted(active, key=lambda c: c["value"]["start_date"], reverse=True)
    assert [i.key for i in page1.items + page2.items] == [c["key"] for c in newest_first][:8]
    docking = await store.engine.list_process_instances(bpmn_process_id="docking", page=PageRequest(size=100))
    assert {i.key for i in docking.items} == {c["key"] for c in changes[:11] if c["value"]["bpmn_process_id"] ==
                                              "docking"}
    assert [i.key for i in (await store.engine.incidents(state="active")).items] == [BASE + 200]
    assert [i.key for i in (await store.engine.incidents(process_instance_key=BASE + 102)).items] == [BASE + 201]
    assert [j.retries for j in await store.engine.jobs(BASE + 101)] == [0]
    assert [t.due_date for t in await store.engine.timers(BASE + 101)] == [at(2024, 4, 30)]
    assert [m.correlation_key for m in await store.engine.message_subscriptions(BASE + 101)] == ["P-1"]
    assert (await store.engine.list_process_definitions()).total == 0
    assert ViewKind.PROCESS_INSTANCE.value == "process_instance"
