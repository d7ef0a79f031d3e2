"""FEEL evaluation throughput: cached expressions against dict variables.

    .venv/bin/python load/bench_feel.py [--seconds 0.5] [--runs 7]

Prints evaluations per second (median of several runs) for typical engine expressions. The
bar for the gateway condition is 200,000 evaluations/s on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.engine.dmn import evaluate_decision, parse_dmn
from services.engine.feel import compile_expression, compile_unary_tests

# a FIRST table of 20 rules over two inputs, the last rule matching
_RULES = "".join(
    f'<rule id="r{i}"><inputEntry><text>[{i * 100}..{i * 100 + 99}]</text></inputEntry>'
    f"<inputEntry><text>{'&quot;CN&quot;' if i % 2 else '-'}</text></inputEntry>"
    f"<outputEntry><text>&quot;r{i}&quot;</text></outputEntry></rule>"
    for i in range(20)
)
DMN = (
    '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="b" name="b" namespace="b">'
    '<decision id="d" name="d"><decisionTable hitPolicy="FIRST">'
    '<input id="i1"><inputExpression><text>amount</text></inputExpression></input>'
    '<input id="i2"><inputExpression><text>country</text></inputExpression></input>'
    f'<output id="o1" name="o"/>{_RULES}</decisionTable></decision></definitions>'
).encode()

CASES = [
    ("condition", 'x > 90 and status = "open"', {"x": 95, "status": "open", "other": [1, 2, 3]}),
    ("path", "order.customer.address.city", {"order": {"customer": {"address": {"city": "Beijing"}}}}),
    ("arithmetic mapping", "amount * 1.13 + fee", {"amount": 100.5, "fee": 3}),
    ("date + duration", 'date(start) + duration("P90D")', {"start": "2026-01-01"}),
    ("filter", "items[price > 10].name", {"items": [{"name": f"n{i}", "price": i} for i in range(20)]}),
    ("string function", 'upper case(name) + "-" + string(id)', {"name": "order", "id": 42}),
]


def rate(fn, seconds: float) -> float:
    n = 0
    batch = 1000
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=0.5, help="duration of one run")
    ap.add_argument("--runs", type=int, default=7, help="runs per expression; the median is printed")
    args = ap.parse_args()
    print(f"{'expression':<22} {'evals/s (median)':>17} {'us/eval':>8}  source")
    for label, source, variables in CASES:
        expr = compile_expression(source)
        expr.evaluate(variables)  # warm up, and fail early on a broken case

        def once(expr=expr, variables=variables):
            return expr.evaluate(variables)

        rates = [rate(once, args.seconds) for _ in range(args.runs)]
        med = statistics.median(rates)
        print(f"{label:<22} {med:>17,.0f} {1e6 / med:>8.2f}  {source}")
    tests = compile_unary_tests('< 10, [20..30], "a"')
    rates = [rate(lambda: tests.matches(25), args.seconds) for _ in range(args.runs)]
    med = statistics.median(rates)
    print(f"{'unary tests':<22} {med:>17,.0f} {1e6 / med:>8.2f}  < 10, [20..30], \"a\"")
    drg = parse_dmn(DMN, "bench.dmn")
    variables = {"amount": 1950, "country": "CN"}
    assert evaluate_decision(drg, "d", variables).output == "r19"
    rates = [rate(lambda: evaluate_decision(drg, "d", variables), args.seconds) for _ in range(args.runs)]
    med = statistics.median(rates)
    print(f"{'DMN table (20 rules)':<22} {med:>17,.0f} {1e6 / med:>8.2f}  FIRST, last rule matches")


if __name__ == "__main__":
    main()
