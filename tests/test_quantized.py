"""int8 weights: the kernels against their reference and the rounding bound.

Tolerance: the Numba int8 linear agrees with the reference to 1e-5 of the largest output
(float32 sums in another order); quantization agrees bit for bit.
"""

import numpy as np
import pytest

from tinygrad_lm.kernels import quantized as Q
from tinygrad_lm.kernels import reference as R
from tinygrad_lm.kernels import threads

N = pytest.importorskip("tinygrad_lm.kernels.numba_cpu")
_nb_quant = pytest.importorskip("tinygrad_lm.kernels._nb_quant")


def relative_error(got, want) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


def weight(rng, out, d_in):
    """Rows of very different sizes (per-channel scales matter), a zero row, a row with one
    large weight and exact ties (w / s = k + 1/2)."""
    w = rng.standard_normal((out, d_in)) * np.exp(rng.uniform(-6, 2, (out, 1)))
    w[0] = 0.0
    if out > 2 and d_in > 3:
        w[1, :] = 0.01
        w[1, 0] = 1.27  # scale 0.01: the other weights sit exactly on a step
        w[2, :3] = [127.0, 0.5, -2.5]  # scale 1: ties at 0.5 and -2.5 round to even
    return w.astype(np.float32)


# ---- quantization ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (7, 13), (64, 768), (300, 70)])
def test_quantize_numba_equals_reference_bit_for_bit(rng, shape):
    w = weight(rng, *shape)
    q, s = R.quantize_int8_per_channel(w)
    assert q.dtype == np.int8 and s.dtype == np.float32 and q.shape == shape
    for source in (w, w.astype(np.float64), np.asfortranarray(w)):
        q2, s2 = N.quantize_int8_per_channel(source)
        np.testing.assert_array_equal(q2, q)
        np.testing.assert_array_equal(s2, s)


def test_quantize_round_trip_is_within_half_a_step(rng):
    w = weight(rng, 50, 97)
    for backend in (R, N):
        q, s = backend.quantize_int8_per_channel(w)
        err = np.abs(w - Q.dequantize_int8(q, s))  # (out, in)
        assert np.all(err <= s[:, None] / 2 * (1 + 1e-6)), "|w - q s| > s / 2"
        assert np.abs(q).max() <= 127 and np.all(np.abs(q[1:]).max(axis=1) == 127)
        assert s[0] == 1.0 and not q[0].any()  # the zero row: scale 1, q 0, w back exactly
    q, s = R.quantize_int8_per_channel(w)
    assert s[1] == np.float32(0.01) and list(q[2, :3]) == [127, 0, -2]  # ties to even


@pytest.mark.parametrize("backend", [R, N], ids=["reference", "numba"])
@pytest.mark.parametrize("bad, message", [(np.ones(4), "2-D"), (np.ones((2, 3, 4)), "2-D"),
                                          (np.array([[1.0, np.inf]]), "NaN or infinity"),
                                          (np.array([[np.nan, 1.0]]), "NaN or infinity")])
def test_quantize_rejects_what_it_cannot_represent(backend, bad, message):
    with pytest.raises(ValueError, match=message):
        backend.quantize_int8_per_channel(bad)


# ---- the int8 linear kernel -------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 15, 16, 40])  # both sides of ROWS_FOR_BLAS
@pytest.mark.parametrize("d_in, d_out", [(1, 1), (13, 7), (768, 300), (64, 2 * 128 + 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_int8_linear_numba_matches_reference(rng, n, d_in, d_out, bias):
    q, s = R.quantize_int8_per_channel(weight(rng, d_out, d_in))
    b = rng.standard_normal(d_out).astype(np.float32) if bias else None
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    want = R.int8_linear_forward(x, q, s, b)
    assert want.shape == (n, d_out) and want.dtype == np.float32
    np.testing.assert_allclose(want, x @ Q.dequantize_int8(q, s).T + (0 if b is None else b),
                               rtol=0, atol=1e-6 * np.abs(want).max())
    for xv in (x, np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2]):  # and strided views
        got = N.int8_linear_forward(xv, q, s, b)
        assert got.dtype == np.float32
        assert relative_error(got, want) <= 1e-5


def test_int8_linear_float64_rows_go_to_the_reference(rng):
    q, s = R.quantize_int8_per_channel(weight(rng, 9, 5))
    x = rng.standard_normal((4, 5))
    got = N.int8_linear_forward(x, q, s)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, R.int8_linear_forward(x, q, s))


@pytest.mark.parametrize("n", [1, 40])
def test_int8_linear_split_over_threads_is_the_unsplit_result(rng, n):
    """Each output channel is computed by one thread whole, so the split changes nothing."""
    q, s = R.quantize_int8_per_channel(weight(rng, 4096, 512))  # 2 MB: worth splitting
    x = rng.standard_normal((n, 512)).astype(np.float32)
    b = rng.standard_normal(4096).astype(np.float32)
    with threads.use_threads(1):
        one = N.int8_linear_forward(x, q, s, b)
    with threads.use_threads(2):
        assert len(threads.split_rows(4096, max(q.nbytes * threads.READ, 2.0 * n * 512 * 4096
                                                * threads.FLOP))) == 2
        np.testing.assert_array_equal(N.int8_linear_forward(x, q, s, b), one)
