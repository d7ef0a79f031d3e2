"""One processor per kind of element; adding a kind means a processor and a line in this registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.engine.processing.processors import calls, containers, events, gateways
from services.engine.processing.processors.base import ElementProcessor
from services.engine.processing.processors.tasks import JobWorkerProcessor, ReceiveTaskProcessor
from services.engine.protocol import ElementType

if TYPE_CHECKING:
    from services.engine.processing.engine import Engine

_REGISTRY: dict[ElementType, type[ElementProcessor]] = {
    ElementType.SERVICE_TASK: JobWorkerProcessor,
    ElementType.SEND_TASK: JobWorkerProcessor,
    ElementType.USER_TASK: JobWorkerProcessor,
    ElementType.BUSINESS_RULE_TASK: JobWorkerProcessor,
    ElementType.SCRIPT_TASK: JobWorkerProcessor,
    ElementType.RECEIVE_TASK: ReceiveTaskProcessor,
    ElementType.MANUAL_TASK: ElementProcessor,
    ElementType.TASK: ElementProcessor,
    **gateways.PROCESSORS,
    **events.PROCESSORS,
    **containers.PROCESSORS,
    **calls.PROCESSORS,
}


def build_processors(engine: Engine) -> dict[ElementType, ElementProcessor]:
    return {element_type: cls(engine) for element_type, cls in _REGISTRY.items()}
