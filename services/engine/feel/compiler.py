"""Turns the parser's AST into nested Python closures, one per node, each taking an ``Env``.

Walking a tuple AST costs a dispatch per node on every evaluation; closures do that dispatch
once at compile time and specialise the common shapes (a variable compared with a constant,
number arithmetic) so that a typical condition evaluates in a few microseconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import runtime as rt
from .builtins import BUILTINS
from .errors import FeelEvaluationError
from .parser import Node
from .runtime import EMPTY, MISSING, Ctl, Env, compare, equal, in_range, lookup, to_feel
from .values import NUMBER_CONTEXT, FeelFunction, Range, YearMonthDuration, repr_value, time_offset, type_name

Fn = Callable[[Env], Any]
Test = Callable[[Env, Any], Any]


def const_value(node: Node) -> tuple[bool, Any]:
    tag = node[0]
    if tag in ("num", "str", "bool", "const"):
        return True, node[2]
    if tag == "null":
        return True, None
    return False, None


def compile_node(node: Node) -> Fn:
    return _COMPILERS[node[0]](node)


# ---------------------------------------------------------------------------------------------
# literals and names


def _c_const(node: Node) -> Fn:
    _, value = const_value(node)

    def const(env: Env) -> Any:
        return value

    return const


def _c_name(node: Node) -> Fn:
    name = node[2]
    builtin = BUILTINS.get(name)
    conv = to_feel

    def var(env: Env) -> Any:
        if env.parent is None and not env.vars:
            # top level: straight to the engine's variables
            try:
                raw = env.root[name]
            except KeyError:
                raw = MISSING
            except Exception:
                raw = MISSING
            if raw is not MISSING:
                t = type(raw)
                if t is str or t is bool or raw is None or t is Decimal:
                    return raw
                return conv(raw)
            v = MISSING
        else:
            v = lookup(env, name)
        if v is MISSING:
            if builtin is not None:
                return builtin[0]
            env.ctl.warn(f"No variable found with name '{name}'")
            return None
        return v

    return var


def _c_input(node: Node) -> Fn:
    def input_value(env: Env) -> Any:
        v = rt.lookup_local(env, "?")
        if v is MISSING:
            raise FeelEvaluationError(
                "No input value available. '?' can only be used inside an unary-test expression."
            )
        return v

    return input_value


def _implicit_input(env: Env) -> Any:
    v = rt.lookup_local(env, "?")
    if v is MISSING:
        env.ctl.warn("No input value found.")
        return None
    return v


def _c_list(node: Node) -> Fn:
    items = [compile_node(n) for n in node[2]]

    def make_list(env: Env) -> Any:
        return [f(env) for f in items]

    return make_list


def _c_context(node: Node) -> Fn:
    entries = [(k, compile_node(n)) for k, n in node[2]]
    keys = [k for k, _ in entries]
    if len(set(keys)) != len(keys):
        duplicate = next(k for k in keys if keys.count(k) > 1)

        def duplicate_key(env: Env) -> Any:
            env.ctl.warn(f"Duplicate context key '{duplicate}'")
            return None

        return duplicate_key

    def make_context(env: Env) -> Any:
        result: dict[str, Any] = {}
        # later entries see the earlier ones
        inner = env.child(result)
        for key, f in entries:
            result[key] = f(inner)
        return result

    return make_context


def _c_range(node: Node) -> Fn:
    _, _, start_incl, start, end, end_incl = node
    fs, fe = compile_node(start), compile_node(end)

    def make_range(env: Env) -> Any:
        s, e = fs(env), fe(env)
        if s is None or e is None:
            env.ctl.warn(f"Invalid range definition '{repr_value(s)}..{repr_value(e)}'")
            return None
        if rt.compare_kind(s) != rt.compare_kind(e):
            env.ctl.warn(f"Invalid range definition '{repr_value(s)}..{repr_value(e)}'")
            return None
        if (s is not None and rt.compare_kind(s) is None) or (e is not None and rt.compare_kind(e) is None):
            env.ctl.warn(f"Invalid range definition '{repr_value(s)}..{repr_value(e)}'")
            return None
        return Range(s, e, start_incl and s is not None, end_incl and e is not None)

    return make_range


def _c_open_range(node: Node) -> Fn:
    op = node[2]
    fe = compile_node(node[3])

    def make_open_range(env: Env) -> Any:
        v = fe(env)
        if rt.compare_kind(v) is None:
            env.ctl.warn(f"Invalid range definition '{op}{repr_value(v)}'")
            return None
        if op in ("<", "<="):
            return Range(None, v, False, op == "<=")
        return Range(v, None, op == ">=", False)

    return make_open_range


# ---------------------------------------------------------------------------------------------
# operators


def _c_neg(node: Node) -> Fn:
    f = compile_node(node[2])

    def neg(env: Env) -> Any:
        return rt.negate(f(env), env.ctl)

    return neg


_ARITH = {"+": rt.add, "-": rt.subtract, "*": rt.multiply, "/": rt.divide, "**": rt.power}
_DEC_OPS = {
    "+": NUMBER_CONTEXT.add,
    "-": NUMBER_CONTEXT.subtract,
    "*": NUMBER_CONTEXT.multiply,
}


def _c_arith(node: Node) -> Fn:
    _, _, op, a, b = node
    fa, fb = compile_node(a), compile_node(b)
    generic = _ARITH[op]
    fast = _DEC_OPS.get(op)
    if fast is None:

        def arith(env: Env) -> Any:
            return generic(fa(env), fb(env), env.ctl)

        return arith

    def arith_fast(env: Env) -> Any:
        x = fa(env)
        y = fb(env)
        if type(x) is Decimal and type(y) is Decimal:
            try:
                return fast(x, y)
            except ArithmeticError:
                pass
        return generic(x, y, env.ctl)

    return arith_fast


def _c_cmp(node: Node) -> Fn:
    _, _, op, a, b = node
    fa = compile_node(a)
    is_const, c = const_value(b)
    if is_const and type(c) is Decimal and op in ("<", "<=", ">", ">="):
        return _cmp_const_number(fa, op, c)
    if is_const and op in ("=", "!=") and type(c) in (str, Decimal, bool):
        return _eq_const(fa, op == "!=", c)
    fb = compile_node(b)

    def cmp(env: Env) -> Any:
        return compare(op, fa(env), fb(env), env.ctl)

    return cmp


def _cmp_const_number(fa: Fn, op: str, c: Decimal) -> Fn:
    if op == ">":

        def gt(env: Env) -> Any:
            x = fa(env)
            if type(x) is Decimal:
                return x > c
            return compare(">", x, c, env.ctl)

        return gt
    if op == ">=":

        def ge(env: Env) -> Any:
            x = fa(env)
            if type(x) is Decimal:
                return x >= c
            return compare(">=", x, c, env.ctl)

        return ge
    if op == "<":

        def lt(env: Env) -> Any:
            x = fa(env)
            if type(x) is Decimal:
                return x < c
            return compare("<", x, c, env.ctl)

        return lt

    def le(env: Env) -> Any:
        x = fa(env)
        if type(x) is Decimal:
            return x <= c
        return compare("<=", x, c, env.ctl)

    return le


def _eq_const(fa: Fn, negate: bool, c: Any) -> Fn:
    tc = type(c)

    def eq(env: Env) -> Any:
        x = fa(env)
        if type(x) is tc:
            return (x == c) is not negate
        r = equal(x, c, env.ctl)
        if r is None or not negate:
            return r
        return not r

    return eq


def _c_and(node: Node) -> Fn:
    fa, fb = compile_node(node[2]), compile_node(node[3])

    def conj(env: Env) -> Any:
        a = fa(env)
        if a is False:
            return False
        b = fb(env)
        if b is False:
            return False
        if a is True and b is True:
            return True
        return None

    return conj


def _c_or(node: Node) -> Fn:
    fa, fb = compile_node(node[2]), compile_node(node[3])

    def disj(env: Env) -> Any:
        a = fa(env)
        if a is True:
            return True
        b = fb(env)
        if b is True:
            return True
        if a is False and b is False:
            return False
        return None

    return disj


def _c_between(node: Node) -> Fn:
    _, _, x, low, high = node
    fx, fl, fh = compile_node(x), compile_node(low), compile_node(high)

    def between(env: Env) -> Any:
        v = fx(env)
        a = compare(">=", v, fl(env), env.ctl)
        if a is False:
            return False
        b = compare("<=", v, fh(env), env.ctl)
        if b is False:
            return False
        return True if a is True and b is True else None

    return between


def _c_if(node: Node) -> Fn:
    fc, ft, fe = compile_node(node[2]), compile_node(node[3]), compile_node(node[4])

    def if_(env: Env) -> Any:
        return ft(env) if fc(env) is True else fe(env)

    return if_


# ---------------------------------------------------------------------------------------------
# unary tests


def compile_test(node: Node) -> Test:
    tag = node[0]
    if tag == "ut_cmp":
        op = node[2]
        fe = compile_node(node[3])

        def cmp_test(env: Env, x: Any) -> Any:
            return compare(op, x, fe(env), env.ctl)

        return cmp_test
    if tag == "ut_bool":
        b = node[2]

        def bool_test(env: Env, x: Any) -> Any:
            return equal(x, b, env.ctl)

        return bool_test
    expr = node[2]
    is_const, c = const_value(expr)
    if is_const:

        def const_test(env: Env, x: Any) -> Any:
            if c is True:
                return True
            if type(x) is type(c):
                return x == c
            r = equal(x, c, env.ctl)
            if r is True:
                return True
            return False if r is not None or c is False else None

        return const_test
    fe = compile_node(expr)
    if expr[0] == "range" and const_value(expr[3])[0] and const_value(expr[4])[0]:
        # [1..10] with literal ends: the range is built once, numbers compare directly
        lo, hi = const_value(expr[3])[1], const_value(expr[4])[1]
        kind = rt.compare_kind(lo)
        fixed = Range(lo, hi, expr[2], expr[5]) if kind is not None and kind == rt.compare_kind(hi) else None
        if type(fixed) is Range and type(lo) is Decimal and type(hi) is Decimal:
            lo_incl, hi_incl = expr[2], expr[5]

            def number_range_test(env: Env, x: Any) -> Any:
                if type(x) is Decimal:
                    return (lo <= x if lo_incl else lo < x) and (x <= hi if hi_incl else x < hi)
                return in_range(x, fixed, env.ctl)

            return number_range_test
        if type(fixed) is Range:

            def const_range_test(env: Env, x: Any) -> Any:
                return in_range(x, fixed, env.ctl)

            return const_range_test
    if expr[0] in ("range", "open_range"):

        def range_test(env: Env, x: Any) -> Any:
            r = fe(env)
            return None if r is None else in_range(x, r, env.ctl)

        return range_test
    if _uses_input(expr):
        # a test written with '?' is a condition: only true or false count (as in Camunda)

        def condition_test(env: Env, x: Any) -> Any:
            v = fe(env)
            return v if type(v) is bool else None

        return condition_test

    def expr_test(env: Env, x: Any) -> Any:
        v = fe(env)
        if v is True:
            return True
        if type(v) is Range:
            return in_range(x, v, env.ctl)
        if type(v) is list:
            for i in v:
                if (in_range(x, i, None) if type(i) is Range else equal(x, i)) is True:
                    return True
        r = equal(x, v, env.ctl)
        if r is True:
            return True
        if v is False or type(v) is list:
            return False
        return None if r is None else False

    return expr_test


def run_tests(tests: list[Test], env: Env, x: Any) -> Any:
    """At least one test holds: true; else null if one was null; else false."""
    result: Any = False
    for t in tests:
        r = t(env, x)
        if r is True:
            return True
        if r is not False:
            result = None
    return result


def _c_in(node: Node) -> Fn:
    fx = compile_node(node[2])
    tests = [compile_test(t) for t in node[3]]

    def in_(env: Env) -> Any:
        x = fx(env)
        return run_tests(tests, env.child({"?": x}), x)

    return in_


def _c_ut_cmp(node: Node) -> Fn:
    test = compile_test(node)

    def unary_cmp(env: Env) -> Any:
        return test(env, _implicit_input(env))

    return unary_cmp


# ---------------------------------------------------------------------------------------------
# types


# A host (the DMN evaluator) may put a function (type name, value) -> bool under this name to
# resolve type names FEEL does not know, such as item definitions.
TYPES_VAR = "\x00types"

_KNOWN_TYPES = frozenset({
    "Any", "null", "number", "string", "boolean", "date", "time", "date and time",
    "years and months duration", "days and time duration", "list", "context", "function", "range",
})  # fmt: skip


def _is_known_type(spec: Node) -> bool:
    return _TYPE_ALIASES.get(spec[2], spec[2]) in _KNOWN_TYPES


def _c_instance(node: Node) -> Fn:
    fx = compile_node(node[2])
    if not _is_known_type(node[3]):
        name = node[3][2]

        def instance_of_custom(env: Env) -> Any:
            v = fx(env)
            try:
                resolver = env.root[TYPES_VAR]  # raw: a Python callable is no FEEL value
            except Exception:
                return False
            if not callable(resolver):
                return False
            return bool(resolver(name, v))

        return instance_of_custom
    check = _type_check(node[3])

    def instance_of(env: Env) -> Any:
        return check(fx(env))

    return instance_of


_TYPE_ALIASES = {
    "date time": "date and time",
    "dateTime": "date and time",
    "year-month-duration": "years and months duration",
    "yearMonthDuration": "years and months duration",
    "day-time-duration": "days and time duration",
    "dayTimeDuration": "days and time duration",
    "Null": "null",
}


def _type_check(spec: Node) -> Callable[[Any], bool]:
    name = _TYPE_ALIASES.get(spec[2], spec[2])
    args = spec[3]
    if name == "Any":
        return lambda v: v is not None
    if name == "list" and args:
        inner = _type_check(args[0])
        return lambda v: type(v) is list and all(i is None or inner(i) for i in v)
    if name == "range" and args:
        inner = _type_check(args[0])
        return lambda v: type(v) is Range and all(inner(i) for i in (v.start, v.end) if i is not None)
    if name == "context" and args:
        checks = [(k, _type_check(t)) for k, t in args]
        return lambda v: type(v) is dict and all(k in v and (v[k] is None or c(v[k])) for k, c in checks)
    return lambda v: type_name(v) == name


# ---------------------------------------------------------------------------------------------
# paths and filters


def _c_path(node: Node) -> Fn:
    chain = _name_chain(node)
    if chain is not None:
        return _name_path(*chain)
    fx = compile_node(node[2])
    key = node[3]

    def path(env: Env) -> Any:
        return get_path(fx(env), key, env.ctl)

    return path


def _name_chain(node: Node) -> tuple[Node, list[str]] | None:
    """(name node, keys) for ``a.b.c``; None for other shapes."""
    keys: list[str] = []
    while node[0] == "path":
        keys.append(node[3])
        node = node[2]
    if node[0] != "name":
        return None
    keys.reverse()
    return node, keys


def _raw(env: Env, name: str, keys: list[str]) -> Any:
    """The engine's raw (JSON) value at name.keys..., or MISSING when the fast way does not apply
    (a local scope, a missing entry, a non-context on the way): the caller then goes the slow way,
    which also reports the warnings."""
    if env.parent is not None or env.vars:
        return MISSING
    try:
        cur = env.root[name]
    except Exception:
        return MISSING
    for k in keys:
        if type(cur) is not dict:
            return MISSING
        cur = cur.get(k, MISSING)
        if cur is MISSING:
            return MISSING
    return cur


def _name_path(base: Node, keys: list[str]) -> Fn:
    """``order.customer.city`` on an engine variable: walk the raw JSON and convert only what
    is reached, so a large variable is not converted whole for one field."""
    name = base[2]
    fbase = compile_node(base)

    def name_path(env: Env) -> Any:
        raw = _raw(env, name, keys)
        if raw is not MISSING:
            return to_feel(raw)
        if lookup(env, name) is MISSING:
            # a variable whose name holds dots, such as a DMN parameter "Person.Gender"
            for n in range(len(keys), 0, -1):
                v = lookup(env, ".".join([name, *keys[:n]]))
                if v is not MISSING:
                    for k in keys[n:]:
                        v = get_path(v, k, env.ctl)
                    return v
        v = fbase(env)
        for k in keys:
            v = get_path(v, k, env.ctl)
        return v

    return name_path


def get_path(v: Any, key: str, ctl: Ctl) -> Any:
    t = type(v)
    if t is dict:
        r = v.get(key, MISSING)
        if r is MISSING:
            keys = ", ".join(f"'{k}'" for k in v) if v else ""
            detail = f"Available keys: {keys}" if v else "The context is empty"
            ctl.warn(f"No context entry found with key '{key}'. {detail}")
            return None
        return r
    if t is list:
        return [get_path(i, key, ctl) for i in v]
    if v is None:
        ctl.warn(f"No context entry found with key '{key}'. The context is null")
        return None
    props = properties(v)
    if props is not None and key in props:
        return props[key]
    names = ", ".join(f"'{k}'" for k in (props or {}))
    ctl.warn(f"No property found with name '{key}' of value '{repr_value(v)}'. Available properties: {names}")
    return None


def properties(v: Any) -> dict[str, Any] | None:
    t = type(v)
    if t is dt.date:
        return {"year": Decimal(v.year), "month": Decimal(v.month), "day": Decimal(v.day),
                "weekday": Decimal(v.isoweekday())}  # fmt: skip
    if t is dt.datetime or t is dt.time:
        props: dict[str, Any] = {}
        if t is dt.datetime:
            props.update(year=Decimal(v.year), month=Decimal(v.month), day=Decimal(v.day),
                         weekday=Decimal(v.isoweekday()))  # fmt: skip
        props.update(hour=Decimal(v.hour), minute=Decimal(v.minute), second=Decimal(v.second))
        if v.tzinfo is None:
            props["time offset"] = None
            props["timezone"] = None
        else:
            off = v.utcoffset() if t is dt.datetime else time_offset(v)
            props["time offset"] = off
            props["timezone"] = getattr(v.tzinfo, "key", None)
        return props
    if t is dt.timedelta:
        total_us = (v.days * 86400 + v.seconds) * 1_000_000 + v.microseconds
        sign = -1 if total_us < 0 else 1
        secs = abs(total_us) // 1_000_000
        return {
            "days": Decimal(sign * (secs // 86400)),
            "hours": Decimal(sign * (secs // 3600 % 24)),
            "minutes": Decimal(sign * (secs // 60 % 60)),
            "seconds": Decimal(sign * (secs % 60)),
        }
    if t is YearMonthDuration:
        return {"years": Decimal(v.years_part), "months": Decimal(v.months_part)}
    if t is Range:
        return {"start": v.start, "end": v.end, "start included": v.start_included,
                "end included": v.end_included}  # fmt: skip
    return None


def _c_filter(node: Node) -> Fn:
    fl = compile_node(node[2])
    fnode = node[3]
    is_const, c = const_value(fnode)
    if is_const and type(c) is Decimal:
        chain = _name_chain(node[2])
        if chain is not None:
            # items[1] on an engine variable: convert the one item, not the whole list
            name, keys = chain[0][2], chain[1]

            def raw_index_filter(env: Env) -> Any:
                raw = _raw(env, name, keys)
                if type(raw) is list:
                    return to_feel(_index(raw, c, env.ctl))
                return _index(fl(env), c, env.ctl)

            return raw_index_filter

        def index_filter(env: Env) -> Any:
            return _index(fl(env), c, env.ctl)

        return index_filter
    ff = compile_node(fnode)

    def filter_(env: Env) -> Any:
        items = fl(env)
        if type(items) is not list:
            if items is None:
                return None
            # a single value filters like a list of one item (DMN 1.5 10.3.2.5)
            items = [items]
        if not items:
            return []
        ctl = env.ctl
        ctl.spend(len(items))
        out = []
        # one scope object for all items: the predicate's result cannot keep a reference to it
        scope_env = Env(EMPTY, env, env.root, ctl)
        for n, item in enumerate(items):
            # entries of a context item shadow the name "item" (as in Camunda FEEL)
            scope_env.vars = {"item": item, **item} if type(item) is dict else {"item": item}
            r = ff(scope_env)
            if n == 0 and type(r) is Decimal:
                return _index(items, r, ctl)
            if r is True:
                out.append(item)
        return out

    return filter_


def _index(items: Any, index: Decimal, ctl: Ctl) -> Any:
    if type(items) is not list:
        if items is None:
            return None
        items = [items]
    try:
        i = int(index)
    except (ValueError, OverflowError):
        return None
    n = len(items)
    if i > 0 and i <= n:
        return items[i - 1]
    if i < 0 and -i <= n:
        return items[n + i]
    return None


# ---------------------------------------------------------------------------------------------
# iteration


def _iterable(v: Any, ctl: Ctl) -> list[Any] | None:
    if type(v) is list:
        return v
    if type(v) is Range and v.start is not None and v.end is not None:
        if compare("<=", v.start, v.end, ctl) is not True:
            ctl.warn(f"Can't iterate over the range '{repr_value(v)}'")
            return None
        return _range_items(v.start, v.end, ctl, v.start_included, v.end_included)
    if v is None:
        ctl.warn("Expected list but found 'null'")
        return None
    ctl.warn(f"Expected list but found '{repr_value(v)}'")
    return None


def _range_items(a: Any, b: Any, ctl: Ctl, start_incl: bool = True, end_incl: bool = True) -> list[Any] | None:
    if type(a) is Decimal and type(b) is Decimal:
        if a != a.to_integral_value() or b != b.to_integral_value():
            ctl.warn(f"Expected integer bounds but found '{a}' and '{b}'")
            return None
        lo, hi = int(a), int(b)
        step = 1 if hi >= lo else -1
        count = abs(hi - lo) + 1
        ctl.spend(count)
        items = [Decimal(i) for i in range(lo, hi + step, step)]
    elif type(a) is dt.date and type(b) is dt.date:
        days = (b - a).days
        step = 1 if days >= 0 else -1
        ctl.spend(abs(days) + 1)
        items = [a + dt.timedelta(days=i) for i in range(0, days + step, step)]
    else:
        ctl.warn(f"Can't iterate from '{repr_value(a)}' to '{repr_value(b)}'")
        return None
    if not start_incl and items:
        items = items[1:]
    if not end_incl and items:
        items = items[:-1]
    return items


def _compile_iterators(its: list[tuple[str, Node]]) -> list[tuple[str, Callable[[Env], list[Any] | None]]]:
    out = []
    for name, node in its:
        if node[0] == "iter_range":
            fa, fb = compile_node(node[2]), compile_node(node[3])

            def source(env: Env, fa: Fn = fa, fb: Fn = fb) -> list[Any] | None:
                return _range_items(fa(env), fb(env), env.ctl)

        else:
            fl = compile_node(node)

            def source(env: Env, fl: Fn = fl) -> list[Any] | None:
                return _iterable(fl(env), env.ctl)

        out.append((name, source))
    return out


def _bindings(iterators: list[Any], env: Env, depth: int = 0) -> Any:
    """Yields the scopes of the cartesian product; later iterators may use earlier variables."""
    name, source = iterators[depth]
    items = source(env)
    if items is None:
        raise _NoList()
    for item in items:
        scope = env.child({name: item})
        if depth + 1 == len(iterators):
            yield scope
        else:
            yield from _bindings(iterators, scope, depth + 1)


class _NoList(Exception):
    pass


def _uses_name(node: Any, name: str) -> bool:
    if isinstance(node, tuple):
        if len(node) >= 3 and node[0] == "name" and node[2] == name:
            return True
        return any(_uses_name(n, name) for n in node)
    if isinstance(node, list):
        return any(_uses_name(n, name) for n in node)
    return False


def _uses_input(node: Any) -> bool:
    if isinstance(node, tuple):
        if node and node[0] == "input":
            return True
        if node and node[0] == "in":
            # '?' inside a nested 'in' refers to that test's own input
            return _uses_input(node[2])
        return any(_uses_input(n) for n in node)
    if isinstance(node, list):
        return any(_uses_input(n) for n in node)
    return False


def _c_for(node: Node) -> Fn:
    iterators = _compile_iterators(node[2])
    body = compile_node(node[3])
    # copying the results so far into "partial" costs O(n) per item: only when the body uses it
    with_partial = _uses_name(node[3], "partial")

    def for_(env: Env) -> Any:
        results: list[Any] = []
        ctl = env.ctl
        try:
            for scope in _bindings(iterators, env):
                ctl.spend(1)
                if with_partial:
                    ctl.spend(len(results))
                    scope.vars["partial"] = list(results)
                results.append(body(scope))
        except _NoList:
            return None
        return results

    return for_


def _c_quantified(node: Node) -> Fn:
    every = node[0] == "every"
    iterators = _compile_iterators(node[2])
    cond = compile_node(node[3])

    def quantified(env: Env) -> Any:
        ctl = env.ctl
        result: Any = every
        try:
            for scope in _bindings(iterators, env):
                ctl.spend(1)
                r = cond(scope)
                if r is (not every):
                    return not every
                if r is not every:
                    result = None
        except _NoList:
            return None
        return result

    return quantified


# ---------------------------------------------------------------------------------------------
# functions


def _c_fdef(node: Node) -> Fn:
    params = [p for p, _ in node[2]]
    # parameter types FEEL does not know (DMN item definitions) are not checked here
    checks = [(p, t[2], _type_check(t)) for p, t in node[2] if t is not None and _is_known_type(t)]
    body = compile_node(node[3])

    def define(env: Env) -> Any:
        def invoke(ctl: Ctl, *args: Any) -> Any:
            bound = dict(zip(params, args, strict=False))
            for p, tname, check in checks:
                v = bound.get(p)
                if v is not None and not check(v):
                    raise rt.InvocationFailure(f"parameter '{p}' expects {tname} but found '{repr_value(v)}'")
            scope = Env(bound, env, env.root, ctl)
            return body(scope)

        return FeelFunction("anonymous function", params, invoke, user=True)

    return define


def _c_external(node: Node) -> Fn:
    params = list(node[2])

    def define(env: Env) -> Any:
        def invoke(ctl: Ctl, *args: Any) -> Any:
            raise rt.InvocationFailure("external functions are not supported")

        return FeelFunction("external function", params, invoke, user=True)

    return define


_FOLDABLE = frozenset({"date", "time", "date and time", "duration"})


def _c_call(node: Node) -> Fn:
    _, _, fnode, args, named = node
    if fnode[0] == "name" and fnode[2] in _FOLDABLE and not named and len(args) == 1 and args[0][0] == "str":
        # date("2026-01-01"), duration("P90D"): the same value on every evaluation
        value = BUILTINS[fnode[2]][0].invoke(None, args[0][2])
        if value is not None:
            return _c_const(("const", node[1], value))
    if named:
        fargs_named = [(k, compile_node(a)) for k, a in args]
    else:
        fargs = [compile_node(a) for a in args]
    resolve = _function_resolver(fnode)

    if named:

        def call_named(env: Env) -> Any:
            values = {k: f(env) for k, f in fargs_named}
            candidates, name = resolve(env)
            if candidates is None:
                return None
            for fn in candidates:
                bound = rt.bind_named(fn, values)
                if bound is not None:
                    return _invoke(env.ctl, fn, name, bound)
            env.ctl.warn(f"No function found with name '{name}' and parameters {', '.join(values)}")
            return None

        return call_named

    n = len(fargs)

    def call_positional(env: Env) -> Any:
        values = [f(env) for f in fargs]
        candidates, name = resolve(env)
        if candidates is None:
            return None
        for fn in candidates:
            total = len(fn.params)
            if fn.varargs or total - fn.optional <= n <= total:
                return _call_fn(env.ctl, fn, name, values)
        env.ctl.warn(f"No function found with name '{name}' and {n} parameters")
        return None

    return call_positional


def _call_fn(ctl: Ctl, fn: FeelFunction, name: str, values: list[Any]) -> Any:
    if fn.name != name and fn.user:
        fn = FeelFunction(name, fn.params, fn.invoke, fn.optional, fn.varargs, fn.user)
    return rt.call(ctl, fn, values)


def _invoke(ctl: Ctl, fn: FeelFunction, name: str, values: list[Any]) -> Any:
    if fn.name != name and fn.user:
        fn = FeelFunction(name, fn.params, fn.invoke, fn.optional, fn.varargs, fn.user)
    return rt.invoke(ctl, fn, values)


def _function_resolver(fnode: Node) -> Callable[[Env], tuple[list[FeelFunction] | None, str]]:
    if fnode[0] == "name":
        name = fnode[2]
        builtin = BUILTINS.get(name)
        if builtin is not None:

            def resolve_builtin(env: Env) -> tuple[list[FeelFunction] | None, str]:
                if env.parent is not None:
                    v = rt.lookup_local(env, name)
                    if type(v) is FeelFunction:
                        return [v], name
                return builtin, name

            return resolve_builtin

        def resolve_name(env: Env) -> tuple[list[FeelFunction] | None, str]:
            v = lookup(env, name)
            if type(v) is FeelFunction:
                return [v], name
            if v is MISSING or v is None:
                env.ctl.warn(f"No function found with name '{name}'")
            else:
                env.ctl.warn(f"Expected function but found '{repr_value(v)}'")
            return None, name

        return resolve_name

    ff = compile_node(fnode)
    label = fnode[3] if fnode[0] == "path" else "anonymous function"

    def resolve_value(env: Env) -> tuple[list[FeelFunction] | None, str]:
        v = ff(env)
        if type(v) is FeelFunction:
            return [v], label
        env.ctl.warn(f"Expected function but found '{repr_value(v)}'")
        return None, label

    return resolve_value


_COMPILERS: dict[str, Callable[[Node], Fn]] = {
    "num": _c_const,
    "str": _c_const,
    "bool": _c_const,
    "null": _c_const,
    "const": _c_const,
    "name": _c_name,
    "input": _c_input,
    "list": _c_list,
    "context": _c_context,
    "range": _c_range,
    "open_range": _c_open_range,
    "neg": _c_neg,
    "arith": _c_arith,
    "cmp": _c_cmp,
    "and": _c_and,
    "or": _c_or,
    "between": _c_between,
    "if": _c_if,
    "in": _c_in,
    "ut_cmp": _c_ut_cmp,
    "instance": _c_instance,
    "path": _c_path,
    "filter": _c_filter,
    "for": _c_for,
    "some": _c_quantified,
    "every": _c_quantified,
    "fdef": _c_fdef,
    "external": _c_external,
    "call": _c_call,
}
