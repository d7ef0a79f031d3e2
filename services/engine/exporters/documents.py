"""The documents exporter: engine views in the documents store (`store.engine`), for the instance and incident
pages. The projection is in `projection.py`; this is the I/O around it.

The position lives in the store, written by `apply_export_batch` in the same transaction as the views (on
MongoDB without transactions: after them, and every change is an idempotent upsert or delete). A batch is
prepared on the reader's thread: projecting and validating thousands of view changes is CPU work that
would otherwise hold up the event loop it shares with whatever else runs there.
"""

from __future__ import annotations

from services.engine.exporters.projection import DocumentsProjection
from services.engine.exporters.records import Record, RecordReader
from services.engine.exporters.runner import Prepared, Target
from shared.documents import DocumentStore, open_store
from shared.documents.models import every_item


class DocumentsTarget(Target):
    kind = "documents"

    def __init__(self, exporter_id: str, url: str) -> None:
        super().__init__(exporter_id)
        self.url = url
        self.store: DocumentStore | None = None
        self.projection = DocumentsProjection()
        self.loaded_instances = 0

    async def open(self) -> None:
        if self.store is None:
            self.store = await open_store(self.url)

    def _store(self) -> DocumentStore:
        if self.store is None:
            raise RuntimeError("the documents exporter is not connected")
        return self.store

    async def position(self) -> int | None:
        return await self._store().engine.exporter_position(self.exporter_id)

    async def reset(self) -> None:
        self.projection = DocumentsProjection()

    def stats(self) -> dict[str, int]:
        return {"instances_loaded": self.loaded_instances, "skipped_records": self.projection.skipped_records,
                "rejected_views": self.projection.rejected_changes}

    async def prepare(self, records: list[Record], reader: RecordReader) -> Prepared:
        projection = self.projection
        missing = await reader.call(projection.instances_to_load, records)
        for process_instance_key in sorted(missing):
            await self._load(process_instance_key)
        changes = await reader.call(projection.apply_all, records)
        return Prepared(position=records[-1].position, records=len(records), payload=changes)

    async def _load(self, process_instance_key: int) -> None:
        """Bring back the documents of an instance that was running when the exporter last stopped."""
        views = self._store().engine
        instance = await views.get_process_instance(process_instance_key)
        elements = await views.element_instances(process_instance_key)
        jobs = await views.jobs(process_instance_key)
        incidents = [item.model_dump() async for item in every_item(
            lambda page: views.incidents(process_instance_key=process_instance_key, state="active", page=page))]
        self.projection.load_instance(
            process_instance_key, instance.model_dump() if instance else None,
            [e.model_dump() for e in elements], [j.model_dump() for j in jobs], incidents)
        self.loaded_instances += 1

    async def write(self, batch: Prepared) -> None:
        await self._store().engine.apply_export_batch(self.exporter_id, batch.position, batch.payload)

    async def close(self) -> None:
        if self.store is not None:
            store, self.store = self.store, None
            await store.close()
