"""The corner cases that once gave wrong answers, with PyTorch's answers written out (so they
run without PyTorch), and the deliberate differences from PyTorch, each pinned by a test.
docs/pytorch-differences.md lists the differences."""

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F


def T(v):
    return tg.Tensor(np.array(v, dtype=np.float64), requires_grad=True)


def grad_of(fn, x):
    fn(x).sum().backward()
    return x.grad


def test_pow_corners_give_pytorchs_gradients():
    assert grad_of(lambda x: x ** 0.0, T([0.0])).tolist() == [0.0]
    assert grad_of(lambda y: tg.Tensor(np.array([0.0])) ** y, T([0.3])).tolist() == [0.0]
    assert grad_of(lambda x: 0 ** x, T([-1.0, 0.0, 1.0, 2.0])).tolist() == [-np.inf, 0, 0, 0]


def test_an_index_tuple_holding_a_tuple_accumulates():
    y = T(np.arange(6.0).reshape(2, 3))
    assert grad_of(lambda t: t[(0, 0),], y).tolist() == [[2, 2, 2], [0, 0, 0]]


def test_zero_d_reductions_over_axis_0_and_minus_1():
    s = T(1.5)
    for out in (s.sum(0), s.sum(-1), s.mean(0), s.max(0), s.prod(0), s.sum((0,))):
        assert out.shape == () and out.item() == 1.5
    with pytest.raises(ValueError, match="axis 1 is out of range"):
        s.sum(1)


def test_clone_is_what_the_inplace_error_suggests():
    a = T([1.0, 2.0])
    b = a * 2.0
    c = b.clone()
    with tg.no_grad():
        c += 1.0
    assert b.tolist() == [2.0, 4.0] and c.tolist() == [3.0, 5.0]
    (c * c).sum().backward()
    assert a.grad.tolist() == [12.0, 20.0]  # d/da (2a + 1)^2 = 4 (2a + 1)


def test_concatenating_0d_tensors_points_at_stack():
    a = tg.Tensor(1.0)
    with pytest.raises(ValueError, match="0-d tensors.*use stack"):
        tg.cat([a, a])
    assert tg.stack([a, a]).tolist() == [1.0, 1.0]


def test_var_and_std_default_to_pytorchs_correction_1():
    x = T([1.0, 2.0, 4.0])
    assert np.isclose(x.var().item(), np.var(x.data, ddof=1))
    assert np.isclose(x.std().item(), np.std(x.data, ddof=1))
    assert np.isclose(x.var(correction=0).item(), np.var(x.data))


def test_ints_select_before_index_arrays_as_pytorch():
    x = tg.Tensor(np.arange(24.0).reshape(2, 3, 4))
    idx = np.array([0, 3, 3, 1, 2])
    assert x[1, :, idx].shape == (3, 5)  # NumPy: (5, 3)
    np.testing.assert_array_equal(x[1, :, idx].data, x.data[1][:, idx])
    assert x[idx[:2] % 2, 1].shape == (2, 4)  # adjacent: NumPy and PyTorch agree


def test_argmax_has_no_gradient_and_says_so():
    x = T([1.0, 3.0, 2.0])
    i = x.argmax()
    assert i.item() == 1 and i.dtype.kind == "i" and not i.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        i.backward()
    with pytest.raises(TypeError, match="floating point"):
        i.requires_grad_()


def test_corner_gradients_pytorch_defines():
    assert grad_of(lambda x: x.abs(), T([0.0, -2.0])).tolist() == [0.0, -1.0]
    assert grad_of(lambda x: x.round() + x.floor() + x.sign(), T([0.5, 1.0])).tolist() == [0, 0]
    assert grad_of(lambda x: x.clamp(0.0, 1.0), T([0.0, 1.0, 2.0])).tolist() == [1, 1, 0]
    assert grad_of(lambda x: F.relu6(x), T([0.0, 6.0, 3.0])).tolist() == [0, 0, 1]
    assert grad_of(lambda x: F.leaky_relu(x, 0.1), T([0.0])).tolist() == [0.1]
    assert grad_of(lambda x: F.hardswish(x), T([-3.0, 3.0])).tolist() == [0.0, 1.0]
    assert grad_of(lambda x: x.maximum(T([1.0])), T([1.0])).tolist() == [0.5]
    assert grad_of(lambda x: x.std(), T([2.0, 2.0])).tolist() == [0.0, 0.0]
    assert grad_of(lambda x: x.prod(), T([0.0, 2.0, 3.0])).tolist() == [6.0, 0.0, 0.0]
    assert grad_of(lambda x: x.cumprod(0), T([2.0, 0.0, 3.0])).tolist() == [1.0, 8.0, 0.0]
    assert np.isfinite(grad_of(lambda x: F.elu(x), T([1000.0]))).all()
    assert grad_of(lambda x: F.softplus(x), T([0.0])).tolist() == [0.5]


def test_binary_cross_entropy_target_gradient_is_finite_at_the_clamp():
    """A deliberate difference: PyTorch's gradient for the target at p = 0 or 1 is inf (the
    logs unclamped); this is the exact derivative of the loss as computed, logs clamped at
    -100."""
    y = T([1.0, 0.0])
    F.binary_cross_entropy(tg.Tensor(np.array([0.0, 1.0])), y, reduction="sum").backward()
    assert y.grad.tolist() == [100.0, -100.0]


def test_cross_entropy_with_every_target_ignored_is_0():
    """A deliberate difference: PyTorch's mean over no targets is NaN; here it is 0 (a batch
    of padding contributes nothing), in both the fused and the composed paths."""
    logits = T(np.zeros((2, 3)))
    for kwargs in ({}, {"label_smoothing": 0.1}):
        loss = F.cross_entropy(logits, np.array([-100, -100]), **kwargs)
        assert loss.item() == 0.0


def test_arange_of_floats_is_float32_as_pytorch():
    assert tg.arange(5).dtype == np.int64
    assert tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert tg.arange(3, dtype=np.float64).dtype == np.float64


def test_creation_helpers():
    assert tg.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert tg.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    x = tg.Tensor(np.ones((2, 2)))
    assert tg.full_like(x, 7).tolist() == [[7, 7], [7, 7]] and tg.full_like(x, 7).dtype == x.dtype
    assert tg.zeros_like(x, dtype=np.int32).dtype == np.int32
    assert F.one_hot(np.array([2, 0])).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert F.one_hot(np.array([1]), 4).dtype == np.int64


def test_errors_name_the_op_and_the_fix():
    x = T(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 3\)"):
        x.gather(1, np.array([[0, 3, 1], [0, 0, 0]]))
    with pytest.raises(ValueError, match="einsum.*'j' is 3 in one place and 2"):
        tg.einsum("ij,jk->ik", x, T(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="pad: reflect padding"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="reduction must be"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="expand: cannot expand"):
        x.expand(-1, 2, 3)
