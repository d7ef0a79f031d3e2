"""The processing loop: commands in, records and state changes out.

Every client command is processed synchronously on the event loop: it changes the in-memory state,
appends records, and queues follow-up commands (activate / complete / terminate an element, ...), which
are drained until the engine is quiescent or a step budget is used up (a model looping without a wait
state then shares the loop with other work, as Zeebe's follow-up commands do). The gRPC layer answers
only after the batch holding the command's records has committed (see GroupCommitter).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from services.engine.clock import EngineClock
from services.engine.metrics import Metrics
from services.engine.model.elements import ExecutableProcess, FlowNode
from services.engine.protocol import RecordType, ValueType
from services.engine.state.entities import ElementInstance
from services.engine.state.state import EngineState

log = structlog.get_logger("engine")

STEP_BUDGET = 20_000


class Engine:
    def __init__(self, state: EngineState, clock: EngineClock, *, metrics: Metrics | None = None) -> None:
        from services.engine.processing.compensation import Compensation
        from services.engine.processing.deployments import Deployments
        from services.engine.processing.events import Events
        from services.engine.processing.incidents import Incidents
        from services.engine.processing.jobs import Jobs
        from services.engine.processing.lifecycle import Lifecycle
        from services.engine.processing.modification import Modification
        from services.engine.processing.processors import build_processors
        from services.engine.processing.resource_deletion import ResourceDeletion
        from services.engine.processing.variables import Variables

        self.state = state
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.processes: dict[int, ExecutableProcess] = {}
        self.queue: deque[tuple[Any, ...]] = deque()
        self.deployments = Deployments(self)
        self.lifecycle = Lifecycle(self)
        self.variables = Variables(self)
        self.jobs = Jobs(self)
        self.incidents = Incidents(self)
        self.events = Events(self)
        self.compensation = Compensation(self)
        self.processors = build_processors(self)
        self.modification = Modification(self)
        self.resource_deletion = ResourceDeletion(self)
        self.firing_due: int | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._continue_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        # process instance key -> callbacks(result or exception) for CreateProcessInstanceWithResult
        self.result_waiters: dict[int, list[Callable[[dict[str, Any] | None, str | None], None]]] = {}

    # -- wiring ------------------------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[], None]) -> None:
        """Called by the server: `on_change` asks for a group commit."""
        self._loop = loop
        self._on_change = on_change

    def recover(self, meta: dict[str, Any]) -> None:
        """Rebuild what is derived from the loaded state: compiled definitions, element links, the queue."""
        self.deployments.load()
        for instance in self.state.elements.values():
            self._resolve_node(instance)
        self.events.recover()
        for command in meta.get("pending") or []:
            self.queue.append(tuple(command))
        self.metrics.instances_active = sum(
            1 for ei in self.state.elements.values() if ei.key == ei.process_instance_key
        )
        if self.queue:
            self.run()

    def _resolve_node(self, instance: ElementInstance) -> None:
        process = self.processes.get(instance.process_definition_key)
        if process is None:
            return
        node = process.elements.get(instance.element_id)
        if node is not None and node.inner is not None:
            scope = self.state.elements.get(instance.flow_scope_key)
            if scope is not None and scope.element_id == instance.element_id:
                node = node.inner
        instance.node = node

    # -- time and records ------------------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now_ms()

    def event_time(self) -> int:
        """When what is being processed happens: the due date of the timer or time-to-live being fired (due
        dates are processed in order, so a message expiring later is still alive then), else now."""
        return self.firing_due if self.firing_due is not None else self.clock.now_ms()

    def write(self, key: int, value_type: ValueType, intent: str, value: dict[str, Any],
              record_type: RecordType = RecordType.EVENT) -> None:
        self.state.append_record(key, record_type, value_type, intent, self.now(), value)
        self.metrics.records += 1

    def process_of(self, instance: ElementInstance) -> ExecutableProcess:
        return self.processes[instance.process_definition_key]

    def node_of(self, instance: ElementInstance) -> FlowNode:
        return instance.node

    # -- the command loop --------------------------------------------------------------------------------

    def enqueue(self, *command: Any) -> None:
        self.queue.append(command)

    def run(self) -> None:
        """Drain follow-up commands; leave the rest for the next turn of the event loop if over budget."""
        started = time.perf_counter()
        budget = STEP_BUDGET
        queue = self.queue
        dispatch = self.lifecycle.dispatch
        while queue and budget:
            dispatch(queue.popleft())
            budget -= 1
        self.jobs.serve_waiters()
        self.metrics.processing_seconds += time.perf_counter() - started
        if queue and not self._continue_scheduled and self._loop is not None:
            self._continue_scheduled = True
            self._loop.call_soon(self._continue)
        self._on_change()

    def _continue(self) -> None:
        self._continue_scheduled = False
        self.run()

    def pending_commands(self) -> list[Any] | None:
        return [list(command) for command in self.queue] if self.queue else None

    # -- due dates (job deadlines and back-offs, timers, message TTLs) ----------------------------------

    def fire_due(self) -> int:
        """Process everything due at the current engine time, in due order. Returns how many fired."""
        fired = 0
        now = self.now()
        state = self.state
        while True:
            item = state.pop_due(now)
            if item is None:
                break
            due, kind, key = item
            handled = False
            self.firing_due = due
            try:
                if kind == "job_deadline":
                    handled = self.jobs.expire_deadline(key, due)
                elif kind == "job_backoff":
                    handled = self.jobs.recur_after_backoff(key, due)
                elif kind == "timer":
                    handled = self.events.fire_timer(key, due)
                elif kind == "message":
                    handled = self.events.expire_message(key, due)
                if handled:
                    fired += 1
                    # what fires can create things that are already due (a timer on a fired timer's path)
                    self.run()
            finally:
                self.firing_due = None
            if handled:
                now = self.now()
        if fired:
            self.run()
        return fired

    def next_due(self) -> int | None:
        return self.state.next_due()
