"""Durable state in SQLite (WAL): the append-only record log and the tables derived from it.

The processing loop mutates in-memory state and appends records; a `Batch` collects the records and the
rows that changed. The journal writes a batch in one transaction on its own thread, so the loop keeps
processing the next commands while the disk works (group commit). A command is answered only after the
batch holding its records has committed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ENTITY_TABLES = ("resources", "elements", "jobs", "incidents", "subscriptions", "messages")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY,
    record_key INTEGER NOT NULL,
    record_type TEXT NOT NULL,
    value_type TEXT NOT NULL,
    intent TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS variables (
    scope_key INTEGER NOT NULL,
    name TEXT NOT NULL,
    variable_key INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (scope_key, name)
);
CREATE TABLE IF NOT EXISTS exporters (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
""" + "".join(
    f"CREATE TABLE IF NOT EXISTS {table} (key INTEGER PRIMARY KEY, data BLOB NOT NULL);\n" for table in ENTITY_TABLES
)


@dataclass
class Batch:
    """Everything one group commit writes."""

    records: list[tuple[int, int, str, str, str, int, bytes]] = field(default_factory=list)
    upserts: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    deletes: dict[str, list[int]] = field(default_factory=dict)
    variable_upserts: list[tuple[int, str, int, bytes]] = field(default_factory=list)
    variable_deletes: list[tuple[int, str]] = field(default_factory=list)
    scope_deletes: list[int] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.records or self.upserts or self.deletes or self.variable_upserts or self.variable_deletes
                    or self.scope_deletes or self.meta)


class Journal:
    def __init__(self, data_dir: Path, *, synchronous: str = "FULL") -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "engine.sqlite3"
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.executescript(_SCHEMA)

    # -- loading -------------------------------------------------------------------------------------

    def load_meta(self) -> dict[str, Any]:
        return {name: orjson.loads(value) for name, value in self.conn.execute("SELECT name, value FROM meta")}

    def load_table(self, table: str) -> Iterator[dict[str, Any]]:
        for (data,) in self.conn.execute(f"SELECT data FROM {table} ORDER BY key"):
            yield orjson.loads(data)

    def load_variables(self) -> Iterator[tuple[int, str, int, Any]]:
        for scope_key, name, variable_key, value in self.conn.execute(
            "SELECT scope_key, name, variable_key, value FROM variables"
        ):
            yield scope_key, name, variable_key, orjson.loads(value)

    def last_position(self) -> int:
        row = self.conn.execute("SELECT MAX(position) FROM records").fetchone()
        return row[0] or 0

    # -- writing (on the journal thread) ---------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            try:
                if batch.records:
                    conn.executemany(
                        "INSERT INTO records (position, record_key, record_type, value_type, intent, timestamp, value)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        batch.records,
                    )
                for table, rows in batch.upserts.items():
                    conn.executemany(f"INSERT OR REPLACE INTO {table} (key, data) VALUES (?, ?)", rows)
                for table, keys in batch.deletes.items():
                    conn.executemany(f"DELETE FROM {table} WHERE key = ?", [(k,) for k in keys])
                if batch.scope_deletes:
                    conn.executemany("DELETE FROM variables WHERE scope_key = ?", [(k,) for k in batch.scope_deletes])
                if batch.variable_deletes:
                    conn.executemany("DELETE FROM variables WHERE scope_key = ? AND name = ?", batch.variable_deletes)
                if batch.variable_upserts:
                    conn.executemany(
                        "INSERT OR REPLACE INTO variables (scope_key, name, variable_key, value) VALUES (?, ?, ?, ?)",
                        batch.variable_upserts,
                    )
                if batch.meta:
                    conn.executemany(
                        "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                        [(name, orjson.dumps(value)) for name, value in batch.meta.items()],
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- exporters ---------------------------------------------------------------------------------------

    def exporter_positions(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT name, position FROM exporters"))

    def compact(self, below_position: int) -> int:
        """Drop records every exporter has seen (the log is not the state: the tables are)."""
        with self._lock:
            cursor = self.conn.execute("DELETE FROM records WHERE position < ?", (below_position,))
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self.conn.close()
