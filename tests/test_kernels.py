"""The Numba kernels agree with the NumPy reference, the specification, on awkward inputs.

Tolerances are relative to the scale of the expected result (its largest finite magnitude):
1e-5 in float32, 1e-12 in float64. NaN and +-inf must appear in the same places.
"""

import inspect
import math

import numpy as np
import pytest

from tinygrad_lm.kernels import reference as R

N = pytest.importorskip("tinygrad_lm.kernels.numba_cpu")

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dt(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def assert_close(got, want, dtype, tol=None, scale=None):
    """|got - want| <= tol * scale, scale defaulting to max |want|. Pass the size of the terms a
    result is computed from when it cancels (a gradient that is a difference of two sums)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN in different places"
    fin = np.isfinite(want)
    assert np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)]), "infinities"
    scale = max(1e-30, scale or 0.0, float(np.max(np.abs(want[fin]), initial=0.0)))
    err = float(np.max(np.abs(got[fin].astype(np.float64) - want[fin]), initial=0.0))
    tol = tol or TOL[dtype]
    assert err <= tol * scale, f"max error {err:.3g} > {tol} * {scale:.3g}"


def randn(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def views(x):
    """x itself, a transposed-back copy (non-contiguous view) and a strided slice view."""
    t = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2) if x.ndim >= 2 else x
    wide = np.repeat(x, 2, axis=-1)[..., ::2]
    return [x, t, wide]


# ---- API ------------------------------------------------------------------------------------
def test_both_backends_follow_the_contract():
    from tinygrad_lm.kernels.contract import KERNELS, check_backend, kernel_signature
    assert N.NAME == "numba" and R.NAME == "numpy"
    for backend in (R, N):
        check_backend(backend)
    for name in KERNELS:  # the reference has the contract's signatures exactly
        assert inspect.signature(getattr(R, name)) == kernel_signature(name), name


def test_a_backend_missing_a_kernel_fails_at_registration():
    import types

    from tinygrad_lm import kernels
    partial = types.ModuleType("partial_backend")
    partial.NAME = "partial"
    for name in kernels.KERNELS:
        if name != "softmax_backward":
            setattr(partial, name, getattr(R, name))
    with pytest.raises(TypeError, match=r"softmax_backward \(missing\)"):
        kernels.register_backend("partial", partial)
    assert "partial" not in kernels.available_backends()


# ---- softmax --------------------------------------------------------------------------------
SHAPES = [(1, 1), (1, 7), (3, 13), (2, 3, 33), (4, 1, 17), (2, 16, 16), (2, 5, 70)]


@pytest.mark.a3_1
@pytest.mark.a3_2
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale,causal", [(1.0, False), (0.125, False), (1.0, True), (0.3, True)])
def test_softmax_forward_backward(dt, rng, shape, scale, causal):
    for x in views(randn(rng, shape, dt, 3.0)):
        y = R.softmax_forward(x, scale, causal)
        assert_close(N.softmax_forward(x, scale, causal), y, dt)
        gy = randn(rng, shape, dt)
        terms = scale * float(np.abs(gy).max())  # y <= 1
        for g in views(gy):
            assert_close(N.softmax_backward(y, g, scale), R.softmax_backward(y, g, scale), dt,
                         scale=terms)


@pytest.mark.a3_1
@pytest.mark.parametrize("tq,tk", [(1, 9), (3, 11), (4, 4), (5, 3)])
def test_softmax_causal_kv_cache_alignment(dt, rng, tq, tk):
    """Query i sits at absolute position i + tk - tq; with tq > tk the first rows see nothing."""
    x = randn(rng, (2, tq, tk), dt)
    y = N.softmax_forward(x, 0.5, True)
    assert_close(y, R.softmax_forward(x, 0.5, True), dt)
    assert np.all(y[:, R.causal_mask(tq, tk)] == 0) and not np.isnan(y).any()


@pytest.mark.a3_1
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the reference's exp(inf), inf - inf
def test_softmax_large_logits_masked_rows_and_nan(dt, rng):
    x = randn(rng, (6, 19), dt, 1e4)
    x[1, :] = -np.inf  # a fully masked row: zeros, not NaN
    x[2, ::2] = -np.inf
    x[3, 5] = np.nan  # NaN poisons its row, as in NumPy
    for causal in (False, True):
        y = N.softmax_forward(x, 1.0, causal)
        assert_close(y, R.softmax_forward(x, 1.0, causal), dt)
    assert np.all(y[1] == 0)


@pytest.mark.a3_1
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_softmax_is_stable_for_large_logits(dt, rng, shape, scale):
    """Logits far beyond exp's range (float32 overflows past 88, float64 past 709), both signs:
    exp(z - max z) <= 1 cannot overflow, and the max row entry gives exp(0) = 1, so the sum
    cannot underflow to 0 either. (Without the causal mask, whose reference is task 4.1.)"""
    shift = np.asarray(3000.0 if scale == 1.0 else -3000.0, dtype=dt)
    x = randn(rng, shape, dt, 1000.0) + shift
    y = N.softmax_forward(x, scale, False)
    assert np.isfinite(y).all() and np.any(y > 0), (
        f"softmax_forward of logits near {x.mean():.0f} gave NaN, inf or all zeros: subtract "
        "each row's max before exp (exp of the raw logits overflows or underflows)")
    assert_close(y, R.softmax_forward(x, scale, False), dt)


# ---- log-softmax ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES)
def test_log_softmax(dt, rng, shape):
    for x in views(randn(rng, shape, dt, 3.0)):
        y = R.log_softmax_forward(x)
        assert_close(N.log_softmax_forward(x), y, dt)
        g = randn(rng, shape, dt)
        assert_close(N.log_softmax_backward(y, g), R.log_softmax_backward(y, g), dt)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_log_softmax_large_and_infinite(dt, rng):
    x = randn(rng, (5, 33), dt, 1e4)
    x[1, 3:9] = -np.inf
    x[2, :] = -np.inf  # undefined: NaN in both backends
    y = R.log_softmax_forward(x)
    assert_close(N.log_softmax_forward(x), y, dt)
    g = randn(rng, x.shape, dt)
    y[2] = 0.0  # keep the backward finite
    assert_close(N.log_softmax_backward(y, g), R.log_softmax_backward(y, g), dt)


# ---- cross-entropy --------------------------------------------------------------------------
def _targets(rng, n, v, ignore_index, ignored=0.3):
    t = rng.integers(0, v, n)
    t[rng.random(n) < ignored] = ignore_index
    return t


@pytest.mark.parametrize("n,v", [(1, 1), (7, 13), (33, 7), (5, 2500)])
@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_cross_entropy(dt, rng, n, v, ignore_index):
    logits = randn(rng, (n, v), dt, 4.0)
    t = _targets(rng, n, v, ignore_index)
    for x in views(logits):
        loss, lse = R.cross_entropy_forward(x, t, ignore_index)
        got_loss, got_lse = N.cross_entropy_forward(x, t, ignore_index)
        assert got_loss.shape == () and got_loss.dtype == dt
        assert_close(got_loss, loss, dt)
        assert_close(got_lse, lse, dt)
        for gs in (1.0, 0.37):
            assert_close(N.cross_entropy_backward(x, t, lse, ignore_index, gs),
                         R.cross_entropy_backward(x, t, lse, ignore_index, gs), dt)


def test_cross_entropy_all_ignored_and_extremes(dt, rng):
    x = randn(rng, (4, 2500), dt, 1e4)
    x[0, :1500] = -np.inf  # the whole first chunk masked, the max in the second
    x[1, 2000:] = -np.inf
    t = np.array([1600, 5, -100, 2499])
    for tt in (t, np.full(4, -100), t.astype(np.int32)):
        loss, lse = R.cross_entropy_forward(x, tt)
        got = N.cross_entropy_forward(x, tt)
        assert_close(got[0], loss, dt)
        assert_close(got[1], lse, dt)
        assert_close(N.cross_entropy_backward(x, tt, lse), R.cross_entropy_backward(x, tt, lse), dt)
    all_ignored = N.cross_entropy_backward(x, np.full(4, -100), lse)
    assert float(N.cross_entropy_forward(x, np.full(4, -100))[0]) == 0.0
    assert not all_ignored.any()


@pytest.mark.parametrize("backend", [R, N], ids=["reference", "numba"])
@pytest.mark.parametrize("bad", [13, -1, 10**6])
def test_cross_entropy_rejects_bad_targets(backend, bad):
    x = np.zeros((3, 13), np.float32)
    t = np.array([0, bad, 2])
    with pytest.raises(IndexError, match=f"cross_entropy: target {bad} is out of range for "
                                         r"size 13 \(valid: 0..12\); check the tokenizer"):
        backend.cross_entropy_forward(x, t)
    with pytest.raises(IndexError, match=f"{bad}.*13"):
        backend.cross_entropy_backward(x, t, np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="targets must be integers"):
        backend.cross_entropy_forward(x, t.astype(np.float32))
    backend.cross_entropy_forward(x, t, ignore_index=bad)  # the ignored value itself is fine


# ---- LayerNorm ------------------------------------------------------------------------------
@pytest.mark.a3_3
@pytest.mark.a3_4
@pytest.mark.parametrize("shape", [(1, 1), (7,), (3, 13), (2, 3, 33), (4, 1, 192)])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layernorm(dt, rng, shape, affine):
    c = shape[-1]
    w = randn(rng, c, dt) if affine[0] else None
    b = randn(rng, c, dt) if affine[1] else None
    for x in views(randn(rng, shape, dt, 2.0) + dt(3.0)):
        y, mean, rstd = R.layernorm_forward(x, w, b)
        got = N.layernorm_forward(x, w, b)
        for a, e in zip(got, (y, mean, rstd)):
            assert_close(a, e, dt)
        g = randn(rng, shape, dt)
        want = R.layernorm_backward(g, x, w, mean, rstd)
        got = N.layernorm_backward(g, x, w, mean, rstd)
        assert (got[1] is None) == (want[1] is None)
        # dx = rstd (g - mean(g) - ...) cancels to 0 when C = 1; compare to the terms' size
        terms = float(rstd.max() * np.abs(g * (w if w is not None else 1)).max())
        assert_close(got[0], want[0], dt, scale=terms)
        for a, e in zip(got[1:], want[1:]):
            if e is not None:
                assert_close(a, e, dt)


# ---- GELU -----------------------------------------------------------------------------------
@pytest.mark.parametrize("approximate", ["tanh", "none"])
@pytest.mark.parametrize("shape", [(1,), (1, 1), (7, 13), (3, 2, 33)])
def test_gelu(dt, rng, approximate, shape):
    x = randn(rng, shape, dt, 3.0)
    x.flat[0] = -30.0  # far tails: gelu ~ 0 and ~ x
    x.flat[-1] = 30.0
    for v in views(x):
        assert_close(N.gelu_forward(v, approximate), R.gelu_forward(v, approximate), dt)
        g = randn(rng, shape, dt)
        assert_close(N.gelu_backward(v, g, approximate), R.gelu_backward(v, g, approximate), dt)


# ---- fused causal self-attention ------------------------------------------------------------
# (B, T, n_head, hs): B=1 makes the kernel split by heads instead of batch entries
@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (1, 7, 2, 3), (3, 1, 1, 2), (4, 16, 4, 8)])
@pytest.mark.parametrize("query_block", [64, 3])  # 3: several causal blocks, the last short
def test_attention(dt, rng, shape, query_block, monkeypatch):
    from tinygrad_lm.kernels import _nb_attention
    monkeypatch.setattr(_nb_attention, "_QUERY_BLOCK", query_block)
    B, T, nh, hs = shape
    qkv = randn(rng, (B, T, 3 * nh * hs), dt)
    gy = randn(rng, (B, T, nh * hs), dt)
    (y, att), (y_ref, att_ref) = N.attention_forward(qkv, nh), R.attention_forward(qkv, nh)
    assert_close(y, y_ref, dt)
    att_full = N.attention_weights(att)  # the Numba kernel keeps causal blocks
    assert_close(att_full, att_ref, dt)
    assert np.all(att_full[..., np.triu(np.ones((T, T), bool), 1)] == 0)  # no future keys
    for g in views(gy):
        assert_close(N.attention_backward(qkv, att, g, nh),
                     R.attention_backward(qkv, att_ref, g, nh), dt, scale=np.abs(qkv).max() * 4)


def test_attention_backward_stands_in_on_full_weights_while_3_2_is_unwritten(rng, monkeypatch):
    """The fused backward runs the coursework softmax backward loop (3.2). In a student copy
    where that is still the starter, the course's unfinished-code policy lets the wrapper
    (reference_unless with its spec) run the reference attention_backward, handed the full
    weights rather than this backend's query blocks, which it cannot read."""
    from tinygrad_lm.course import stand_ins
    from tinygrad_lm.kernels import _nb_attention

    def starter(gy, y, scale):
        raise NotImplementedError("Assignment 3.2: the Numba softmax backward; not written yet")
    monkeypatch.setattr(_nb_attention, "_QUERY_BLOCK", 3)
    monkeypatch.setattr(_nb_attention, "softmax_backward_rows_inplace", starter)
    in_copy = _nb_attention.attention_backward
    qkv, gy = randn(rng, (2, 7, 3 * 2 * 4), np.float64), randn(rng, (2, 7, 2 * 4), np.float64)
    _, att = N.attention_forward(qkv, 2)
    assert isinstance(att, tuple)  # causal query blocks
    with stand_ins.forbid_stand_ins({"3.2"}), stand_ins.use_stand_ins(True), pytest.raises(
            NotImplementedError, match="Assignment 3.2"):
        N.attention_backward(qkv, att, gy, 2)  # a test of 3.2: no stand-in
    with stand_ins.use_stand_ins(False), pytest.raises(NotImplementedError,
                                                       match="Assignment 3.2"):
        in_copy(qkv, att, gy, 2)  # stand-ins off (the reference repository, grading)
    with stand_ins.use_stand_ins(True):
        got = in_copy(qkv, att, gy, 2)
    assert_close(got, R.attention_backward(qkv, R.attention_forward(qkv, 2)[1], gy, 2),
                 np.float64, scale=np.abs(qkv).max() * 4)


# ---- memory-linear (tiled) attention --------------------------------------------------------
def _causal_lse(qkv, nh):
    """log sum_j exp(s_ij) over the keys j <= i, s = q k^T / sqrt(hs), spelled out in float64."""
    q, k, _ = R.qkv_heads(qkv.astype(np.float64), nh)
    s = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
    s = np.where(R.causal_mask(s.shape[-2], s.shape[-1]), -np.inf, s)
    top = s.max(axis=-1)
    return (top + np.log(np.exp(s - top[..., None]).sum(axis=-1))).astype(qkv.dtype)


# (B, T, n_head, hs); with tile 4: T = 10 and 13 end on a short tile, T = 8 on a whole one
@pytest.mark.parametrize("shape", [(2, 10, 3, 4), (1, 1, 2, 3), (3, 8, 2, 2), (1, 13, 1, 5),
                                   (4, 16, 4, 8)])
@pytest.mark.parametrize("tile", [4, 64])
def test_attention_tiled_matches_the_spelled_out_attention(dt, rng, shape, tile):
    """Both backends' memory-linear kernels give the weights-kept attention's y and gradients,
    and the log-sum-exp of each query's visible scores."""
    B, T, nh, hs = shape
    qkv = randn(rng, (B, T, 3 * nh * hs), dt, 2.0)  # larger scores: the running max moves
    gy = randn(rng, (B, T, nh * hs), dt)
    y_ref, att_ref = R.attention_forward(qkv, nh)
    for K in (R, N):
        y, lse = K.attention_tiled_forward(qkv, nh, tile)
        assert_close(y, y_ref, dt)
        assert_close(lse, _causal_lse(qkv, nh), dt)
        for g in views(gy):
            assert_close(K.attention_tiled_backward(qkv, y, lse, g, nh, tile),
                         R.attention_backward(qkv, att_ref, g, nh), dt,
                         scale=np.abs(qkv).max() * 4)


def test_attention_tiled_numba_matches_reference_split_by_heads(dt, rng):
    """B = 1 splits the work by heads; several query and key tiles, the last one short."""
    qkv = randn(rng, (1, 23, 3 * 4 * 4), dt)
    gy = randn(rng, (1, 23, 4 * 4), dt)
    (y, lse), (y_ref, lse_ref) = (K.attention_tiled_forward(qkv, 4, 5) for K in (N, R))
    assert_close(y, y_ref, dt)
    assert_close(lse, lse_ref, dt)
    assert_close(N.attention_tiled_backward(qkv, y, lse, gy, 4, 5),
                 R.attention_tiled_backward(qkv, y_ref, lse_ref, gy, 4, 5), dt,
                 scale=np.abs(qkv).max() * 4)


# ---- embedding ------------------------------------------------------------------------------
@pytest.mark.parametrize("ids_shape", [(1,), (1, 1), (3, 5), (2, 3, 4)])
def test_embedding(dt, rng, ids_shape):
    w = randn(rng, (6, 9), dt)
    ids = rng.integers(0, 6, ids_shape)  # small table: ids repeat
    for weight in (w, np.asfortranarray(w)):
        assert_close(N.embedding_forward(weight, ids), R.embedding_forward(weight, ids), dt)
    g = randn(rng, (*ids_shape, 9), dt)
    for gy in views(g):
        assert_close(N.embedding_backward(gy, ids, 6), R.embedding_backward(gy, ids, 6), dt)


@pytest.mark.parametrize("backend", [R, N], ids=["reference", "numba"])
@pytest.mark.parametrize("bad", [6, -1])
def test_embedding_rejects_bad_ids(backend, bad):
    ids = np.array([[0, 1], [bad, 2]])
    with pytest.raises(IndexError, match=f"embedding: id {bad} is out of range for size 6 "
                                         r"\(valid: 0..5\); check the tokenizer's vocab_size"):
        backend.embedding_forward(np.zeros((6, 3), np.float32), ids)
    with pytest.raises(IndexError, match=f"{bad}.*6"):
        backend.embedding_backward(np.zeros((2, 2, 3), np.float32), ids, 6)
    with pytest.raises(TypeError, match="ids must be integers"):
        backend.embedding_forward(np.zeros((6, 3), np.float32), ids.astype(np.float32))


def test_ids_are_checked_once_per_kernel_call(monkeypatch):
    """One validation (reference.check_ids, in the kernel), not one in the op, one in the model
    and another in the Numba wrapper: a GPT forward and backward checks the token ids once in
    each embedding kernel and the targets once in each cross-entropy kernel."""
    import tinygrad_lm as tg
    from tinygrad_lm.kernels import _nb_embedding, _nb_loss, use_backend

    calls, check = [], R.check_ids

    def counting(op, ids, *args, **kwargs):
        calls.append(op)
        return check(op, ids, *args, **kwargs)

    for module in (R, _nb_embedding, _nb_loss):
        monkeypatch.setattr(module, "check_ids", counting)
    model = tg.GPT(tg.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    ids = np.arange(8).reshape(1, 8)
    for backend in ("numpy", "numba"):
        calls.clear()
        with use_backend(backend):
            model(ids, ids)[1].backward()
        assert sorted(calls) == ["cross_entropy"] * 2 + ["embedding"] * 4, backend


# ---- matmul ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sa,sb,ta,tb", [((7, 13), (13, 3), False, False),
                                         ((13, 7), (13, 3), True, False),
                                         ((2, 5, 4), (2, 3, 4), False, True),
                                         ((3, 1, 4, 5), (2, 5, 6), False, False)])
def test_matmul(dt, rng, sa, sb, ta, tb):
    a, b = randn(rng, sa, dt), randn(rng, sb, dt)
    assert_close(N.matmul(a, b, ta, tb), R.matmul(a, b, ta, tb), dt)


NEEDS = [(True, True, True), (True, False, False), (False, True, True), (False, False, True)]


@pytest.mark.parametrize("needs", NEEDS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dt, rng, needs, bias):
    x, w, gy = randn(rng, (9, 5), dt), randn(rng, (5, 4), dt), randn(rng, (9, 4), dt)
    b = randn(rng, 4, dt) if bias else None
    assert_close(N.linear_forward(x, w, b), R.linear_forward(x, w, b), dt)
    for got, want in zip(N.linear_backward(x, w, gy, *needs), R.linear_backward(x, w, gy,
                                                                                 *needs)):
        assert (got is None) == (want is None)
        if want is not None:
            assert_close(got, want, dt)


@pytest.mark.parametrize("approximate", ["tanh", "none"])
@pytest.mark.parametrize("needs", NEEDS)
def test_linear_gelu(dt, rng, approximate, needs):
    x, w, b = randn(rng, (9, 5), dt), randn(rng, (5, 4), dt), randn(rng, 4, dt)
    gy = randn(rng, (9, 4), dt)
    (y, h), (y_ref, h_ref) = (N.linear_gelu_forward(x, w, b, approximate),
                              R.linear_gelu_forward(x, w, b, approximate))
    assert_close(h, h_ref, dt)
    assert_close(y, y_ref, dt)
    for got, want in zip(N.linear_gelu_backward(x, w, h, gy, *needs, approximate),
                         R.linear_gelu_backward(x, w, h_ref, gy, *needs, approximate)):
        assert (got is None) == (want is None)
        if want is not None:
            assert_close(got, want, dt)





# ---- the vectorised exp ---------------------------------------------------------------------
def test_exp32_accuracy_and_limits():
    from numba import njit

    from tinygrad_lm.kernels._nb_math import SUMS, exp32

    @njit(fastmath=SUMS)  # as the kernels call it: their fastmath flags must not leak into exp
    def apply(x, out):
        for i in range(x.size):
            out[i] = exp32(x[i])

    x = np.linspace(-87.336, 88.7228, 400_001, dtype=np.float32)  # the normal range
    out = np.empty_like(x)
    apply(x, out)
    exact = np.exp(x.astype(np.float64))
    assert np.max(np.abs(out - exact) / exact) <= 2e-7
    special = np.array([-np.inf, -1e4, -88.0, 0.0, 89.0, np.inf, np.nan], np.float32)
    out = np.empty_like(special)
    apply(special, out)
    assert out[:3].tolist() == [0, 0, 0] and out[3] == 1 and math.isinf(out[4])
    assert math.isinf(out[5]) and math.isnan(out[6])
