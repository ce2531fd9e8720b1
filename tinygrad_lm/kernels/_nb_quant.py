"""Numba int8-weight kernels: per-channel quantization and the int8 linear forward.

The math is in quantized.py (the reference). What the compiled loops add:

* A product with a few rows of x (a decoding step has one) reads each int8 row of q once and
  takes its dot product with every row of x while the row is in L1: the weight is streamed
  from memory once, a quarter of the bytes a float32 weight takes, and each int8 is widened to
  float32 in a register, never written back as float32. Only that path pays off for int8
  weights; BLAS cannot read int8.
* Many rows (a prompt, a batch) make the product bound by arithmetic instead, where BLAS is
  several times faster than a compiled loop: blocks of BLOCK output channels are dequantised
  into a small float32 buffer that stays in cache, and BLAS multiplies x by each block.

Both split the output channels over the threads (threads.py). The dot products are sums, so
they are compiled with `SUMS` (reassociation: LLVM splits each sum over vector lanes, several
times faster); their rounding differs from the reference's matmul by float32 rounding only
(tests/test_quantized.py checks 1e-5 of the largest output).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import threads
from ._nb_math import SUMS
from .quantized import QMAX, quantizable
from .wrappers import reference_unless, rows

# From this many rows of x on, dequantising blocks for BLAS beats the compiled dot products:
# those pay a full pass of arithmetic for every extra row, while BLAS's blocked kernels reuse
# each loaded weight for many rows (at GPT-2 small's shapes they cross between 8 and 32 rows).
ROWS_FOR_BLAS = 16
BLOCK = 128  # output channels dequantised at a time: 128 x 3072 float32 is 1.5 MB, in L2


@njit(cache=True, error_model="numpy", nogil=True)
def _quantize_rows(w, q, scale, qmax):
    """scale[o] = max|w[o]| / qmax (1 for a zero row), q[o] = rint(w[o] / scale[o]), clipped
    to [-qmax, qmax]. In float32 throughout, as the reference, so both give the same q bit for
    bit. (qmax is an argument: Numba would freeze a global of another file into its cache.)"""
    for o in range(w.shape[0]):
        amax = np.float32(0.0)
        for i in range(w.shape[1]):
            amax = max(amax, abs(w[o, i]))
        s = amax / qmax
        if s == 0:
            s = np.float32(1.0)
        scale[o] = s
        for i in range(w.shape[1]):
            q[o, i] = np.int8(min(max(np.rint(w[o, i] / s), -qmax), qmax))


@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _int8_dot_rows(x, q, scale, b, y, lo, hi):
    """y[r, o] = (x[r] . q[o]) * scale[o] + b[o] for output channels lo <= o < hi."""
    for o in range(lo, hi):
        for r in range(x.shape[0]):
            acc = np.float32(0.0)
            for i in range(x.shape[1]):
                acc += x[r, i] * np.float32(q[o, i])  # widened in a register
            y[r, o] = acc * scale[o] + b[o]


@njit(cache=True, error_model="numpy", nogil=True)
def _dequantize_rows(q, scale, w):
    """w[o, i] = q[o, i] * scale[o] in float32: the reference's dequantised weight exactly."""
    for o in range(q.shape[0]):
        s = scale[o]
        for i in range(q.shape[1]):
            w[o, i] = np.float32(q[o, i]) * s


@reference_unless(lambda w: np.asarray(w).ndim == 2 and np.asarray(w).size > 0)
def quantize_int8_per_channel(w: np.ndarray):
    """The math: reference.quantize_int8_per_channel; rows split over the threads."""
    w = quantizable(w)  # (out, in) float32, checked as the reference checks it
    q = np.empty(w.shape, dtype=np.int8)
    scale = np.empty(w.shape[0], dtype=np.float32)

    def part(lo, hi):
        _quantize_rows(w[lo:hi], q[lo:hi], scale[lo:hi], np.float32(QMAX))
    seconds = threads.element_seconds("quantize", w.size)
    threads.run_chunks(part, threads.split_rows(w.shape[0], seconds))
    return q, scale


def _int8_ok(x, q, scale, b=None) -> bool:
    """float32 rows x (N, in) with N >= 1, an int8 q (out, in) and float32 scale and bias:
    what the compiled loops handle (a float64 x goes to the reference)."""
    return (x.ndim == 2 and x.size > 0 and x.dtype == np.float32 and q.ndim == 2
            and q.dtype == np.int8 and q.shape[1] == x.shape[1] and q.shape[0] > 0
            and scale.dtype == np.float32 and scale.shape == (q.shape[0],)
            and (b is None or (b.dtype == np.float32 and b.shape == (q.shape[0],))))


@reference_unless(_int8_ok)
def int8_linear_forward(x: np.ndarray, q: np.ndarray, scale: np.ndarray, b=None) -> np.ndarray:
    """The math: reference.int8_linear_forward. Under ROWS_FOR_BLAS rows, compiled dot products
    with each int8 row; from there, BLAS on blocks of dequantised rows. Either way the output
    channels are split over the threads."""
    x, q = rows(x, np.float32), np.ascontiguousarray(q)  # (N, in), (out, in)
    scale = np.ascontiguousarray(scale)
    bias = np.zeros(q.shape[0], np.float32) if b is None else np.ascontiguousarray(b)  # + 0: y
    (n, d_in), d_out = x.shape, q.shape[0]
    y = np.empty((n, d_out), dtype=np.float32)
    seconds = 2.0 * n * d_in * d_out * threads.FLOP
    if n < ROWS_FOR_BLAS:
        def part(lo, hi):
            _int8_dot_rows(x, q, scale, bias, y, lo, hi)
        seconds = max(seconds, q.nbytes * threads.READ)  # a few rows: reading q is the cost
    else:
        def part(lo, hi):
            w = np.empty((min(BLOCK, hi - lo), d_in), dtype=np.float32)  # this thread's block
            for a in range(lo, hi, BLOCK):
                z = min(a + BLOCK, hi)
                _dequantize_rows(q[a:z], scale[a:z], w[:z - a])
                np.matmul(x, w[:z - a].T, out=y[:, a:z])  # (N, in) @ (in, blk) -> (N, blk)
                y[:, a:z] += bias[a:z]
    threads.run_chunks(part, threads.split_rows(d_out, seconds))
    return y
