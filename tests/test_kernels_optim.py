"""The optimizer's Numba kernels (_nb_optim.py) agree with the NumPy reference: AdamW and the
sum of squares, per tensor and over many tensors in one call."""

import numpy as np
import pytest

from tinygrad_lm.kernels import reference as R

N = pytest.importorskip("tinygrad_lm.kernels.numba_cpu")

from . import test_kernels  # noqa: E402
from .test_kernels import assert_close, randn  # noqa: E402

dt, rng = test_kernels.dt, test_kernels.rng  # its dtype and generator fixtures


# ---- AdamW ----------------------------------------------------------------------------------
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_adamw(dt, rng, weight_decay, layout):
    shape = (7, 13)
    states = []
    for _ in range(2):
        p = randn(np.random.default_rng(5), shape, dt)
        if layout == "transposed":
            p = np.ascontiguousarray(p.T).T
        states.append((p, np.zeros(shape, dt), np.zeros(shape, dt)))
    for step in range(1, 4):
        g = randn(rng, shape, dt)
        kw = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=weight_decay, step=step)
        for mod, (p, m, v) in zip((N, R), states):
            assert mod.adamw_update_(p, g, m, v, **kw) is None  # in place
    for a, e in zip(*states):
        assert_close(a, e, dt)


@pytest.mark.parametrize("shape", [(1,), (7, 3), (1000,)])
def test_sum_squares(dt, rng, shape):
    x = randn(rng, shape, dt, scale=3.0)
    assert N.sum_squares(x) == pytest.approx(R.sum_squares(x), rel=1e-12)
    assert N.sum_squares(x[::2]) == pytest.approx(R.sum_squares(x[::2]), rel=1e-12)
    big = np.full(4, 1e30 if dt == np.float32 else 1e150, dt)
    assert N.sum_squares(big) == R.sum_squares(big)  # float64 sums: no float32 overflow


# ---- a whole model's optimizer step in one call -------------------------------------------
def model_like_tensors(rng, dt, shapes=((7, 13), (13,), (1,), (160, 256), (0, 3), (4, 4, 2))):
    """Parameters, gradients and moments of several shapes, more tensors than one PACK and
    enough elements (123k) to be split over two threads."""
    shapes = list(shapes) * 3  # 18 tensors: more than two packs of 8
    return [[randn(rng, s, dt) for s in shapes] for _ in range(2)] + [
        [np.abs(randn(rng, s, dt)) for s in shapes]]


@pytest.mark.parametrize("threads", [1, 2])
def test_adamw_update_many_is_adamw_update_per_tensor(dt, rng, threads):
    from tinygrad_lm.kernels import use_threads
    params, grads, moments = model_like_tensors(rng, dt)
    n = len(params)
    kw = dict(lr=[1e-2 * (1 + i % 3) for i in range(n)], beta1=[0.9] * n,
              beta2=[0.95 + 0.01 * (i % 2) for i in range(n)], eps=[1e-8] * n,
              weight_decay=[0.1 * (i % 2) for i in range(n)], step=[1 + i % 4 for i in range(n)])
    states = {}
    for name in ("many", "per tensor", "reference"):
        states[name] = ([p.copy() for p in params], [m.copy() for m in moments],
                        [m.copy() * 0.5 for m in moments])
    with use_threads(threads):
        for _ in range(2):
            N.adamw_update_many_(*states["many"][:1], grads, *states["many"][1:], **kw)
            R.adamw_update_many_(*states["reference"][:1], grads, *states["reference"][1:],
                                 **kw)
            p, m, v = states["per tensor"]
            for i in range(n):
                N.adamw_update_(p[i], grads[i], m[i], v[i], **{k: kw[k][i] for k in kw})
    for got, same, spec in zip(*(states[k] for k in ("many", "per tensor", "reference"))):
        for a, b, c in zip(got, same, spec):
            assert np.array_equal(a, b)  # the same loop, to the bit
            assert_close(a, c, dt)


def test_adamw_update_many_takes_awkward_tensors(rng):
    """Layouts the compiled loop cannot write through go to the reference; gradients it can
    copy are copied."""
    p, g, m = randn(rng, (5, 4), np.float32), randn(rng, (5, 4), np.float32), np.zeros((5, 4),
                                                                                          np.float32)
    cases = {"transposed parameter": (np.ascontiguousarray(p.T).T, g),
             "float64 gradient": (p, g.astype(np.float64)),
             "broadcast gradient": (p, np.broadcast_to(g, g.shape)),
             "read-only gradient": (p, g.copy())}
    cases["read-only gradient"][1].setflags(write=False)
    kw = dict(lr=[1e-2], beta1=[0.9], beta2=[0.99], eps=[1e-8], weight_decay=[0.1], step=[1])
    for name, (pp, gg) in cases.items():
        got, want = pp.copy(), pp.copy()
        N.adamw_update_many_([got], [gg], [m.copy()], [m.copy()], **kw)
        R.adamw_update_many_([want], [gg], [m.copy()], [m.copy()], **kw)
        assert_close(got, want, np.float32), name


def test_sum_squares_many(dt, rng):
    arrays = model_like_tensors(rng, dt)[0] + [randn(rng, (6, 4), dt)[:, ::2]]
    want = sum(R.sum_squares(a) for a in arrays)
    assert N.sum_squares_many(arrays) == pytest.approx(want, rel=1e-12)
    assert R.sum_squares_many(arrays) == pytest.approx(want, rel=1e-12)
    assert N.sum_squares_many([]) == R.sum_squares_many([]) == 0.0
    frozen = arrays[0].copy()
    frozen.setflags(write=False)  # read-only arrays are a type of their own to Numba
    assert N.sum_squares_many([frozen] + arrays) == pytest.approx(
        want + R.sum_squares(frozen), rel=1e-12)
