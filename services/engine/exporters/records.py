"""Reading the engine's committed record log (engine.sqlite3, table `records`) from outside the journal.

The reader has its own SQLite connection. The log is in WAL mode, so a read sees only committed rows and
never waits for the engine's writer (nor makes it wait). sqlite3 blocks, so every call runs on a thread of
the reader's own: an exporter never stalls an event loop while SQLite works.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

DB_NAME = "engine.sqlite3"
LOG_ID = "log_id"
RECENT_NS = 50_000_000


class Record:
    """One committed record. `value` is decoded on first use: most exporters skip most records unread."""

    __slots__ = ("_raw", "_value", "intent", "key", "position", "record_type", "timestamp", "value_type")

    def __init__(self, position: int, key: int, record_type: str, value_type: str, intent: str, timestamp: int,
                 value: dict[str, Any] | bytes) -> None:
        self.position = position
        self.key = key
        self.record_type = record_type
        self.value_type = value_type
        self.intent = intent
        self.timestamp = timestamp  # engine clock, epoch milliseconds
        if isinstance(value, bytes | str):
            self._raw: bytes | str | None = value
            self._value: dict[str, Any] | None = None
        else:
            self._raw = None
            self._value = value

    @property
    def value(self) -> dict[str, Any]:
        if self._value is None:
            self._value = orjson.loads(self._raw or b"{}")
            self._raw = None
        return self._value

    def __repr__(self) -> str:
        return f"Record({self.position}, {self.value_type} {self.intent}, key={self.key})"


def ensure_log_id(conn: sqlite3.Connection) -> str:
    """The identity of this engine log, created on first use.

    An exporter's position only means something for one log: when a data dir is wiped and a new engine
    starts at position 1, a target that remembers position 90,000 would otherwise skip everything the new
    engine writes until it got that far. Exporters name themselves after the log, so a new log starts a
    new position. The id lives in the engine's own meta table, so it travels with the log it names.
    """
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (LOG_ID,)).fetchone()
    if row is not None:
        return str(orjson.loads(row[0]))
    log_id = uuid.uuid4().hex[:16]
    conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (LOG_ID, orjson.dumps(log_id)))
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (LOG_ID,)).fetchone()
    return str(orjson.loads(row[0]))


def read_log_id(data_dir: Path) -> str | None:
    """The log id of a data dir, None if the engine never created one (no exporter ever ran on it)."""
    path = data_dir / DB_NAME
    if not path.exists():
        return None
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE name = ?", (LOG_ID,)).fetchone()
    except sqlite3.OperationalError:  # no meta table: an engine never ran here
        return None
    finally:
        conn.close()
    return str(orjson.loads(row[0])) if row else None


class RecordReader:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DB_NAME
        if not self.path.exists():
            raise FileNotFoundError(f"no engine log at {self.path}")
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="exporter-reader")
        self._conn: sqlite3.Connection | None = None
        self._wal = self.path.with_name(self.path.name + "-wal")
        self._wal_seen: tuple[int, int] | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")  # this connection never writes the engine's log
            conn.execute("PRAGMA busy_timeout = 5000")
            self._conn = conn
        return self._conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    # -- on the reader thread -----------------------------------------------------------------------------

    def _read_after(self, position: int, limit: int) -> list[Record]:
        rows = self._connection().execute(
            "SELECT position, record_key, record_type, value_type, intent, timestamp, value FROM records"
            " WHERE position > ? ORDER BY position LIMIT ?", (position, limit)).fetchall()
        return [Record(p, k, rt, vt, i, ts, v) for p, k, rt, vt, i, ts, v in rows]

    def _bounds(self) -> tuple[int, int]:
        oldest, head = self._connection().execute("SELECT MIN(position), MAX(position) FROM records").fetchone()
        return oldest or 0, head or 0

    def variable_now(self, scope_key: int, name: str) -> Any:
        """The current value of a variable in the engine's state (None if it has none). Reader thread only."""
        row = self._connection().execute("SELECT value FROM variables WHERE scope_key = ? AND name = ?",
                                         (scope_key, name)).fetchone()
        return orjson.loads(row[0]) if row else None

    def _log_id(self) -> str | None:
        row = self._connection().execute("SELECT value FROM meta WHERE name = ?", (LOG_ID,)).fetchone()
        return str(orjson.loads(row[0])) if row else None

    def changed(self) -> bool:
        """Whether the engine may have committed since the last call: every commit writes the WAL file.

        A stat() is cheap enough for the event loop; a missing WAL (engine stopped) counts as no change.
        File times tick coarsely (a few ms), and a recycled WAL keeps its size, so two commits can leave the
        same (mtime, size): a file written in the last RECENT_NS counts as changed whatever it looked like.
        """
        try:
            stat = os.stat(self._wal)
        except FileNotFoundError:
            return False
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen != self._wal_seen:
            self._wal_seen = seen
            return True
        return time.time_ns() - stat.st_mtime_ns < RECENT_NS

    # -- async API ------------------------------------------------------------------------------------------

    async def read_after(self, position: int, limit: int) -> list[Record]:
        """Up to `limit` committed records after `position`, oldest first."""
        result: list[Record] = await self._run(self._read_after, position, limit)
        return result

    async def bounds(self) -> tuple[int, int]:
        """(oldest, newest) position in the log; (0, 0) when it is empty."""
        result: tuple[int, int] = await self._run(self._bounds)
        return result

    async def log_id(self) -> str | None:
        result: str | None = await self._run(self._log_id)
        return result

    async def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the reader thread (CPU work an exporter keeps off the event loop)."""
        return await self._run(fn, *args)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(close)
        self._pool.shutdown(wait=False)
