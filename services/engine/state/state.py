"""The engine's working state, in memory, with change tracking for the journal.

Everything the processing loop reads lives here; every change goes through a method that marks the row
dirty, so `take_batch` can hand the journal exactly what changed since the last commit.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict, defaultdict
from typing import Any

import orjson

from services.engine.protocol import KEY_BITS, PARTITION_ID
from services.engine.state.entities import ElementInstance, Incident, Job, JobState, Message, Subscription
from services.engine.state.journal import ENTITY_TABLES, Batch, Journal

_DELETED = object()


class EngineState:
    def __init__(self) -> None:
        self.next_key = (PARTITION_ID << KEY_BITS) + 1
        self.position = 0
        self.clock_offset_ms = 0  # a controlled clock's offset from real time
        self.clock_pinned_ms: int | None = None
        # deployed resources: key -> row (kind, metadata and content); compiled forms live in the engine
        self.resources: dict[int, dict[str, Any]] = {}
        self.elements: dict[int, ElementInstance] = {}
        self.variables: dict[int, dict[str, list[Any]]] = {}  # scope key -> name -> [variable key, value]
        self.jobs: dict[int, Job] = {}
        self.activatable: dict[str, OrderedDict[int, None]] = defaultdict(OrderedDict)  # job type -> job keys
        self.incidents: dict[int, Incident] = {}
        self.incidents_by_element: dict[int, set[int]] = {}  # element instance key -> its open incidents
        self.subscriptions: dict[int, Subscription] = {}
        self.message_subscriptions: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)
        self.signal_subscriptions: dict[str, dict[int, None]] = defaultdict(dict)
        self.messages: dict[int, Message] = {}
        self.buffered: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)  # (name, correlation key)
        # (name, correlation key, message id) of buffered messages: Zeebe's uniqueness rule
        self.message_ids: dict[tuple[str, str, str], int] = {}
        # due dates: (due ms, sequence, kind, key); stale entries are skipped when popped
        self.due: list[tuple[int, int, str, int]] = []
        self._due_seq = itertools.count()
        # change tracking
        self._dirty: dict[str, dict[int, Any]] = {table: {} for table in ENTITY_TABLES}
        self._dirty_vars: dict[tuple[int, str], Any] = {}
        self._dropped_scopes: set[int] = set()
        self._records: list[tuple[int, int, str, str, str, int, bytes]] = []
        self._meta_dirty = False

    # -- keys and records --------------------------------------------------------------------------------

    def new_key(self) -> int:
        key = self.next_key
        self.next_key += 1
        self._meta_dirty = True
        return key

    def append_record(self, key: int, record_type: str, value_type: str, intent: str, timestamp: int,
                      value: dict[str, Any]) -> int:
        self.position += 1
        self._records.append((self.position, key, record_type, value_type, intent, timestamp, orjson.dumps(value)))
        self._meta_dirty = True
        return self.position

    # -- entity tables --------------------------------------------------------------------------------------

    def touch(self, table: str, key: int, entity: Any) -> None:
        self._dirty[table][key] = entity

    def drop(self, table: str, key: int) -> None:
        self._dirty[table][key] = _DELETED

    def put_element(self, instance: ElementInstance) -> None:
        self.elements[instance.key] = instance
        self._dirty["elements"][instance.key] = instance

    def touch_element(self, instance: ElementInstance) -> None:
        self._dirty["elements"][instance.key] = instance

    def remove_element(self, key: int) -> None:
        self.elements.pop(key, None)
        self._dirty["elements"][key] = _DELETED
        if key in self.variables:
            del self.variables[key]
            self._dropped_scopes.add(key)
            for name_key in [k for k in self._dirty_vars if k[0] == key]:
                del self._dirty_vars[name_key]

    # -- variables ----------------------------------------------------------------------------------------

    def set_variable(self, scope_key: int, name: str, value: Any) -> tuple[int, bool]:
        """Returns (variable key, created?)."""
        scope = self.variables.get(scope_key)
        if scope is None:
            scope = self.variables[scope_key] = {}
        slot = scope.get(name)
        if slot is None:
            variable_key = self.new_key()
            scope[name] = [variable_key, value]
            created = True
        else:
            variable_key = slot[0]
            slot[1] = value
            created = False
        self._dirty_vars[(scope_key, name)] = scope[name]
        return variable_key, created

    # -- jobs -------------------------------------------------------------------------------------------------

    def put_job(self, job: Job) -> None:
        self.jobs[job.key] = job
        self._dirty["jobs"][job.key] = job
        if job.state == JobState.ACTIVATABLE:
            self.activatable[job.type][job.key] = None
        else:
            queue = self.activatable.get(job.type)
            if queue is not None:
                queue.pop(job.key, None)

    def remove_job(self, job: Job) -> None:
        self.jobs.pop(job.key, None)
        self._dirty["jobs"][job.key] = _DELETED
        queue = self.activatable.get(job.type)
        if queue is not None:
            queue.pop(job.key, None)

    # -- incidents, subscriptions, messages -----------------------------------------------------------------

    def put_incident(self, incident: Incident) -> None:
        self.incidents[incident.key] = incident
        self.incidents_by_element.setdefault(incident.element_instance_key, set()).add(incident.key)
        self._dirty["incidents"][incident.key] = incident

    def remove_incident(self, key: int) -> None:
        incident = self.incidents.pop(key, None)
        if incident is not None:
            keys = self.incidents_by_element.get(incident.element_instance_key)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.incidents_by_element[incident.element_instance_key]
        self._dirty["incidents"][key] = _DELETED

    def put_subscription(self, subscription: Subscription) -> None:
        self.subscriptions[subscription.key] = subscription
        self._dirty["subscriptions"][subscription.key] = subscription
        self._index_subscription(subscription)

    def _index_subscription(self, subscription: Subscription) -> None:
        if subscription.kind == "message":
            self.message_subscriptions[(subscription.name, subscription.correlation_key)][subscription.key] = None
        elif subscription.kind == "signal":
            self.signal_subscriptions[subscription.name][subscription.key] = None
        elif subscription.kind == "timer":
            self.schedule(subscription.due, "timer", subscription.key)

    def remove_subscription(self, key: int) -> Subscription | None:
        subscription = self.subscriptions.pop(key, None)
        if subscription is None:
            return None
        self._dirty["subscriptions"][key] = _DELETED
        if subscription.kind == "message":
            index = self.message_subscriptions.get((subscription.name, subscription.correlation_key))
            if index is not None:
                index.pop(key, None)
                if not index:
                    del self.message_subscriptions[(subscription.name, subscription.correlation_key)]
        elif subscription.kind == "signal":
            index = self.signal_subscriptions.get(subscription.name)
            if index is not None:
                index.pop(key, None)
                if not index:
                    del self.signal_subscriptions[subscription.name]
        return subscription

    def put_message(self, message: Message) -> None:
        self.messages[message.key] = message
        self._dirty["messages"][message.key] = message
        self.buffered[(message.name, message.correlation_key)][message.key] = None
        if message.message_id:
            self.message_ids[(message.name, message.correlation_key, message.message_id)] = message.key
        self.schedule(message.deadline, "message", message.key)

    def touch_message(self, message: Message) -> None:
        self._dirty["messages"][message.key] = message

    def remove_message(self, key: int) -> Message | None:
        message = self.messages.pop(key, None)
        if message is None:
            return None
        self._dirty["messages"][key] = _DELETED
        index = self.buffered.get((message.name, message.correlation_key))
        if index is not None:
            index.pop(key, None)
            if not index:
                del self.buffered[(message.name, message.correlation_key)]
        unique = (message.name, message.correlation_key, message.message_id)
        if message.message_id and self.message_ids.get(unique) == key:
            del self.message_ids[unique]
        return message

    def put_resource(self, key: int, row: dict[str, Any]) -> None:
        self.resources[key] = row
        self._dirty["resources"][key] = row

    # -- due dates ------------------------------------------------------------------------------------------

    def schedule(self, due_ms: int, kind: str, key: int) -> None:
        heapq.heappush(self.due, (due_ms, next(self._due_seq), kind, key))

    def next_due(self) -> int | None:
        return self.due[0][0] if self.due else None

    def pop_due(self, now_ms: int) -> tuple[int, str, int] | None:
        if self.due and self.due[0][0] <= now_ms:
            due, _, kind, key = heapq.heappop(self.due)
            return due, kind, key
        return None

    # -- batches ------------------------------------------------------------------------------------------

    def has_changes(self) -> bool:
        return bool(self._records or self._dirty_vars or self._dropped_scopes or self._meta_dirty
                    or any(self._dirty.values()))

    def take_batch(self, pending_commands: list[Any] | None = None) -> Batch:
        batch = Batch(records=self._records)
        self._records = []
        for table, changes in self._dirty.items():
            if not changes:
                continue
            upserts, deletes = [], []
            for key, entity in changes.items():
                if entity is _DELETED:
                    deletes.append(key)
                else:
                    row = entity if isinstance(entity, dict) else entity.to_row()
                    upserts.append((key, orjson.dumps(row)))
            if upserts:
                batch.upserts[table] = upserts
            if deletes:
                batch.deletes[table] = deletes
            self._dirty[table] = {}
        if self._dropped_scopes:
            batch.scope_deletes = list(self._dropped_scopes)
            self._dropped_scopes = set()
        if self._dirty_vars:
            for (scope_key, name), slot in self._dirty_vars.items():
                batch.variable_upserts.append((scope_key, name, slot[0], orjson.dumps(slot[1])))
            self._dirty_vars = {}
        if self._meta_dirty or pending_commands is not None:
            batch.meta = {
                "next_key": self.next_key,
                # kept here too, so a log compacted to nothing still continues its positions
                "position": self.position,
                "clock": {"offset": self.clock_offset_ms, "pinned": self.clock_pinned_ms},
            }
            if pending_commands is not None:
                batch.meta["pending"] = pending_commands
            self._meta_dirty = False
        return batch

    def mark_meta_dirty(self) -> None:
        self._meta_dirty = True

    # -- loading -------------------------------------------------------------------------------------------

    def load(self, journal: Journal) -> dict[str, Any]:
        meta = journal.load_meta()
        self.next_key = meta.get("next_key", self.next_key)
        clock = meta.get("clock") or {}
        self.clock_offset_ms = clock.get("offset", 0)
        self.clock_pinned_ms = clock.get("pinned")
        self.position = max(journal.last_position(), meta.get("position", 0))
        for row in journal.load_table("resources"):
            self.resources[row["key"]] = row
        for row in journal.load_table("elements"):
            instance = ElementInstance.from_row(row)
            self.elements[instance.key] = instance
        for scope_key, name, variable_key, value in journal.load_variables():
            self.variables.setdefault(scope_key, {})[name] = [variable_key, value]
        for row in journal.load_table("jobs"):
            job = Job.from_row(row)
            self.jobs[job.key] = job
            if job.state == JobState.ACTIVATABLE:
                self.activatable[job.type][job.key] = None
            elif job.state == JobState.ACTIVATED:
                self.schedule(job.deadline, "job_deadline", job.key)
            elif job.state == JobState.FAILED:
                self.schedule(job.recur_at, "job_backoff", job.key)
        for row in journal.load_table("incidents"):
            incident = Incident.from_row(row)
            self.incidents[incident.key] = incident
            self.incidents_by_element.setdefault(incident.element_instance_key, set()).add(incident.key)
        for row in journal.load_table("subscriptions"):
            subscription = Subscription.from_row(row)
            self.subscriptions[subscription.key] = subscription
            self._index_subscription(subscription)
        for row in journal.load_table("messages"):
            message = Message.from_row(row)
            self.messages[message.key] = message
            self.buffered[(message.name, message.correlation_key)][message.key] = None
            if message.message_id:
                self.message_ids[(message.name, message.correlation_key, message.message_id)] = message.key
            self.schedule(message.deadline, "message", message.key)
        # loading is not a change
        for table in self._dirty:
            self._dirty[table] = {}
        self._meta_dirty = False
        return meta
