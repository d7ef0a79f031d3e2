"""What an adapter must provide: collections of JSON-like documents, a handful of conditions, transactions.

The repositories (``shared.documents.repositories``) are written once against this, so both adapters give
the same answers by construction; an adapter only maps documents, conditions and transactions onto its
database. Conditions are deliberately few: each one has a plain translation to SQL over JSON and to a
MongoDB filter that every server (and the nx-27017 stand-in) evaluates the same way.

A document is a dict with ``_id`` (str or 64-bit int) and values of str, int, float, bool, None,
aware datetime, list and dict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

Doc = dict[str, Any]
Scalar = str | int | float | bool | datetime | None


@dataclass(frozen=True)
class Eq:
    field: str
    value: Scalar


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Range:
    """``gte <= field < lt``; one bound may be None. A missing or null field never matches."""

    field: str
    gte: Scalar = None
    lt: Scalar = None

    def __post_init__(self) -> None:
        if self.gte is None and self.lt is None:
            raise ValueError(f"Range on {self.field!r} needs at least one bound")


@dataclass(frozen=True)
class Contains:
    """The array ``field`` holds ``value``."""

    field: str
    value: Scalar


@dataclass(frozen=True)
class ContainsAny:
    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Text:
    """Case-insensitive substring of any of ``fields``."""

    fields: tuple[str, ...]
    needle: str


@dataclass(frozen=True)
class Or:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class And:
    """Only needed inside an Or: a list of conditions given to find/count is already a conjunction."""

    conditions: tuple[Condition, ...]


Condition = Eq | In | Range | Contains | ContainsAny | Text | Or | And


@dataclass(frozen=True)
class Index:
    """Indexes on array fields are compound (array, sort key): they serve "mine, newest first" queries,
    and the nx-27017 stand-in mis-evaluates equality through a single-field index on an array."""

    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    indexes: tuple[Index, ...] = field(default_factory=tuple)


class Transaction:
    """Opaque handle an adapter hands to the operations that run inside it."""


class WriteConflict(Exception):
    """The database refused a write because of a concurrent one; the whole unit of work may be retried."""


class Driver(ABC):
    #: True when a transaction() is atomic across documents (SQLite always; MongoDB on a replica set).
    atomic_transactions: bool = True

    @abstractmethod
    async def open(self, collections: Sequence[CollectionSpec]) -> None:
        """Create what is missing (tables, collections, indexes); idempotent."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """All operations given the yielded handle commit together, or not at all when the block raises."""

    @abstractmethod
    async def get(self, coll: str, id: str | int, tx: Transaction | None = None) -> Doc | None: ...

    @abstractmethod
    async def insert(self, coll: str, doc: Doc, tx: Transaction | None = None) -> bool:
        """Insert; False (and nothing written) when a unique index, ``_id`` included, already has the value."""

    @abstractmethod
    async def replace(self, coll: str, doc: Doc, *, expected_rev: int, tx: Transaction | None = None) -> bool:
        """Replace the document with the same ``_id`` if its ``rev`` is still ``expected_rev``."""

    @abstractmethod
    async def put(self, coll: str, doc: Doc, tx: Transaction | None = None) -> None:
        """Insert or replace unconditionally."""

    @abstractmethod
    async def delete(self, coll: str, id: str | int, tx: Transaction | None = None) -> bool: ...

    @abstractmethod
    async def find(
        self,
        coll: str,
        conditions: Sequence[Condition] = (),
        *,
        sort: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        tx: Transaction | None = None,
    ) -> list[Doc]:
        """Matching documents (all conditions hold), ordered by ``sort`` then ``_id``."""

    @abstractmethod
    async def count(
        self, coll: str, conditions: Sequence[Condition] = (), tx: Transaction | None = None
    ) -> int: ...

    async def iterate(
        self, coll: str, conditions: Sequence[Condition] = (), *, sort: Sequence[tuple[str, int]] = (),
        batch: int = 500,
    ) -> AsyncIterator[Doc]:
        """Every match, fetched in batches (for figures computed over a period).

        In key order (no ``sort``) each batch starts after the last key seen, so it costs the same at the end of
        a large scan as at its start: with skip/limit, SQLite sorts every match again for each batch when
        another index serves the conditions (9,700 projects by stage: 1.58 s with skip/limit, 0.42 s by key)."""
        if not sort:
            after: list[Condition] = []
            while True:
                docs = await self.find(coll, [*conditions, *after], limit=batch)
                for doc in docs:
                    yield doc
                if len(docs) < batch:
                    return
                after = [Range("_id", gte=_successor(docs[-1]["_id"]))]
        skip = 0
        while True:
            docs = await self.find(coll, conditions, sort=sort, skip=skip, limit=batch)
            for doc in docs:
                yield doc
            if len(docs) < batch:
                return
            skip += batch


def _successor(key: Any) -> Any:
    """The smallest key above ``key``: keys are integers or strings (a string followed by NUL sorts right after
    it, in SQLite's and MongoDB's binary order alike)."""
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise TypeError(f"can't page after a key of type {type(key).__name__}")
    return key + 1 if isinstance(key, int) else key + "\x00"


def plain(value: Any) -> Any:
    """Enums to their values, tuples to lists, recursively: what both databases can store."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
