"""Errors raised by the FEEL parser and evaluator."""

from __future__ import annotations


class FeelError(Exception):
    """Base class of every error the FEEL package raises."""


class FeelSyntaxError(FeelError):
    """The text is not a FEEL expression; carries where parsing stopped and what was expected."""

    def __init__(self, source: str, offset: int, expected: str, found: str | None = None) -> None:
        self.source = source
        self.offset = offset
        self.line = source.count("\n", 0, offset) + 1
        self.column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        self.expected = expected
        self.found = found
        where = f"line {self.line}, column {self.column}"
        got = f" but found {found}" if found else ""
        shown = source if len(source) <= 200 else source[:200] + "..."
        super().__init__(f"failed to parse expression '{shown}': expected {expected} at {where}{got}")


class FeelEvaluationError(FeelError):
    """A failure FEEL does not turn into null (failed assertion, ``?`` outside a test, limits)."""

    def __init__(self, message: str, warnings: list[str] | None = None) -> None:
        super().__init__(message)
        self.warnings = list(warnings or [])


class FeelAssertionError(FeelEvaluationError):
    """``assert(value, condition)`` found the condition not fulfilled."""
