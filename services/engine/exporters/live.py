"""The live-events exporter: a compact event per interesting record on the Redis event bus.

Entries have the shape `shared.events.EventBus` writes and `Event.from_entry` reads (type, occurred_at,
scope, payload), on the bus's stream (EVENTS_STREAM, trimmed to about EVENTS_MAXLEN), so the gateway's
live-events endpoint follows engine events and domain events alike. Event types:

| type | from | payload (besides process_instance_key, bpmn_process_id, position) |
|---|---|---|
| engine.process.deployed | PROCESS CREATED | process_definition_key, version, resource_name |
| engine.process_instance.created | PROCESS ELEMENT_ACTIVATED | version, process_definition_key, parent_process_instance_key, variables (those it was created with) |
| engine.process_instance.completed / .terminated | PROCESS ELEMENT_COMPLETED / _TERMINATED | version, process_definition_key, parent_process_instance_key |
| engine.element.activated / .completed / .terminated | other elements (not sequence flows, not multi-instance bodies) | element_id, element_instance_key, element_type, flow_scope_key |
| engine.job.created / .completed / .failed / .timed_out / .canceled / .error_thrown / .retries_updated | JOB | job_key, job_type, element_id, element_instance_key, retries, worker, error_message, user_task (user-task headers), variables (completed) |
| engine.incident.created / .resolved | INCIDENT | incident_key, error_type, error_message, element_id, element_instance_key, job_key |
| engine.timer.triggered | TIMER TRIGGERED | timer_key, element_id, element_instance_key, due_date |
| engine.message.published | MESSAGE PUBLISHED | message_key, message_name, correlation_key |
| engine.message.correlated | PROCESS_MESSAGE_SUBSCRIPTION / MESSAGE_START_EVENT_SUBSCRIPTION CORRELATED | message_key, message_name, correlation_key, element_id, variables |
| engine.signal.broadcasted | SIGNAL BROADCASTED | signal_name |

The scope carries the instance's `project_code` variable when it has one, so the gateway can show an
event to those who may see that project.

Where the position lives: in Redis, next to the stream, written by the same Lua script that appends the
batch. The script first compares the stored position, so a batch resent after a lost reply is not
appended twice, and the stream and its position can never disagree (a Redis that loses its data loses
both, and the exporter sends again what the engine log still holds).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from services.engine.exporters.projection import USER_TASK_JOB_TYPE, at, user_task_headers
from services.engine.exporters.records import Record, RecordReader
from services.engine.exporters.runner import Prepared, Target

REDIS_TIMEOUT = 10.0
MAX_VARIABLES_BYTES = 8 * 1024  # a live event is a notice, not a copy of the instance
# the process variable naming an instance's project (the models use projectCode; project_code is accepted too)
PROJECT_VARIABLES = ("projectCode", "project_code")
_EMPTY_SCOPE = '{"project_code":null,"unit_ids":[],"county_code":null}'

_ELEMENT_INTENTS = {"ELEMENT_ACTIVATED": "activated", "ELEMENT_COMPLETED": "completed",
                    "ELEMENT_TERMINATED": "terminated"}
_INSTANCE_INTENTS = {"ELEMENT_ACTIVATED": "created", "ELEMENT_COMPLETED": "completed",
                     "ELEMENT_TERMINATED": "terminated"}
_JOB_INTENTS = {"CREATED": "created", "COMPLETED": "completed", "FAILED": "failed", "TIMED_OUT": "timed_out",
                "CANCELED": "canceled", "ERROR_THROWN": "error_thrown", "RETRIES_UPDATED": "retries_updated"}
_QUIET_ELEMENTS = ("SEQUENCE_FLOW", "MULTI_INSTANCE_BODY")
# value type -> the intents that can make an event (or teach the exporter a project code)
_WANTED: dict[str, tuple[str, ...]] = {
    "PROCESS_INSTANCE": tuple(_ELEMENT_INTENTS), "PROCESS_INSTANCE_CREATION": ("CREATED",),
    "VARIABLE": ("CREATED", "UPDATED"), "JOB": tuple(_JOB_INTENTS), "INCIDENT": ("CREATED", "RESOLVED"), "TIMER": ("TRIGGERED",),
    "PROCESS_MESSAGE_SUBSCRIPTION": ("CORRELATED",), "MESSAGE_START_EVENT_SUBSCRIPTION": ("CORRELATED",),
    "MESSAGE": ("PUBLISHED",), "SIGNAL": ("BROADCASTED",), "PROCESS": ("CREATED",),
}

# KEYS: stream, position key. ARGV: position, maxlen, then type, occurred_at, scope, payload per event.
_APPEND = """
local stored = tonumber(redis.call('GET', KEYS[2]) or '0')
if stored >= tonumber(ARGV[1]) then return 0 end
for i = 3, #ARGV, 4 do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*',
             'type', ARGV[i], 'occurred_at', ARGV[i + 1], 'scope', ARGV[i + 2], 'payload', ARGV[i + 3])
end
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class LiveEvent:
    type: str
    occurred_at: str  # ISO 8601 UTC, engine time
    payload: dict[str, Any]
    project_code: str | None = None

    def fields(self) -> tuple[str, str, str, str]:
        scope = _EMPTY_SCOPE if self.project_code is None else orjson.dumps(
            {"project_code": self.project_code, "unit_ids": [], "county_code": None}).decode()
        return self.type, self.occurred_at, scope, orjson.dumps(self.payload).decode()


def _variables(payload: dict[str, Any], variables: Any) -> None:
    if not variables:
        return
    text = orjson.dumps(variables)
    if len(text) <= MAX_VARIABLES_BYTES:
        payload["variables"] = variables
    else:
        payload["variables_omitted"] = len(text)


class LiveEvents:
    """Records → events; pure apart from two bounded memories (creation variables, project codes)."""

    def __init__(self, remembered: int = 100_000, lookup: Callable[[int], Any] | None = None) -> None:
        self.remembered = remembered
        # the current project_code of an instance started before the exporter did (engine state)
        self.lookup = lookup
        self.project_codes: OrderedDict[int, str | None] = OrderedDict()
        self.creation_variables: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def _remember(self, memory: OrderedDict[int, Any], key: int, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        if len(memory) > self.remembered:
            memory.popitem(last=False)

    def events(self, records: list[Record]) -> list[LiveEvent]:
        out: list[LiveEvent] = []
        for record in records:
            event = self.event(record)
            if event is not None:
                out.append(event)
        return out

    def event(self, record: Record) -> LiveEvent | None:
        value_type = record.value_type
        intent = record.intent
        wanted = _WANTED.get(value_type)
        if wanted is None or intent not in wanted:
            return None  # decided on the columns alone: most records are never decoded
        value = record.value
        pik = value.get("processInstanceKey", -1)
        kind: str | None = None
        payload: dict[str, Any] = {"position": record.position}
        if value_type == "PROCESS_INSTANCE":
            element_type = value.get("bpmnElementType")
            if element_type == "PROCESS":
                name = _INSTANCE_INTENTS.get(intent)
                if name is None:
                    return None
                if name == "created" and pik not in self.project_codes:
                    self._remember(self.project_codes, pik, None)  # seen from its start: no need to look it up
                kind = f"engine.process_instance.{name}"
                payload.update(process_definition_key=value.get("processDefinitionKey"), version=value.get("version"),
                               parent_process_instance_key=_positive(value.get("parentProcessInstanceKey")))
                if name == "created":
                    _variables(payload, self.creation_variables.pop(pik, None))
                else:
                    self.creation_variables.pop(pik, None)
            else:
                name = _ELEMENT_INTENTS.get(intent)
                if name is None or element_type in _QUIET_ELEMENTS:
                    return None
                kind = f"engine.element.{name}"
                payload.update(element_id=value.get("elementId"), element_instance_key=record.key,
                               element_type=element_type, flow_scope_key=_positive(value.get("flowScopeKey")))
            payload["bpmn_process_id"] = value.get("bpmnProcessId")
        elif value_type == "PROCESS_INSTANCE_CREATION" and intent == "CREATED":
            variables = value.get("variables") or {}
            self._remember(self.creation_variables, pik, variables)
            code = next((variables[n] for n in PROJECT_VARIABLES if isinstance(variables.get(n), str)), None)
            if isinstance(code, str):
                self._remember(self.project_codes, pik, code)
            return None
        elif value_type == "VARIABLE":
            if value.get("name") in PROJECT_VARIABLES and value.get("scopeKey") == pik:
                try:
                    code = orjson.loads(value.get("value", "null"))
                except orjson.JSONDecodeError:
                    code = None
                if isinstance(code, str):
                    self._remember(self.project_codes, pik, code)
            return None
        elif value_type == "JOB":
            name = _JOB_INTENTS.get(intent)
            if name is None:
                return None
            kind = f"engine.job.{name}"
            payload.update(job_key=record.key, job_type=value.get("type"), bpmn_process_id=value.get("bpmnProcessId"),
                           element_id=value.get("elementId"),
                           element_instance_key=_positive(value.get("elementInstanceKey")),
                           retries=value.get("retries"), worker=value.get("worker") or None)
            if value.get("errorMessage"):
                payload["error_message"] = value["errorMessage"]
            if value.get("errorCode"):
                payload["error_code"] = value["errorCode"]
            if value.get("type") == USER_TASK_JOB_TYPE:
                payload["user_task"] = user_task_headers(value.get("customHeaders") or {})
            if name == "completed":
                _variables(payload, value.get("variables"))
        elif value_type == "INCIDENT":
            if intent not in ("CREATED", "RESOLVED"):
                return None
            kind = f"engine.incident.{intent.lower()}"
            payload.update(incident_key=record.key, error_type=value.get("errorType"),
                           error_message=value.get("errorMessage"), bpmn_process_id=value.get("bpmnProcessId"),
                           element_id=value.get("elementId"),
                           element_instance_key=_positive(value.get("elementInstanceKey")),
                           job_key=_positive(value.get("jobKey")))
        elif value_type == "TIMER":
            if intent != "TRIGGERED":
                return None
            kind = "engine.timer.triggered"
            due = at(value.get("dueDate", -1))
            payload.update(timer_key=record.key, element_id=value.get("targetElementId"),
                           element_instance_key=_positive(value.get("elementInstanceKey")),
                           process_definition_key=value.get("processDefinitionKey"),
                           due_date=due.isoformat() if due else None)
        elif value_type in ("PROCESS_MESSAGE_SUBSCRIPTION", "MESSAGE_START_EVENT_SUBSCRIPTION"):
            if intent != "CORRELATED":
                return None
            kind = "engine.message.correlated"
            payload.update(message_key=value.get("messageKey"), message_name=value.get("messageName"),
                           correlation_key=value.get("correlationKey"), bpmn_process_id=value.get("bpmnProcessId"),
                           element_id=value.get("elementId") or value.get("startEventId"))
            _variables(payload, value.get("variables"))
        elif value_type == "MESSAGE" and intent == "PUBLISHED":
            kind = "engine.message.published"
            payload.update(message_key=record.key, message_name=value.get("name"),
                           correlation_key=value.get("correlationKey"))
        elif value_type == "SIGNAL" and intent == "BROADCASTED":
            kind = "engine.signal.broadcasted"
            payload.update(signal_key=record.key, signal_name=value.get("signalName"))
        elif value_type == "PROCESS" and intent == "CREATED":
            kind = "engine.process.deployed"
            payload.update(process_definition_key=value.get("processDefinitionKey"),
                           bpmn_process_id=value.get("bpmnProcessId"), version=value.get("version"),
                           resource_name=value.get("resourceName"))
        if kind is None:
            return None
        project_code = None
        if pik is not None and pik > 0:
            payload["process_instance_key"] = pik
            project_code = self._project_code(pik)
        occurred = at(record.timestamp)
        return LiveEvent(kind, occurred.isoformat() if occurred else "", payload, project_code)

    def _project_code(self, pik: int) -> str | None:
        if pik in self.project_codes:
            return self.project_codes[pik]
        code = self.lookup(pik) if self.lookup is not None else None
        code = code if isinstance(code, str) else None
        self._remember(self.project_codes, pik, code)
        return code


def _positive(value: int | None) -> int | None:
    return value if value is not None and value > 0 else None


class RedisTarget(Target):
    kind = "redis"

    def __init__(self, exporter_id: str, url: str, *, stream: str, maxlen: int) -> None:
        super().__init__(exporter_id)
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self.position_key = f"qly:exporter:{exporter_id}:position"
        self.redis: aioredis.Redis | None = None
        self.live = LiveEvents()
        self._append: Any = None
        self.events_written = 0

    async def open(self) -> None:
        if self.redis is None:
            # timeouts: a Redis that stops answering must fail the write (and get retried), not hang it
            self.redis = aioredis.from_url(self.url, decode_responses=True, socket_timeout=REDIS_TIMEOUT,
                                           socket_connect_timeout=REDIS_TIMEOUT)
            self._append = self.redis.register_script(_APPEND)
        await self.redis.ping()

    async def position(self) -> int | None:
        assert self.redis is not None
        stored = await self.redis.get(self.position_key)
        return int(stored) if stored is not None else None

    async def reset(self) -> None:
        self.live = LiveEvents()

    def stats(self) -> dict[str, int]:
        return {"events": self.events_written}

    async def prepare(self, records: list[Record], reader: RecordReader) -> Prepared:
        if self.live.lookup is None:
            self.live.lookup = lambda pik: next(
                (code for name in PROJECT_VARIABLES if (code := reader.variable_now(pik, name)) is not None), None)
        events = await reader.call(self._fields, records)
        return Prepared(position=records[-1].position, records=len(records), payload=events)

    def _fields(self, records: list[Record]) -> list[str]:
        flat: list[str] = []
        for event in self.live.events(records):
            flat.extend(event.fields())
        return flat

    async def write(self, batch: Prepared) -> None:
        assert self._append is not None
        await self._append(keys=[self.stream, self.position_key], args=[batch.position, self.maxlen, *batch.payload])
        self.events_written += len(batch.payload) // 4

    async def close(self) -> None:
        if self.redis is not None:
            redis, self.redis = self.redis, None
            await redis.aclose()
