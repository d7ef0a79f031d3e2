"""Tokenizer and recursive-descent parser for FEEL expressions and unary tests.

The grammar and operator precedence follow DMN 1.5 chapter 10 with Camunda FEEL's extensions
(unary comparisons such as ``< 5`` inside expressions, ``@"..."`` literals, context keys with any
symbols). The parser produces a small tuple-based AST, ``(tag, offset, *fields)``, that
``compiler`` turns into closures.

Names may contain spaces (``string length``, ``first name``): adjacent name words are joined into
one name, which is unambiguous because two plain names never follow each other otherwise.
Built-in names that contain a keyword (``date and time``, ``get or else`` ...) are recognised
when a ``(`` follows them.
"""

from __future__ import annotations

from typing import Any

from .errors import FeelSyntaxError
from .temporal import parse_temporal
from .values import NUMBER_CONTEXT

Node = tuple[Any, ...]

# words that end a name made of several words
_STOP_WORDS = frozenset(
    {
        "and", "or", "in", "then", "else", "return", "satisfies", "between",
        "true", "false", "null", "function", "for", "some", "every", "if",
    }
)  # fmt: skip

# built-in names containing a keyword; joined only before "(" (or as a type name)
_KEYWORD_NAMES = (
    ("years", "and", "months", "duration"),
    ("days", "and", "time", "duration"),
    ("date", "and", "time"),
    ("get", "or", "else"),
    ("and",),
    ("or",),
)

_OPERATORS = ("..", "**", "<=", ">=", "!=", "(", ")", "[", "]", "{", "}", ",", ":", ".",
              "+", "-", "*", "/", "=", "<", ">", "?", "@")  # fmt: skip

MAX_LENGTH = 100_000
MAX_DEPTH = 120

_DIGITS = frozenset("0123456789")
# DMN's whitespace: Python's isspace() plus the few it does not count
_WHITESPACE = frozenset(" \t\r\n\f\v\u0085\u00a0\u1680\u180e\u200b\u2028\u2029\u202f\u205f\u3000\ufeff")

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


class Token:
    __slots__ = ("end", "kind", "pos", "value")

    def __init__(self, kind: str, value: Any, pos: int, end: int) -> None:
        self.kind = kind  # "num", "str", "name", "bt" (backtick name), "op", "eof"
        self.value = value
        self.pos = pos
        self.end = end

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of input"
        if self.kind == "str":
            return "a string"
        return f"'{self.value}'"


_NAME_START_RANGES = (
    (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x2FF), (0x370, 0x37D), (0x37F, 0x1FFF), (0x200C, 0x200D),
    (0x2070, 0x218F), (0x2C00, 0x2FEF), (0x3001, 0xD7FF), (0xF900, 0xFDCF), (0xFDF0, 0xFFFD),
    (0x10000, 0xEFFFF),
)  # fmt: skip


def _is_name_start(ch: str) -> bool:
    if ch.isascii():
        return ch.isalpha() or ch == "_" or ch == "$"
    if ch in _WHITESPACE or ch.isspace():
        return False  # the spec's name ranges overlap some whitespace; whitespace wins
    o = ord(ch)
    return any(lo <= o <= hi for lo, hi in _NAME_START_RANGES)


def _is_name_part(ch: str) -> bool:
    if ch.isascii():
        return ch.isalnum() or ch == "_" or ch == "$"
    o = ord(ch)
    return _is_name_start(ch) or o == 0xB7 or 0x300 <= o <= 0x36F or 0x203F <= o <= 0x2040 or ch.isdigit()


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if ch in _WHITESPACE or ch.isspace():
            i += 1
            continue
        if ch == "/" and src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if ch == "/" and src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise FeelSyntaxError(src, i, "the end of the comment '*/'", "end of input")
            i = j + 2
            continue
        if ch in _DIGITS or (ch == "." and i + 1 < n and src[i + 1] in _DIGITS):
            j = i
            while j < n and src[j] in _DIGITS:
                j += 1
            if j < n and src[j] == "." and j + 1 < n and src[j + 1] in _DIGITS:
                j += 1
                while j < n and src[j] in _DIGITS:
                    j += 1
            if j < n and src[j] in "eE":
                # exponent (DMN 1.5): 1.23e4, 1e-3
                k = j + 1
                if k < n and src[k] in "+-":
                    k += 1
                if k < n and src[k] in _DIGITS:
                    while k < n and src[k] in _DIGITS:
                        k += 1
                    j = k
            text = src[i:j]
            tokens.append(Token("num", NUMBER_CONTEXT.create_decimal(text), i, j))
            i = j
            continue
        if ch == '"':
            value, j = _read_string(src, i)
            tokens.append(Token("str", value, i, j))
            i = j
            continue
        if ch == "`":
            j = src.find("`", i + 1)
            if j < 0 or j == i + 1:
                raise FeelSyntaxError(src, i, "a name closed by '`'", "end of input" if j < 0 else "'``'")
            tokens.append(Token("bt", src[i + 1 : j], i, j + 1))
            i = j + 1
            continue
        if _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_part(src[j]):
                j += 1
            tokens.append(Token("name", src[i:j], i, j))
            i = j
            continue
        for op in _OPERATORS:
            if src.startswith(op, i):
                tokens.append(Token("op", op, i, i + len(op)))
                i += len(op)
                break
        else:
            raise FeelSyntaxError(src, i, "an expression", f"unexpected character '{ch}'")
    tokens.append(Token("eof", None, n, n))
    return tokens


def _read_string(src: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    n = len(src)
    while i < n:
        ch = src[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < n:
            nxt = src[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt == "u" and i + 6 <= n and _is_hex(src[i + 2 : i + 6]):
                code = int(src[i + 2 : i + 6], 16)
                i += 6
                # a UTF-16 surrogate pair written as two escapes
                if 0xD800 <= code < 0xDC00 and src.startswith("\\u", i) and _is_hex(src[i + 2 : i + 6]):
                    low = int(src[i + 2 : i + 6], 16)
                    if 0xDC00 <= low < 0xE000:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                out.append(chr(code) if not 0xD800 <= code < 0xE000 else "\ufffd")
                continue
            if nxt == "U" and i + 8 <= n and _is_hex(src[i + 2 : i + 8]):
                code = int(src[i + 2 : i + 8], 16)
                out.append(chr(code) if code <= 0x10FFFF else "\ufffd")
                i += 8
                continue
            # unknown escapes stay as written: regular expressions need "\d", "\s" ...
            out.append(ch)
            out.append(nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    raise FeelSyntaxError(src, start, 'a string closed by \'"\'', "end of input")


def _is_hex(text: str) -> bool:
    return len(text) > 0 and all(c in "0123456789abcdefABCDEF" for c in text)


class _Backtrack(Exception):
    pass


class Parser:
    def __init__(self, src: str) -> None:
        if len(src) > MAX_LENGTH:
            raise FeelSyntaxError(src, MAX_LENGTH, f"an expression of at most {MAX_LENGTH} characters")
        self.src = src
        self.toks = tokenize(src)
        self.i = 0
        self.depth = 0

    # -- helpers --------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def is_op(self, value: str, k: int = 0) -> bool:
        t = self.peek(k) if k else self.tok
        return t.kind == "op" and t.value == value

    def is_word(self, value: str, k: int = 0) -> bool:
        t = self.peek(k) if k else self.tok
        return t.kind == "name" and t.value == value

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def fail(self, expected: str, tok: Token | None = None) -> FeelSyntaxError:
        t = tok or self.tok
        return FeelSyntaxError(self.src, t.pos, expected, t.describe())

    def expect_op(self, value: str) -> Token:
        if not self.is_op(value):
            raise self.fail(f"'{value}'")
        return self.advance()

    def expect_word(self, value: str) -> Token:
        if not self.is_word(value):
            raise self.fail(f"'{value}'")
        return self.advance()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FeelSyntaxError(self.src, self.tok.pos, "an expression nested less deeply", "too deep nesting")

    # -- entry points -----------------------------------------------------------------------

    def parse_expression_only(self) -> Node:
        if self.tok.kind == "eof":
            raise self.fail("an expression")
        node = self.expression()
        if self.tok.kind != "eof":
            raise self.fail("an operator or the end of the expression")
        return node

    def parse_unary_tests_only(self) -> Node:
        t = self.tok
        if t.kind == "eof":
            raise self.fail("unary tests")
        if self.is_op("-") and self.peek().kind == "eof":
            self.advance()
            return ("ut_any", t.pos)
        if self.is_word("not") and self.is_op("(", 1):
            save = self.i
            try:
                self.advance()
                self.advance()
                tests = self.positive_unary_tests()
                self.expect_op(")")
                if self.tok.kind == "eof":
                    return ("ut_not", t.pos, tests)
            except FeelSyntaxError:
                pass
            self.i = save
        tests = self.positive_unary_tests()
        if self.tok.kind != "eof":
            raise self.fail("',' or the end of the unary tests")
        return ("ut_list", t.pos, tests)

    def positive_unary_tests(self) -> list[Node]:
        tests = [self.positive_unary_test()]
        while self.is_op(","):
            self.advance()
            tests.append(self.positive_unary_test())
        return tests

    def positive_unary_test(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.value in ("<", "<=", ">", ">="):
            self.advance()
            return ("ut_cmp", t.pos, t.value, self.math())
        if t.kind == "op" and t.value == "=":
            self.advance()
            return ("ut_cmp", t.pos, "=", self.math())
        if t.kind == "op" and t.value == "!=":
            self.advance()
            return ("ut_cmp", t.pos, "!=", self.math())
        if t.kind == "name" and t.value in ("true", "false") and (
            self.peek().kind == "eof" or self.is_op(",", 1) or self.is_op(")", 1)
        ):
            self.advance()
            return ("ut_bool", t.pos, t.value == "true")
        return ("ut_expr", t.pos, self.expression())

    # -- expressions ------------------------------------------------------------------------

    def expression(self) -> Node:
        self.enter()
        try:
            t = self.tok
            if t.kind == "name":
                if t.value == "if":
                    return self.if_expr()
                if t.value == "for" and self.peek().kind in ("name", "bt"):
                    return self.for_expr()
                if t.value in ("some", "every") and self.peek().kind in ("name", "bt"):
                    return self.quantified()
            return self.disjunction()
        finally:
            self.depth -= 1

    def if_expr(self) -> Node:
        pos = self.advance().pos
        cond = self.expression()
        self.expect_word("then")
        then = self.expression()
        self.expect_word("else")
        other = self.expression()
        return ("if", pos, cond, then, other)

    def iterators(self) -> list[tuple[str, Node]]:
        its: list[tuple[str, Node]] = []
        while True:
            name = self.name_words(stop_at_in=True)
            self.expect_word("in")
            start = self.expression_no_range()
            if self.is_op(".."):
                self.advance()
                end = self.math()
                its.append((name, ("iter_range", start[1], start, end)))
            else:
                its.append((name, start))
            if not self.is_op(","):
                return its
            self.advance()

    def expression_no_range(self) -> Node:
        # "for x in 1..3": the start of an iteration range is an arithmetic expression
        save = self.i
        node = self.math()
        if self.is_op(".."):
            return node
        self.i = save
        return self.expression()

    def for_expr(self) -> Node:
        pos = self.advance().pos
        its = self.iterators()
        self.expect_word("return")
        body = self.expression()
        return ("for", pos, its, body)

    def quantified(self) -> Node:
        t = self.advance()
        its = self.iterators()
        self.expect_word("satisfies")
        cond = self.expression()
        return (t.value, t.pos, its, cond)

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.is_word("or"):
            pos = self.advance().pos
            node = ("or", pos, node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.comparison()
        while self.is_word("and"):
            pos = self.advance().pos
            node = ("and", pos, node, self.comparison())
        return node

    def comparison(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.value in ("<", "<=", ">", ">="):
            # unary comparison against the input value (Camunda allows it in expressions)
            self.advance()
            return ("ut_cmp", t.pos, t.value, self.math())
        node = self.math()
        t = self.tok
        if t.kind == "op" and t.value in ("=", "!=", "<", "<=", ">", ">="):
            self.advance()
            return ("cmp", t.pos, t.value, node, self.math())
        if t.kind == "name":
            if t.value == "between":
                self.advance()
                low = self.math()
                self.expect_word("and")
                high = self.math()
                return ("between", t.pos, node, low, high)
            if t.value == "instance" and self.is_word("of", 1):
                self.advance()
                self.advance()
                return ("instance", t.pos, node, self.type_spec())
            if t.value == "in":
                self.advance()
                return ("in", t.pos, node, self.in_tests())
        return node

    def in_tests(self) -> list[Node]:
        if self.is_op("("):
            save = self.i
            try:
                self.advance()
                tests = self.positive_unary_tests()
                self.expect_op(")")
                return tests
            except FeelSyntaxError:
                self.i = save
        return [self.positive_unary_test()]

    def type_spec(self) -> Node:
        t = self.tok
        if t.kind == "bt":
            self.advance()
            return ("type", t.pos, t.value, [])
        if t.kind != "name":
            raise self.fail("a type name")
        for words in (("years", "and", "months", "duration"), ("days", "and", "time", "duration"),
                      ("date", "and", "time")):  # fmt: skip
            if all(self.is_word(w, k) for k, w in enumerate(words)):
                for _ in words:
                    self.advance()
                return ("type", t.pos, " ".join(words), [])
        words = [self.advance().value]
        while self.tok.kind == "name" and self.tok.value not in _STOP_WORDS:
            words.append(self.advance().value)
        while self.is_op(".") and self.peek().kind == "name":
            self.advance()
            words[-1] += "." + self.advance().value
        name = " ".join(words)
        args: list[Any] = []
        if self.is_op("<"):
            self.advance()
            if name == "context":
                while True:
                    key = self.name_words()
                    self.expect_op(":")
                    args.append((key, self.type_spec()))
                    if not self.is_op(","):
                        break
                    self.advance()
            elif not self.is_op(">"):
                args.append(self.type_spec())
                while self.is_op(","):
                    self.advance()
                    args.append(self.type_spec())
            self.expect_op(">")
            if name == "function" and self.is_op("-") and self.is_op(">", 1):
                self.advance()
                self.advance()
                args.append(("returns", self.type_spec()))
        return ("type", t.pos, name, args)

    # -- arithmetic ---------------------------------------------------------------------------

    def math(self) -> Node:
        self.enter()
        try:
            node = self.term()
            while self.tok.kind == "op" and self.tok.value in ("+", "-"):
                t = self.advance()
                node = ("arith", t.pos, t.value, node, self.term())
            return node
        finally:
            self.depth -= 1

    def term(self) -> Node:
        node = self.power()
        while self.tok.kind == "op" and self.tok.value in ("*", "/"):
            t = self.advance()
            node = ("arith", t.pos, t.value, node, self.power())
        return node

    def power(self) -> Node:
        node = self.negation()
        while self.is_op("**"):
            t = self.advance()
            node = ("arith", t.pos, "**", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.is_op("-"):
            t = self.advance()
            self.enter()
            try:
                inner = self.negation()
            finally:
                self.depth -= 1
            if inner[0] == "num":
                return ("num", t.pos, -inner[2])
            return ("neg", t.pos, inner)
        return self.postfix(self.primary())

    # -- postfix operators ----------------------------------------------------------------------

    def postfix(self, node: Node, brackets: bool = True) -> Node:
        while True:
            t = self.tok
            if t.kind != "op":
                return node
            if t.value == ".":
                self.advance()
                if self.is_word("time") and self.is_word("offset", 1):
                    self.advance()
                    self.advance()
                    key = "time offset"
                elif self.tok.kind == "bt":
                    key = self.advance().value
                elif self.tok.kind == "name":
                    key = self.name_words()
                else:
                    raise self.fail("a name after '.'")
                node = ("path", t.pos, node, key)
            elif t.value == "[" and brackets:
                self.advance()
                f = self.expression()
                self.expect_op("]")
                node = ("filter", t.pos, node, f)
            elif t.value == "(":
                node = self.call(node)
            else:
                return node

    def call(self, fn: Node) -> Node:
        t = self.expect_op("(")
        self.enter()
        try:
            if self.is_op(")"):
                self.advance()
                return ("call", t.pos, fn, [], False)
            if self.named_argument_ahead():
                named: list[tuple[str, Node]] = []
                while True:
                    key = self.advance().value if self.tok.kind == "bt" else self.name_words(any_word=True)
                    self.expect_op(":")
                    named.append((key, self.expression()))
                    if self.is_op(","):
                        self.advance()
                        continue
                    self.expect_op(")")
                    return ("call", t.pos, fn, named, True)
            args = [self.expression()]
            while self.is_op(","):
                self.advance()
                args.append(self.expression())
            self.expect_op(")")
            return ("call", t.pos, fn, args, False)
        finally:
            self.depth -= 1

    def named_argument_ahead(self) -> bool:
        k = 0
        if self.peek(0).kind == "bt":
            return self.is_op(":", 1)
        while self.peek(k).kind == "name":
            k += 1
        return k > 0 and self.is_op(":", k)

    def name_words(self, stop_at_in: bool = False, any_word: bool = False) -> str:
        t = self.tok
        if t.kind == "bt":
            self.advance()
            return t.value
        if t.kind != "name":
            raise self.fail("a name")
        words = [self.advance().value]
        while self.tok.kind == "name" and (any_word or self.tok.value not in _STOP_WORDS):
            if stop_at_in and self.tok.value == "in":
                break
            if self.tok.value == "instance" and self.is_word("of", 1):
                break
            words.append(self.advance().value)
        return " ".join(words)

    # -- primaries ------------------------------------------------------------------------------

    def primary(self) -> Node:
        t = self.tok
        kind = t.kind
        if kind == "num":
            self.advance()
            return ("num", t.pos, t.value)
        if kind == "str":
            self.advance()
            return ("str", t.pos, t.value)
        if kind == "bt":
            self.advance()
            return ("name", t.pos, t.value)
        if kind == "name":
            return self.name_primary()
        if kind == "op":
            v = t.value
            if v == "(":
                return self.paren()
            if v == "[":
                return self.bracket()
            if v == "]":
                self.advance()
                return self.range_rest(t, False, self.expression())
            if v == "{":
                return self.context()
            if v == "?":
                self.advance()
                return ("input", t.pos)
            if v == "@":
                self.advance()
                s = self.tok
                if s.kind != "str":
                    raise self.fail("a string after '@'")
                self.advance()
                value = parse_temporal(s.value)
                if value is None:
                    # as in Camunda: an impossible date such as @"2023-02-29" is null, not a syntax error
                    return ("null", t.pos)
                return ("const", t.pos, value)
        raise self.fail("an expression")

    def name_primary(self) -> Node:
        t = self.tok
        v = t.value
        if v == "true" or v == "false":
            self.advance()
            return ("bool", t.pos, v == "true")
        if v == "null":
            self.advance()
            return ("null", t.pos)
        if v == "function" and self.is_op("(", 1):
            return self.function_definition()
        if v in ("if", "for", "some", "every"):
            if v == "if" or self.peek().kind in ("name", "bt"):
                return self.expression()
        for words in _KEYWORD_NAMES:
            if all(self.is_word(w, k) for k, w in enumerate(words)) and self.is_op("(", len(words)):
                for _ in words:
                    self.advance()
                return ("name", t.pos, " ".join(words))
        if v in _STOP_WORDS:
            raise self.fail("an expression")
        return ("name", t.pos, self.name_words())

    def function_definition(self) -> Node:
        t = self.advance()
        self.expect_op("(")
        params: list[tuple[str, Node | None]] = []
        while not self.is_op(")"):
            pname = self.name_words()
            ptype = None
            if self.is_op(":"):
                self.advance()
                ptype = self.type_spec()
            params.append((pname, ptype))
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(")")
        if self.is_word("external"):
            self.advance()
            self.context()
            return ("external", t.pos, [p for p, _ in params])
        body = self.expression()
        return ("fdef", t.pos, params, body)

    def paren(self) -> Node:
        t = self.advance()
        op = self.tok
        if op.kind == "op" and op.value in ("<", "<=", ">", ">="):
            # DMN 1.5 range from a unary comparison: (< 10), (>= 5)
            self.advance()
            end = self.math()
            self.expect_op(")")
            return ("open_range", t.pos, op.value, end)
        node = self.expression()
        if self.is_op(".."):
            return self.range_rest(t, False, node)
        self.expect_op(")")
        return node

    def bracket(self) -> Node:
        t = self.advance()
        if self.is_op("]"):
            self.advance()
            return ("list", t.pos, [])
        first = self.expression()
        if self.is_op(".."):
            return self.range_rest(t, True, first)
        items = [first]
        while self.is_op(","):
            self.advance()
            items.append(self.expression())
        self.expect_op("]")
        return ("list", t.pos, items)

    def range_rest(self, start_tok: Token, start_included: bool, start: Node) -> Node:
        self.expect_op("..")
        save = self.i
        try:
            end = self.math()
            if not (self.tok.kind == "op" and self.tok.value in ("]", ")", "[")):
                raise _Backtrack()
        except (FeelSyntaxError, _Backtrack):
            # "[1..5[": the closing "[" must not be read as a filter of the end point
            self.i = save
            end = self.postfix(self.negation_without_brackets(), brackets=False)
        close = self.tok
        if not (close.kind == "op" and close.value in ("]", ")", "[")):
            raise self.fail("']', ')' or '[' to close the range")
        self.advance()
        return ("range", start_tok.pos, start_included, start, end, close.value == "]")

    def negation_without_brackets(self) -> Node:
        if self.is_op("-"):
            t = self.advance()
            return ("neg", t.pos, self.negation_without_brackets())
        return self.primary()

    def context(self) -> Node:
        t = self.expect_op("{")
        entries: list[tuple[str, Node]] = []
        if self.is_op("}"):
            self.advance()
            return ("context", t.pos, entries)
        while True:
            k = self.tok
            if k.kind == "str" and self.is_op(":", 1):
                self.advance()
                key = k.value
            elif k.kind == "bt" and self.is_op(":", 1):
                self.advance()
                key = k.value
            else:
                # Camunda accepts any symbols in a key up to the ':' (e.g. {a+b: 1, "x y": 2})
                start = k.pos
                while not (self.tok.kind == "op" and self.tok.value in (":", ",", "{", "}", "[", "]")):
                    if self.tok.kind in ("eof", "str", "bt"):
                        break
                    self.advance()
                if not self.is_op(":") or self.tok.pos == start:
                    raise self.fail("a context key followed by ':'")
                key = self.src[start : self.tok.pos].strip()
            self.expect_op(":")
            entries.append((key, self.expression()))
            if self.is_op(","):
                self.advance()
                continue
            self.expect_op("}")
            return ("context", t.pos, entries)


def parse_expression(src: str) -> Node:
    try:
        return Parser(src).parse_expression_only()
    except RecursionError:
        raise FeelSyntaxError(src, 0, "an expression nested less deeply", "too deep nesting") from None


def parse_unary_tests(src: str) -> Node:
    try:
        return Parser(src).parse_unary_tests_only()
    except RecursionError:
        raise FeelSyntaxError(src, 0, "unary tests nested less deeply", "too deep nesting") from None

