"""FEEL (Friendly Enough Expression Language) for the engine, as Zeebe 8.6 evaluates it.

Semantics follow DMN 1.5 chapter 10 and Camunda FEEL 1.18 where it extends or fixes the spec:
most failures (missing variable, wrong argument types, path on a non-context) give ``None``
plus a warning; failed ``assert``, ``?`` outside a unary test and exceeded limits raise
``FeelEvaluationError``.

    expr = compile_expression('x > 90 and status = "open"')
    expr.evaluate({"x": 95, "status": "open"})            # -> True

``now()`` and ``today()`` read ``clock`` (epoch milliseconds; ``None`` = real time) and are in
UTC, the zone of Zeebe's broker images (it uses the JVM default zone).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .compiler import compile_node, compile_test, run_tests
from .convert import to_feel, to_json
from .errors import FeelAssertionError, FeelError, FeelEvaluationError, FeelSyntaxError
from .parser import parse_expression, parse_unary_tests
from .runtime import EMPTY, Ctl, Env

__all__ = [
    "CompiledExpression",
    "CompiledUnaryTests",
    "EvalResult",
    "FeelAssertionError",
    "FeelError",
    "FeelEvaluationError",
    "FeelSyntaxError",
    "compile_expression",
    "compile_unary_tests",
    "to_feel",
    "to_json",
]

Clock = Callable[[], int] | None


@dataclass(slots=True)
class EvalResult:
    value: Any
    warnings: list[str] = field(default_factory=list)


def _evaluation_error(e: Exception, source: str, env: Env) -> FeelEvaluationError:
    # the messages are Camunda's, which Zeebe shows in incidents
    if isinstance(e, FeelAssertionError):
        return FeelAssertionError(f"Assertion failure on evaluate the expression '{source}': {e}", env.ctl.warnings)
    if isinstance(e, RecursionError):
        cause = "nested too deeply"
    elif isinstance(e, FeelEvaluationError):
        cause = str(e)
    else:
        # a defect of ours must still reach the engine as a FEEL failure (an incident), not a crash
        cause = f"internal error: {type(e).__name__}: {e}"
    return FeelEvaluationError(f"failed to evaluate expression '{source}': {cause}", env.ctl.warnings)


def _run(fn: Callable[[Env], Any], source: str, env: Env) -> Any:
    try:
        return fn(env)
    except Exception as e:
        raise _evaluation_error(e, source, env) from None


class CompiledExpression:
    """A parsed and compiled FEEL expression; immutable and safe to share between threads."""

    __slots__ = ("_fn", "source", "tree")

    def __init__(self, source: str, fn: Callable[[Env], Any], tree: Any = None) -> None:
        self.source = source
        self._fn = fn
        self.tree = tree  # the parsed form, for callers that inspect it (range())

    def evaluate(self, variables: Mapping[str, Any] = EMPTY, clock: Clock = None) -> Any:
        env = Env(EMPTY, None, variables, Ctl(clock))
        try:
            return self._fn(env)
        except Exception as e:
            raise _evaluation_error(e, self.source, env) from None

    def evaluate_detailed(self, variables: Mapping[str, Any] = EMPTY, clock: Clock = None) -> EvalResult:
        env = Env(EMPTY, None, variables, Ctl(clock))
        value = _run(self._fn, self.source, env)
        return EvalResult(value, env.ctl.warnings)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


class CompiledUnaryTests:
    """DMN input entries (``< 10, [20..30], "a"``, ``not(...)``, ``-``) against an input value."""

    __slots__ = ("_negate", "_tests", "source")

    def __init__(self, source: str, tests: list[Any] | None, negate: bool) -> None:
        self.source = source
        self._tests = tests  # None: "-" matches anything
        self._negate = negate

    def matches(self, input_value: Any, variables: Mapping[str, Any] = EMPTY, clock: Clock = None) -> bool | None:
        return self.matches_detailed(input_value, variables, clock).value

    def matches_detailed(
        self, input_value: Any, variables: Mapping[str, Any] = EMPTY, clock: Clock = None
    ) -> EvalResult:
        if self._tests is None:
            return EvalResult(True, [])
        x = to_feel(input_value)
        env = Env({"?": x}, None, variables, Ctl(clock))
        tests = self._tests
        r = _run(lambda e: run_tests(tests, e, x), self.source, env)
        if self._negate and r is not None:
            r = not r
        return EvalResult(r, env.ctl.warnings)

    def input_scope(self, input_value: Any, variables: Mapping[str, Any], clock: Clock = None) -> Env:
        """A scope with '?' bound, to test many entries against one input (DMN tables)."""
        x = to_feel(input_value)
        return Env({"?": x}, None, variables, Ctl(clock))

    def matches_in(self, scope: Env) -> bool | None:
        """Like matches(), in a scope made by input_scope() (shared by a table's rules)."""
        if self._tests is None:
            return True
        tests = self._tests
        x = scope.vars["?"]
        r = _run(lambda e: run_tests(tests, e, x), self.source, scope)
        if self._negate and r is not None:
            r = not r
        return r

    def __repr__(self) -> str:
        return f"CompiledUnaryTests({self.source!r})"


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CompiledExpression:
    """Parse and compile once; cached by source text. Raises FeelSyntaxError."""
    if not isinstance(source, str):
        raise FeelSyntaxError(str(source), 0, "expression text")
    try:
        tree = parse_expression(source)
        fn = compile_node(tree)
    except FeelSyntaxError:
        raise
    except RecursionError:
        raise FeelSyntaxError(source, 0, "an expression nested less deeply", "too deep nesting") from None
    except Exception as e:  # a defect of ours still reports as a FEEL error
        raise FeelSyntaxError(source, 0, "a valid expression", f"internal error {type(e).__name__}: {e}") from None
    return CompiledExpression(source, fn, tree)


@lru_cache(maxsize=4096)
def compile_unary_tests(source: str) -> CompiledUnaryTests:
    """Parse DMN unary tests (an input entry); cached by source text. Raises FeelSyntaxError."""
    if not isinstance(source, str):
        raise FeelSyntaxError(str(source), 0, "unary tests text")
    try:
        tree = parse_unary_tests(source)
        if tree[0] == "ut_any":
            return CompiledUnaryTests(source, None, False)
        if tree[0] == "ut_not":
            return CompiledUnaryTests(source, [compile_test(t) for t in tree[2]], True)
        return CompiledUnaryTests(source, [compile_test(t) for t in tree[2]], False)
    except FeelSyntaxError:
        raise
    except RecursionError:
        raise FeelSyntaxError(source, 0, "unary tests nested less deeply", "too deep nesting") from None
    except Exception as e:  # a defect of ours still reports as a FEEL error
        raise FeelSyntaxError(source, 0, "valid unary tests", f"internal error {type(e).__name__}: {e}") from None
