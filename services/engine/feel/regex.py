"""Regular expressions from FEEL text (XPath flavour) compiled for Python's ``re``, bounded.

Patterns come from user input and Python's backtracking engine has no timeout, so patterns
whose matching time can explode (a repeated group that itself contains an unbounded repeat, as
in ``(a+)+``, and back-references) are refused: the calling function gives null with a warning.
Inputs are limited in length for the same reason.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .runtime import InvocationFailure

try:  # Python 3.11+
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older layout
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

MAX_PATTERN = 1000
MAX_INPUT = 100_000

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)}


class _Bounded:
    """A compiled pattern that refuses inputs too long for safe backtracking."""

    __slots__ = ("pattern", "rx")

    def __init__(self, rx: re.Pattern[str]) -> None:
        self.rx = rx
        self.pattern = rx.pattern

    def _check(self, s: str) -> str:
        if len(s) > MAX_INPUT:
            raise InvocationFailure(f"input longer than {MAX_INPUT} characters for a regular expression")
        return s

    def search(self, s: str) -> Any:
        return self.rx.search(self._check(s))

    def sub(self, repl: str, s: str) -> str:
        return self.rx.sub(repl, self._check(s))

    def split(self, s: str) -> list[str]:
        return self.rx.split(self._check(s)) if self.rx.groups == 0 else _split_no_groups(self.rx, self._check(s))

    def finditer(self, s: str) -> Any:
        return self.rx.finditer(self._check(s))


def _split_no_groups(rx: re.Pattern[str], s: str) -> list[str]:
    out = []
    last = 0
    for m in rx.finditer(s):
        out.append(s[last : m.start()])
        last = m.end()
    out.append(s[last:])
    return out


def compile_xpath_regex(pattern: str, flags: str | None) -> _Bounded:
    return _compile(pattern, flags or "")


@lru_cache(maxsize=256)
def _compile(pattern: str, flags: str) -> _Bounded:
    if len(pattern) > MAX_PATTERN:
        raise InvocationFailure(f"pattern longer than {MAX_PATTERN} characters")
    py_flags = 0
    for f in flags:
        if f == "i":
            py_flags |= re.IGNORECASE
        elif f == "s":
            py_flags |= re.DOTALL
        elif f == "m":
            py_flags |= re.MULTILINE
        elif f == "x":
            py_flags |= re.VERBOSE
        elif f == "q":
            pass
        else:
            raise InvocationFailure(f"illegal regular expression flag '{f}'")
    if "q" in flags:
        pattern = re.escape(pattern)
    else:
        pattern = _translate(pattern, "x" in flags, "s" in flags, "m" in flags)
        py_flags &= ~re.VERBOSE
    try:
        tree = _p.parse(pattern, py_flags)
    except (re.error, OverflowError, RecursionError, ValueError) as e:
        raise InvocationFailure(f"invalid regular expression: {e}") from None
    _check_safe(tree, False, 0)
    try:
        return _Bounded(re.compile(pattern, py_flags))
    except (re.error, OverflowError, RecursionError) as e:
        raise InvocationFailure(f"invalid regular expression: {e}") from None


def _translate(pattern: str, extended: bool, dotall: bool, multiline: bool) -> str:
    """XPath regex syntax to Python's: '.' excludes CR as well as LF, '$' is the very end,
    'x' drops whitespace outside classes, and escapes Python reads differently are refused."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = 0
    while i < n:
        c = pattern[i]
        if c == "\\":
            j = i + 1
            while extended and not in_class and j < n and pattern[j] in " \t\n\r":
                j += 1  # "x" removes whitespace before the pattern is read: "\ s" is "\s"
            if j >= n:
                raise InvocationFailure("invalid regular expression: trailing backslash")
            nxt = pattern[j]
            if nxt in "pP" or nxt in "iIcC":
                raise InvocationFailure(f"the escape '\\{nxt}' is not supported in patterns")
            if in_class and nxt.isdigit():
                raise InvocationFailure("back-references are not allowed in a character class")
            if not in_class and nxt == "0":
                raise InvocationFailure("invalid escape '\\0'")
            if nxt in "AZzbBgN" or (nxt == "x" and not in_class):
                raise InvocationFailure(f"the escape '\\{nxt}' is not part of XPath regular expressions")
            out.append("\\" + nxt)
            i = j + 1
            continue
        if in_class:
            if c == "[":
                if out and out[-1] == "-":
                    raise InvocationFailure("character class subtraction is not supported")
                in_class += 1
            elif c == "]":
                in_class -= 1
            out.append(c)
        elif extended and c in " \t\n\r":
            pass
        elif c == "[":
            in_class = 1
            out.append(c)
            if i + 1 < n and pattern[i + 1] == "]":
                raise InvocationFailure("empty character class")
        elif c == "." and not dotall:
            out.append("[^\\n\\r]")
        elif c == "$" and not multiline:
            out.append("\\Z")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _check_safe(tree: Any, inside_repeat: bool, depth: int) -> bool:
    """Refuses nested unbounded repetition and back-references; returns True if tree repeats."""
    if depth > 50:
        raise InvocationFailure("regular expression nested too deeply")
    repeats = False
    for op, arg in tree:
        if op == getattr(_c, "GROUPREF_EXISTS", None):
            raise InvocationFailure("conditional groups are not supported in patterns")
        if op in _REPEATS:
            _low, high, sub = arg
            unbounded = high == _c.MAXREPEAT or high > 100
            if inside_repeat and unbounded:
                raise InvocationFailure("nested repetition is not allowed in patterns (it can take exponential time)")
            inner = _check_safe(sub, inside_repeat or unbounded or high > 1, depth + 1)
            if inner and (unbounded or high > 1):
                raise InvocationFailure("nested repetition is not allowed in patterns (it can take exponential time)")
            repeats = repeats or unbounded
        elif op == _c.SUBPATTERN:
            sub = arg[-1]
            repeats = _check_safe(sub, inside_repeat, depth + 1) or repeats
        elif op == _c.BRANCH:
            for alt in arg[1]:
                repeats = _check_safe(alt, inside_repeat, depth + 1) or repeats
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            repeats = _check_safe(arg[1], inside_repeat, depth + 1) or repeats
    return repeats
