"""Numba cross-entropy: log-sum-exp per row in one pass, dlogits written directly (the math:
reference.cross_entropy_forward and cross_entropy_backward).

With a vocabulary of tens of thousands a row no longer fits in the L1 cache, so the usual
max-then-sum needs the row from memory twice. The forward kernel instead walks the row in chunks
that do fit, keeping a running max m and a running sum s of exp(x - m): when a chunk raises the
max to m', the sum so far is rescaled by exp(m - m') ("online softmax"), so lse = m + log s after
a single pass.

Both kernels run split by rows over the backend's threads (threads.split_rows): each row is
independent, so each thread fills its own rows of lse and dlogits, and the forward's per-thread
partial sums of the loss are added in thread order (the result depends on the thread count,
never on timing).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import threads
from ._nb_math import SUMS, fast_exp, maximum
from .reference import check_ids
from .wrappers import reference_unless

# 1024 float32 logits = 4 KiB: the chunk stays in L1 between its max pass and its exp-sum pass
_CHUNK = 1024


@njit(cache=True, error_model="numpy", fastmath=SUMS)
def _row_lse(row):
    """log sum_j exp(row[j]) in one pass over the row (see the module docstring)."""
    m = row.dtype.type(-np.inf)
    s = row.dtype.type(0)
    for c0 in range(0, row.size, _CHUNK):
        # a slice, so that the loops below index from 0: Numba then knows the index is not
        # negative and LLVM sees contiguous loads (x[r, c0 + j] does not vectorise)
        chunk = row[c0:c0 + _CHUNK]
        cm = chunk[0]
        for j in range(chunk.size):
            cm = maximum(cm, chunk[j])
        if cm == -np.inf:  # an all -inf chunk adds exp(-inf) = 0 under any max
            continue
        if cm > m:
            s *= fast_exp(m - cm)
            m = cm
        for j in range(chunk.size):
            s += fast_exp(chunk[j] - m)
    if m == -np.inf:  # every logit -inf: NaN, as the reference's exp(-inf - -inf) gives
        return row.dtype.type(np.nan)
    return m + math.log(s)


@njit(cache=True, error_model="numpy", nogil=True)
def _cross_entropy_rows(logits, targets, ignore_index, lse):
    """Fill lse (N,); return the sum over non-ignored rows of lse_n - logits[n, t_n]."""
    n = logits.shape[0]
    for r in range(n):
        lse[r] = _row_lse(logits[r])
    total = 0.0  # float64 running sum: the mean stays exact to float32 precision for any N
    for r in range(n):
        t = targets[r]
        if t != ignore_index:
            total += lse[r] - logits[r, t]
    return total


@njit(cache=True, error_model="numpy", nogil=True)
def _cross_entropy_backward_rows(logits, targets, lse, ignore_index, factor, d):
    """d[n] = (softmax(logits[n]) - onehot(t_n)) * factor; ignored rows get zeros."""
    n, v = logits.shape
    zero, one = logits.dtype.type(0), logits.dtype.type(1)
    for r in range(n):
        t = targets[r]
        if t == ignore_index:
            for j in range(v):
                d[r, j] = zero
            continue
        l = lse[r]
        for j in range(v):
            d[r, j] = fast_exp(logits[r, j] - l) * factor
        d[r, t] = (fast_exp(logits[r, t] - l) - one) * factor


def _prepare(logits, targets, ignore_index, op):
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must be (N, V), got {logits.shape}")
    if np.shape(targets) != logits.shape[:1]:
        raise ValueError(f"{op}: logits {logits.shape} need targets of shape "
                         f"{logits.shape[:1]}, got {np.shape(targets)}")
    targets = np.asarray(targets)
    check_ids("cross_entropy", targets, logits.shape[1], "target", ignore_index)
    flat = np.ascontiguousarray(targets, dtype=np.int64).reshape(-1)  # (N,)
    count = int(np.count_nonzero(flat != ignore_index))  # the rows the mean is over
    return np.ascontiguousarray(logits), flat, count


@reference_unless()
def cross_entropy_forward(logits: np.ndarray, targets: np.ndarray, ignore_index: int = -100):
    """(mean loss as a 0-d array, lse (N,)): reference.cross_entropy_forward in one pass per
    row (see the module docstring)."""
    x, t, count = _prepare(logits, targets, ignore_index, "cross_entropy")
    lse = np.empty(x.shape[0], dtype=x.dtype)
    rows = threads.split_rows(x.shape[0], threads.element_seconds("cross_entropy", x.size))
    totals = np.zeros(len(rows))  # float64, one per thread, added in order below

    def part(i):
        lo, hi = rows[i]
        totals[i] = _cross_entropy_rows(x[lo:hi], t[lo:hi], int(ignore_index), lse[lo:hi])
    threads.run_tasks(part, len(rows))
    total = float(sum(totals.tolist()))
    loss = total / count if count else 0.0  # all ignored: the empty mean is defined as 0
    return np.asarray(loss, dtype=x.dtype), lse


@reference_unless()
def cross_entropy_backward(logits, targets, lse, ignore_index: int = -100, grad_scale=1.0):
    """The math: reference.cross_entropy_backward."""
    x, t, count = _prepare(logits, targets, ignore_index, "cross_entropy_backward")
    lse = np.ascontiguousarray(lse, dtype=x.dtype)
    factor = x.dtype.type(float(grad_scale) / count if count else 0.0)
    d = np.empty_like(x)

    def part(lo, hi):
        _cross_entropy_backward_rows(x[lo:hi], t[lo:hi], lse[lo:hi], int(ignore_index), factor,
                                     d[lo:hi])
    seconds = threads.element_seconds("cross_entropy", x.size)
    threads.run_chunks(part, threads.split_rows(x.shape[0], seconds))
    return d
