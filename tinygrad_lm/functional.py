"""Functional forms of the neural-network ops (`import tinygrad_lm.functional as F`)."""

from __future__ import annotations

import numpy as np

from .ops import elementwise, fused, neural
from .tensor import Tensor, apply, as_tensor


def linear(x, weight, bias=None) -> Tensor:
    """x @ weight + bias with weight stored as (in, out)."""
    return apply(fused.Linear, x, weight, bias)


def linear_gelu(x, weight, bias=None, approximate: str = "tanh") -> Tensor:
    """gelu(x @ weight + bias) in one op (see ops.fused.LinearGelu): the MLP's expansion."""
    return apply(fused.LinearGelu, x, weight, bias, approximate=approximate)


def softmax(x, axis: int = -1, *, scale: float = 1.0, causal: bool = False) -> Tensor:
    """softmax(scale * x) over `axis`; `causal=True` removes keys j > i (attention scores)."""
    x = as_tensor(x)
    if scale != 1.0 or causal:
        if axis not in (-1, x.ndim - 1):
            raise ValueError("softmax: scale/causal are only supported over the last axis")
        return apply(neural.Softmax, x, scale=scale, causal=causal)
    return x.softmax(axis)


def causal_attention(qkv, n_head: int, *, tiled: bool | None = None, tile: int = 64) -> Tensor:
    """Causal multi-head self-attention of a fused (B, T, 3C) q|k|v projection -> (B, T, C),
    in one op (see ops.fused.CausalAttention); CausalSelfAttention spells out the same math.
    tiled=True: the memory-linear kernels (tiles of `tile` queries and keys, the weights
    recomputed in backward); False: the weights kept; None: chosen by the context length."""
    return apply(fused.CausalAttention, qkv, n_head=n_head, tiled=tiled, tile=tile)


def log_softmax(x, axis: int = -1) -> Tensor:
    """log softmax(x) along `axis`: x_i - log(sum_j exp(x_j)), computed as
    (x_i - max) - log(sum_j exp(x_j - max)) so no exp overflows.

    Backward: dL/dx = g - softmax(x) * sum(g).
    """
    return as_tensor(x).log_softmax(axis)


def cross_entropy(logits, targets, ignore_index: int = -100) -> Tensor:
    """Mean cross-entropy of integer targets; targets equal to ignore_index are left out."""
    targets = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    return apply(neural.CrossEntropy, logits, Tensor(targets), ignore_index=ignore_index)


def embedding(ids, weight) -> Tensor:
    """Rows of `weight` (V, C) picked by integer `ids` of any shape: the result is
    (*ids.shape, C).

    Backward: each picked row's gradient is added into its row of dL/dweight (a row picked
    twice gets both); the ids get none.
    """
    ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    return apply(neural.Embedding, weight, Tensor(ids))


def layer_norm(x, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the last axis, then `* weight + bias` when given.

    Args:
        x: (..., C).
        weight: (C,), or None for no scale.
        bias: (C,), or None for no shift.
        eps: added to the variance so a constant row does not divide by zero.

    Returns:
        (..., C). Backward, with x_hat the normalised x and g_hat = g * weight:
        dL/dx = (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) / sqrt(var + eps).
    """
    return apply(neural.LayerNorm, x, weight, bias, eps=eps)


def gelu(x, approximate: str = "tanh") -> Tensor:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF; `approximate="tanh"` (GPT-2) uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), "none" the exact erf form.
    """
    return apply(elementwise.Gelu, x, approximate=approximate)


def relu(x) -> Tensor:
    """max(x, 0), elementwise; the gradient passes where x > 0 and is 0 elsewhere."""
    return apply(elementwise.Relu, x)


def dropout(x, p: float = 0.5, training: bool = True, rng=None, seed=None) -> Tensor:
    """Inverted dropout; identity when not training or p == 0. The mask comes from `rng`
    (a numpy Generator) or a Generator seeded with `seed`, so runs are reproducible."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return as_tensor(x)
    rng = rng if rng is not None else np.random.default_rng(seed)
    return apply(neural.Dropout, x, p=p, rng=rng)
