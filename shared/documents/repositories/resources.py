"""Deployed resources (BPMN XML, form JSON, DMN XML) by the key the engine gave them."""

from __future__ import annotations

from shared.documents.driver import CollectionSpec, Condition, Eq, Index, Transaction
from shared.documents.errors import Conflict, InvalidInput
from shared.documents.models import Actor, DeployedResource, Page, PageRequest, ResourceKind, Saved
from shared.documents.repositories.base import Repository, Stale, from_doc, to_doc

RESOURCES = "resources"
SPECS = (CollectionSpec(RESOURCES, (Index(("kind", "resource_id", "version")),)),)


class ResourceRepository(Repository):
    async def save(self, resource: DeployedResource, *, actor: Actor) -> Saved[DeployedResource]:
        """Keep a deployed resource. The same key again returns the stored one (created=False); the same key
        with other content is a ``Conflict``: the engine never reuses a key for different content."""
        if not isinstance(resource, DeployedResource):
            raise InvalidInput(f"expected DeployedResource, got {type(resource).__name__}")
        resource = DeployedResource.model_validate(resource.model_dump())

        async def work(tx: Transaction) -> Saved[DeployedResource]:
            existing = await self.driver.get(RESOURCES, resource.key, tx)
            if existing is not None:
                stored = from_doc(DeployedResource, existing)
                if (stored.kind, stored.resource_id, stored.content) != (resource.kind, resource.resource_id,
                                                                        resource.content):
                    raise Conflict(f"resource key {resource.key} is already stored for {stored.kind} "
                                   f"{stored.resource_id!r} with other content")
                return Saved[DeployedResource](item=stored, created=False)
            doc = to_doc(resource, resource.key)
            if not await self.driver.insert(RESOURCES, doc, tx):
                raise Stale("resource stored concurrently")
            await self.audit(tx, actor, "resource.deploy", resource.kind.value, resource.key, None, doc)
            return Saved[DeployedResource](item=resource, created=True)

        return await self.unit_of_work(work, actor)

    async def get(self, key: int) -> DeployedResource | None:
        doc = await self.driver.get(RESOURCES, key)
        return from_doc(DeployedResource, doc) if doc else None

    async def latest(self, kind: ResourceKind | str, resource_id: str) -> DeployedResource | None:
        docs = await self.driver.find(RESOURCES, [Eq("kind", ResourceKind(kind)), Eq("resource_id", resource_id)],
                                      sort=[("version", -1)], limit=1)
        return from_doc(DeployedResource, docs[0]) if docs else None

    async def list(
        self, *, kind: ResourceKind | str | None = None, resource_id: str | None = None,
        page: PageRequest | None = None,
    ) -> Page[DeployedResource]:
        """By resource id, newest version first."""
        c: list[Condition] = []
        if kind is not None:
            c.append(Eq("kind", ResourceKind(kind)))
        if resource_id is not None:
            c.append(Eq("resource_id", resource_id))
        return await self.page(RESOURCES, DeployedResource, c, page, sort=[("resource_id", 1), ("version", -1)])
