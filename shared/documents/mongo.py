"""The MongoDB adapter, on pymongo's AsyncMongoClient (motor is deprecated).

Transactions need a replica set or a sharded cluster. On those, ``transaction()`` is a real multi-document
transaction. On a standalone server it cannot be, so it degrades, and says so in ``atomic_transactions``:
the operations run one by one, and the repositories order their writes so that a crash in between leaves
nothing a retry cannot repair (state before audit, view documents before the exporter position, every
aggregate change guarded by its ``rev``). Run a single-node replica set (``mongod --replSet rs0``) to get
full atomicity from a one-machine install.

Only plain filter operators are used ($eq, $in, $gte/$lt, $or, $regex, array equality), never
aggregation pipelines or update operators on nested arrays: documents are replaced whole under an
optimistic ``rev`` check, and figures are computed by the repositories.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure, PyMongoError

from shared.documents.driver import (
    And,
    CollectionSpec,
    Condition,
    Contains,
    ContainsAny,
    Doc,
    Driver,
    Eq,
    In,
    Or,
    Range,
    Text,
    Transaction,
    WriteConflict,
    plain,
)

DEFAULT_DATABASE = "qianliyan"


def _filter(conditions: Sequence[Condition]) -> dict[str, Any]:
    """One filter document (implicit AND); ``$and`` only when two conditions use the same key."""
    parts = [_condition(c) for c in conditions]
    merged: dict[str, Any] = {}
    for part in parts:
        if merged.keys() & part.keys():
            return {"$and": parts}
        merged.update(part)
    return merged


def _condition(cond: Condition) -> dict[str, Any]:
    match cond:
        case Eq(field, value):
            return {field: plain(value)}
        case In(field, values) | ContainsAny(field, values):
            # On an array field $in matches when any element is among the values: ContainsAny for free.
            return {field: {"$in": [plain(v) for v in values]}}
        case Range(field, gte, lt):
            # A bound never matches null or another type (type bracketing), like SQL comparisons.
            bounds: dict[str, Any] = {}
            if gte is not None:
                bounds["$gte"] = gte
            if lt is not None:
                bounds["$lt"] = lt
            return {field: bounds}
        case Contains(field, value):
            return {field: plain(value)}
        case Text(fields, needle):
            pattern = re.escape(needle)
            return {"$or": [{f: {"$regex": pattern, "$options": "i"}} for f in fields]}
        case Or(conditions):
            if not conditions:
                return {"_id": {"$in": []}}
            return {"$or": [_condition(c) for c in conditions]}
        case And(conditions):
            return _filter(conditions)
    raise TypeError(f"unknown condition {cond!r}")


class _MongoTx(Transaction):
    def __init__(self, session: AsyncClientSession | None) -> None:
        self.session = session


def _session(tx: Transaction | None) -> AsyncClientSession | None:
    if tx is None:
        return None
    if not isinstance(tx, _MongoTx):
        raise RuntimeError("this transaction belongs to another store")
    return tx.session


def _is_conflict(exc: PyMongoError) -> bool:
    return bool(
        getattr(exc, "has_error_label", lambda _label: False)("TransientTransactionError")
        or (isinstance(exc, OperationFailure) and exc.code in (112, 251))  # WriteConflict, NoSuchTransaction
    )


def _raise_conflict(exc: PyMongoError) -> None:
    if _is_conflict(exc):
        raise WriteConflict(str(exc)) from exc


SERVER_SELECTION_MS = 5000


class MongoDriver(Driver):
    def __init__(self, url: str, *, database: str | None = None, transactions: bool | None = None) -> None:
        self.url = url
        name = database or urlsplit(url).path.lstrip("/") or DEFAULT_DATABASE
        # pymongo waits 30 s for a server by default: a person at the gateway should hear "unavailable, try
        # again" sooner, and a worker hand its job back sooner. An explicit option in the URL wins.
        options = {} if "serverselectiontimeoutms" in url.lower() else {"serverSelectionTimeoutMS": SERVER_SELECTION_MS}
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True, tzinfo=UTC, **options)
        self.db = self.client[name]
        self._transactions_override = transactions
        self.atomic_transactions = False

    async def open(self, collections: Sequence[CollectionSpec]) -> None:
        try:
            hello = await self.client.admin.command("hello")
        except OperationFailure:  # servers before 4.4.2 only know the legacy name
            hello = await self.client.admin.command("isMaster")
        supported = "setName" in hello or hello.get("msg") == "isdbgrid"
        self.atomic_transactions = supported if self._transactions_override is None else self._transactions_override
        existing = set(await self.db.list_collection_names())
        for spec in collections:
            if spec.name not in existing:
                # Collections must exist before a transaction writes to them on older servers. Another
                # process opening the store at the same moment may win the race: that is fine.
                with contextlib.suppress(CollectionInvalid):
                    await self.db.create_collection(spec.name)
            for index in spec.indexes:
                name = f"ix_{'_'.join(f.replace('.', '_') for f in index.fields)}"
                await self.db[spec.name].create_index(
                    [(f, ASCENDING) for f in index.fields], unique=index.unique, name=name
                )

    async def close(self) -> None:
        await self.client.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        if not self.atomic_transactions:
            yield _MongoTx(None)
            return
        async with self.client.start_session() as session:
            await session.start_transaction()
            try:
                yield _MongoTx(session)
            except BaseException:
                if session.in_transaction:
                    await session.abort_transaction()
                raise
            try:
                await session.commit_transaction()
            except PyMongoError as exc:
                if _is_conflict(exc):
                    raise WriteConflict(str(exc)) from exc
                raise

    async def get(self, coll: str, id: str | int, tx: Transaction | None = None) -> Doc | None:
        return await self._call(self.db[coll].find_one({"_id": id}, session=_session(tx)))

    async def insert(self, coll: str, doc: Doc, tx: Transaction | None = None) -> bool:
        session = _session(tx)
        try:
            await self.db[coll].insert_one(plain(doc), session=session)
        except DuplicateKeyError as exc:
            if session is not None:
                # The server has aborted the transaction: redo the unit of work, which will see the winner.
                raise WriteConflict(str(exc)) from exc
            return False
        except PyMongoError as exc:
            _raise_conflict(exc)
            raise
        return True

    async def replace(self, coll: str, doc: Doc, *, expected_rev: int, tx: Transaction | None = None) -> bool:
        result = await self._call(
            self.db[coll].replace_one({"_id": doc["_id"], "rev": expected_rev}, plain(doc), session=_session(tx))
        )
        return result.matched_count == 1

    async def put(self, coll: str, doc: Doc, tx: Transaction | None = None) -> None:
        await self._call(self.db[coll].replace_one({"_id": doc["_id"]}, plain(doc), upsert=True,
                                                   session=_session(tx)))

    async def delete(self, coll: str, id: str | int, tx: Transaction | None = None) -> bool:
        result = await self._call(self.db[coll].delete_one({"_id": id}, session=_session(tx)))
        return result.deleted_count == 1

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
        order = [(f, DESCENDING if d < 0 else ASCENDING) for f, d in sort if f != "_id"]
        order.append(("_id", DESCENDING if any(f == "_id" and d < 0 for f, d in sort) else ASCENDING))
        cursor = self.db[coll].find(_filter(conditions), session=_session(tx)).sort(order).skip(skip)
        if limit is not None:
            cursor = cursor.limit(limit)
        try:
            return await cursor.to_list()
        except PyMongoError as exc:
            _raise_conflict(exc)
            raise

    async def count(self, coll: str, conditions: Sequence[Condition] = (), tx: Transaction | None = None) -> int:
        return int(await self._call(self.db[coll].count_documents(_filter(conditions), session=_session(tx))))

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except PyMongoError as exc:
            _raise_conflict(exc)
            raise
