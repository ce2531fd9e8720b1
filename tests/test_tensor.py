"""Tensor construction, dtypes, forward results against NumPy, and property tests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lm as tg


def test_dtype_rules():
    assert tg.Tensor([1.0, 2.0]).dtype == np.float32
    assert tg.Tensor(np.zeros(2)).dtype == np.float64  # an ndarray keeps its dtype
    assert tg.Tensor([1, 2]).dtype.kind == "i"
    assert tg.Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert tg.zeros(2, 3).dtype == np.float32 and tg.zeros(2, 3).shape == (2, 3)
    assert tg.ones((2,), dtype=np.float64).dtype == np.float64
    x = tg.Tensor(np.ones(2, dtype=np.float64))
    assert (x * 2.5).dtype == np.float64 and (tg.Tensor([1.0]) * 2.5).dtype == np.float32


def test_creators_and_accessors():
    a = tg.randn(3, 4, seed=0)
    b = tg.randn(3, 4, seed=0)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.ndim == 2 and a.size == 12 and len(a) == 3
    assert tg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert tg.tensor([[2.0]]).item() == 2.0
    with pytest.raises(ValueError, match="one element"):
        tg.ones(2).item()
    arr = np.arange(3.0)
    assert tg.from_numpy(arr).data is arr
    assert "requires_grad=True" in repr(tg.ones(2, requires_grad=True))


def test_only_float_tensors_require_grad():
    with pytest.raises(TypeError, match="floating point"):
        tg.Tensor([1, 2], requires_grad=True)


def test_forward_matches_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4,))
    A, B = tg.Tensor(a), tg.Tensor(b)
    np.testing.assert_allclose((A + B).data, a + b)
    np.testing.assert_allclose((A - B).data, a - b)
    np.testing.assert_allclose((A * B).data, a * b)
    np.testing.assert_allclose((A / (B.data ** 2 + 1)).data, a / (b ** 2 + 1))
    np.testing.assert_allclose((A @ B).data, a @ b)
    np.testing.assert_allclose(A.sum(axis=(0, 2)).data, a.sum(axis=(0, 2)))
    np.testing.assert_allclose(A.mean(axis=1, keepdims=True).data, a.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(A.max(axis=-1).data, a.max(axis=-1))
    np.testing.assert_allclose(A.min().data, a.min())
    # var and std default to PyTorch's correction=1 (NumPy's ddof=0 is correction=0)
    np.testing.assert_allclose(A.var(axis=0).data, a.var(axis=0, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(A.var(axis=0, correction=0).data, a.var(axis=0), rtol=1e-6)
    np.testing.assert_allclose(A.std(axis=-1).data, a.std(axis=-1, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(A.exp().data, np.exp(a))
    np.testing.assert_allclose(A.tanh().data, np.tanh(a))
    np.testing.assert_allclose(A.sigmoid().data, 1 / (1 + np.exp(-a)))
    np.testing.assert_allclose(A.relu().data, np.maximum(a, 0))
    np.testing.assert_allclose(A.permute(2, 0, 1).data, a.transpose(2, 0, 1))
    np.testing.assert_allclose(A.reshape(6, -1).data, a.reshape(6, -1))
    np.testing.assert_allclose(A[1, :, ::2].data, a[1, :, ::2])
    np.testing.assert_allclose(tg.cat([A, A], axis=1).data, np.concatenate([a, a], axis=1))
    np.testing.assert_allclose(tg.stack([A, A]).data, np.stack([a, a]))
    s = np.exp(a - a.max(-1, keepdims=True))
    np.testing.assert_allclose(A.softmax().data, s / s.sum(-1, keepdims=True))
    assert (A > 0).dtype == bool and ((A > 0).data == (a > 0)).all()


def test_split_sizes():
    parts = tg.arange(7).split(3)
    assert [p.tolist() for p in parts] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="do not add up"):
        tg.arange(7).split([3, 3])


def test_max_ties_share_gradient():
    x = tg.Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True, dtype=np.float64)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.5, 0.5, 0.0])


def test_relu_subgradient_at_zero_is_zero():
    x = tg.Tensor([-1.0, 0.0, 2.0], requires_grad=True, dtype=np.float64)
    x.relu().sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0])


def test_stable_softmax_and_masked_rows():
    x = tg.Tensor(np.array([[1e4, -1e4, 0.0]]), dtype=np.float64)
    assert np.isfinite(x.softmax().data).all()
    assert np.isfinite(x.log_softmax().data).all()
    scores = tg.Tensor(np.full((1, 2, 3), -np.inf), requires_grad=True, dtype=np.float64)
    y = tg.functional.softmax(scores)
    np.testing.assert_array_equal(y.data, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(scores.grad, 0.0)


def test_getitem_with_tensor_index_and_repeats():
    w = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True, dtype=np.float64)
    idx = tg.Tensor(np.array([2, 2, 0]))
    w[idx].sum().backward()
    np.testing.assert_allclose(w.grad, [[1, 1], [0, 0], [2, 2]])


def test_dropout_is_seeded_and_inert_when_not_training():
    x = tg.ones(1000)
    a = tg.functional.dropout(x, 0.5, seed=3)
    b = tg.functional.dropout(x, 0.5, seed=3)
    np.testing.assert_array_equal(a.data, b.data)
    assert set(np.unique(a.data)) <= {0.0, 2.0} and 0.4 < (a.data == 0).mean() < 0.6
    assert tg.functional.dropout(x, 0.5, training=False) is x


broadcastable = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                  max_side=4)


@settings(max_examples=40, deadline=None)
@given(shapes=broadcastable, op=st.sampled_from(["add", "sub", "mul"]), seed=st.integers(0, 99))
def test_property_broadcast_ops_forward_and_grad(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.standard_normal(shapes.input_shapes[1])
    A = tg.Tensor(a, requires_grad=True, dtype=np.float64)
    B = tg.Tensor(b, requires_grad=True, dtype=np.float64)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y}[op]
    np.testing.assert_allclose(fn(A, B).data, fn(a, b))
    tg.gradcheck(fn, [A, B])


@settings(max_examples=40, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(),
       op=st.sampled_from(["sum", "mean", "var"]), keepdims=st.booleans())
def test_property_reductions(shape, data, op, keepdims):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    a = np.random.default_rng(0).standard_normal(shape)
    A = tg.Tensor(a, requires_grad=True, dtype=np.float64)
    extra = {"correction": 0} if op == "var" else {}  # NumPy's var: correction 0
    ours = getattr(A, op)(axis=axis, keepdims=keepdims, **extra)
    np.testing.assert_allclose(ours.data, getattr(np, op)(a, axis=axis, keepdims=keepdims))
    tg.gradcheck(lambda x: getattr(x, op)(axis=axis, keepdims=keepdims, **extra), [A])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 5), data=st.data())
def test_property_getitem_index_arrays(n, data):
    idx = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)))
    a = np.random.default_rng(1).standard_normal((n, 2))
    A = tg.Tensor(a, requires_grad=True, dtype=np.float64)
    np.testing.assert_allclose(A[idx].data, a[idx])
    tg.gradcheck(lambda x: x[idx], [A])
