"""The embedded adapter: one SQLite file in WAL mode, one table of JSON documents per collection.

sqlite3 blocks, so each connection lives on its own thread: a writer (every write, and every read inside
a transaction, under an asyncio lock so one unit of work runs at a time) and a reader (reads outside
transactions see the last committed state, which WAL lets them do while a write is under way). Several
processes may share the file: ``BEGIN IMMEDIATE`` with a busy timeout serialises their writers.

Indexes are on ``json_extract`` expressions; the queries use the very same expressions so SQLite picks
them. Datetimes are stored as fixed-width UTC text (``2024-02-01T08:00:00.000000Z``), which sorts and
compares correctly as text.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

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
    plain,
)

R = TypeVar("R")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative/file`` or ``sqlite:////absolute/file`` to a path."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ValueError(f"not a sqlite URL: {url!r}")
    raw = parts.path[1:] if parts.path.startswith("/") else parts.path
    if parts.netloc or not raw or raw == ":memory:":
        raise ValueError(f"{url!r} names no database file (use sqlite:///relative/path or sqlite:////abs/path)")
    return Path(raw)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give it a time zone")
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, bool):
        return int(value)
    return plain(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _encode_value(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a document")


def _dumps(doc: Doc) -> str:
    return orjson.dumps(plain(doc), default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _column(field: str) -> str:
    if field == "_id":
        return "id"
    if not _FIELD.match(field):
        raise ValueError(f"bad field name {field!r}")
    return f"json_extract(doc, '$.{field}')"


def _table(name: str) -> str:
    if not _FIELD.match(name) or "." in name:
        raise ValueError(f"bad collection name {name!r}")
    return f'"{name}"'


def _where(conditions: Sequence[Condition], params: list[Any]) -> str:
    if not conditions:
        return "1"
    return " AND ".join(_condition(c, params) for c in conditions)


def _condition(cond: Condition, params: list[Any]) -> str:
    match cond:
        case Eq(field, None):
            return f"{_column(field)} IS NULL"
        case Eq(field, value):
            params.append(_encode_value(value))
            return f"{_column(field)} = ?"
        case In(field, values):
            if not values:
                return "0"
            params.extend(_encode_value(v) for v in values)
            return f"{_column(field)} IN ({', '.join('?' * len(values))})"
        case Range(field, gte, lt):
            parts = [f"{_column(field)} IS NOT NULL"]
            if gte is not None:
                params.append(_encode_value(gte))
                parts.append(f"{_column(field)} >= ?")
            if lt is not None:
                params.append(_encode_value(lt))
                parts.append(f"{_column(field)} < ?")
            return "(" + " AND ".join(parts) + ")"
        case Contains(field, value):
            _column(field)
            params.append(_encode_value(value))
            return f"EXISTS (SELECT 1 FROM json_each(doc, '$.{field}') WHERE json_each.value = ?)"
        case ContainsAny(field, values):
            _column(field)
            if not values:
                return "0"
            params.extend(_encode_value(v) for v in values)
            marks = ", ".join("?" * len(values))
            return f"EXISTS (SELECT 1 FROM json_each(doc, '$.{field}') WHERE json_each.value IN ({marks}))"
        case Text(fields, needle):
            # lower() folds ASCII only; Chinese text has no case, so that is what matters here.
            parts = []
            for f in fields:
                params.append(needle.lower())
                parts.append(f"instr(lower(coalesce({_column(f)}, '')), ?) > 0")
            return "(" + " OR ".join(parts) + ")"
        case Or(conditions):
            if not conditions:
                return "0"
            return "(" + " OR ".join(_condition(c, params) for c in conditions) + ")"
        case And(conditions):
            return "(" + _where(conditions, params) + ")"
    raise TypeError(f"unknown condition {cond!r}")


class _SqliteTx(Transaction):
    pass


class SqliteDriver(Driver):
    atomic_transactions = True

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._writer_pool = ThreadPoolExecutor(1, thread_name_prefix="qly-sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="qly-sqlite-reader")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._tx: _SqliteTx | None = None

    @classmethod
    def from_url(cls, url: str) -> SqliteDriver:
        return cls(sqlite_path(url))

    # --- threads ---------------------------------------------------------------------------------------

    async def _on_writer(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        conn = self._writer
        if conn is None:
            raise RuntimeError("the documents store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._writer_pool, fn, conn)

    async def _on_reader(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        conn = self._reader
        if conn is None:
            raise RuntimeError("the documents store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, fn, conn)

    async def _read(self, fn: Callable[[sqlite3.Connection], R], tx: Transaction | None) -> R:
        if tx is not None:
            self._check_tx(tx)
            return await self._on_writer(fn)
        return await self._on_reader(fn)

    async def _write(self, fn: Callable[[sqlite3.Connection], R], tx: Transaction | None) -> R:
        if tx is not None:
            self._check_tx(tx)
            return await self._on_writer(fn)
        async with self.transaction():
            return await self._on_writer(fn)

    def _check_tx(self, tx: Transaction) -> None:
        if tx is not self._tx:
            raise RuntimeError("this transaction has ended or belongs to another store")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits but never corrupts the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    # --- life cycle ------------------------------------------------------------------------------------

    async def open(self, collections: Sequence[CollectionSpec]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(self._writer_pool, self._connect)
        self._reader = await loop.run_in_executor(self._reader_pool, self._connect)

        def create(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for spec in collections:
                    table = _table(spec.name)
                    # No type on id: it keeps str ids as text and Zeebe keys as 64-bit integers.
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id PRIMARY KEY, doc TEXT NOT NULL)")
                    for index in spec.indexes:
                        name = f"ix_{spec.name}_{'_'.join(f.replace('.', '_') for f in index.fields)}"
                        unique = "UNIQUE " if index.unique else ""
                        columns = ", ".join(_column(f) for f in index.fields)
                        conn.execute(f'CREATE {unique}INDEX IF NOT EXISTS "{name}" ON {table} ({columns})')
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._on_writer(create)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._write_lock:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                await loop.run_in_executor(self._writer_pool, writer.close)
            if self._reader is not None:
                reader, self._reader = self._reader, None
                await loop.run_in_executor(self._reader_pool, reader.close)
        self._writer_pool.shutdown(wait=False)
        self._reader_pool.shutdown(wait=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._write_lock:
            await self._on_writer(lambda c: c.execute("BEGIN IMMEDIATE"))
            tx = self._tx = _SqliteTx()
            try:
                yield tx
            except BaseException:
                self._tx = None
                await asyncio.shield(self._on_writer(lambda c: c.execute("ROLLBACK")))
                raise
            self._tx = None
            await asyncio.shield(self._on_writer(lambda c: c.execute("COMMIT")))

    # --- operations ------------------------------------------------------------------------------------

    async def get(self, coll: str, id: str | int, tx: Transaction | None = None) -> Doc | None:
        sql = f"SELECT doc FROM {_table(coll)} WHERE id = ?"

        def run(conn: sqlite3.Connection) -> Doc | None:
            row = conn.execute(sql, (id,)).fetchone()
            return orjson.loads(row[0]) if row else None

        return await self._read(run, tx)

    async def insert(self, coll: str, doc: Doc, tx: Transaction | None = None) -> bool:
        sql = f"INSERT INTO {_table(coll)} (id, doc) VALUES (?, ?)"
        params = (doc["_id"], _dumps(doc))

        def run(conn: sqlite3.Connection) -> bool:
            try:
                conn.execute(sql, params)
            except sqlite3.IntegrityError:
                return False
            return True

        return await self._write(run, tx)

    async def replace(self, coll: str, doc: Doc, *, expected_rev: int, tx: Transaction | None = None) -> bool:
        sql = f"UPDATE {_table(coll)} SET doc = ? WHERE id = ? AND json_extract(doc, '$.rev') = ?"
        params = (_dumps(doc), doc["_id"], expected_rev)
        return await self._write(lambda conn: conn.execute(sql, params).rowcount == 1, tx)

    async def put(self, coll: str, doc: Doc, tx: Transaction | None = None) -> None:
        sql = f"INSERT INTO {_table(coll)} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc"
        params = (doc["_id"], _dumps(doc))
        await self._write(lambda conn: conn.execute(sql, params), tx)

    async def delete(self, coll: str, id: str | int, tx: Transaction | None = None) -> bool:
        sql = f"DELETE FROM {_table(coll)} WHERE id = ?"
        return await self._write(lambda conn: conn.execute(sql, (id,)).rowcount == 1, tx)

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
        params: list[Any] = []
        order = [f"{_column(f)} {'DESC' if d < 0 else 'ASC'}" for f, d in sort if f != "_id"]
        order.append("id DESC" if any(f == "_id" and d < 0 for f, d in sort) else "id ASC")
        sql = f"SELECT doc FROM {_table(coll)} WHERE {_where(conditions, params)} ORDER BY {', '.join(order)}"
        sql += " LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, skip]

        def run(conn: sqlite3.Connection) -> list[Doc]:
            return [orjson.loads(row[0]) for row in conn.execute(sql, params)]

        return await self._read(run, tx)

    async def count(self, coll: str, conditions: Sequence[Condition] = (), tx: Transaction | None = None) -> int:
        params: list[Any] = []
        sql = f"SELECT count(*) FROM {_table(coll)} WHERE {_where(conditions, params)}"
        return await self._read(lambda conn: int(conn.execute(sql, params).fetchone()[0]), tx)
