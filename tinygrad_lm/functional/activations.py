"""Activation functions (`F.gelu`, `F.silu`, `F.leaky_relu`, ...), with PyTorch's names and
defaults. Most are composed of Tensor ops (each composition exact, so its gradient is the chain
rule through them); an activation gets an op of its own (tinygrad_lm/ops/activations.py) only
where composing would put a wrong derivative at a kink (softplus) or cost a hot path an extra
pass (silu, GELU)."""

from __future__ import annotations

import numpy as np

from ..ops import activations, elementwise
from ..tensor import Tensor, apply, as_tensor


def gelu(x, approximate: str = "tanh") -> Tensor:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` (GPT-2) uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), "none" the exact erf form.
    """
    return apply(activations.Gelu, x, approximate=approximate)


def relu(x) -> Tensor:
    """max(x, 0), elementwise; the gradient passes where x > 0 and is 0 elsewhere."""
    return apply(activations.Relu, x)


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x); d/dx = s (1 - s)."""
    return apply(activations.Sigmoid, x)


def tanh(x) -> Tensor:
    """tanh(x); d/dx = 1 - tanh(x)^2."""
    return apply(activations.Tanh, x)


def silu(x) -> Tensor:
    """x * sigmoid(x) (SiLU, also called swish; SwiGLU's gate), one op:
    d/dx = s (1 + x (1 - s))."""
    return apply(activations.Silu, x)


swish = silu


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch);
    d/dx = sigmoid(beta x). One op, computed without overflow."""
    return apply(activations.Softplus, x, beta=beta, threshold=threshold)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (the slope at 0 too, as PyTorch)."""
    x = as_tensor(x)
    return apply(elementwise.Where, x.data > 0, x, x * negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise; d/dx = 1, or alpha e^x (alpha at 0).
    The exp reads min(x, 0), so the branch that is not taken cannot overflow into NaN."""
    x = as_tensor(x)
    return apply(elementwise.Where, x.data > 0, x, (x.clamp(max=0.0).exp() - 1.0) * alpha)


SELU_ALPHA = 1.6732632423543772848170429916717


SELU_SCALE = 1.0507009873554804934193349852946


def selu(x) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    return elu(x, SELU_ALPHA) * SELU_SCALE


def mish(x) -> Tensor:
    """x tanh(softplus(x)); composed."""
    x = as_tensor(x)
    return x * softplus(x, threshold=np.inf).tanh()


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient passes strictly inside (0 at the bounds,
    as PyTorch, where `clamp` passes it at the bounds too)."""
    x = as_tensor(x)
    inside = (x.data > min_val) & (x.data < max_val)
    return apply(elementwise.Where, inside, x, np.clip(x.data, min_val, max_val))


def relu6(x) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardswish(x) -> Tensor:
    """x relu6(x + 3) / 6: 0 up to -3, x from 3 on, x (x + 3) / 6 between, whose derivative
    is x / 3 + 1/2. At the kinks the derivative is PyTorch's: 0 at -3, 1 at 3."""
    x = as_tensor(x)
    middle = apply(elementwise.Where, x.data < 3, x * (x + 3.0) / 6.0, x)
    return apply(elementwise.Where, x.data <= -3, 0.0, middle)


def logsigmoid(x) -> Tensor:
    """log sigmoid(x) = -softplus(-x), finite for any x; d/dx = sigmoid(-x)."""
    return -softplus(-as_tensor(x), threshold=np.inf)


def softsign(x) -> Tensor:
    """x / (1 + |x|); d/dx = 1 / (1 + |x|)^2. Composed."""
    x = as_tensor(x)
    return x / (x.abs() + 1.0)
