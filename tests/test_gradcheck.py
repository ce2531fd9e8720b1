"""gradcheck itself: it must catch wrong backward passes and refuse meaningless checks."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.autograd import Function


class _ScaledWrongTanh(Function):
    """tanh whose backward is off by 1%: the bug gradcheck must catch. (The leading underscore
    keeps it out of the op registry's coverage check.)"""

    @staticmethod
    def forward(ctx, a):
        y = np.tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return 1.01 * g * (1 - y * y)


def _wrong(x):
    return tg.apply(_ScaledWrongTanh, x)


def x64(*shape):
    return tg.Tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True,
                     dtype=np.float64)


def test_passes_on_correct_op_and_reports_errors():
    result = tg.gradcheck(lambda a: a.tanh(), [x64(3, 2)])
    assert result.passed and result.max_abs_error[0] < 1e-8


def test_wrong_backward_is_caught_with_element_named():
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(_wrong, [x64(2, 3)])
    msg = str(info.value)
    assert "_wrong" in msg and "input 0 at element (" in msg
    assert "numerical" in msg and "analytical" in msg and "mismatched" in msg


def test_wrong_backward_caught_in_fast_mode_and_without_raising():
    with pytest.raises(tg.GradcheckError, match="direction"):
        tg.gradcheck(_wrong, [x64(4)], mode="fast")
    result = tg.gradcheck(_wrong, [x64(4)], raise_exception=False)
    assert not result.passed and "analytical" in result.message


def test_float32_input_is_refused_unless_allowed():
    x = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="input 0 is float32.*float64"):
        tg.gradcheck(lambda a: a * 2.0, [x])
    assert tg.gradcheck(lambda a: a * 2.0, [x], allow_float32=True).passed


def test_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda a: a * 2.0, [tg.Tensor(np.ones(2))])


def test_function_changing_its_input_is_reported():
    def sneaky(a):
        a.data[0] += 1.0
        return a * 2.0

    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(sneaky, [x64(3)])


def test_tuple_outputs_are_checked():
    result = tg.gradcheck(lambda a, b: (a * b, a.exp()), [x64(3), x64(3)])
    assert set(result.max_abs_error) == {0, 1}
