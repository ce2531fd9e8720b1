"""Every differentiable op is gradient-checked in float64, under every kernel backend."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.autograd import FUNCTION_REGISTRY

from .op_table import CASES, NO_GRADIENT

# Coursework: the rows that grade each backward-pass task (see tinygrad_lm/course/assignments).
TASK_OF_OP = {"mul": "a2_1", "div": "a2_2", "sum": "a2_3", "mean": "a2_3", "var": "a2_3",
              "max": "a2_4", "min": "a2_4", "matmul": "a2_5", "getitem": "a2_6"}


def _with_marks(cases):
    out = []
    for case in cases:
        marks = [getattr(pytest.mark, TASK_OF_OP[op]) for op in sorted(case[1])
                 if op in TASK_OF_OP]
        out.append(pytest.param(case, marks=marks, id=case[0]))
    return out


@pytest.mark.parametrize("case", _with_marks(CASES))
def test_gradcheck(case, backend):
    _, _, fn, makers = case
    rng = np.random.default_rng(0)
    inputs = [m(rng) for m in makers]
    tg.gradcheck(fn, inputs)


# Task 2.5 also owns the NumPy linear kernel (kernels/reference.py linear_backward), which the
# fused Linear and LinearGelu ops run under the numpy backend.
LINEAR_CASES = [c for c in CASES if c[1] & {"linear", "lineargelu"}]


@pytest.mark.a2_5
@pytest.mark.parametrize("case", LINEAR_CASES, ids=[c[0] for c in LINEAR_CASES])
def test_gradcheck_reference_linear_kernels(case):
    _, _, fn, makers = case
    inputs = [m(np.random.default_rng(2)) for m in makers]
    with tg.use_backend("numpy"):
        tg.gradcheck(fn, inputs)


@pytest.mark.parametrize("case", CASES[::4], ids=[c[0] for c in CASES[::4]])
def test_gradcheck_fast_mode(case):
    _, _, fn, makers = case
    inputs = [m(np.random.default_rng(1)) for m in makers]
    tg.gradcheck(fn, inputs, mode="fast")


def test_every_op_has_a_gradcheck():
    covered = set().union(*(c[1] for c in CASES + NO_GRADIENT))
    missing = set(FUNCTION_REGISTRY) - covered
    assert not missing, f"ops without a gradcheck row in tests/op_table.py: {sorted(missing)}"


@pytest.mark.parametrize("case", NO_GRADIENT, ids=[c[0] for c in NO_GRADIENT])
def test_ops_without_a_gradient_raise_in_backward(case, backend):
    _, _, fn, makers = case
    inputs = [m(np.random.default_rng(0)) for m in makers]
    out = fn(*inputs)
    assert out.requires_grad  # recorded in the graph, so backward reaches the op
    with pytest.raises(RuntimeError, match="inference"):
        out.sum().backward()
