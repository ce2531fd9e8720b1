"""Memory-linear causal self-attention: reference.attention_tiled_forward/backward, fast.

Forward keeps, per query, only the output and the log-sum-exp of its scores; backward
recomputes the attention weights one (tile, tile) block at a time from them. So the memory a
layer keeps for backward is O(T) per head instead of the O(T^2) weights of _nb_attention.py,
and the temporaries are a few tile-sized blocks per thread whatever T is. The price is one
more q k^T product and exp per block in backward.

Organised as _nb_attention.py is: each thread takes whole batch entries (or heads, when the
batch is smaller than the thread count), copies their q, k, v (and dy) into contiguous arrays,
and runs every tile pair for them; each matmul covers all of a share's heads at once (NumPy
loops over the (b, h) stack in C), so a tile pair costs a handful of Python-level calls
whatever the head count. Key tiles after a query tile's diagonal are skipped. The softmax
steps of a tile are this file's row loops (`_online_softmax_tile`, `_tile_score_grads`),
which work in place on the block the score matmul just wrote, while it is in cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import reference
from ._nb_attention import _run, _shares
from ._nb_math import SUMS, fast_exp, maximum
from .wrappers import reference_unless


def _tiles(T: int, tile: int):
    """[(first, end)] of the tiles of range(T); the last may be short."""
    return [(t0, min(T, t0 + tile)) for t0 in range(0, T, tile)]


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _online_softmax_tile(s, scale, tq, offset, m, l, rescale):
    """One key tile of the online softmax, in place on its scores s (rows, tk), rows the
    queries of (tq)-row tiles stacked: row r is query i = r % tq + offset of the key tile's
    numbering, and sees keys j <= i. With m the running max of scale * s and l the running
    sum of exp(scale * s - m): s becomes exp(scale * s - m') (0 for masked keys), with m' the
    new max, l is rescaled by exp(m - m') and grows by the row sum, and `rescale` gets
    exp(m - m') for the caller's running output (0 while m was still -inf)."""
    n, tk = s.shape
    zero = s.dtype.type(0)
    for r in range(n):
        seen = min(tk, r % tq + offset + 1)
        if seen <= 0:  # no key of this tile is visible to this query
            s[r, :] = zero
            rescale[r] = s.dtype.type(1)
            continue
        top = m[r]
        for j in range(seen):
            top = maximum(top, s[r, j] * scale)
        total = zero
        for j in range(seen):
            e = fast_exp(s[r, j] * scale - top)
            s[r, j] = e
            total += e
        for j in range(seen, tk):
            s[r, j] = zero
        factor = fast_exp(m[r] - top) if m[r] > -np.inf else zero
        rescale[r] = factor
        l[r] = l[r] * factor + total
        m[r] = top


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _rescaled_add(acc, rescale, pv):
    """acc = acc * rescale (per row) + pv, on (rows, hs) arrays."""
    n, hs = acc.shape
    for r in range(n):
        f = rescale[r]
        for c in range(hs):
            acc[r, c] = acc[r, c] * f + pv[r, c]


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _tile_score_grads(s, dp, scale, tq, offset, lse, D):
    """In place on one tile pair's scores s and dp = dy v^T (rows, tk), rows numbered as in
    _online_softmax_tile: s becomes att = exp(scale * s - lse) (0 for masked keys) and dp
    becomes ds = scale * att * (dp - D), D the row's dy . y."""
    n, tk = s.shape
    zero = s.dtype.type(0)
    for r in range(n):
        seen = max(0, min(tk, r % tq + offset + 1))
        for j in range(seen):
            a = fast_exp(s[r, j] * scale - lse[r])
            s[r, j] = a
            dp[r, j] = scale * a * (dp[r, j] - D[r])
        for j in range(seen, tk):
            s[r, j] = zero
            dp[r, j] = zero


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _row_dots(a, b, out):
    """out[r] = a[r] . b[r] for (rows, hs) arrays."""
    n, hs = a.shape
    for r in range(n):
        total = a.dtype.type(0)
        for c in range(hs):
            total += a[r, c] * b[r, c]
        out[r] = total


def _contiguous(*arrays):
    return tuple(np.ascontiguousarray(a) for a in arrays)


def _heads_and_tiles(qkv: np.ndarray, n_head: int, tile: int):
    """q, k, v as 3 x (B, nh, T, hs), hs, the score scale 1/sqrt(hs), and T's [lo, hi) tiles."""
    q, k, v = reference.qkv_heads(np.ascontiguousarray(qkv), n_head)
    hs = q.shape[-1]
    return q, k, v, hs, qkv.dtype.type(1.0 / math.sqrt(hs)), _tiles(qkv.shape[1], tile)


@reference_unless()
def attention_tiled_forward(qkv: np.ndarray, n_head: int, tile: int = 64):
    """(y (B, T, C), lse (B, nh, T)); the math: reference.attention_tiled_forward."""
    B, T, C3 = qkv.shape
    dt = qkv.dtype
    q, k, v, hs, scale, tiles = _heads_and_tiles(qkv, n_head, tile)
    y = np.empty((B, T, C3 // 3), dtype=dt)
    y_heads = y.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs) view of y
    lse = np.empty((B, n_head, T), dtype=dt)

    def part(sl):
        qc, kt, vc = _contiguous(q[sl], k[sl].swapaxes(-1, -2), v[sl])
        b, h = qc.shape[:2]
        for r0, r1 in tiles:
            tq = r1 - r0
            m = np.full(b * h * tq, -np.inf, dtype=dt)  # running max, a row per query
            l = np.zeros_like(m)  # running sum of exp(scale s - m)
            rescale = np.empty_like(m)
            acc = np.empty((b, h, tq, hs), dtype=dt)  # running sum of exp(scale s - m) v
            for c0, c1 in tiles:
                if c0 >= r1:  # keys after the query tile's last query: masked for all
                    break
                p = np.matmul(qc[:, :, r0:r1], kt[..., c0:c1])  # (b, h, tq, tk) scores
                _online_softmax_tile(p.reshape(-1, c1 - c0), scale, tq, r0 - c0, m, l, rescale)
                if c0 == 0:  # the first tile: nothing summed yet
                    np.matmul(p, vc[:, :, c0:c1], out=acc)
                else:
                    pv = np.matmul(p, vc[:, :, c0:c1])  # (b, h, tq, hs)
                    _rescaled_add(acc.reshape(-1, hs), rescale, pv.reshape(-1, hs))
            l3 = l.reshape(b, h, tq)
            np.divide(acc, l3[..., None], out=y_heads[sl][:, :, r0:r1])
            lse[sl][:, :, r0:r1] = m.reshape(b, h, tq) + np.log(l3)
    _run(part, _shares(B, n_head, min(T, tile), qkv.itemsize, 2.0 * B * n_head * T * T * hs))
    return y, lse


@reference_unless()
def attention_tiled_backward(qkv: np.ndarray, y: np.ndarray, lse: np.ndarray, gy: np.ndarray,
                             n_head: int, tile: int = 64):
    """d qkv (B, T, 3C); the math: reference.attention_tiled_backward."""
    B, T, C3 = qkv.shape
    dt = qkv.dtype
    q, k, v, hs, scale, tiles = _heads_and_tiles(qkv, n_head, tile)
    gy = np.ascontiguousarray(gy, dtype=dt)
    dy = gy.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
    D = np.empty((B, T, n_head), dtype=dt)  # the softmax's row term dy . y, per head
    _row_dots(gy.reshape(-1, hs), np.ascontiguousarray(y, dtype=dt).reshape(-1, hs),
              D.reshape(-1))
    D = D.transpose(0, 2, 1)  # (B, nh, T)
    lse = np.asarray(lse, dtype=dt)
    dqkv = np.empty((B, T, C3), dtype=dt)
    dq, dk, dv = reference.qkv_heads(dqkv, n_head)  # views: results land in place

    def part(sl):
        # contiguous copies, k and v also transposed: BLAS runs faster on them than on views
        g, qc, kc, kt, vt = _contiguous(dy[sl], q[sl], k[sl], k[sl].swapaxes(-1, -2),
                                        v[sl].swapaxes(-1, -2))
        lse_s, D_s = lse[sl], D[sl]
        dk_s, dv_s = np.zeros_like(kc), np.zeros_like(kc)
        for r0, r1 in tiles:
            tq = r1 - r0
            g_i, q_i = g[:, :, r0:r1], qc[:, :, r0:r1]
            lse_i = np.ascontiguousarray(lse_s[..., r0:r1]).reshape(-1)
            D_i = np.ascontiguousarray(D_s[..., r0:r1]).reshape(-1)
            dq_i = None
            for c0, c1 in tiles:
                if c0 >= r1:
                    break
                att = np.matmul(q_i, kt[..., c0:c1])  # (b, h, tq, tk) scores, then att
                ds = np.matmul(g_i, vt[..., c0:c1])  # dy v^T, then ds
                _tile_score_grads(att.reshape(-1, c1 - c0), ds.reshape(-1, c1 - c0), scale, tq,
                                  r0 - c0, lse_i, D_i)
                dv_s[:, :, c0:c1] += np.matmul(att.swapaxes(-1, -2), g_i)
                dk_s[:, :, c0:c1] += np.matmul(ds.swapaxes(-1, -2), q_i)
                if dq_i is None:
                    dq_i = np.matmul(ds, kc[:, :, c0:c1])  # (b, h, tq, hs)
                else:
                    dq_i += np.matmul(ds, kc[:, :, c0:c1])
            dq[sl][:, :, r0:r1] = dq_i
        dk[sl], dv[sl] = dk_s, dv_s
    _run(part, _shares(B, n_head, min(T, tile), qkv.itemsize, 5.0 * B * n_head * T * T * hs))
    return dqkv
