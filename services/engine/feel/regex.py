"""Regular expressions from FEEL text (XPath flavour) compiled for Python's ``re``, bounded.

Patterns come from user input and Python's backtracking engine has no timeout. Patterns whose
matching time can explode are recognised by their shape (an unbounded repetition of something
that contains an alternation or another repetition, as in ``(a+)+`` or ``(a|aa)*``, or a
back-reference) and run in a separate Python process that is killed after ``TIMEOUT`` seconds;
the calling function then gives null with a warning. Ordinary patterns run in-process. Inputs
are limited in length as well.

The child runs while the engine's event loop waits, so one evaluation may spend at most
``SANDBOX_BUDGET`` seconds in sandboxed patterns, whatever the number of calls: a model that loops
over a risky pattern (``for i in 1..1000 return matches(x, "(a+)+$")``) would otherwise hold the
whole engine for 1000 timeouts. Past the budget the evaluation fails (an incident), like the other
limits of ``runtime``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from functools import lru_cache
from typing import Any

from .errors import FeelEvaluationError
from .runtime import Ctl, InvocationFailure

try:  # Python 3.11+
    import re._constants as _c  # type: ignore[import-not-found]
    import re._parser as _p  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - older layout
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

MAX_PATTERN = 1000
MAX_INPUT = 100_000
TIMEOUT = 1.0
SANDBOX_BUDGET = 2.0  # seconds one evaluation may spend in sandboxed patterns

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

    def _sandboxed(self, op: str, s: str, repl: str, ctl: Ctl | None) -> Any:
        request = json.dumps({"pattern": self.rx.pattern, "flags": self.rx.flags & ~re.UNICODE, "op": op,
                              "input": self._check(s), "repl": repl})  # fmt: skip
        if ctl is None:
            return _run_sandboxed(request, TIMEOUT)
        remaining = SANDBOX_BUDGET - ctl.sandbox_seconds
        if remaining <= 0:
            raise FeelEvaluationError(
                f"evaluation spent more than {SANDBOX_BUDGET} s in regular expressions that may backtrack "
                f"exponentially ('{self.pattern}')")
        started = time.monotonic()
        try:
            return _run_sandboxed(request, min(TIMEOUT, remaining))
        finally:
            ctl.sandbox_seconds += time.monotonic() - started

    def search(self, s: str, ctl: Ctl | None = None) -> bool:
        if self.risky:
            return bool(self._sandboxed("search", s, "", ctl))
        return self.rx.search(self._check(s)) is not None

    def sub(self, repl: str, s: str, ctl: Ctl | None = None) -> str:
        if self.risky:
            return str(self._sandboxed("sub", s, repl, ctl))
        return self.rx.sub(repl, self._check(s))

    def split(self, s: str, ctl: Ctl | None = None) -> list[str]:
        if self.risky:
            return list(self._sandboxed("split", s, "", ctl))
        return _split(self.rx, self._check(s))

    def findall(self, s: str, ctl: Ctl | None = None) -> list[str]:
        if self.risky:
            return list(self._sandboxed("findall", s, "", ctl))
        return [m.group(0) for m in self.rx.finditer(self._check(s))]


@lru_cache(maxsize=256)
def _run_sandboxed(request: str, timeout: float) -> Any:
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _SANDBOX],
            input=request,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InvocationFailure(f"the regular expression took longer than {timeout:.2g} s") from None
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
    'x' drops whitespace outside classes, \\p{..} categories and blocks become explicit
    ranges, class subtraction [a-z-[aeiou]] becomes a lookahead, and escapes Python reads
    differently are refused."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            text, i = _escape(pattern, i, extended, in_class=False)
            out.append(text)
        elif extended and c in " \t\n\r":
            i += 1
        elif c == "[":
            text, i = _char_class(pattern, i, extended)
            out.append(text)
        elif c == "." and not dotall:
            out.append("[^\\n\\r]")
            i += 1
        elif c == "$" and not multiline:
            out.append("\\Z")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _escape(pattern: str, i: int, extended: bool, in_class: bool) -> tuple[str, int]:
    """The escape at pattern[i] (a backslash) as Python text (inside a class: without brackets)."""
    n = len(pattern)
    j = i + 1
    while extended and not in_class and j < n and pattern[j] in " \t\n\r":
        j += 1  # "x" removes whitespace before the pattern is read: "\ s" is "\s"
    if j >= n:
        raise InvocationFailure("invalid regular expression: trailing backslash")
    nxt = pattern[j]
    if nxt in "pP":
        close = pattern.find("}", j)
        if j + 1 >= n or pattern[j + 1] != "{" or close < 0:
            raise InvocationFailure("invalid regular expression: \\p needs {name}")
        name = "".join(pattern[j + 2 : close].split()) if extended else pattern[j + 2 : close]
        ranges = _property_ranges(name)
        if in_class and nxt == "P":
            raise InvocationFailure("\\P{..} inside a character class is not supported")
        if in_class:
            return ranges, close + 1
        return ("[^" if nxt == "P" else "[") + ranges + "]", close + 1
    if nxt in "iIcC":
        raise InvocationFailure(f"the escape '\\{nxt}' is not supported in patterns")
    if in_class and nxt.isdigit():
        raise InvocationFailure("back-references are not allowed in a character class")
    if not in_class and nxt == "0":
        raise InvocationFailure("invalid escape '\\0'")
    if nxt in "AZzbBgNuUx":
        raise InvocationFailure(f"the escape '\\{nxt}' is not part of XPath regular expressions")
    return "\\" + nxt, j + 1


def _char_class(pattern: str, i: int, extended: bool) -> tuple[str, int]:
    """A class starting at pattern[i] ('['), with XPath's subtraction [base-[excluded]]."""
    n = len(pattern)
    j = i + 1
    negated = j < n and pattern[j] == "^"
    if negated:
        j += 1
    body: list[str] = []
    first = True
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            text = "[" + ("^" if negated else "") + "".join(body) + "]"
            return text, j + 1
        if c == "-" and j + 1 < n and pattern[j + 1] == "[":
            excluded, k = _char_class(pattern, j + 1, extended)
            if k >= n or pattern[k] != "]":
                raise InvocationFailure("invalid regular expression: a subtraction must end the class")
            base = "[" + ("^" if negated else "") + "".join(body) + "]"
            return f"(?:(?!{excluded}){base})", k + 1
        if c == "[":
            raise InvocationFailure("invalid regular expression: '[' inside a character class")
        if c == "\\":
            text, j = _escape(pattern, j, extended, in_class=True)
            body.append(text)
        else:
            body.append(c)
            j += 1
        first = False
    raise InvocationFailure("invalid regular expression: unterminated character class")


_BLOCKS = {
    "BasicLatin": (0x0000, 0x007F), "Latin-1Supplement": (0x0080, 0x00FF), "LatinExtended-A": (0x0100, 0x017F),
    "LatinExtended-B": (0x0180, 0x024F), "Greek": (0x0370, 0x03FF), "GreekandCoptic": (0x0370, 0x03FF),
    "Cyrillic": (0x0400, 0x04FF), "Hebrew": (0x0590, 0x05FF), "Arabic": (0x0600, 0x06FF),
    "GeneralPunctuation": (0x2000, 0x206F), "CurrencySymbols": (0x20A0, 0x20CF),
    "CJKRadicalsSupplement": (0x2E80, 0x2EFF), "CJKSymbolsandPunctuation": (0x3000, 0x303F),
    "Hiragana": (0x3040, 0x309F), "Katakana": (0x30A0, 0x30FF), "Bopomofo": (0x3100, 0x312F),
    "CJKUnifiedIdeographsExtensionA": (0x3400, 0x4DBF), "CJKUnifiedIdeographs": (0x4E00, 0x9FFF),
    "HangulSyllables": (0xAC00, 0xD7AF), "CJKCompatibilityIdeographs": (0xF900, 0xFAFF),
    "HalfwidthandFullwidthForms": (0xFF00, 0xFFEF),
}  # fmt: skip


@lru_cache(maxsize=64)
def _property_ranges(name: str) -> str:
    """Class content for a general category (L, Lu, Nd, ...) or a block (IsBasicLatin)."""
    if name.startswith("Is"):
        block = _BLOCKS.get(name[2:])
        if block is None:
            raise InvocationFailure(f"unknown block '{name}'")
        return _range_text(block[0], block[1])
    if not (1 <= len(name) <= 2 and name[0] in "LMNPSZC"):
        raise InvocationFailure(f"unknown category '{name}'")
    import unicodedata

    parts = []
    start = None
    for cp in range(0x110000):
        ok = unicodedata.category(chr(cp)).startswith(name)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            parts.append(_range_text(start, cp - 1))
            start = None
    if start is not None:
        parts.append(_range_text(start, 0x10FFFF))
    if not parts:
        raise InvocationFailure(f"unknown category '{name}'")
    return "".join(parts)


def _range_text(lo: int, hi: int) -> str:
    def esc(cp: int) -> str:
        return f"\\U{cp:08x}"

    return esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}"


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
