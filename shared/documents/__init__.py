"""The documents store: a domain port (``DocumentStore``) with SQLite and MongoDB adapters.

    store = await open_store("sqlite:///./data/documents.sqlite3")   # or mongodb://…, or DOCUMENTS_URL
    saved = await store.projects.upsert(ProjectData(...), actor=Actor.system("docking"))
"""

from shared.documents.errors import ClaimConflict, Conflict, InvalidInput, NotFound, StoreError
from shared.documents.store import DocumentStore, open_store

__all__ = [
    "ClaimConflict",
    "Conflict",
    "DocumentStore",
    "InvalidInput",
    "NotFound",
    "StoreError",
    "open_store",
]
