"""Fused causal self-attention, forward and backward, split over threads by batch entry.

The same math as `reference.attention_forward/backward`, organised for speed:

* q, k, v stay strided views into the fused (B, T, 3C) projection, and the results are written
  straight into (B, T, C) and (B, T, 3C) arrays through strided views: no split, head
  transpose or merge copies, and no zero-filled gradient for each of q, k, v to be added up.
* Each thread takes whole batch entries (or heads, when the batch is smaller than the thread
  count) and runs all the steps for them, so a (T, T) score block is still in cache when the
  softmax and the next matmul read it, and one hand-off to a worker covers five matmuls and
  a softmax. Unfused, each of those was a separate op with its own hand-off and its own pass
  over memory.

The matmuls are NumPy's (BLAS, one thread per share, see threads.py); the softmax is the row
kernel of _nb_softmax.py, run in place.
"""

from __future__ import annotations

import math

import numpy as np

from . import reference, threads
from ._nb_softmax import _softmax_backward_rows, _softmax_rows

_FLOATS = (np.float32, np.float64)
# below ~8 MFLOP of attention a hand-off to a worker (threads.py) barely pays
_MIN_FLOPS = 8e6


def _shares(B: int, n_head: int, flops: float):
    """Index tuples of the shares: batch ranges, or head ranges when B < the thread count."""
    by_batch = B >= threads.num_threads()
    chunks = threads.split_rows(B if by_batch else n_head, flops, _MIN_FLOPS)
    return [(slice(lo, hi),) if by_batch else (slice(None), slice(lo, hi)) for lo, hi in chunks]


def _run(part, shares):
    threads.run_chunks(lambda i, _: part(shares[i]), [(i, i + 1) for i in range(len(shares))])


def attention_forward(qkv: np.ndarray, n_head: int):
    """(y (B, T, C), att (B, nh, T, T)): see reference.attention_forward."""
    if qkv.dtype.type not in _FLOATS or qkv.size == 0:
        return reference.attention_forward(qkv, n_head)
    B, T, C3 = qkv.shape
    qkv = np.ascontiguousarray(qkv)
    q, k, v = reference.qkv_heads(qkv, n_head)  # 3 x (B, nh, T, hs), views
    hs = q.shape[-1]
    scale = qkv.dtype.type(1.0 / math.sqrt(hs))
    att = np.empty((B, n_head, T, T), dtype=qkv.dtype)
    y = np.empty((B, T, C3 // 3), dtype=qkv.dtype)
    y_heads = y.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs) view of y

    def part(sl):
        s = att[sl]  # (b, h, T, T); a share of heads is not contiguous: work in a copy
        work = s if s.flags.c_contiguous else np.empty(s.shape, dtype=s.dtype)
        np.matmul(q[sl], k[sl].swapaxes(-1, -2), out=work)  # scores
        rows = work.reshape(-1, T)
        _softmax_rows(rows, scale, T, True, rows)  # in place: scores become att
        if work is not s:
            s[...] = work
        np.matmul(work, v[sl], out=y_heads[sl])
    _run(part, _shares(B, n_head, 4.0 * B * n_head * T * T * hs))
    return y, att


def attention_backward(qkv: np.ndarray, att: np.ndarray, gy: np.ndarray, n_head: int):
    """d qkv (B, T, 3C): see reference.attention_backward."""
    if qkv.dtype.type not in _FLOATS or qkv.size == 0:
        return reference.attention_backward(qkv, att, gy, n_head)
    B, T, C3 = qkv.shape
    dt = qkv.dtype
    qkv = np.ascontiguousarray(qkv)
    att = np.ascontiguousarray(att, dtype=dt)
    q, k, v = reference.qkv_heads(qkv, n_head)
    hs = q.shape[-1]
    scale = dt.type(1.0 / math.sqrt(hs))
    dy = np.ascontiguousarray(gy, dtype=dt).reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)
    dqkv = np.empty_like(qkv)
    dq, dk, dv = reference.qkv_heads(dqkv, n_head)  # views: results land in place

    def part(sl):
        a = np.ascontiguousarray(att[sl])  # a view already when split by batch
        np.matmul(a.swapaxes(-1, -2), dy[sl], out=dv[sl])
        ds = np.matmul(dy[sl], v[sl].swapaxes(-1, -2))  # (b, h, T, T) d att
        rows = ds.reshape(-1, T)
        _softmax_backward_rows(a.reshape(-1, T), rows, scale, rows)  # in place: d scores
        np.matmul(ds, k[sl], out=dq[sl])
        np.matmul(ds.swapaxes(-1, -2), q[sl], out=dk[sl])
    _run(part, _shares(B, n_head, 8.0 * B * n_head * T * T * hs))
    return dqkv
