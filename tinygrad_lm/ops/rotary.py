"""Rotary position embeddings (RoPE, Su et al. 2021).

RoPE turns each pair of a query's (or key's) channels, (a, b), by an angle that grows with the
position p, at its own frequency: pair i of a head of size D turns by p * theta^(-2i/D),

    (a, b) -> (a cos(p w_i) - b sin(p w_i),  a sin(p w_i) + b cos(p w_i)).

A rotation keeps lengths, and the dot product of a query turned by p w with a key turned by
s w depends on p - s only: <R(p w) q, R(s w) k> = <q, R((s - p) w) k>. So attention scores see
relative positions, and a key stored in a KV cache, turned once by its absolute position, never
needs turning again.

Which channels form a pair is a convention, and the two in use are not interchangeable:
- "half" (the default): channel i pairs with channel i + D/2. Hugging Face's Llama (its
  `rotate_half`), and so every Llama, SmolLM or Mistral checkpoint in its format, uses this.
- "interleaved": channels 2i and 2i + 1 pair up, as in the RoFormer paper and Meta's original
  Llama code (complex numbers over consecutive pairs). Hugging Face's conversion script permutes
  the q and k projections' rows so that the half layout computes the same function.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function

ROPE_LAYOUTS = ("half", "interleaved")


def rope_tables(positions, head_size: int, theta: float = 10000.0):
    """(cos, sin), each positions.shape + (head_size / 2,) in float64: angle p * w_i with
    w_i = theta^(-2i / head_size). Pair i = 0 turns fastest (one radian per position); the last
    pairs turn so slowly that they act almost as no position at all."""
    if isinstance(head_size, bool) or not isinstance(head_size, (int, np.integer)) \
            or head_size < 2 or head_size % 2:
        raise ValueError(f"rope: the head size must be a positive even number (channels come "
                         f"in rotated pairs), got {head_size!r}")
    if not theta > 1:
        raise ValueError(f"rope: theta must be > 1 (the base of the frequencies), got {theta!r}")
    pos = np.asarray(positions)
    if pos.dtype.kind not in "iuf":
        raise TypeError(f"rope: positions must be numbers, got dtype {pos.dtype}")
    inv_freq = 1.0 / theta ** (np.arange(0, head_size, 2, dtype=np.float64) / head_size)
    angles = pos.astype(np.float64)[..., None] * inv_freq  # (..., D/2)
    return np.cos(angles), np.sin(angles)


def _pairs(x, layout: str):
    """The two members (a, b) of every rotated pair, views of x, each (..., D/2)."""
    if layout == "half":
        half = x.shape[-1] // 2
        return x[..., :half], x[..., half:]
    return x[..., 0::2], x[..., 1::2]


def rotate(x, cos, sin, layout: str):
    """x with each pair (a, b) turned: (a cos - b sin, a sin + b cos). NumPy, no graph."""
    # BEGIN ASSIGNMENT 6.2
    a, b = _pairs(x, layout)
    out = np.empty(np.broadcast_shapes(x.shape, cos.shape[:-1] + (x.shape[-1],)), x.dtype)
    out_a, out_b = _pairs(out, layout)
    out_a[...] = a * cos - b * sin
    out_b[...] = a * sin + b * cos
    return out
    # END ASSIGNMENT 6.2


class Rope(Function):
    """Rotary embedding of x (..., T, D) at `positions` (anything that broadcasts against
    x.shape[:-1], e.g. (T,) for x (B, nh, T, D)).

    A rotation's inverse is its transpose, the rotation by -angle, so backward turns the
    gradient back: dL/dx = R(-p w) g. Positions and theta get no gradient.
    """

    @staticmethod
    def forward(ctx, x, positions=None, theta=10000.0, layout="half"):
        if layout not in ROPE_LAYOUTS:
            raise ValueError(f"rope: layout must be one of {ROPE_LAYOUTS}, got {layout!r}")
        if x.ndim < 1:
            raise ValueError("rope: x needs a last axis of channels, (..., T, head_size)")
        cos, sin = rope_tables(positions, x.shape[-1], theta)
        try:
            np.broadcast_shapes(x.shape[:-1], cos.shape[:-1])
        except ValueError:
            raise ValueError(f"rope: positions of shape {np.shape(positions)} do not broadcast "
                             f"against x {x.shape} without its channel axis; pass (T,) for "
                             "(B, nh, T, hs)") from None
        cos, sin = cos.astype(x.dtype), sin.astype(x.dtype)
        ctx.save_for_backward(cos, sin)
        ctx.layout, ctx.shape = layout, x.shape
        return rotate(x, cos, sin, layout)

    @staticmethod
    def backward(ctx, g):
        cos, sin = ctx.saved
        return rotate(g, cos, -sin, ctx.layout)  # the engine sums any broadcast back
