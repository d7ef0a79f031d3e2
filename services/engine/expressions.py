"""Zeebe's expression convention over our FEEL interpreter.

An attribute that starts with `=` is a FEEL expression; anything else is a static value. Conditions and
a few other attributes are always FEEL. Evaluation failures and results of the wrong type become
`ExpressionError`s whose message reads like Zeebe's incident messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from services.engine.feel import (
    FeelError,
    FeelSyntaxError,
    compile_expression,
    to_json,
)
from services.engine.feel.values import YearMonthDuration

Clock = Callable[[], int]


class ExpressionError(Exception):
    """An expression that failed to evaluate, or evaluated to a value of the wrong type."""


def result_type(value: Any) -> str:
    """Zeebe's name for the type of an evaluation result (used in messages)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float | Decimal):
        return "NUMBER"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, list | tuple):
        return "ARRAY"
    if isinstance(value, dict):
        return "OBJECT"
    if isinstance(value, dt.datetime):
        return "DATE_TIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, dt.timedelta):
        return "DURATION"
    if isinstance(value, YearMonthDuration):
        return "PERIOD"
    if isinstance(value, dt.time):
        return "TIME"
    return type(value).__name__.upper()


class Expr:
    """A parsed attribute value: static text, or a compiled FEEL expression."""

    __slots__ = ("feel", "source", "static")

    def __init__(self, source: str, *, always_feel: bool = False) -> None:
        self.source = source
        text = source.strip()
        if text.startswith("="):
            text = text[1:]
        elif not always_feel:
            self.static: str | None = source
            self.feel = None
            return
        self.static = None
        try:
            self.feel = compile_expression(text)
        except FeelSyntaxError as error:
            raise ExpressionError(str(error)) from error  # FEEL's message names the expression and position

    @property
    def is_static(self) -> bool:
        return self.feel is None

    @property
    def text(self) -> str:
        """The expression without its leading '=' (for messages)."""
        return self.feel.source if self.feel is not None else self.source

    def evaluate_raw(self, variables: Mapping[str, Any], clock: Clock | None = None) -> Any:
        """The FEEL value (dates stay dates), or the static string."""
        if self.feel is None:
            return self.static
        return self._detailed(variables, clock)[0]

    def evaluate(self, variables: Mapping[str, Any], clock: Clock | None = None) -> Any:
        """The value as process-variable JSON."""
        value = self.evaluate_raw(variables, clock)
        if self.feel is None:
            return value
        return to_json(value)

    def _type_error(self, expected: str, value: Any, warnings: list[str] | None = None) -> ExpressionError:
        message = (
            f"Expected result of the expression '{self.text}' to be '{expected}', "
            f"but was '{result_type(value)}'."
        )
        if warnings:
            message += " The evaluation reported the following warnings:\n" + "\n".join(warnings)
        return ExpressionError(message)

    def _detailed(self, variables: Mapping[str, Any], clock: Clock | None) -> tuple[Any, list[str]]:
        if self.feel is None:
            return self.static, []
        try:
            result = self.feel.evaluate_detailed(variables, clock=clock)
        except FeelError as error:
            raise ExpressionError(f"Expected to evaluate expression '{self.text}', but failed: {error}") from error
        return result.value, list(result.warnings)

    def evaluate_bool(self, variables: Mapping[str, Any], clock: Clock | None = None) -> bool:
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, bool):
            return value
        raise self._type_error("BOOLEAN", value, warnings)

    def evaluate_string(self, variables: Mapping[str, Any], clock: Clock | None = None) -> str:
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, str):
            return value
        raise self._type_error("STRING", value, warnings)

    def evaluate_string_or_number(self, variables: Mapping[str, Any], clock: Clock | None = None) -> str:
        """Correlation keys: a string, or a number written without a fraction when whole."""
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, str):
            return value
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            number = to_json(value) if isinstance(value, Decimal) else value
            return str(number)
        raise ExpressionError(
            f"Failed to extract the correlation key for '{self.text}': The value must be either a string or a "
            f"number, but was '{result_type(value)}'."
            + (" The evaluation reported the following warnings:\n" + "\n".join(warnings) if warnings else "")
        )

    def evaluate_int(self, variables: Mapping[str, Any], clock: Clock | None = None) -> int:
        if self.feel is None:
            try:
                return int(self.static or "")
            except ValueError as error:
                raise ExpressionError(f"Expected a number but found '{self.static}'") from error
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, Decimal | int) and not isinstance(value, bool) and value == int(value):
            return int(value)
        raise self._type_error("NUMBER", value, warnings)

    def evaluate_list(self, variables: Mapping[str, Any], clock: Clock | None = None) -> list[Any]:
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, list):
            return [to_json(item) for item in value]
        raise self._type_error("ARRAY", value, warnings)

    def evaluate_string_list(self, variables: Mapping[str, Any], clock: Clock | None = None) -> list[str]:
        """Candidate groups/users: a static comma-separated list or a FEEL list of strings."""
        if self.feel is None:
            return [part.strip() for part in (self.static or "").split(",") if part.strip()]
        value, warnings = self._detailed(variables, clock)
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise self._type_error("ARRAY", value, warnings)


def parse_expression(source: str | None, *, always_feel: bool = False) -> Expr | None:
    if source is None:
        return None
    return Expr(source, always_feel=always_feel)


def static_or_feel_text(source: str) -> str:
    return source.strip()[1:] if source.strip().startswith("=") else source
