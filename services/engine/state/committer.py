"""Group commit: batches of changes go to the journal one at a time, on a thread of their own.

While a batch is being written, the loop keeps processing; everything processed meanwhile forms the next
batch. `durable()` returns a future that completes once everything processed so far is on disk: the
gRPC layer awaits it before it answers, so no answer ever reports something a crash could take back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
from collections.abc import Callable
from typing import Any

import structlog

from services.engine.metrics import Metrics
from services.engine.state.journal import Batch, Journal
from services.engine.state.state import EngineState

log = structlog.get_logger("engine.journal")


class GroupCommitter:
    def __init__(self, state: EngineState, journal: Journal, loop: asyncio.AbstractEventLoop, *,
                 pending_commands: Callable[[], list[Any] | None], metrics: Metrics) -> None:
        self.state = state
        self.journal = journal
        self.loop = loop
        self.pending_commands = pending_commands
        self.metrics = metrics
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._waiters: list[asyncio.Future[None]] = []
        self._writing = False
        self._scheduled = False
        self._had_pending = False
        self._idle = asyncio.Event()
        self._idle.set()

    def request(self) -> None:
        """Something changed: make sure a commit follows."""
        if not self._scheduled and not self._writing:
            self._scheduled = True
            self.loop.call_soon(self._start)

    def durable(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self.loop.create_future()
        self._waiters.append(future)
        self.request()
        return future

    def _start(self) -> None:
        self._scheduled = False
        if self._writing:
            return
        pending = self.pending_commands()
        if pending is None and self._had_pending:
            pending = []
        if not self.state.has_changes() and pending is None:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            return
        self._had_pending = bool(pending)
        batch = self.state.take_batch(pending)
        waiters, self._waiters = self._waiters, []
        self._writing = True
        self._idle.clear()
        started = time.perf_counter()
        future = self.loop.run_in_executor(self._executor, self.journal.write, batch)
        future.add_done_callback(lambda f: self._done(f, waiters, started, batch))

    def _done(self, future: asyncio.Future[None], waiters: list[asyncio.Future[None]], started: float,
              batch: Batch) -> None:
        self._writing = False
        error = future.exception()
        if error is not None:
            # the in-memory state is now ahead of the disk: the only safe thing is to stop at once and let
            # a restart continue from what was committed
            log.critical("journal write failed; stopping the engine", error=repr(error))
            os._exit(70)
        self.metrics.commits += 1
        self.metrics.commit_latency.observe(time.perf_counter() - started)
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        if self._waiters or self.state.has_changes():
            self.request()
        else:
            self._idle.set()

    async def flush(self) -> None:
        """Wait until everything processed so far is committed."""
        await self.durable()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
