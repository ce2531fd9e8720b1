"""Activation functions as ops: tanh, sigmoid, ReLU, GELU, SiLU and softplus. Each is
elementwise (one input, the output's shape), so every backward below is the activation's
derivative at the input times the upstream gradient. Activations composed of other ops
(leaky ReLU, ELU, Mish, ...) are in tinygrad_lm/functional/activations.py."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels import active_backend


class Tanh(Function):
    """d(tanh a)/da = 1 - tanh(a)^2."""

    @staticmethod
    def forward(ctx, a):
        y = np.tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1.0 - y * y)


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-a) from e^-|a|, which is in (0, 1] and never overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    """s(a) = 1 / (1 + e^-a), computed without overflow for large |a|; ds/da = s (1 - s)."""

    @staticmethod
    def forward(ctx, a):
        y = sigmoid(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * (1.0 - y)


class Relu(Function):
    """relu(a) = max(a, 0). Subgradient convention: relu'(0) = 0."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.maximum(a, 0).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g * (a > 0)


class Gelu(Function):
    """x * Phi(x); "tanh" is GPT-2's approximation, "none" the exact erf form. The math:
    gelu_forward, gelu_backward (kernels/reference.py)."""

    @staticmethod
    def forward(ctx, a, approximate="tanh"):
        if approximate not in ("tanh", "none"):
            raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        return active_backend().gelu_forward(a, approximate)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return active_backend().gelu_backward(a, g, ctx.approximate)


class Silu(Function):
    """silu(a) = a s(a), s the sigmoid (also called swish); d/da = s (1 + a (1 - s))."""

    @staticmethod
    def forward(ctx, a):
        s = sigmoid(a)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved
        return g * s * (1.0 + a * (1.0 - s))


class Softplus(Function):
    """softplus(a) = log(1 + e^(beta a)) / beta, and a itself where beta a > threshold (as
    PyTorch); d/da = s(beta a), the sigmoid (1 past the threshold).

    Computed as max(a, 0) + log1p(e^-|a|) (scaled by beta), which never overflows; composing it
    from relu and abs would give the wrong derivative at 0, where both have a kink that cancels."""

    @staticmethod
    def forward(ctx, a, beta=1.0, threshold=20.0):
        z = a * beta
        y = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        linear = z > threshold
        ctx.save_for_backward(z, linear)
        return np.where(linear, a, y).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        z, linear = ctx.saved
        return g * np.where(linear, 1.0, sigmoid(z))
