"""Numba elementwise kernels: GELU forward/backward and the AdamW update.

Both are one loop over a flat array. NumPy evaluates the same formulas as a chain of whole-array
operations, each writing a temporary array (about ten for GELU's backward, twelve for AdamW);
here each element is loaded once, and the loops vectorise.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import threads
from ._nb_math import SUMS, VEXP_FLAGS, vexp
from .wrappers import FLOATS, flat, reference_unless

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
    """gelu(x) = x * Phi(x), "tanh" (GPT-2) or exact "none" (erf)."""
    xf = flat(x, x.dtype)
    y = np.empty_like(xf)

    def part(lo, hi):
        gelu_forward_rows(xf[lo:hi], approximate, out=y[lo:hi])
    threads.run_chunks(part, threads.split_rows(xf.size, 2 * xf.size * threads.ELEMENT, 64))
    return y.reshape(x.shape)


@reference_unless()
def gelu_backward(x: np.ndarray, gy: np.ndarray, approximate: str = "tanh") -> np.ndarray:
    """gy * d gelu / dx."""
    xf = flat(x, x.dtype)
    gf = flat(np.broadcast_to(gy, x.shape), x.dtype)
    dx = np.empty_like(xf)

    def part(lo, hi):
        gelu_backward_rows(xf[lo:hi], gf[lo:hi], approximate, out=dx[lo:hi])
    threads.run_chunks(part, threads.split_rows(xf.size, 2 * xf.size * threads.ELEMENT, 64))
    return dx.reshape(x.shape)


# ---- sum of squares (gradient clipping) -----------------------------------------------------
@njit(cache=True, error_model="numpy", fastmath=SUMS, nogil=True)
def _sum_squares(x):
    total = 0.0  # float64 whatever x is: a norm over millions of elements keeps its precision
    for i in range(x.size):
        v = np.float64(x[i])
        total += v * v
    return total


@reference_unless()
def sum_squares(x: np.ndarray) -> float:
    """sum(x^2) in float64 without the float64 copy of x the reference makes."""
    return float(_sum_squares(flat(x, x.dtype)))


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


def _adamw_layout(p, g, m, v, **hyper) -> bool:
    """The kernel writes p, m, v through flat views: they must be C-contiguous float arrays of
    one dtype (other layouts go through the reference, still in place)."""
    return p.dtype.type in FLOATS and all(a.dtype == p.dtype and a.flags.c_contiguous
                                          for a in (p, m, v))


@reference_unless(_adamw_layout)
def adamw_update_(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
    """In-place AdamW step on p, m, v (see reference.adamw_update_ for the math)."""
    t = p.dtype.type
    decay = t(1.0 - lr * weight_decay) if weight_decay else t(1.0)
    g = g if g.shape == p.shape else np.broadcast_to(g, p.shape)  # broadcast_to costs 5 us
    _adamw(p.reshape(-1), flat(g, p.dtype), m.reshape(-1), v.reshape(-1), decay, t(beta1),
           t(1.0 - beta1), t(beta2), t(1.0 - beta2), t(lr / (1.0 - beta1 ** step)),
           t(1.0 - beta2 ** step), t(eps))
