"""The layers' functional forms: linear (plain, with GELU, with int8 weights), softmax and
attention, embedding, LayerNorm and RMSNorm, rotary embeddings, dropout, padding, one-hot and
einsum, with PyTorch's names and defaults where PyTorch has them."""

from __future__ import annotations

import numpy as np

from ..ops import fused, linalg, movement, neural, norms, rotary
from ..tensor import Tensor, apply, array_of, as_tensor


def linear(x, weight, bias=None) -> Tensor:
    """x @ weight + bias with weight stored as (in, out)."""
    return apply(fused.Linear, x, weight, bias)


def linear_gelu(x, weight, bias=None, approximate: str = "tanh") -> Tensor:
    """gelu(x @ weight + bias) in one op (see ops.fused.LinearGelu): the MLP's expansion."""
    return apply(fused.LinearGelu, x, weight, bias, approximate=approximate)


def int8_linear(x, qweight, scale, bias=None) -> Tensor:
    """x @ (qweight * scale[:, None]).T + bias for an int8 weight stored (out, in) with one
    float32 scale per output channel (see ops.fused.Int8Linear): inference only, its backward
    raises. nn.QuantizedLinear calls it; kernels/quantized.py has the math."""
    return apply(fused.Int8Linear, x, q=array_of(qweight), scale=array_of(scale),
                 b=array_of(bias))


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


def dropout(x, p: float = 0.5, training: bool = True, rng=None, seed=None) -> Tensor:
    """Inverted dropout; identity when not training or p == 0. The mask comes from `rng`
    (a numpy Generator) or a Generator seeded with `seed`, so runs are reproducible."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return as_tensor(x)
    rng = rng if rng is not None else np.random.default_rng(seed)
    return apply(neural.Dropout, x, p=p, rng=rng)


def pad(x, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last len(pad) // 2 axes, in PyTorch's order: (left, right) of the last axis, then of
    the one before, ... `mode`: "constant" (with `value`; negative pads crop), "reflect"
    (mirror without repeating the edge), "replicate" (repeat the edge) or "circular" (wrap).

    Constant padding joins blocks of `value` (which get no gradient); the other modes read the
    input at an index array, so a place read twice gets both gradients."""
    x = as_tensor(x)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad)} numbers for a tensor of shape {x.shape}; give a "
                         "(left, right) pair per padded axis, last axis first")
    for i in range(len(pad) // 2):
        axis, left, right = x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])
        x = _pad_axis(x, axis, left, right, mode, value)
    return x


def _pad_axis(x: Tensor, axis: int, left: int, right: int, mode: str, value) -> Tensor:
    n = x.shape[axis]
    if mode == "constant":
        x = x[(slice(None),) * axis + (slice(max(-left, 0), n - max(-right, 0)),)]  # crop
        parts = [Tensor(np.full(x.shape[:axis] + (k,) + x.shape[axis + 1:], value, x.dtype))
                 for k in (max(left, 0), max(right, 0))]
        return apply(movement.Concatenate, parts[0], x, parts[1], axis=axis)
    idx = np.arange(-left, n + right)
    if mode == "reflect":
        if left >= n or right >= n:
            raise ValueError(f"pad: reflect padding ({left}, {right}) must be smaller than the "
                             f"axis it pads ({n})")
        idx = np.abs(idx)
        idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
    elif mode == "replicate":
        idx = np.clip(idx, 0, n - 1)
    elif mode == "circular":
        idx = idx % n
    else:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    return x.index_select(axis, idx)


def one_hot(ids, num_classes: int = -1) -> Tensor:
    """(..., num_classes) int64 rows with a 1 at each id (num_classes=-1: the largest id + 1)."""
    ids = np.asarray(array_of(ids))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: ids must be integers, got {ids.dtype}")
    if num_classes < 0:
        num_classes = int(ids.max()) + 1 if ids.size else 0
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(f"one_hot: ids must be in [0, {num_classes}), got {ids.min()}.."
                         f"{ids.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[ids])


def einsum(equation: str, *operands) -> Tensor:
    """Products summed over the letters missing from the output: 'bij,bjk->bik' (batched
    matmul), 'bhtd,bhsd->bhts' (attention scores), 'ij->ji', 'ii->' (trace). Operands may be
    passed one by one or as one list; the gradient of each is another einsum (ops.linalg)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return apply(linalg.Einsum, *operands, equation=equation)


def rms_norm(x, weight=None, eps: float = 1e-5) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the last axis, then `* weight` when given (Llama's norm:
    no mean subtracted, no bias). See ops.norms.RMSNorm for the backward."""
    return apply(norms.RMSNorm, x, weight, eps=eps)


def rope(x, positions, theta: float = 10000.0, layout: str = "half") -> Tensor:
    """Rotary position embedding of x (..., T, head_size) at integer `positions` (e.g. (T,),
    broadcast against x.shape[:-1]): channel pairs turned by p * theta^(-2i/head_size).
    layout="half" pairs channel i with i + head_size/2 (Hugging Face's Llama); "interleaved"
    pairs 2i with 2i+1 (RoFormer, Meta's original code). See ops/rotary.py."""
    return apply(rotary.Rope, x, positions=np.asarray(positions), theta=float(theta),
                 layout=layout)


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal: bool = False,
                                 scale: float | None = None, enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v, as PyTorch's F.scaled_dot_product_attention.

    q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev); scale defaults to 1/sqrt(E).
    attn_mask: a bool array broadcasting to (..., L, S), True where a query may look at a key
    (PyTorch's convention), or a float array added to the scores. is_causal: query i sees keys
    j <= i, aligned top-left as in PyTorch (tril(ones(L, S))); a KV cache, whose new queries sit
    at the END of the keys, needs a mask (or F.softmax's causal=True) instead.
    enable_gqa: k and v may have fewer heads (axis -3) than q, a divisor of them; each key head
    then serves q_heads / kv_heads consecutive query heads (grouped-query attention), here by
    broadcasting, without copying k and v. Every query must see at least one key."""
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim or q.shape[-1] != k.shape[-1] \
            or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: need q (..., L, E), k (..., S, E), "
                         f"v (..., S, Ev) of one rank, got {q.shape}, {k.shape}, {v.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal, not both "
                         "(fold the causal pattern into the mask)")
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else float(scale)
    groups = 1
    if enable_gqa and q.ndim >= 3 and q.shape[-3] != k.shape[-3]:
        if k.shape[-3] != v.shape[-3] or q.shape[-3] % k.shape[-3]:
            raise ValueError(f"scaled_dot_product_attention: {q.shape[-3]} query heads cannot "
                             f"share {k.shape[-3]} key and {v.shape[-3]} value heads; the "
                             "key/value heads must be equal and divide the query heads")
        groups = q.shape[-3] // k.shape[-3]
        # (..., Hkv, G, L, E) against (..., Hkv, 1, S, E): one key head per group of G queries
        q = q.reshape(*q.shape[:-3], k.shape[-3], groups, L, q.shape[-1])
        k = k.reshape(*k.shape[:-3], k.shape[-3], 1, S, k.shape[-1])
        v = v.reshape(*v.shape[:-3], v.shape[-3], 1, S, v.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., L, S)
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if groups > 1 and mask.ndim >= 3:  # the mask's head axis follows q's split into groups
            mask = np.broadcast_to(mask, (*mask.shape[:-3], k.shape[-4] * groups, L, S)) \
                .reshape(*mask.shape[:-3], k.shape[-4], groups, L, S)
        if mask.dtype == bool:
            if not np.broadcast_to(mask, scores.shape).any(axis=-1).all():
                raise ValueError("scaled_dot_product_attention: a query row of attn_mask is all "
                                 "False, so it attends to nothing; let each query see a key")
            scores = scores.masked_fill(~mask, -np.inf)
        else:
            scores = scores + mask.astype(scores.dtype)
    y = scores.softmax(-1) @ v  # (..., L, Ev)
    return y.reshape(*y.shape[:-4], y.shape[-4] * groups, L, y.shape[-1]) if groups > 1 else y
