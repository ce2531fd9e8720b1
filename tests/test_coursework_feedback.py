"""Feedback a student meets when their backward is wrong: errors that name the op and input."""

import numpy as np
import pytest

from tinygrad_lm.autograd import Function
from tinygrad_lm.tensor import Tensor, apply


class _WrongShape(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad  # (4, 4) for inputs (4, 3) and (3, 4)


class _WrongCount(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, grad):
        return grad  # one gradient for two inputs


def _inputs():
    rng = np.random.default_rng(0)
    return (Tensor(rng.standard_normal((4, 3)), requires_grad=True),
            Tensor(rng.standard_normal((3, 4)), requires_grad=True))


def test_a_gradient_of_the_wrong_shape_names_the_op_the_input_and_both_shapes():
    a, b = _inputs()
    with pytest.raises(RuntimeError, match=r"_WrongShape\.backward returned a gradient of shape "
                                           r"\(4, 4\) for input 0 of shape \(4, 3\)"):
        apply(_WrongShape, a, b).sum().backward()


def test_the_wrong_number_of_gradients_is_an_error_not_a_silent_zero():
    a, _ = _inputs()
    c = Tensor(np.ones((4, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"_WrongCount\.backward returned 1 gradient\(s\) "
                                           r"for 2 input\(s\)"):
        apply(_WrongCount, a, c).sum().backward()


def test_a_broadcast_gradient_still_fits_its_input():
    a = Tensor(np.ones((1, 3)), requires_grad=True)
    b = Tensor(np.ones((4, 3)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (1, 3) and np.all(a.grad == 4)


# ---- tasks with a second region: the reference kernel that would give the task away -------
@pytest.mark.a2_5
@pytest.mark.parametrize("n_in, n_out", [(4, 3), (5, 5)])  # a square W hides a transpose's shape
def test_reference_linear_backward_is_the_matmul_rule(n_in, n_out):
    """Task 2.5 also covers the NumPy linear kernel: dx = dy W^T, dW = x^T dy, db = sum dy."""
    from tinygrad_lm.kernels import reference
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((6, n_in)), rng.standard_normal((n_in, n_out))
    gy = rng.standard_normal((6, n_out))
    dx, dw, db = reference.linear_backward(x, w, gy)
    np.testing.assert_allclose(dx, np.einsum("no,io->ni", gy, w),
                               err_msg="reference.linear_backward: dx must be dy @ W.T, (N, in)")
    assert np.shape(dw) == w.shape, (f"reference.linear_backward: dW has shape {np.shape(dw)}, "
                                     f"W has {w.shape}; dW = x.T @ dy is (in, out) like W")
    np.testing.assert_allclose(dw, np.einsum("ni,no->io", x, gy),
                               err_msg="reference.linear_backward: dW must be x.T @ dy "
                                       "(dy.T @ x is its transpose)")
    np.testing.assert_allclose(db, gy.sum(axis=0))
