"""The export loop every exporter shares: read a batch after the position, prepare it, write it, advance.

A target (documents store, Redis) implements `Target`. The loop owns the position and the retries:

- the position comes from the target, written there atomically with each batch, so a restart resumes
  where the last acknowledged batch ended and nothing is lost (at least once);
- a failed write is retried with the very same prepared batch, with exponential back-off, until the
  target takes it: the loop never skips ahead and never re-projects records it has already projected;
- the loop never touches the engine's event loop or its writer: it only reads committed rows through its
  own connection, so a target that is down only makes the lag grow.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import structlog

from services.engine.exporters.records import Record, RecordReader

log = structlog.get_logger("engine.exporters")


@dataclass
class Prepared:
    """A batch ready for its target: what to write and the position it brings the exporter to."""

    position: int
    records: int
    payload: Any


class Target(ABC):
    """Where an exporter writes. `exporter_id` names the exporter and the log (see `ensure_log_id`)."""

    kind: str = "target"

    def __init__(self, exporter_id: str) -> None:
        self.exporter_id = exporter_id

    @abstractmethod
    async def open(self) -> None:
        """Connect; raise if the target is unreachable (the loop retries)."""

    @abstractmethod
    async def position(self) -> int | None:
        """The position of the last batch the target took, None if it never took one."""

    @abstractmethod
    async def prepare(self, records: list[Record], reader: RecordReader) -> Prepared:
        """Turn records into a batch. Called once per batch, in log order: it may keep state."""

    @abstractmethod
    async def write(self, batch: Prepared) -> None:
        """Write the batch and its position in one step; a batch written before is a no-op."""

    def stats(self) -> dict[str, int]:
        """Counters of the target's own (reported on the engine's /metrics)."""
        return {}

    @abstractmethod
    async def reset(self) -> None:
        """Forget whatever `prepare` remembered (the loop will start again from the stored position)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""


@dataclass
class LoopSettings:
    batch_size: int = 2000
    idle_wait: float = 0.01  # first look for new records after catching up; then ever less often
    idle_max: float = 0.1  # the longest a new record waits to be seen once the exporter is idle
    idle_read: float = 2.0  # read even if the log file seems unchanged (a safety net, not the signal)
    backoff_initial: float = 0.1
    backoff_max: float = 5.0


class ExporterLoop:
    def __init__(self, name: str, target: Target, reader: RecordReader, settings: LoopSettings | None = None) -> None:
        self.name = name
        self.target = target
        self.reader = reader
        self.settings = settings or LoopSettings()
        self.position: int | None = None  # acknowledged by the target; None until it has been read
        self.records_exported = 0
        self.batches_exported = 0
        self.failures = 0
        self.connected = False
        self.last_error: str | None = None

    async def run(self) -> None:
        settings = self.settings
        backoff = settings.backoff_initial
        while True:
            exported = self.batches_exported
            try:
                await self._run_connected()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a target may fail in any way; the loop's job is to outlive it
                if self.batches_exported != exported:
                    backoff = settings.backoff_initial  # it had recovered: this is a new outage
                self.failures += 1
                self.connected = False
                self.last_error = repr(error)
                log.warning("exporter target failed; retrying", exporter=self.name, error=repr(error),
                            retry_in=round(backoff, 2), position=self.position)
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, settings.backoff_max)

    async def _run_connected(self) -> None:
        await self.target.open()
        if self.position is None:
            stored = await self.target.position()
            await self.target.reset()
            self.position = stored or 0
            oldest, head = await self.reader.bounds()
            if oldest > self.position + 1:
                # compaction only drops what every configured exporter has passed, so this is a new target
                # (or one whose data was lost): it gets what the log still holds
                log.warning("exporter starts after records it never saw were compacted", exporter=self.name,
                            position=self.position, oldest=oldest)
            if self.position > head:
                log.error("exporter position is beyond the engine log's head; waiting for the log to get there",
                          exporter=self.name, position=self.position, head=head)
        self.connected = True
        self.last_error = None
        log.info("exporter running", exporter=self.name, target=self.target.kind, position=self.position)
        settings = self.settings
        pending: Prepared | None = None
        while True:
            if pending is None:
                records = await self.reader.read_after(self.position, settings.batch_size)
                if not records:
                    await self._wait_for_commits()
                    continue
                pending = await self.target.prepare(records, self.reader)
            # a failure here leaves `pending` as it is: the same batch is written again after the back-off
            await self._write(pending)
            self.position = pending.position
            self.records_exported += pending.records
            self.batches_exported += 1
            pending = None

    async def _wait_for_commits(self) -> None:
        """Sleep until the engine's write-ahead log changes: an idle exporter costs a stat() now and then,
        not a query and a thread hop fifty times a second."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        give_up = loop.time() + settings.idle_read
        delay = settings.idle_wait
        while loop.time() < give_up:
            await asyncio.sleep(delay)
            if self.reader.changed():
                return
            delay = min(delay * 1.5, settings.idle_max)

    async def _write(self, batch: Prepared) -> None:
        backoff = self.settings.backoff_initial
        while True:
            try:
                await self.target.write(batch)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.failures += 1
                self.connected = False
                self.last_error = repr(error)
                log.warning("exporter write failed; retrying the same batch", exporter=self.name,
                            error=repr(error), retry_in=round(backoff, 2), position=self.position,
                            batch_position=batch.position)
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, self.settings.backoff_max)
                try:
                    await self.target.open()
                except Exception as reopen_error:  # still down: the next write attempt will say so
                    self.last_error = repr(reopen_error)
                else:
                    self.connected = True

    def status(self) -> dict[str, Any]:
        return {"exporter": self.name, "position": self.position, "records": self.records_exported,
                "batches": self.batches_exported, "failures": self.failures, "connected": self.connected,
                "last_error": self.last_error, **self.target.stats()}
