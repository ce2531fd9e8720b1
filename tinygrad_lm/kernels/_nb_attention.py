"""Fused causal self-attention, forward and backward, split over threads by batch entry.

The same math as `reference.attention_forward/backward`, organised for speed:

* No split, head-transpose or merge ops: each tile reads its q, k^T and v straight out of the
  fused (B, T, 3C) projection into small contiguous copies (T x hs each; BLAS runs faster on
  those than on the strided views), and writes y and d qkv straight into (B, T, C)
  and (B, T, 3C) arrays through strided views, so q, k and v get no zero-filled gradients to
  be added up.
* Each thread takes whole batch entries (or heads, when the batch is smaller than the thread
  count) in tiles that fit in L2, and runs every step for them while the (T, T) scores are in
  cache: one hand-off to a worker covers the matmuls and the softmax of a whole layer.
* Queries go in causal blocks (`_query_blocks`): keys after a block are masked for all its
  queries, so their scores are never computed, stored or read back.

The matmuls are NumPy's (BLAS, one thread per share, see threads.py); the softmax of a score
block and its backward are compiled row loops (one pass per row, where NumPy would make four
over the block). The backward is _nb_softmax.py's own loop, the one softmax backward there is
(where that loop is unfinished and the policy of wrappers.py allows it, attention_backward
runs the reference, handed the full weights, as any kernel would). The forward is this file's
`_causal_probs`, not the general softmax kernel: a query block always sees a key, so it needs
neither the fully masked rows nor the padded vector loops of the general kernel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import reference, threads
from ._nb_math import SUMS, fast_exp, maximum
from ._nb_softmax import softmax_backward_rows_inplace
from .wrappers import reference_unless

_TILE_BYTES = 1 << 20
_QUERY_BLOCK = 64


def _shares(B: int, n_head: int, T: int, itemsize: int, flops: float):
    """Index tuples of the work, grouped per thread: each thread gets a range of batch entries
    (of heads when B < the thread count), cut into tiles whose (h, T, T) score blocks fit in
    a core's L2 cache. Untiled, the (B, nh, T, T) temporaries of a large batch stream through
    memory instead of staying in cache (benchmarks/README.md has the tile sizes tried)."""
    by_batch = B >= threads.num_threads()
    chunks = threads.split_rows(B if by_batch else n_head, flops * threads.FLOP)
    per_entry = (n_head if by_batch else B) * T * T * itemsize  # scores of one tile index
    tile = max(1, _TILE_BYTES // per_entry)

    def index(lo, hi):  # batch entries lo:hi, or heads lo:hi of every entry
        return (slice(lo, hi),) if by_batch else (slice(None), slice(lo, hi))
    return [[index(t, min(t + tile, hi)) for t in range(lo, hi, tile)] for lo, hi in chunks]


def _run(part, shares):
    """part(index) for every tile, each thread's tiles in turn."""
    threads.run_tasks(lambda i: [part(sl) for sl in shares[i]], len(shares))


def _query_blocks(T: int):
    """[(first query, end query)]: blocks of _QUERY_BLOCK queries. Block i needs only the keys
    before its end, so a causal product skips the key blocks after it: for T = 128 (two blocks)
    the score and att @ v matmuls do 3/4 of the full T x T work."""
    return [(r0, min(T, r0 + _QUERY_BLOCK)) for r0 in range(0, T, _QUERY_BLOCK)]


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _causal_probs(scores, scale, tq, probs):
    """probs = softmax(scale * scores) over each row of causal (tq, tk) score blocks stacked as
    rows: row r is query i = r % tq, which sees keys j <= i + tk - tq (at least one, since a
    query block always sees its own keys). Keys after those get probability 0.

    exp(scale * (s - max s)) <= 1, so no logit overflows; scale > 0 keeps the max in place."""
    n, tk = scores.shape
    zero = scores.dtype.type(0)
    for r in range(n):
        seen = min(tk, r % tq + tk - tq + 1)
        top = scores[r, 0]
        for j in range(1, seen):
            top = maximum(top, scores[r, j])
        total = zero
        for j in range(seen):
            e = fast_exp((scores[r, j] - top) * scale)
            probs[r, j] = e
            total += e
        inv = scores.dtype.type(1) / total
        for j in range(seen):
            probs[r, j] *= inv
        for j in range(seen, tk):
            probs[r, j] = zero


def attention_weights(saved) -> np.ndarray:
    """The full (B, nh, T, T) attention weights from what attention_forward returned: a tuple
    of causal query blocks, block i of shape (B, nh, rows_i, keys up to its last row), put back
    in place with zeros for the masked keys (a full array passes through)."""
    if isinstance(saved, np.ndarray):
        return saved
    B, nh, _, T = saved[-1].shape
    att = np.zeros((B, nh, T, T), dtype=saved[-1].dtype)
    r0 = 0
    for block in saved:
        r1 = r0 + block.shape[2]
        att[:, :, r0:r1, :block.shape[3]] = block
        r0 = r1
    return att


@reference_unless()
def attention_forward(qkv: np.ndarray, n_head: int):
    """(y (B, T, C), att); the math: reference.attention_forward. att is kept as a tuple of causal
    query blocks (see _query_blocks and attention_weights): the masked keys after each block
    are never computed, stored or read back."""
    B, T, C3 = qkv.shape
    qkv = np.ascontiguousarray(qkv)
    q, k, v = reference.qkv_heads(qkv, n_head)  # 3 x (B, nh, T, hs), views
    hs = q.shape[-1]
    scale = qkv.dtype.type(1.0 / math.sqrt(hs))
    blocks = _query_blocks(T)
    att = tuple(np.empty((B, n_head, r1 - r0, r1), dtype=qkv.dtype) for r0, r1 in blocks)
    y = np.empty((B, T, C3 // 3), dtype=qkv.dtype)
    y_heads = y.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs) view of y

    def part(sl):
        # contiguous copies of the share's q, k^T and v (cheap: T x hs each): BLAS runs
        # faster on them than on the strided views
        qc, kt, vc = (np.ascontiguousarray(a) for a in (q[sl], k[sl].swapaxes(-1, -2), v[sl]))
        ys = y_heads[sl]
        for (r0, r1), block in zip(blocks, att):  # queries r0:r1 see keys :r1
            scores = np.matmul(qc[:, :, r0:r1], kt[..., :r1])  # (b, h, r1 - r0, r1)
            # not in place: with input and output aliased, LLVM's overlap check sends the
            # softmax loop down its scalar path, several times slower. A share of heads is
            # not contiguous in the block: softmax into a copy then.
            target = block[sl]
            probs = target if target.flags.c_contiguous else np.empty_like(scores)
            _causal_probs(scores.reshape(-1, r1), scale, r1 - r0, probs.reshape(-1, r1))
            if probs is not target:
                target[...] = probs
            np.matmul(probs, vc[:, :, :r1], out=ys[:, :, r0:r1])
    _run(part, _shares(B, n_head, T, qkv.itemsize, 4.0 * B * n_head * T * T * hs))
    return y, att


def _reference_backward(qkv: np.ndarray, att, gy: np.ndarray, n_head: int):
    """reference.attention_backward, given the full weights that att's query blocks hold."""
    return reference.attention_backward(qkv, attention_weights(att), gy, n_head)


# its softmax backward is 3.2's row loop: the reference runs until 3.2 is written
@reference_unless(spec=_reference_backward)
def attention_backward(qkv: np.ndarray, att, gy: np.ndarray, n_head: int):
    """d qkv (B, T, 3C); the math: reference.attention_backward."""
    B, T, C3 = qkv.shape
    dt = qkv.dtype
    qkv = np.ascontiguousarray(qkv)
    blocks = _query_blocks(T)
    if isinstance(att, np.ndarray) or [b.shape[2:] for b in att] != [(r1 - r0, r1)
                                                                     for r0, r1 in blocks]:
        full = attention_weights(att)  # full weights, or blocks of another block size
        att = tuple(full[:, :, r0:r1, :r1] for r0, r1 in blocks)
    q, k, v = reference.qkv_heads(qkv, n_head)
    hs = q.shape[-1]
    scale = dt.type(1.0 / math.sqrt(hs))
    dy = np.asarray(gy, dtype=dt).reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)
    dqkv = np.empty_like(qkv)
    dq, dk, dv = reference.qkv_heads(dqkv, n_head)  # views: results land in place

    def part(sl):
        g, qc, kc, vt = (np.ascontiguousarray(a) for a in (dy[sl], q[sl], k[sl],
                                                           v[sl].swapaxes(-1, -2)))
        dqs = dq[sl]
        # keys get gradient from every query block at or after them: accumulate, last block
        # (all keys) first so that it can initialise the sums
        dv_sum = dk_sum = None
        for (r0, r1), block in zip(reversed(blocks), reversed(att)):
            a = np.ascontiguousarray(block[sl], dtype=dt)  # (b, h, r1 - r0, r1)
            gi = g[:, :, r0:r1]
            dv_i = np.matmul(a.swapaxes(-1, -2), gi)  # (b, h, r1, hs)
            datt = np.matmul(gi, vt[..., :r1])
            # ds = softmax backward of datt (with the scale), in place while it is in cache
            softmax_backward_rows_inplace(datt.reshape(-1, r1), a.reshape(-1, r1), scale)
            ds = datt
            np.matmul(ds, kc[:, :, :r1], out=dqs[:, :, r0:r1])
            dk_i = np.matmul(ds.swapaxes(-1, -2), qc[:, :, r0:r1])  # (b, h, r1, hs)
            if dv_sum is None:
                dv_sum, dk_sum = dv_i, dk_i
            else:
                dv_sum[:, :, :r1] += dv_i
                dk_sum[:, :, :r1] += dk_i
        dv[sl], dk[sl] = dv_sum, dk_sum
    _run(part, _shares(B, n_head, T, qkv.itemsize, 8.0 * B * n_head * T * T * hs))
    return dqkv
