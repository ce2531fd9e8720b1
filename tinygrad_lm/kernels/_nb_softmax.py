"""Numba softmax and log-softmax, forward and backward: one compiled pass per row.

The NumPy reference makes a temporary array for every step (scale, mask, max, subtract, exp, sum,
divide). Here each row is read from memory once per pass and stays in the L1 cache between the
max, exp-and-sum and normalise passes, and the scale and causal mask cost nothing extra: the mask
just shortens the row loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import threads
from ._nb_math import SUMS, fast_exp, maximum
from .wrappers import reference_unless, rows


# ---- kernels on contiguous (rows, cols) arrays ----------------------------------------------
@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _softmax_rows(x, scale, tq, causal, y):
    """y = softmax(scale * x) for each row. Row r is query i = r % tq of a (tq, tk) score block;
    with `causal` it may see keys j <= i + (tk - tq), the first `valid` entries of the row."""
    # BEGIN ASSIGNMENT 3.1
    n, tk = x.shape
    zero, one = x.dtype.type(0), x.dtype.type(1)
    ninf = x.dtype.type(-np.inf)
    for r in range(n):
        valid = min(tk, r % tq + (tk - tq) + 1) if causal else tk
        if valid <= 0:  # every key masked (only possible when tq > tk): zeros, not 0/0
            y[r, :] = zero
            continue
        # Loops run to `stop`, `valid` rounded up to a multiple of 16, and mask the extra keys
        # with a select: LLVM then runs them as whole vectors instead of a scalar tail.
        stop = min(tk, (valid + 15) // 16 * 16)
        # exp(z - m) with m the row max is <= 1: no overflow whatever the logits
        m = ninf
        for j in range(stop):
            m = maximum(m, x[r, j] * scale if j < valid else ninf)
        if not math.isfinite(m):  # all -inf (or a +inf): shift by 0, as the reference does
            m = zero
        # exp and sum in separate loops: for rows under 64 keys the exp loop alone vectorises
        # better; the sum then rereads y from the L1 cache
        for j in range(stop):
            y[r, j] = fast_exp(x[r, j] * scale - m) if j < valid else zero
        s = zero
        for j in range(stop):
            s += y[r, j]
        inv = one / s if s != zero else zero
        # one loop over the whole row also writes the masked tail: a separate zero-fill loop
        # becomes a memset call per row, which cost more than the rest on causal T=64 rows
        for j in range(tk):
            y[r, j] = y[r, j] * inv if j < stop else zero
    # END ASSIGNMENT 3.1


# inline="always": a compiled caller (softmax_backward_rows_inplace) gets this loop's body, not a
# call, so LLVM sees when dx is gy and vectorises the loop as it does for distinct arrays
@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True, inline="always")
def _softmax_backward_rows(y, gy, scale, dx):
    """Each row of dx: softmax backward (reference.softmax_backward), one dot product per row."""
    # BEGIN ASSIGNMENT 3.2
    n, c = y.shape
    for r in range(n):
        dot = y.dtype.type(0)
        for j in range(c):
            dot += gy[r, j] * y[r, j]
        for j in range(c):
            dx[r, j] = scale * y[r, j] * (gy[r, j] - dot)
    # END ASSIGNMENT 3.2


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def softmax_backward_rows_inplace(gy, y, scale):
    """_softmax_backward_rows writing dx over gy: the fused attention's ds over its datt block
    (_nb_attention.py), while the block is in cache. Kept in this file so that Numba's cache of
    it, keyed on this file, is rebuilt whenever the loop above changes."""
    _softmax_backward_rows(y, gy, scale, gy)


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _log_softmax_rows(x, y):
    """reference.log_softmax_forward on each row: three passes (max, sum of exp, y)."""
    n, c = x.shape
    for r in range(n):
        m = x[r, 0]
        for j in range(1, c):
            m = maximum(m, x[r, j])
        s = x.dtype.type(0)
        for j in range(c):
            s += fast_exp(x[r, j] - m)
        lse = m + math.log(s)
        for j in range(c):
            y[r, j] = x[r, j] - lse


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _log_softmax_backward_rows(y, gy, dx):
    """reference.log_softmax_backward on each row."""
    n, c = y.shape
    for r in range(n):
        total = y.dtype.type(0)
        for j in range(c):
            total += gy[r, j]
        for j in range(c):
            dx[r, j] = gy[r, j] - fast_exp(y[r, j]) * total


# ---- wrappers: any leading shape, any strides -----------------------------------------------
@reference_unless()
def softmax_forward(x: np.ndarray, scale: float = 1.0, causal: bool = False) -> np.ndarray:
    """The math: reference.softmax_forward; the scale and causal mask fused into the row loop."""
    if causal and x.ndim < 2:
        raise ValueError(f"softmax: causal masking needs (..., Tq, Tk) scores, got {x.shape}")
    tq = x.shape[-2] if x.ndim >= 2 else 1
    x2 = rows(x, x.dtype)  # (rows, Tk)
    y = np.empty_like(x2)
    scale, causal = x.dtype.type(scale), bool(causal)

    def part(lo, hi):  # causal chunks start on a multiple of tq: row r is still query r % tq
        _softmax_rows(x2[lo:hi], scale, tq, causal, y[lo:hi])
    align = tq if causal else 1
    seconds = threads.element_seconds("softmax_forward", x2.size)
    threads.run_chunks(part, threads.split_rows(len(x2), seconds, align))
    return y.reshape(x.shape)


@reference_unless()
def softmax_backward(y: np.ndarray, gy: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The math: reference.softmax_backward; one compiled pass per row."""
    y2, g2 = rows(y, y.dtype), rows(np.broadcast_to(gy, y.shape), y.dtype)
    dx = np.empty_like(y2)
    scale = y.dtype.type(scale)

    def part(lo, hi):
        _softmax_backward_rows(y2[lo:hi], g2[lo:hi], scale, dx[lo:hi])
    seconds = threads.element_seconds("softmax_backward", y2.size)
    threads.run_chunks(part, threads.split_rows(len(y2), seconds))
    return dx.reshape(y.shape)


@reference_unless()
def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """The math: reference.log_softmax_forward."""
    x2 = rows(x, x.dtype)
    y = np.empty_like(x2)
    _log_softmax_rows(x2, y)
    return y.reshape(x.shape)


@reference_unless()
def log_softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The math: reference.log_softmax_backward."""
    y2, g2 = rows(y, y.dtype), rows(np.broadcast_to(gy, y.shape), y.dtype)
    dx = np.empty_like(y2)
    _log_softmax_backward_rows(y2, g2, dx)
    return dx.reshape(y.shape)
