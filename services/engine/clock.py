"""The one clock of the engine: real time, or a controlled clock moved through Zeebe's actuator API.

A controlled clock is either pinned to an instant or runs at real speed with an offset; both are kept in
the engine's durable state so a restart continues at the same engine time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EngineClock:
    def __init__(self, *, controlled: bool = False, offset_ms: int = 0, pinned_ms: int | None = None) -> None:
        self.controlled = controlled
        self.offset_ms = offset_ms if controlled else 0
        self.pinned_ms = pinned_ms if controlled else None
        self._listeners: list[Callable[[], None]] = []

    def now_ms(self) -> int:
        if self.pinned_ms is not None:
            return self.pinned_ms
        return time.time_ns() // 1_000_000 + self.offset_ms

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def pin(self, epoch_ms: int) -> int:
        self._require_control()
        self.pinned_ms = epoch_ms
        self._changed()
        return self.now_ms()

    def add(self, offset_ms: int) -> int:
        self._require_control()
        if self.pinned_ms is not None:
            self.pinned_ms += offset_ms
        else:
            self.offset_ms += offset_ms
        self._changed()
        return self.now_ms()

    def reset(self) -> int:
        self._require_control()
        self.pinned_ms = None
        self.offset_ms = 0
        self._changed()
        return self.now_ms()

    def _require_control(self) -> None:
        if not self.controlled:
            raise PermissionError("the engine clock is not controlled (start with --clock-controlled)")
