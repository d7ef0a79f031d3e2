"""Views of the engine's state, written by its exporter, read by the instance and incident pages.

``apply_export_batch`` writes a batch and the exporter's position in one transaction; a batch at or
below the stored position was applied before and is skipped. So the exporter may resend after a crash
(at-least-once) and the views still end up as if each record had been applied exactly once. On MongoDB
without transactions the view documents are written before the position: a crash in between makes the
exporter resend a batch whose upserts and deletes are idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Transaction
from shared.documents.errors import InvalidInput
from shared.documents.models import (
    VIEW_MODELS,
    ElementInstanceView,
    IncidentView,
    JobView,
    MessageSubscriptionView,
    Page,
    PageRequest,
    ProcessDefinitionView,
    ProcessInstanceView,
    TimerView,
    VariableView,
    ViewChange,
    ViewKind,
)
from shared.documents.repositories.base import Repository, from_doc, validated

EXPORTERS = "engine_exporters"
COLLECTIONS: dict[ViewKind, str] = {kind: f"engine_{kind.value}s" for kind in ViewKind}
_BY_INSTANCE = Index(("process_instance_key",))
SPECS = (
    CollectionSpec(EXPORTERS),
    CollectionSpec(COLLECTIONS[ViewKind.PROCESS_DEFINITION], (Index(("bpmn_process_id", "version")),)),
    CollectionSpec(COLLECTIONS[ViewKind.PROCESS_INSTANCE], (
        Index(("state", "start_date")), Index(("bpmn_process_id", "state")),
    )),
    CollectionSpec(COLLECTIONS[ViewKind.ELEMENT_INSTANCE], (_BY_INSTANCE,)),
    CollectionSpec(COLLECTIONS[ViewKind.VARIABLE], (_BY_INSTANCE, Index(("scope_key", "name")))),
    CollectionSpec(COLLECTIONS[ViewKind.JOB], (_BY_INSTANCE, Index(("type", "state")))),
    CollectionSpec(COLLECTIONS[ViewKind.INCIDENT], (_BY_INSTANCE, Index(("state", "created_at")))),
    CollectionSpec(COLLECTIONS[ViewKind.TIMER], (_BY_INSTANCE, Index(("due_date",)))),
    CollectionSpec(COLLECTIONS[ViewKind.MESSAGE_SUBSCRIPTION], (_BY_INSTANCE, Index(("message_name",)))),
)


class EngineViewRepository(Repository):
    async def apply_export_batch(
        self, exporter: str, position: int, changes: Sequence[ViewChange | dict[str, Any]]
    ) -> bool:
        """Apply ``changes`` in order and remember ``position``; False when the batch was applied already.

        Every change is validated first: one bad change rejects the whole batch with ``InvalidInput`` and
        writes nothing.
        """
        if not exporter:
            raise InvalidInput("exporter id must be non-empty")
        if isinstance(position, bool) or not isinstance(position, int) or position < 0:
            raise InvalidInput(f"position must be a non-negative integer, got {position!r}")
        parsed = [
            c if isinstance(c, ViewChange) else validated(ViewChange, c, f"view change #{i}")
            for i, c in enumerate(changes)
        ]

        async def work(tx: Transaction) -> bool:
            stored = await self.driver.get(EXPORTERS, exporter, tx)
            if stored is not None and int(stored["position"]) >= position:
                return False
            for change in parsed:
                coll = COLLECTIONS[change.kind]
                if change.value is None:
                    await self.driver.delete(coll, change.key, tx)
                else:
                    await self.driver.put(coll, {**change.value, "_id": change.key}, tx)
            await self.driver.put(
                EXPORTERS, {"_id": exporter, "position": position, "updated_at": self.clock.now()}, tx
            )
            return True

        return await self.unit_of_work(work, audited=False)

    async def exporter_position(self, exporter: str) -> int | None:
        doc = await self.driver.get(EXPORTERS, exporter)
        return int(doc["position"]) if doc else None

    async def get_process_definition(self, key: int) -> ProcessDefinitionView | None:
        doc = await self.driver.get(COLLECTIONS[ViewKind.PROCESS_DEFINITION], key)
        return from_doc(ProcessDefinitionView, doc) if doc else None

    async def list_process_definitions(
        self, *, bpmn_process_id: str | None = None, page: PageRequest | None = None
    ) -> Page[ProcessDefinitionView]:
        c: list[Condition] = [] if bpmn_process_id is None else [Eq("bpmn_process_id", bpmn_process_id)]
        return await self.page(COLLECTIONS[ViewKind.PROCESS_DEFINITION], ProcessDefinitionView, c, page,
                               sort=[("bpmn_process_id", 1), ("version", -1)])

    async def get_process_instance(self, key: int) -> ProcessInstanceView | None:
        doc = await self.driver.get(COLLECTIONS[ViewKind.PROCESS_INSTANCE], key)
        return from_doc(ProcessInstanceView, doc) if doc else None

    async def list_process_instances(
        self, *, state: str | None = None, bpmn_process_id: str | None = None, page: PageRequest | None = None
    ) -> Page[ProcessInstanceView]:
        """Most recently started first."""
        c: list[Condition] = []
        if state is not None:
            c.append(Eq("state", state))
        if bpmn_process_id is not None:
            c.append(Eq("bpmn_process_id", bpmn_process_id))
        return await self.page(COLLECTIONS[ViewKind.PROCESS_INSTANCE], ProcessInstanceView, c, page,
                               sort=[("start_date", -1), ("_id", -1)])

    async def element_instances(self, process_instance_key: int) -> list[ElementInstanceView]:
        return await self._of_instance(ViewKind.ELEMENT_INSTANCE, ElementInstanceView, process_instance_key)

    async def variables(self, process_instance_key: int) -> list[VariableView]:
        return await self._of_instance(ViewKind.VARIABLE, VariableView, process_instance_key)

    async def jobs(self, process_instance_key: int) -> list[JobView]:
        return await self._of_instance(ViewKind.JOB, JobView, process_instance_key)

    async def timers(self, process_instance_key: int) -> list[TimerView]:
        return await self._of_instance(ViewKind.TIMER, TimerView, process_instance_key)

    async def message_subscriptions(self, process_instance_key: int) -> list[MessageSubscriptionView]:
        return await self._of_instance(ViewKind.MESSAGE_SUBSCRIPTION, MessageSubscriptionView, process_instance_key)

    async def get_incident(self, key: int) -> IncidentView | None:
        doc = await self.driver.get(COLLECTIONS[ViewKind.INCIDENT], key)
        return from_doc(IncidentView, doc) if doc else None

    async def incidents(
        self, *, process_instance_key: int | None = None, state: str | None = None, page: PageRequest | None = None
    ) -> Page[IncidentView]:
        c: list[Condition] = []
        if process_instance_key is not None:
            c.append(Eq("process_instance_key", process_instance_key))
        if state is not None:
            c.append(Eq("state", state))
        return await self.page(COLLECTIONS[ViewKind.INCIDENT], IncidentView, c, page,
                               sort=[("created_at", -1), ("_id", -1)])

    async def _of_instance(self, kind: ViewKind, model: Any, process_instance_key: int) -> list[Any]:
        docs = await self.driver.find(COLLECTIONS[kind], [Eq("process_instance_key", process_instance_key)])
        return [from_doc(model, d) for d in docs]


assert set(COLLECTIONS) == set(VIEW_MODELS)
