"""Runs the DMN TCK FEEL test cases against our FEEL/DMN implementation.

    .venv/bin/python tools/feel_tck.py /tmp/tck/TestCases [--verbose] [--filter 1115]

Looks for ``*-feel-*`` folders below the given path (each holds a .dmn model and
``*-test-01.xml``), evaluates every result node and prints the pass rate separately for
cases expecting a value and cases expecting null or an error. The TCK itself is not part of
this repository: fetch it into a scratch folder first.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.engine.dmn import DmnError, evaluate_decision, parse_dmn
from services.engine.dmn.evaluator import _Evaluation
from services.engine.feel import runtime as rt
from services.engine.feel.temporal import parse_date, parse_datetime, parse_duration, parse_time
from services.engine.feel.values import repr_value, to_string

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# a fixed clock keeps now()/today() cases reproducible
CLOCK_MS = 1_700_000_000_000


class Untyped(str):
    """A TCK value without xsi:type: its meaning comes from the model's typeRef."""


_TYPED_READERS = {
    "number": lambda t: Decimal(t.strip()),
    "boolean": lambda t: t.strip() == "true",
    "date": lambda t: parse_date(t.strip()),
    "dateTime": lambda t: parse_datetime(t.strip()),
    "time": lambda t: parse_time(t.strip()),
}


def typed(value: Any, type_ref: str | None) -> Any:
    """Reads untyped input values with the input data's typeRef (other values pass)."""
    if isinstance(value, Untyped):
        reader = _TYPED_READERS.get((type_ref or "").split(":")[-1])
        if reader is not None:
            try:
                return reader(value)
            except (InvalidOperation, ValueError):
                return str(value)
        return str(value)
    if isinstance(value, list):
        return [typed(v, None) for v in value]
    if isinstance(value, dict):
        return {k: typed(v, None) for k, v in value.items()}
    return value


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def read_value(el: Element) -> Any:
    """A TCK value element (value / list / components) as a FEEL value."""
    values = _children(el, "value")
    lists = _children(el, "list")
    comps = _children(el, "component")
    if values:
        return _scalar(values[0])
    if lists:
        return [read_value(item) for item in _children(lists[0], "item")]
    if comps:
        return {c.get("name", ""): read_value(c) for c in comps}
    if el.get(XSI_NIL) == "true":
        return None
    return None


def _scalar(v: Element) -> Any:
    if v.get(XSI_NIL) == "true":
        return None
    inner_comps = _children(v, "component")
    if inner_comps:
        return {c.get("name", ""): read_value(c) for c in inner_comps}
    text = v.text or ""
    t = (v.get(XSI_TYPE) or "").split(":")[-1]
    if t in ("decimal", "double", "float", "int", "integer", "long", "short"):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return text
    if not t:
        return Untyped(text)
    if t == "boolean":
        return text.strip() == "true"
    if t == "date":
        return parse_date(text.strip())
    if t == "dateTime":
        return parse_datetime(text.strip())
    if t == "time":
        return parse_time(text.strip())
    if t in ("duration", "dayTimeDuration", "yearMonthDuration"):
        return parse_duration(text.strip())
    return text


def same(expected: Any, actual: Any) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, Untyped):
        # an untyped expected value is compared by its text
        return actual is not None and to_string(actual) == str(expected)
    if isinstance(expected, Decimal):
        if not isinstance(actual, Decimal):
            return False
        if expected == actual:
            return True
        # the TCK writes irrational results rounded (e.g. exp(4) as 54.59815003): accept ours when it
        # rounds to the expected value at the expected number of decimals, given enough digits
        exponent = expected.as_tuple().exponent
        if isinstance(exponent, int) and len(expected.as_tuple().digits) >= 8:
            try:
                return actual.quantize(Decimal(1).scaleb(exponent)) == expected
            except InvalidOperation:
                return False
        return False
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            same(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict):
        return isinstance(actual, dict) and expected.keys() == actual.keys() and all(
            same(expected[k], actual[k]) for k in expected
        )
    if type(expected) is not type(actual):
        return False
    return rt.equal(expected, actual) is True


def run_folder(folder: Path, verbose: bool) -> tuple[list[bool], list[bool]]:
    value_results: list[bool] = []
    null_results: list[bool] = []
    models = sorted(folder.glob("*.dmn"))
    tests = sorted(folder.glob("*-test-*.xml"))
    if not models or not tests:
        return value_results, null_results
    drgs = {}
    for m in models:
        try:
            drgs[m.name] = parse_dmn(m.read_bytes(), m.name, strict=False)
        except DmnError as e:
            drgs[m.name] = e
    for test_file in tests:
        root = SafeET.parse(str(test_file)).getroot()
        model_el = _children(root, "modelName")
        model_name = (model_el[0].text or "").strip() if model_el else models[0].name
        drg = drgs.get(model_name, next(iter(drgs.values())))
        types = {} if isinstance(drg, DmnError) else {i.name: i.type_ref for i in drg.input_data}
        for case in _children(root, "testCase"):
            variables = {
                n.get("name", ""): typed(read_value(n), types.get(n.get("name", "")))
                for n in _children(case, "inputNode")
            }
            case_type = case.get("type", "decision")
            for node in _children(case, "resultNode"):
                expected_el = _children(node, "expected")
                expected = read_value(expected_el[0]) if expected_el else None
                error_expected = node.get("errorResult") == "true" or expected is None
                actual, failure = _evaluate(drg, case, case_type, node.get("name", ""), variables)
                if error_expected:
                    ok = actual is None
                    null_results.append(ok)
                else:
                    ok = failure is None and same(expected, actual)
                    value_results.append(ok)
                if verbose and not ok:
                    print(
                        f"FAIL {folder.name} case {case.get('id')} node {node.get('name')}: "
                        f"expected {_show(expected)}{' (error)' if error_expected else ''}, "
                        f"got {_show(actual)}{f' [{failure}]' if failure else ''}"
                    )
    return value_results, null_results


def _show(v: Any) -> str:
    try:
        return repr_value(v)
    except Exception:
        return repr(v)


def _evaluate(drg: Any, case: Element, case_type: str, name: str, variables: dict[str, Any]) -> tuple[Any, str | None]:
    if isinstance(drg, DmnError):
        return None, str(drg)
    if case_type == "decisionService":
        invocable = case.get("invocableName", "")
        svc = next((s for s in drg.decision_services if s.name == invocable), None)
        if svc is None:
            return None, f"no decision service '{invocable}'"
        ev = _Evaluation(drg, variables, lambda: CLOCK_MS, True)
        fn = ev.service_function(svc)
        ctl = rt.Ctl(lambda: CLOCK_MS)
        args = [variables.get(p) for p in fn.params]
        result = rt.invoke(ctl, fn, args)
        if isinstance(result, dict) and name in result:
            return result[name], None
        return result, (ctl.warnings[0] if ctl.warnings and result is None else None)
    decision = drg.decision(name)
    if decision is None:
        return None, f"no decision '{name}'"
    result = evaluate_decision(drg, decision.id, variables, clock=lambda: CLOCK_MS, strict_types=True)
    if result.failed:
        return None, result.failure_message
    return result.value, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("testcases", type=Path, help="the TCK's TestCases folder")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every failing case")
    ap.add_argument("--filter", default="", help="only folders whose name contains this text")
    ap.add_argument("--all", action="store_true", help="every test folder, not only the *-feel-* ones")
    args = ap.parse_args(argv)
    pattern = "*" if args.all else "*-feel-*"
    folders = sorted(
        p for p in args.testcases.rglob(pattern) if p.is_dir() and args.filter in p.name and any(p.glob("*.dmn"))
    )
    if not folders:
        print(f"no {pattern} folders with a model below {args.testcases}", file=sys.stderr)
        return 2
    values: list[bool] = []
    nulls: list[bool] = []
    for folder in folders:
        v, n = run_folder(folder, args.verbose)
        values += v
        nulls += n
    def rate(xs: list[bool]) -> str:
        return f"{sum(xs)}/{len(xs)} ({100 * sum(xs) / len(xs):.1f}%)" if xs else "0/0"

    print(f"folders: {len(folders)}")
    print(f"value expected:      {rate(values)}")
    print(f"null/error expected: {rate(nulls)}")
    print(f"all:                 {rate(values + nulls)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
