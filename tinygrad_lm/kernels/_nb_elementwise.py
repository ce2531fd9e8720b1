"""Numba elementwise kernels: GELU forward and backward (the optimizer's are in _nb_optim.py).

Each is one loop over a flat array. NumPy evaluates the same formulas as a chain of whole-array
operations, each writing a temporary array (about ten for GELU's backward); here each element
is loaded once, and the loops vectorise.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import threads
from ._nb_math import VEXP_FLAGS, vexp
from .wrappers import flat, reference_unless

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ---- GELU -----------------------------------------------------------------------------------
# The tanh form is evaluated through a sigmoid: 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)) = sig(2u),
# so gelu(x) = x sig(2u), with u = sqrt(2/pi) (x + 0.044715 x^3). This needs only exp (vectorised
# for float32, see _nb_math) and avoids 1 + tanh(u) cancelling to 0 for negative x.
# Derivative: d/dx [x sig(2u)] = sig + 2 x sig (1 - sig) du/dx,
# du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2), and sig (1 - sig) = e sig^2 with e = exp(-2u).
# -2u is capped (`cap`) so that e stays finite and e sig^2 is not inf * 0; at the cap gelu and
# its slope are below 1e-30 anyway.
@njit(cache=True, error_model="numpy", fastmath=VEXP_FLAGS, nogil=True)
def _gelu_tanh(x, k, cap, y):
    one = x.dtype.type(1)
    c = x.dtype.type(0.044715)
    for i in range(x.size):
        v = x[i]
        e = vexp(min(-k * (v + c * v * v * v), cap))  # k = 2 sqrt(2/pi)
        y[i] = v / (one + e)


@njit(cache=True, error_model="numpy", fastmath=VEXP_FLAGS, nogil=True)
def _gelu_tanh_backward(x, gy, k, cap, dx):
    one = x.dtype.type(1)
    c = x.dtype.type(0.044715)
    c3 = x.dtype.type(3 * 0.044715)
    for i in range(x.size):
        v = x[i]
        e = vexp(min(-k * (v + c * v * v * v), cap))
        sig = one / (one + e)
        # 2 x sig(1-sig) du/dx with k = 2 sqrt(2/pi) absorbing the 2
        dx[i] = gy[i] * (sig + v * e * sig * sig * k * (one + c3 * v * v))


# erf form: gelu = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2, d/dx = Phi(x) + x phi(x).
# erf is evaluated in float64 (as the reference does, through Python floats) and rounded once.
@njit(cache=True, error_model="numpy", nogil=True)
def _gelu_erf(x, y):
    for i in range(x.size):
        v = np.float64(x[i])
        y[i] = 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


@njit(cache=True, error_model="numpy", nogil=True)
def _gelu_erf_backward(x, gy, dx):
    for i in range(x.size):
        v = np.float64(x[i])
        cdf = 0.5 * (1.0 + math.erf(v / math.sqrt(2.0)))
        pdf = math.exp(-0.5 * v * v) / math.sqrt(2.0 * math.pi)
        dx[i] = gy[i] * (cdf + v * pdf)


def _tanh_constants(dtype):
    k = dtype.type(2.0 * _SQRT_2_OVER_PI)
    cap = dtype.type(80.0 if dtype == np.float32 else 700.0)  # exp(cap) finite, cap >> 1
    return k, cap


def gelu_forward_rows(x: np.ndarray, approximate: str = "tanh", out=None) -> np.ndarray:
    """gelu of a C-contiguous float array on the calling thread (the fused linear's share),
    into `out` (C-contiguous, x's shape) when given."""
    xf = x.reshape(-1)
    y = np.empty_like(xf) if out is None else out.reshape(-1)
    if approximate == "tanh":
        _gelu_tanh(xf, *_tanh_constants(x.dtype), y)
    else:
        _gelu_erf(xf, y)
    return y.reshape(x.shape)


def gelu_backward_rows(x: np.ndarray, gy: np.ndarray, approximate: str = "tanh",
                       out=None) -> np.ndarray:
    """gy * gelu'(x) for C-contiguous float arrays of one shape, on the calling thread, into
    `out` when given."""
    xf, gf = x.reshape(-1), gy.reshape(-1)
    dx = np.empty_like(xf) if out is None else out.reshape(-1)
    if approximate == "tanh":
        _gelu_tanh_backward(xf, gf, *_tanh_constants(x.dtype), dx)
    else:
        _gelu_erf_backward(xf, gf, dx)
    return dx.reshape(x.shape)


@reference_unless()
def gelu_forward(x: np.ndarray, approximate: str = "tanh") -> np.ndarray:
    """The math: reference.gelu_forward; split over the threads."""
    xf = flat(x, x.dtype)
    y = np.empty_like(xf)

    def part(lo, hi):
        gelu_forward_rows(xf[lo:hi], approximate, out=y[lo:hi])
    seconds = threads.element_seconds("gelu", xf.size)
    threads.run_chunks(part, threads.split_rows(xf.size, seconds, 64))
    return y.reshape(x.shape)


@reference_unless()
def gelu_backward(x: np.ndarray, gy: np.ndarray, approximate: str = "tanh") -> np.ndarray:
    """The math: reference.gelu_backward; split over the threads."""
    xf = flat(x, x.dtype)
    gf = flat(np.broadcast_to(gy, x.shape), x.dtype)
    dx = np.empty_like(xf)

    def part(lo, hi):
        gelu_backward_rows(xf[lo:hi], gf[lo:hi], approximate, out=dx[lo:hi])
    seconds = threads.element_seconds("gelu", xf.size)
    threads.run_chunks(part, threads.split_rows(xf.size, seconds, 64))
    return dx.reshape(x.shape)
