"""Numba CPU kernels: the same functions, signatures and results as `reference.py`, compiled.

Each public function is a thin Python wrapper that makes its inputs C-contiguous with the
reduction axis last, flattens leading axes into rows, and calls an `@njit(cache=True)` kernel on
1-D or 2-D arrays. Inputs the compiled loops were not built for (dtypes other than float32 and
float64, empty arrays) go to the reference, by one rule (`wrappers.reference_unless`). The
kernels live in one module per concept:

    _nb_math.py         vectorisable exp, NaN-propagating max, id validation
    _nb_softmax.py      softmax (scale and causal mask fused) and log-softmax
    _nb_loss.py         cross-entropy with one-pass log-sum-exp
    _nb_layernorm.py    LayerNorm
    _nb_elementwise.py  GELU
    _nb_optim.py        the AdamW update and sums of squares, per tensor and over a model
    _nb_attention.py    causal self-attention fused from the projection to the merged heads
                        (its saved weights are causal blocks; attention_weights expands them)
    _nb_attention_tiled.py  the same attention memory-linear: tiles, weights recomputed
    _nb_embedding.py    embedding gather and scatter-add
    _nb_quant.py        int8 weights: per-channel quantization, the int8 linear forward

Threads. Large calls are split over the cores by the wrappers, not by Numba or BLAS: every
kernel releases the GIL (`nogil=True`), BLAS is held to one thread, and `threads.py` hands
shares of rows to a small pool (why: see that module). `threads.set_num_threads(1)` turns it off.

Compiled code is cached in `__pycache__`, so only the first import on a machine pays for
compilation (see the benchmark's cold-cache column); importing this module compiles nothing.
"""

from __future__ import annotations

import numpy as np

from . import threads
from ._nb_attention import attention_backward, attention_forward, attention_weights
from ._nb_attention_tiled import attention_tiled_backward, attention_tiled_forward
from ._nb_elementwise import (
    gelu_backward,
    gelu_backward_rows,
    gelu_forward,
    gelu_forward_rows,
)
from ._nb_embedding import embedding_backward, embedding_forward
from ._nb_layernorm import layernorm_backward, layernorm_forward
from ._nb_loss import cross_entropy_backward, cross_entropy_forward
from ._nb_optim import adamw_update_, adamw_update_many_, sum_squares, sum_squares_many
from ._nb_quant import int8_linear_forward, quantize_int8_per_channel
from ._nb_softmax import (
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)
from .wrappers import FLOATS, reference_unless

NAME = "numba"

__all__ = ["NAME", "matmul", "linear_forward", "linear_backward", "linear_gelu_forward",
           "linear_gelu_backward", "softmax_forward", "softmax_backward",
           "log_softmax_forward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward", "layernorm_forward", "layernorm_backward", "gelu_forward",
           "gelu_backward", "attention_forward", "attention_backward", "attention_weights",
           "attention_tiled_forward", "attention_tiled_backward",
           "embedding_forward", "embedding_backward", "sum_squares", "sum_squares_many",
           "adamw_update_", "adamw_update_many_", "quantize_int8_per_channel",
           "int8_linear_forward"]


def _float_matrices(a, b, trans_a=False, trans_b=False) -> bool:
    return a.ndim >= 2 and b.ndim >= 2 and a.dtype == b.dtype and a.dtype.type in FLOATS


@reference_unless(_float_matrices)
def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False):
    """The math: reference.matmul.

    NumPy's matmul (BLAS, held to one thread) does the arithmetic; the flags become transposed
    views, which BLAS reads in place without a copy. Large products are split over threads
    (threads.py): batched ones by batch entry, 2-D ones by output rows, or by output columns
    when there are fewer rows than columns (a weight gradient x^T dy of shape (in, out)).
    Splitting ourselves beats OpenBLAS's own threads on attention's small batched products, and
    BLAS beats a Numba loop nest on every shape (benchmarks/README.md has the figures).
    """
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    out = np.empty(batch + (m, n), dtype=a.dtype)
    flops = 2.0 * m * k * n * (out.size // max(m * n, 1))
    if batch and batch[0] > 1:  # split the first batch axis; a size-1 axis broadcasts whole
        a = a.reshape((1,) * (out.ndim - a.ndim) + a.shape)
        b = b.reshape((1,) * (out.ndim - b.ndim) + b.shape)

        def part(lo, hi):
            np.matmul(a[lo:hi] if a.shape[0] > 1 else a, b[lo:hi] if b.shape[0] > 1 else b,
                      out=out[lo:hi])
        threads.run_chunks(part, threads.split_rows(batch[0], flops * threads.FLOP))
    elif m >= n:
        def part(lo, hi):
            np.matmul(a[..., lo:hi, :], b, out=out[..., lo:hi, :])
        threads.run_chunks(part, threads.split_rows(m, flops * threads.FLOP))
    else:
        def part(lo, hi):
            np.matmul(a, b[..., lo:hi], out=out[..., lo:hi])
        threads.run_chunks(part, threads.split_rows(n, flops * threads.FLOP))
    return out


def _linear_ok(x, w, *rest, **options) -> bool:
    """2-D rows and weight, and every other array argument (bias, gy, h), of one float dtype:
    what the threaded loops handle."""
    arrays = [a for a in rest if isinstance(a, np.ndarray)]
    return (x.ndim == 2 and w.ndim == 2 and x.dtype.type in FLOATS
            and all(a.dtype == x.dtype for a in (w, *arrays)))


@reference_unless(_linear_ok)
def linear_forward(x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    """The math: reference.linear_forward; each thread adds the bias to its own rows while they
    are still in cache."""
    return _linear_forward(x, w, b, None)[0]


@reference_unless(_linear_ok)
def linear_backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, need_x: bool = True,
                    need_w: bool = True, need_b: bool = True):
    """The math: reference.linear_backward; (dx, dw, db) in one hand-off (`_linear_backward`)."""
    return _linear_backward(x, w, gy, None, need_x, need_w, need_b, None)


@reference_unless(_linear_ok)
def linear_gelu_forward(x: np.ndarray, w: np.ndarray, b=None, approximate: str = "tanh"):
    """The math: reference.linear_gelu_forward; GELU applied by each thread to its rows while
    they are in cache."""
    return _linear_forward(x, w, b, approximate)


@reference_unless(_linear_ok)
def linear_gelu_backward(x: np.ndarray, w: np.ndarray, h: np.ndarray, gy: np.ndarray,
                         need_x: bool = True, need_w: bool = True, need_b: bool = True,
                         approximate: str = "tanh"):
    """The math: reference.linear_gelu_backward; each thread first forms its rows of
    gy * gelu'(h)."""
    return _linear_backward(x, w, gy, h, need_x, need_w, need_b, approximate)


def _linear_forward(x, w, b, gelu):
    """(y, h): h = x w + b, y = gelu(h) with `gelu` the approximation ("tanh" or "none"), or
    y = h when `gelu` is None."""
    y = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
    h = np.empty_like(y) if gelu else y  # the pre-activation, kept for backward

    def part(lo, hi):
        np.matmul(x[lo:hi], w, out=h[lo:hi])
        if b is not None:
            h[lo:hi] += b
        if gelu:
            gelu_forward_rows(h[lo:hi], gelu, out=y[lo:hi])
    seconds = 2.0 * y.size * x.shape[1] * threads.FLOP
    if len(x) < threads.num_threads():  # a matrix-vector product: reading w is the cost
        seconds = max(seconds, w.nbytes * threads.READ)
    threads.run_row_chunks(part, len(x), seconds)
    return y, h


def _linear_backward(x, w, gy, h, need_x, need_w, need_b, gelu):
    """Share i of the rows computes, while those rows are in cache: dh = gy * gelu'(h) when
    fused (`gelu` the approximation, None for a plain linear), its rows of dx = dh w^T, and its
    partial sums x_i^T dh_i and sum(dh_i) of dw and db. The partials are added in share order
    (so results depend on the thread count, never on timing). Splitting dw by columns instead
    would reread all of dh from memory."""
    if need_w and h is None and w.flags.f_contiguous and not w.flags.c_contiguous:
        return _linear_backward_transposed(x, w, gy, need_x, need_b)
    (n, d_in), d_out = x.shape, w.shape[1]
    if need_w and _weight_by_columns(n, d_in, d_out):
        return _linear_backward_by_columns(x, w, gy, h, need_x, need_b, gelu)
    rows = threads.split_rows(n, 2.0 * n * d_in * d_out * (need_x + need_w) * threads.FLOP)
    dx = np.empty((n, d_in), dtype=x.dtype) if need_x else None
    dws = np.empty((len(rows), d_in, d_out), dtype=x.dtype) if need_w else None
    dbs = np.empty((len(rows), d_out), dtype=x.dtype) if need_b else None

    def part(i):
        lo, hi = rows[i]
        g = gy[lo:hi] if h is None else gelu_backward_rows(h[lo:hi], gy[lo:hi], gelu)
        if need_x:
            np.matmul(g, w.T, out=dx[lo:hi])
        if need_w:
            np.matmul(x[lo:hi].T, g, out=dws[i])
        if need_b:
            np.sum(g, axis=0, out=dbs[i])
    threads.run_tasks(part, len(rows))
    dw = (dws[0] if len(rows) == 1 else dws.sum(axis=0)) if need_w else None
    db = (dbs[0] if len(rows) == 1 else dbs.sum(axis=0)) if need_b else None
    return dx, dw, db


def _weight_by_columns(n: int, d_in: int, d_out: int) -> bool:
    """Whether dW = x^T dh is better split by its columns than by the rows of x, for n rows.

    By rows (`_linear_backward`), each of s shares writes a partial dW and the caller then adds
    them up: s + 1 weight-sized writes and s weight-sized reads, all through memory once the
    weight outgrows the cache, and the sum on one thread. By columns, each share reads all of x
    and its columns of dh instead, and writes its columns of dW once. The partials cost more when
    the weight holds more numbers than x and dh together (half of them, as a share reads only
    its columns of dh): so for a short batch through wide layers. GPT-2 small's MLP at 256
    tokens has a 9.4 MB dW against 3.9 MB of x and dh; the partial sums there took a sixth of
    the training step (benchmarks/README.md, "Matmul and BLAS")."""
    return d_in * d_out > n * (d_in + d_out) // 2


def _linear_backward_by_columns(x, w, gy, h, need_x, need_b, gelu):
    """`_linear_backward` with dW split by its columns (see _weight_by_columns), in two
    hand-offs: first each share of rows forms its dh = gy * gelu'(h) (when fused) and its rows
    of dx = dh w^T, then each share of columns its columns of dW = x^T dh and of db."""
    (n, d_in), d_out = x.shape, w.shape[1]
    flops = 2.0 * n * d_in * d_out * threads.FLOP
    dx = np.empty((n, d_in), dtype=x.dtype) if need_x else None
    dh = gy if h is None else np.empty_like(gy)
    if need_x or h is not None:
        def rows(lo, hi):
            if h is not None:
                gelu_backward_rows(h[lo:hi], gy[lo:hi], gelu, out=dh[lo:hi])
            if need_x:
                np.matmul(dh[lo:hi], w.T, out=dx[lo:hi])
        seconds = flops * need_x + (threads.element_seconds("gelu", gy.size) if h is not None
                                    else 0.0)
        threads.run_chunks(rows, threads.split_rows(n, seconds))
    dw = np.empty((d_in, d_out), dtype=x.dtype)
    db = np.empty(d_out, dtype=x.dtype) if need_b else None

    def columns(lo, hi):
        np.matmul(x.T, dh[:, lo:hi], out=dw[:, lo:hi])
        if need_b:
            np.sum(dh[:, lo:hi], axis=0, out=db[lo:hi])
    threads.run_chunks(columns, threads.split_rows(d_out, flops, 16))
    return dx, dw, db


def _linear_backward_transposed(x, w, gy, need_x, need_b):
    """`_linear_backward` of a weight stored transposed: w = W^T with W (out, in) C-contiguous,
    as in a tied head, whose W is the token embedding (V, C). dW = gy^T x is computed in W's own
    layout, split by W's rows (the vocabulary): each thread writes its block of rows, its
    columns of gy transposed times x. Split by rows of x instead, each thread would make a
    partial sum the size of W (154 MB for GPT-2) to be added up after, and the gradient would
    come back as (in, out), to be added transposed, with a stride, to the embedding's gradient.
    Returned as dw = dW^T, a view, so that its transpose is W's layout again."""
    (n, d_in), d_out = x.shape, w.shape[1]
    dx = _linear_backward(x, w, gy, None, True, False, False, None)[0] if need_x else None
    dW = np.empty((d_out, d_in), dtype=x.dtype)  # (out, in): W's layout

    def part(lo, hi):
        np.matmul(gy[:, lo:hi].T, x, out=dW[lo:hi])  # (out_i, N) @ (N, in)
    threads.run_chunks(part, threads.split_rows(d_out, 2.0 * n * d_in * d_out * threads.FLOP))
    db = gy.sum(axis=0) if need_b else None
    return dx, dW.T, db
