"""Structured logs for every service: JSON lines in deployments, readable colours in a terminal.

``configure_logging("gateway")`` once at start-up; then ``get_logger(__name__)`` anywhere. Standard-library
loggers (uvicorn, grpc, pyzeebe) go through the same renderer, so a deployment gets one JSON stream.
Context that is known for a while (``process_instance_key``, ``job_key``, ``project_code``,
``request_id``) is bound with ``bound_context(...)`` and appears on every line logged inside it, across
awaits, because structlog keeps it in contextvars.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars, unbind_contextvars

from shared.settings import LoggingSettings

__all__ = [
    "bind_contextvars",
    "bound_context",
    "clear_contextvars",
    "configure_logging",
    "get_logger",
    "unbind_contextvars",
]


def configure_logging(
    service: str,
    *,
    fmt: Literal["console", "json"] | None = None,
    level: str | int | None = None,
) -> None:
    """Route structlog and stdlib logging to stderr; ``fmt``/``level`` override LOG_FORMAT/LOG_LEVEL."""
    settings = LoggingSettings()
    fmt = fmt or settings.format
    level_no = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if level_no is None:
        level_no = logging.getLevelName(settings.log_level)
    if not isinstance(level_no, int):
        raise ValueError(f"unknown log level {level!r}")

    add_service = _ServiceAdder(service)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        # Locals stay out of logs: they may hold secrets and personal data.
        shared.append(
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())

    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_qianliyan", False):
            root.removeHandler(old)
    handler._qianliyan = True  # type: ignore[attr-defined]  # so a second configure replaces, not doubles
    root.addHandler(handler)
    root.setLevel(level_no)


class _ServiceAdder:
    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, _logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", self.service)
        return event


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name, **initial)


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    """Bind keys (None values are skipped) for the duration of the block, in this task only."""
    with bound_contextvars(**{k: v for k, v in values.items() if v is not None}):
        yield
