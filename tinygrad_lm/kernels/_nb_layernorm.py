"""Numba LayerNorm, forward and backward, one row per loop iteration (the math:
reference.layernorm_forward and layernorm_backward).

The variance is the two-pass form (subtract the mean first), not E[x^2] - E[x]^2, which cancels
catastrophically when |mean| >> std. The row is in the L1 cache for the second pass anyway.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import threads
from ._nb_math import SUMS
from .wrappers import is_float, reference_unless, rows


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _layernorm_rows(x, w, b, eps, y, mean, rstd):
    # BEGIN ASSIGNMENT 3.3
    n, c = x.shape
    cc = x.dtype.type(c)
    one = x.dtype.type(1)
    for r in range(n):
        s = x.dtype.type(0)
        for j in range(c):
            s += x[r, j]
        mu = s / cc
        ss = x.dtype.type(0)
        for j in range(c):
            d = x[r, j] - mu
            ss += d * d
        rs = one / math.sqrt(ss / cc + eps)
        for j in range(c):
            y[r, j] = (x[r, j] - mu) * rs * w[j] + b[j]
        mean[r] = mu
        rstd[r] = rs
    # END ASSIGNMENT 3.3


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _layernorm_backward_rows(gy, x, w, mean, rstd, dx, dw, db):
    """dx row by row; dw and db accumulate over rows in row order (as NumPy's sum over axis 0),
    which is why this loop is serial."""
    # BEGIN ASSIGNMENT 3.4
    n, c = x.shape
    cc = x.dtype.type(c)
    for r in range(n):
        mu, rs = mean[r], rstd[r]
        sg = x.dtype.type(0)
        sgx = x.dtype.type(0)
        for j in range(c):
            xhat = (x[r, j] - mu) * rs
            g = gy[r, j] * w[j]
            sg += g
            sgx += g * xhat
            dw[j] += gy[r, j] * xhat
            db[j] += gy[r, j]
        mean_g = sg / cc
        mean_gx = sgx / cc
        for j in range(c):
            xhat = (x[r, j] - mu) * rs
            dx[r, j] = rs * (gy[r, j] * w[j] - mean_g - xhat * mean_gx)
    # END ASSIGNMENT 3.4


def _vector(p, c, fill, dtype):
    """weight or bias as a contiguous (C,) array; None becomes ones or zeros, which leave y
    unchanged exactly (x * 1 = x, x + 0 = x)."""
    if p is None:
        return np.full(c, fill, dtype=dtype)
    return np.ascontiguousarray(p, dtype=dtype).reshape(c)


@reference_unless()
def layernorm_forward(x: np.ndarray, weight, bias, eps: float = 1e-5):
    """(y, mean, rstd), split by rows over the threads; the math: reference.layernorm_forward."""
    c = x.shape[-1]
    x2 = rows(x, x.dtype)  # (N, C)
    y = np.empty_like(x2)
    mean = np.empty(x2.shape[0], dtype=x.dtype)
    rstd = np.empty(x2.shape[0], dtype=x.dtype)
    w, b, eps = _vector(weight, c, 1, x.dtype), _vector(bias, c, 0, x.dtype), x.dtype.type(eps)

    def part(lo, hi):
        _layernorm_rows(x2[lo:hi], w, b, eps, y[lo:hi], mean[lo:hi], rstd[lo:hi])
    seconds = threads.element_seconds("layernorm_forward", x2.size)
    threads.run_chunks(part, threads.split_rows(len(x2), seconds))
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


def _x_is_float(gy, x, *saved) -> bool:
    return is_float(x)


@reference_unless(_x_is_float)
def layernorm_backward(gy: np.ndarray, x: np.ndarray, weight, mean, rstd):
    """(dx, dweight, dbias), split by rows over the threads; the math:
    reference.layernorm_backward."""
    c, dt = x.shape[-1], x.dtype
    x2 = rows(x, dt)  # (N, C)
    g2 = rows(np.broadcast_to(gy, x.shape), dt)
    dx = np.empty_like(x2)
    w = _vector(weight, c, 1, dt)
    mean = np.ascontiguousarray(mean, dtype=dt).reshape(-1)
    rstd = np.ascontiguousarray(rstd, dtype=dt).reshape(-1)
    chunks = threads.split_rows(len(x2), threads.element_seconds("layernorm_backward", x2.size))
    # each chunk sums its own rows' dweight, dbias; the partial sums are added in chunk order,
    # so the result depends on the thread count but never on timing
    dws = np.zeros((len(chunks), c), dtype=dt)
    dbs = np.zeros((len(chunks), c), dtype=dt)

    def part(i):
        lo, hi = chunks[i]
        _layernorm_backward_rows(g2[lo:hi], x2[lo:hi], w, mean[lo:hi], rstd[lo:hi], dx[lo:hi],
                                 dws[i], dbs[i])
    threads.run_tasks(part, len(chunks))
    dw, db = dws.sum(axis=0), dbs.sum(axis=0)
    return dx.reshape(x.shape), (dw if weight is not None else None), db
