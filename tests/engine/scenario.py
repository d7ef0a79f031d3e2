"""Helpers for the event, structure and incident tests.

`module_engine()` makes a module share one engine: most of these tests deploy their own process ids and
read only their own instances' records, so they don't need a fresh engine each (which is most of the
cost of an engine test). Tests that must see a clean clock or log use the per-test `fresh_engine`.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.support import RecordLog
from tests.fixtures.engine import EngineProcess

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    """A process id no other test of the module uses (modules share an engine)."""
    return f"{prefix}-{next(_ids)}"


def module_engine() -> Any:
    @pytest.fixture(scope="module")
    def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
        process = EngineProcess(tmp_path_factory.mktemp("engine") / "engine").start()
        try:
            yield process
        finally:
            process.stop()

    return engine


class Log(RecordLog):
    """The record log, read per process instance."""

    def trail(self, pik: int) -> list[tuple[str, str]]:
        """(element id, intent) of element life-cycle records only (no taken flows)."""
        return [(e, i) for e, i in self.element_events(pik) if i != "SEQUENCE_FLOW_TAKEN"]

    def count(self, pik: int, element_id: str, intent: str = "ELEMENT_COMPLETED") -> int:
        return sum(1 for e, i in self.element_events(pik) if e == element_id and i == intent)

    def timers(self, intent: str | None = None, **match: Any) -> list[dict[str, Any]]:
        return [r["value"] | {"key": r["key"], "intent": r["intent"]} for r in self.records("TIMER", intent, **match)]

    def timer_intents(self, pik: int) -> Counter[str]:
        return Counter(r["intent"] for r in self.records("TIMER", processInstanceKey=pik))

    def instances_of(self, process_id: str) -> list[int]:
        """Keys of the process instances of a process id, in creation order."""
        return [r["key"] for r in self.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", bpmnProcessId=process_id,
                                               bpmnElementType="PROCESS")]

    def scope_variables(self, scope_key: int) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for record in self.records("VARIABLE"):
            value = record["value"]
            if value.get("scopeKey") == scope_key and "name" in value:
                values[value["name"]] = json.loads(value["value"])
        return values

    def element_keys(self, pik: int, element_id: str) -> list[int]:
        return [r["key"] for r in self.records("PROCESS_INSTANCE", "ELEMENT_ACTIVATING", elementId=element_id,
                                               processInstanceKey=pik)]


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Iterator[EngineProcess]:
    process = EngineProcess(tmp_path / "engine").start()
    try:
        yield process
    finally:
        process.stop()
