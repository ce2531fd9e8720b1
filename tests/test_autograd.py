"""The autograd engine: accumulation, topological order, broadcasting, grad mode, safety."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.autograd import toposort, unbroadcast


def leaf(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True,
                     dtype=np.float64)


@pytest.mark.a1_2
def test_chain_rule_scalar():
    x = tg.Tensor(3.0, requires_grad=True, dtype=np.float64)
    y = x * x * x + 2.0 * x  # dy/dx = 3x^2 + 2 = 29
    y.backward()
    assert x.grad == pytest.approx(29.0)


@pytest.mark.a1_2
def test_gradients_accumulate_across_calls_and_uses():
    x = leaf(3)
    (x * 2.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 5.0))
    x.zero_grad()
    y = x + x + x  # used three times in one graph
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 3.0))


@pytest.mark.a1_3
def test_unbroadcast_sums_over_broadcast_axes():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (4,)).tolist() == [6.0] * 4
    assert unbroadcast(g, (3, 1)).shape == (3, 1)
    np.testing.assert_allclose(unbroadcast(g, (1, 3, 1)), np.full((1, 3, 1), 8.0))


@pytest.mark.a1_3
def test_broadcast_backward_shapes():
    a, b = leaf(3, 1), leaf(1, 4, seed=1)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (1, 4)
    np.testing.assert_allclose(a.grad[:, 0], b.data.sum() * np.ones(3))


@pytest.mark.a1_1
def test_deep_graph_has_no_recursion_limit():
    x = tg.Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(5000):
        y = y + 0.0001
    y.backward()
    assert x.grad == pytest.approx(1.0)


@pytest.mark.a1_1
def test_toposort_parents_first():
    a = leaf(2)
    b = a * 2.0
    c = b + a
    order = [id(t) for t in toposort(c)]
    assert order.index(id(a)) < order.index(id(b)) < order.index(id(c))


def test_no_grad_records_nothing_and_restores():
    x = leaf(2)
    with tg.no_grad():
        y = x * 2.0
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @tg.no_grad()
    def f(t):
        return t * 3.0

    assert not f(x).requires_grad


def test_graph_recorded_only_when_an_input_requires_grad():
    a = tg.Tensor([1.0, 2.0])
    assert (a * 2.0).is_leaf
    assert not (a * 2.0).requires_grad


def test_detach_cuts_the_graph():
    x = leaf(3)
    y = (x * 2.0).detach()
    assert not y.requires_grad
    z = (y * x).sum()
    z.backward()
    np.testing.assert_allclose(x.grad, y.data)


def test_non_scalar_backward_needs_grad():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*scalar"):
        (x * 2.0).backward()
    (x * 2.0).backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.grad, np.full((2, 3), 2.0))


def test_backward_grad_of_wrong_shape():
    x = leaf(2, 3)
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*\(2, 3\)"):
        (x * 2.0).backward(np.ones(3))


@pytest.mark.a1_2
def test_second_backward_through_freed_graph():
    x = leaf(3)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


@pytest.mark.a1_2
def test_retain_graph_allows_second_backward():
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).sum().backward()


def test_inplace_on_tensor_requiring_grad_is_refused():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="in place"):
        x += 1.0
    with tg.no_grad():
        x += 1.0  # parameter updates are allowed outside the graph
    assert x._version == 1


def test_inplace_change_of_saved_input_is_detected():
    w = leaf(3)
    x = tg.Tensor(np.ones(3))
    y = (w * x).sum()
    x *= 2.0  # x does not require grad, but Mul saved it for w's gradient
    with pytest.raises(RuntimeError, match=r"backward of Mul: input 1 .*modified in place"):
        y.backward()


def test_grad_dtype_follows_the_input_after_promotion():
    a = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(3, dtype=np.float64), requires_grad=True)
    c = a * b
    assert c.dtype == np.float64  # promoted, never downcast
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


@pytest.mark.a1_2
def test_intermediate_used_twice_diamond():
    x = leaf(4)
    h = x.tanh()
    y = (h * h + h).sum()  # dy/dx = (2h + 1)(1 - h^2)
    y.backward()
    h_ = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, (2 * h_ + 1) * (1 - h_ ** 2))


def test_only_the_tensor_writes_its_version_count():
    """Code that changes a tensor's data in place (optimizers, weight loading, cropping) calls
    Tensor._bump_version(); only tensor.py assigns _version."""
    import pathlib
    import re
    root = pathlib.Path(tg.__file__).parent
    writes = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py")
              if path.name != "tensor.py"
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if re.search(r"\._version\s*[-+]?=(?!=)", line)]
    assert not writes


def test_a_fresh_gradient_becomes_the_grad_without_a_copy_anything_shared_is_copied():
    """owned_gradient keeps the array an op's backward has just made (a pass over every
    parameter saved) and copies anything another name, a view or a read-only array holds."""
    from tinygrad_lm.autograd import owned_gradient

    def fresh():
        return np.ones(4)
    g = fresh()
    assert owned_gradient(g) is g
    held = np.ones(4)
    also = held  # noqa: F841 - a second reference
    assert owned_gradient(held) is not held
    base = np.ones(8)
    assert owned_gradient(base[:4]) is not base  # a view shares memory with its base
    v = base[:4]
    assert not np.shares_memory(owned_gradient(v), base)
    assert not np.shares_memory(owned_gradient(base), v)  # base is held by the view
    frozen = np.ones(4)
    frozen.flags.writeable = False
    assert owned_gradient(frozen).flags.writeable


def test_two_leaves_given_one_gradient_array_get_separate_grads():
    """Add's backward hands the same array to both inputs: accumulating into one leaf's .grad
    must not change the other's."""
    a, b = leaf(3, seed=1), leaf(3, seed=2)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1.0
    np.testing.assert_allclose(b.grad, np.ones(3))


def test_the_callers_grad_array_is_never_a_leafs_grad():
    x = leaf(3)
    seed = np.full(3, 2.0)
    x.backward(grad=seed)
    x.grad += 1.0
    np.testing.assert_allclose(seed, np.full(3, 2.0))
