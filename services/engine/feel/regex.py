"""Regular expressions from FEEL text (XPath flavour) compiled for Python's ``re``, bounded.

Patterns come from user input and Python's backtracking engine has no timeout. Patterns whose
matching time can explode are recognised by their shape (an unbounded repetition of something
that contains an alternation or another repetition, as in ``(a+)+`` or ``(a|aa)*``, or a
back-reference) and run in a separate Python process that is killed after ``TIMEOUT`` seconds;
the calling function then gives null with a warning. Ordinary patterns run in-process. Inputs
are limited in length as well.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
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
TIMEOUT = 1.0

_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)}

# The child reads one JSON request and writes one JSON answer; it runs with -I (isolated).
_SANDBOX = """
import json, re, sys
req = json.load(sys.stdin)
rx = re.compile(req["pattern"], req["flags"])
op, text = req["op"], req["input"]
if op == "search":
    out = rx.search(text) is not None
elif op == "sub":
    out = rx.sub(req["repl"], text)
elif op == "split":
    out, last = [], 0
    for m in rx.finditer(text):
        out.append(text[last:m.start()])
        last = m.end()
    out.append(text[last:])
else:
    out = [m.group(0) for m in rx.finditer(text)]
json.dump(out, sys.stdout)
"""


class _Bounded:
    """A compiled pattern that refuses long inputs and sandboxes patterns that may explode."""

    __slots__ = ("pattern", "risky", "rx")

    def __init__(self, rx: re.Pattern[str], risky: bool) -> None:
        self.rx = rx
        self.pattern = rx.pattern
        self.risky = risky

    def _check(self, s: str) -> str:
        if len(s) > MAX_INPUT:
            raise InvocationFailure(f"input longer than {MAX_INPUT} characters for a regular expression")
        return s

    def _sandboxed(self, op: str, s: str, repl: str = "") -> Any:
        request = {"pattern": self.rx.pattern, "flags": self.rx.flags & ~re.UNICODE, "op": op,
                   "input": self._check(s), "repl": repl}  # fmt: skip
        return _run_sandboxed(json.dumps(request))

    def search(self, s: str) -> bool:
        if self.risky:
            return bool(self._sandboxed("search", s))
        return self.rx.search(self._check(s)) is not None

    def sub(self, repl: str, s: str) -> str:
        if self.risky:
            return str(self._sandboxed("sub", s, repl))
        return self.rx.sub(repl, self._check(s))

    def split(self, s: str) -> list[str]:
        if self.risky:
            return list(self._sandboxed("split", s))
        return _split(self.rx, self._check(s))

    def findall(self, s: str) -> list[str]:
        if self.risky:
            return list(self._sandboxed("findall", s))
        return [m.group(0) for m in self.rx.finditer(self._check(s))]


@lru_cache(maxsize=256)
def _run_sandboxed(request: str) -> Any:
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _SANDBOX],
            input=request,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvocationFailure(f"the regular expression took longer than {TIMEOUT} s") from None
    except OSError as e:
        raise InvocationFailure(f"the regular expression could not be evaluated: {e}") from None
    if done.returncode != 0:
        raise InvocationFailure("the regular expression could not be evaluated")
    return json.loads(done.stdout)


def _split(rx: re.Pattern[str], s: str) -> list[str]:
    # re.split would also return the groups' text: split on whole matches only
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
    risky = _is_risky(tree, False, 0)
    try:
        return _Bounded(re.compile(pattern, py_flags), risky)
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


def _is_risky(tree: Any, in_repeat: bool, depth: int) -> bool:
    """True if matching may backtrack exponentially (or uses back-references)."""
    if depth > 50:
        raise InvocationFailure("regular expression nested too deeply")
    for op, arg in tree:
        if op == _c.GROUPREF:
            return True
        if op in _REPEATS:
            _low, high, sub = arg
            many = high == _c.MAXREPEAT or high > 1
            if in_repeat and many:
                return True
            if _is_risky(sub, in_repeat or high == _c.MAXREPEAT, depth + 1):
                return True
        elif op == _c.SUBPATTERN:
            if _is_risky(arg[-1], in_repeat, depth + 1):
                return True
        elif op == _c.BRANCH:
            if in_repeat:
                return True
            if any(_is_risky(alt, in_repeat, depth + 1) for alt in arg[1]):
                return True
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            if _is_risky(arg[1], in_repeat, depth + 1):
                return True
    return False
