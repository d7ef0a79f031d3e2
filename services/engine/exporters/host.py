"""What the engine process does for its exporters: run them as a child process, and compact the log behind them.

Why a child process, not tasks in the engine: the engine is one Python event loop on one core. Exporting
costs CPU per record (decoding, projecting, validating, writing: about 40 µs a record for the documents
store, 12 µs for Redis), and the engine writes ~25,000 records/s at full load. On a thread of the engine
process that CPU is taken from the engine under the same GIL (a prototype that did so cut the benchmark
from 1,183 to 648 instances/s); in a process of its own it runs on another core, at a lower priority,
and the engine's own CPU per instance stays what it was without exporters (load/bench_exporters.py).
A crash or a memory blow-up there cannot take the engine down either. The engine still starts and stops it, so `make run` stays one command: the child reads the
committed log through its own SQLite connection, reports its positions on stdout, and exits when its
stdin closes (the engine stopped, or was killed). If it dies, the engine starts it again after a pause.

Compaction keeps the record log bounded. The engine's state lives in its tables, not in the log, so a
record is only needed by exporters that have not passed it yet, and by people reading recent history.
Every `interval` seconds the engine deletes the records below

    min(position every configured exporter has acknowledged + 1, head - retention + 1)

so the newest `retention` records always stay (and the head record itself, whose position a restart
continues from). With no exporter configured only the retention bound applies. An exporter whose position
is not known yet (not reported since the engine started) holds compaction back entirely: at least once
means never dropping a record an exporter may still need. The deletes go through the journal's own
connection, in chunks, so the engine's writer waits for at most one chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import structlog

from services.engine.exporters.records import DB_NAME, ensure_log_id
from services.engine.exporters.service import ExportSettings
from services.engine.state.journal import Journal

log = structlog.get_logger("engine.exporters")

COMPACT_CHUNK = 5_000  # records per DELETE (~8 ms): the journal's writer waits for each one
# When the machine is short of CPU, the engine goes first: exporters fall behind and catch up afterwards.
EXPORTER_NICE = 10
ROOT = Path(__file__).resolve().parents[3]
_TARGET_STATS = {
    "events": "Live events appended to the Redis stream",
    "instances_loaded": "Running instances whose views were reloaded from the store after a restart",
    "skipped_records": "Records the projection could not read (logged; a bug to look at)",
    "rejected_views": "View documents the store would refuse, left out (logged; a bug to look at)",
}


class ExporterHost:
    def __init__(self, data_dir: Path, journal: Journal, settings: ExportSettings, *, retention: int,
                 compact_interval: float, head: Callable[[], int], restart_delay: float = 1.0) -> None:
        if retention < 1:
            raise ValueError("the log retention must keep at least 1 record")
        self.data_dir = data_dir
        self.journal = journal
        self.settings = settings
        self.retention = retention
        self.compact_interval = compact_interval
        self.head = head
        self.restart_delay = restart_delay
        # before the engine commits anything: nothing else uses the journal's connection yet
        self.log_id = ensure_log_id(journal.conn)
        self.status: dict[str, dict[str, Any]] = {}  # kind -> the child's last report
        self.child_starts = 0
        self.compacted = 0
        self.oldest = 0
        self._child: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._compact_pool = ThreadPoolExecutor(1, thread_name_prefix="log-compactor")
        self._bounds_conn: sqlite3.Connection | None = None
        self._stopping = False

    # -- life cycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.settings.exporters:
            self._supervisor = loop.create_task(self._supervise(), name="exporters")
        self._compactor = loop.create_task(self._compact_periodically(), name="log-compactor")

    async def stop(self) -> None:
        self._stopping = True
        for task in (self._compactor, self._supervisor):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self._stop_child()
        await asyncio.get_running_loop().run_in_executor(self._compact_pool, self._close_bounds)
        self._compact_pool.shutdown(wait=True)

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "services.engine.exporters", "--data-dir", str(self.data_dir.resolve()),
                "--log-id", self.log_id, "--report", "--nice", str(EXPORTER_NICE)]
        for kind, url in self.settings.exporters.items():
            args += ["--exporter", f"{kind}={url}"]
        return args

    async def _supervise(self) -> None:
        env = {**os.environ, "EVENTS_STREAM": self.settings.events_stream,
               "EVENTS_MAXLEN": str(self.settings.events_maxlen)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        delay = self.restart_delay
        while not self._stopping:
            self.child_starts += 1
            started = asyncio.get_running_loop().time()
            self._child = await asyncio.create_subprocess_exec(
                *self.command(), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
                limit=1 << 20)  # the engine's working directory: relative sqlite:/// URLs mean the same
            log.info("exporters started", pid=self._child.pid, exporters=sorted(self.settings.exporters),
                     log_id=self.log_id)
            assert self._child.stdout is not None
            async for line in self._child.stdout:
                try:
                    report = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                self.status.update(report)
            code = await self._child.wait()
            if self._stopping:
                return
            # one that keeps dying at once (a bad URL, a missing log) is retried ever less often
            lived = asyncio.get_running_loop().time() - started
            delay = self.restart_delay if lived > 30 else min(delay * 2, 60.0)
            log.error("the exporter process exited; starting it again", code=code, retry_in=delay)
            await asyncio.sleep(delay)

    async def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is None or child.returncode is not None:
            return
        if child.stdin is not None:
            child.stdin.close()  # the child's signal to finish
        try:
            await asyncio.wait_for(child.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()

    # -- compaction ----------------------------------------------------------------------------------------

    def positions(self) -> dict[str, int | None]:
        """The last position each configured exporter reported (None: not reported since the start)."""
        return {kind: self.status.get(kind, {}).get("position") for kind in self.settings.exporters}

    def cutoff(self, head: int) -> int:
        """Records below this position may go (0: none may)."""
        cutoff = min(head - self.retention + 1, head)
        for position in self.positions().values():
            if position is None:
                return 0
            cutoff = min(cutoff, position + 1)
        return max(cutoff, 0)

    async def _compact_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.compact_interval)
            try:
                await self.compact()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # compaction can wait for the next round; the engine must not stop
                log.warning("log compaction failed", error=repr(error))

    async def compact(self) -> int:
        loop = asyncio.get_running_loop()
        oldest, head = await loop.run_in_executor(self._compact_pool, self._bounds)
        self.oldest = oldest
        cutoff = self.cutoff(head)
        removed = 0
        while oldest and oldest < cutoff:
            below = min(cutoff, oldest + COMPACT_CHUNK)
            removed += await loop.run_in_executor(self._compact_pool, self.journal.compact, below)
            oldest = self.oldest = below
        if removed:
            self.compacted += removed
            log.debug("log compacted", removed=removed, below=cutoff, head=head)
        return removed

    def _bounds(self) -> tuple[int, int]:
        # its own connection: the journal's is busy with the engine's commits on another thread
        if self._bounds_conn is None:
            self._bounds_conn = sqlite3.connect(self.data_dir / DB_NAME, isolation_level=None)
            self._bounds_conn.execute("PRAGMA query_only = ON")
        oldest, head = self._bounds_conn.execute("SELECT MIN(position), MAX(position) FROM records").fetchone()
        return oldest or 0, head or 0

    def _close_bounds(self) -> None:
        if self._bounds_conn is not None:
            self._bounds_conn.close()
            self._bounds_conn = None

    # -- metrics -------------------------------------------------------------------------------------------

    def render_metrics(self) -> str:
        head = self.head()
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, values: dict[str, Any]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for exporter, value in sorted(values.items()):
                lines.append(f'{name}{{exporter="{exporter}"}} {value}')

        if self.settings.exporters:
            status = {kind: self.status.get(kind, {}) for kind in self.settings.exporters}
            positions = {kind: s.get("position") or 0 for kind, s in status.items()}
            family("zeebe_exporter_position", "gauge", "Log position the exporter's target has acknowledged",
                   positions)
            family("zeebe_exporter_lag_records", "gauge", "Engine log position minus the exporter's position",
                   {kind: max(head - position, 0) for kind, position in positions.items()})
            family("zeebe_exporter_records_total", "counter", "Records exported since the exporter process started",
                   {kind: s.get("records", 0) for kind, s in status.items()})
            family("zeebe_exporter_failures_total", "counter", "Failed attempts to reach or write the target",
                   {kind: s.get("failures", 0) for kind, s in status.items()})
            family("zeebe_exporter_connected", "gauge", "1 while the exporter's last attempt succeeded",
                   {kind: int(bool(s.get("connected"))) for kind, s in status.items()})
            for stat, help_text in _TARGET_STATS.items():
                values = {kind: s[stat] for kind, s in status.items() if stat in s}
                if values:
                    family(f"zeebe_exporter_{stat}_total", "counter", help_text, values)
            lines.append("# HELP zeebe_exporter_process_starts_total Times the engine started the exporter process")
            lines.append("# TYPE zeebe_exporter_process_starts_total counter")
            lines.append(f"zeebe_exporter_process_starts_total {self.child_starts}")
        lines.append("# HELP zeebe_log_records_compacted_total Records deleted from the log behind the exporters")
        lines.append("# TYPE zeebe_log_records_compacted_total counter")
        lines.append(f"zeebe_log_records_compacted_total {self.compacted}")
        lines.append("# HELP zeebe_log_oldest_position Oldest position in the log at the last compaction")
        lines.append("# TYPE zeebe_log_oldest_position gauge")
        lines.append(f"zeebe_log_oldest_position {self.oldest}")
        return "\n".join(lines) + "\n"
