"""Numba kernels of the optimizer: the AdamW update and the sum of squares behind gradient
clipping, one tensor at a time and over a whole model in one call.

Each is one loop over flat arrays. NumPy evaluates AdamW as a chain of whole-array operations,
each writing a temporary array (twelve of them); here each element is loaded once, and the loop
vectorises.

The `_many` forms take every parameter of a model at once. Called per tensor, the update pays
a Python call, argument checks and Numba's dispatch for each of a GPT's ~50-150 tensors, most of
them small (biases, LayerNorm weights); taken together the model is one range of elements,
cut into one share per thread (threads.py), and each share passes its pieces of tensors to the
compiled loop in tuples of PACK arrays. A tuple of a fixed length keeps a single compiled
signature per dtype for any model (a tuple of every parameter would compile once per parameter
count); the last tuple is padded with empty arrays.
"""

from __future__ import annotations

import bisect
import math

import numpy as np
from numba import njit

from . import reference, threads
from ._nb_math import SUMS
from .wrappers import FLOATS, flat, reference_unless

PACK = 8  # arrays per compiled call in the `_many` kernels


# ---- sum of squares (gradient clipping) -----------------------------------------------------
@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _sum_squares(x):
    total = 0.0  # float64 whatever x is: a norm over millions of elements keeps its precision
    for i in range(x.size):
        v = np.float64(x[i])
        total += v * v
    return total


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _sum_squares_pack(xs):
    total = 0.0
    for j in range(len(xs)):
        total += _sum_squares(xs[j])
    return total


@reference_unless()
def sum_squares(x: np.ndarray) -> float:
    """The math: reference.sum_squares, without the float64 copy of x the reference makes."""
    return float(_sum_squares(flat(x, x.dtype)))


def _writeable(a: np.ndarray) -> np.ndarray:
    """a, or a copy when it is read-only: Numba types read-only arrays apart, and one tuple
    must hold arrays of one type."""
    return a if a.flags.writeable else a.copy()


def _one_float_dtype(arrays, *rest, **options) -> bool:
    """Every array of one float dtype (float32 or float64)."""
    return bool(arrays) and arrays[0].dtype.type in FLOATS and all(
        a.dtype == arrays[0].dtype for a in arrays)


@reference_unless(_one_float_dtype)
def sum_squares_many(arrays) -> float:
    """The math: reference.sum_squares_many; the arrays go to the loop PACK at a time."""
    flats = [_writeable(flat(a, a.dtype)) for a in arrays]
    empty = flats[0][:0]
    total = 0.0
    for k in range(0, len(flats), PACK):
        pack = flats[k:k + PACK]
        total += _sum_squares_pack(tuple(pack + [empty] * (PACK - len(pack))))
    return float(total)


# ---- AdamW ----------------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", nogil=True)
def _adamw(p, g, m, v, decay, beta1, one_m_beta1, beta2, one_m_beta2, step_size, bc2, eps):
    """In place, elementwise: p *= decay; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= step_size * m / (sqrt(v / bc2) + eps)."""
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * beta1 + one_m_beta1 * gi
        vi = v[i] * beta2 + one_m_beta2 * (gi * gi)
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - step_size * mi / (math.sqrt(vi / bc2) + eps)


@njit(cache=True, error_model="numpy", nogil=True)
def _adamw_pack(ps, gs, ms, vs, coef):
    """_adamw on each (ps[j], gs[j], ms[j], vs[j]) with the constants of row j of coef."""
    for j in range(len(ps)):
        c = coef[j]
        _adamw(ps[j], gs[j], ms[j], vs[j], c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])


def _adamw_constants(t, lr, beta1, beta2, eps, weight_decay, step) -> np.ndarray:
    """The loop's constants in p's float type t: decay, b1, 1-b1, b2, 1-b2, lr / (1 - b1^step),
    1 - b2^step, eps (the bias corrections folded into the step size and the denominator).

    Each setting is a number, giving one row (8,), or a sequence with one entry per tensor,
    giving a row per tensor (n, 8). Computed in float64 and rounded to t once, so one tensor's
    constants are the same, to the bit, whichever way it is updated."""
    lr, b1, b2, eps, wd, step = (np.asarray(x, dtype=np.float64) for x in
                                 (lr, beta1, beta2, eps, weight_decay, step))
    decay = np.where(wd != 0, 1.0 - lr * wd, 1.0)
    return np.stack([decay, b1, 1.0 - b1, b2, 1.0 - b2, lr / (1.0 - b1 ** step),
                     1.0 - b2 ** step, eps], axis=-1).astype(t)


def _adamw_layout(p, g, m, v, **hyper) -> bool:
    """The kernel writes p, m, v through flat views: they must be C-contiguous float arrays of
    one dtype (other layouts go through the reference, still in place)."""
    return p.dtype.type in FLOATS and all(a.dtype == p.dtype and a.flags.c_contiguous
                                          for a in (p, m, v))


@reference_unless(_adamw_layout)
def adamw_update_(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
    """In-place AdamW step on p, m, v (the math: reference.adamw_update_)."""
    g = g if g.shape == p.shape else np.broadcast_to(g, p.shape)  # broadcast_to costs 5 us
    _adamw(p.reshape(-1), flat(g, p.dtype), m.reshape(-1), v.reshape(-1),
           *_adamw_constants(p.dtype.type, lr, beta1, beta2, eps, weight_decay, step))


def _flat_views(params, grads, exp_avgs, exp_avg_sqs):
    """(p, g, m, v) of each tensor as flat arrays, p, m, v views to write through, or None when
    a tensor does not fit the compiled loop: p, m, v must be C-contiguous and writeable, all of
    one float dtype and shape (g is copied when it is not, so that all of them have one Numba
    type, as the tuples need)."""
    t = params[0].dtype if params else None
    if t is None or t.type not in FLOATS:
        return None
    views = []
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        g = _writeable(flat(g, t))  # only read
        if not (p.dtype == m.dtype == v.dtype == t and p.size == g.size
                and p.shape == m.shape == v.shape
                and p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous
                and p.flags.writeable and m.flags.writeable and v.flags.writeable):
            return None
        views.append((p.reshape(-1), g, m.reshape(-1), v.reshape(-1)))
    return views


def adamw_update_many_(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps,
                       weight_decay, step):
    """adamw_update_ on every tensor, the i-th with the i-th setting of each list, in one pass
    split over the threads: the result is the same, to the bit, as one call per tensor.
    Tensors the loop cannot take (see _flat_views) send the whole call to the reference."""
    hyper = dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                 step=step)
    arrays = _flat_views(params, grads, exp_avgs, exp_avg_sqs)
    if arrays is None:
        return reference.adamw_update_many_(params, grads, exp_avgs, exp_avg_sqs, **hyper)
    t = params[0].dtype.type
    coef = _adamw_constants(t, **hyper)
    starts = np.cumsum([0] + [p.size for p in params]).tolist()
    empty = arrays[0][0][:0]

    def part(lo, hi):
        # the pieces of tensors inside elements [lo, hi) of the model, in PACKs
        rows, pieces = [], ([], [], [], [])
        for i in range(bisect.bisect_right(starts, lo) - 1, len(arrays)):
            if starts[i] >= hi:
                break
            a, b = max(lo, starts[i]) - starts[i], min(hi, starts[i + 1]) - starts[i]
            if a < b:
                for piece, array in zip(pieces, arrays[i]):
                    piece.append(array[a:b])
                rows.append(i)
        for k in range(0, len(rows), PACK):
            n = len(rows[k:k + PACK])
            pack_coef = np.zeros((PACK, 8), dtype=t)
            pack_coef[:n] = coef[rows[k:k + n]]
            _adamw_pack(*(tuple(piece[k:k + n] + [empty] * (PACK - n)) for piece in pieces),
                        pack_coef)
    total = starts[-1]
    threads.run_chunks(part, threads.split_rows(total, threads.element_seconds("adamw", total),
                                                64))
