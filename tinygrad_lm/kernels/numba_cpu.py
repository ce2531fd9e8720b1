"""Numba CPU kernels: the same functions, signatures and results as `reference.py`, compiled.

Each public function is a thin Python wrapper that checks dtypes and ids, makes its inputs
C-contiguous with the reduction axis last, flattens leading axes into rows, and calls an
`@njit(cache=True)` kernel on 1-D or 2-D arrays. Dtypes other than float32/float64 go to the
reference. The kernels live in one module per concept:

    _nb_math.py         vectorisable exp, NaN-propagating max, id validation
    _nb_softmax.py      softmax (scale and causal mask fused) and log-softmax
    _nb_loss.py         cross-entropy with one-pass log-sum-exp
    _nb_layernorm.py    LayerNorm
    _nb_elementwise.py  GELU and the AdamW update
    _nb_attention.py    causal self-attention fused from the projection to the merged heads
    _nb_embedding.py    embedding gather and scatter-add

Threads. Large calls are split over the cores by the wrappers, not by Numba or BLAS: every
kernel releases the GIL (`nogil=True`), BLAS is held to one thread, and `threads.py` hands
shares of rows to a small pool (why: see that module). `threads.set_num_threads(1)` turns it off.

Compiled code is cached in `__pycache__`, so only the first import on a machine pays for
compilation (see the benchmark's cold-cache column); importing this module compiles nothing.
"""

from __future__ import annotations

import numpy as np

from . import reference, threads
from ._nb_attention import attention_backward, attention_forward
from ._nb_elementwise import adamw_update_, gelu_backward, gelu_forward
from ._nb_embedding import embedding_backward, embedding_forward
from ._nb_layernorm import layernorm_backward, layernorm_forward
from ._nb_loss import cross_entropy_backward, cross_entropy_forward
from ._nb_softmax import (
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)
from .reference import causal_mask, qkv_heads

NAME = "numba"
_FLOATS = (np.float32, np.float64)
# below ~16 MFLOP (160 us of one-thread BLAS) a hand-off to a worker (threads.py) barely pays
_MIN_MATMUL_FLOPS = 1.6e7

__all__ = ["NAME", "matmul", "linear_forward", "linear_backward", "causal_mask", "softmax_forward",
           "softmax_backward",
           "log_softmax_forward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward", "layernorm_forward", "layernorm_backward", "gelu_forward",
           "gelu_backward", "attention_forward", "attention_backward", "qkv_heads",
           "embedding_forward", "embedding_backward", "adamw_update_"]


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False):
    """op(a) @ op(b) over the last two axes, batch axes broadcast; op transposes when asked.

    NumPy's matmul (BLAS, held to one thread) does the arithmetic; the flags become transposed
    views, which BLAS reads in place without a copy. Large products are split over threads
    (threads.py): batched ones by batch entry, 2-D ones by output rows, or by output columns
    when there are fewer rows than columns (a weight gradient x^T dy of shape (in, out)).
    Measured on GPT shapes, float32, 2 cores: (4096,192)@(192,768) ~200 GFLOP/s either way;
    attention's (32,6,128,32)@(32,6,32,128) 194 GFLOP/s split, 31 with OpenBLAS's own threads.
    A Numba loop nest reached 15-30 on both.
    """
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    if a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype or a.dtype.type not in _FLOATS:
        return np.matmul(a, b)
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
        threads.run_chunks(part, threads.split_rows(batch[0], flops, _MIN_MATMUL_FLOPS))
    elif m >= n:
        def part(lo, hi):
            np.matmul(a[..., lo:hi, :], b, out=out[..., lo:hi, :])
        threads.run_chunks(part, threads.split_rows(m, flops, _MIN_MATMUL_FLOPS))
    else:
        def part(lo, hi):
            np.matmul(a, b[..., lo:hi], out=out[..., lo:hi])
        threads.run_chunks(part, threads.split_rows(n, flops, _MIN_MATMUL_FLOPS))
    return out


def linear_forward(x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    """y = x w + b; each thread adds the bias to its own rows while they are still in cache."""
    if x.ndim != 2 or w.ndim != 2 or x.dtype != w.dtype or x.dtype.type not in _FLOATS:
        return reference.linear_forward(x, w, b)
    y = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)

    def part(lo, hi):
        np.matmul(x[lo:hi], w, out=y[lo:hi])
        if b is not None:
            y[lo:hi] += b
    threads.run_chunks(part, threads.split_rows(len(x), 2.0 * y.size * x.shape[1],
                                                _MIN_MATMUL_FLOPS))
    return y


def linear_backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, need_x: bool = True,
                    need_w: bool = True, need_b: bool = True):
    """(dx, dw, db) in one hand-off: share i computes rows i of dx = gy w^T and columns i of
    dw = x^T gy and db (x has more rows than dw, dw usually as many columns as dx)."""
    if (x.ndim != 2 or w.ndim != 2 or not x.dtype == w.dtype == gy.dtype
            or x.dtype.type not in _FLOATS):
        return reference.linear_backward(x, w, gy, need_x, need_w, need_b)
    (n, d_in), d_out = x.shape, w.shape[1]
    dx = np.empty((n, d_in), dtype=x.dtype) if need_x else None
    dw = np.empty((d_in, d_out), dtype=x.dtype) if need_w else None
    db = np.empty(d_out, dtype=x.dtype) if need_b else None
    rows = threads.split_rows(n, 2.0 * n * d_in * d_out * (need_x + need_w), _MIN_MATMUL_FLOPS)
    cols = [(d_out * lo // n, d_out * hi // n) for lo, hi in rows]  # the same shares of columns

    def part(lo, hi):
        c0, c1 = cols[rows.index((lo, hi))]
        if need_x:
            np.matmul(gy[lo:hi], w.T, out=dx[lo:hi])
        if need_w:
            np.matmul(x.T, gy[:, c0:c1], out=dw[:, c0:c1])
        if need_b:
            np.sum(gy[:, c0:c1], axis=0, out=db[c0:c1])
    threads.run_chunks(part, rows)
    return dx, dw, db
