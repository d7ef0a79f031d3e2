"""BPMN models: safe parsing, validation and compilation into an immutable executable graph."""

from services.engine.model.elements import (
    CallActivitySpec,
    ExecutableProcess,
    FlowNode,
    JobSpec,
    LoopSpec,
    Mapping,
    MessageSpec,
    SequenceFlow,
    TimerSpec,
)
from services.engine.model.parser import DeploymentError, parse_bpmn

__all__ = [
    "CallActivitySpec",
    "DeploymentError",
    "ExecutableProcess",
    "FlowNode",
    "JobSpec",
    "LoopSpec",
    "Mapping",
    "MessageSpec",
    "SequenceFlow",
    "TimerSpec",
    "parse_bpmn",
]
