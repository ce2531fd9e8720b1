"""How a task's points are shared among its tests.

A task's points are split over its *checks* (test functions) in proportion to their weights,
and each check's share evenly over its cases (its parametrizations, fixture parameters
included):

    max_score(case of check f) = points * w_f / sum_g w_g / cases(f)

w_f is 1 unless the test function carries `@pytest.mark.weight(k)`. So parametrizing a check
over 28 more inputs makes each of its cases worth less, never the other checks, and a check
that catches one specific mistake keeps its share however many cases the others grow. Every
share is an exact fraction: the cases of a task sum to its points exactly, and a task's score
is the exact sum of its passing cases (floats appear only in the outputs, rounded only for
display).
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction


def check_of(test: dict) -> str:
    """The check (test function) a recorded test belongs to."""
    return test.get("check") or test["nodeid"].split("[", 1)[0]


def shares(tests: list[dict], points: int | float) -> list[Fraction]:
    """Each test's exact share of `points`, in the order given; they sum to `points`."""
    if not tests:
        return []
    cases = Counter(check_of(t) for t in tests)
    weight = {check_of(t): Fraction(t.get("weight", 1)) for t in tests}
    total = sum(weight.values())
    return [Fraction(points) * weight[check_of(t)] / total / cases[check_of(t)]
            for t in tests]


def fraction_text(x: Fraction) -> str:
    """An exact score as text, "127/8" or "15", for the JSON report."""
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
