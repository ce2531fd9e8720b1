"""Functional forms of the neural-network ops (`import tinygrad_lm.functional as F`):
activations, losses, padding, one-hot and einsum, with PyTorch's names and defaults.

Most are composed of Tensor ops (each composition exact, so its gradient is the chain rule
through them); an activation gets an op of its own only where composing would put a wrong
derivative at a kink (softplus) or cost a hot path an extra pass (silu).
"""

from __future__ import annotations

import numpy as np

from .ops import elementwise, fused, linalg, movement, neural, norms, rotary
from .tensor import Tensor, apply, array_of, as_tensor


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


def cross_entropy(logits, targets, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) against integer targets, or against probabilities.

    Args:
        logits: (..., C), the classes on the last axis.
        targets: integer class ids of shape logits.shape[:-1] (those equal to `ignore_index`
            are left out), or probabilities (a float tensor of the logits' shape).
        reduction: "mean" (over the targets not ignored), "sum" or "none" (per position).
        label_smoothing: eps in [0, 1]: the target becomes (1 - eps) one-hot + eps / C.

    The plain case (integer targets, mean, no smoothing) is one fused op:
    d/dlogits = (softmax - onehot(target)) / count. The others are composed from log_softmax.

    PyTorch: the classes are on the last axis, not on axis 1 (so (B, T, V) logits need no
    transpose); with every target ignored the mean is 0, not NaN; there is no `weight`.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if np.asarray(array_of(targets)).dtype.kind == "f":  # class probabilities (may be learned)
        logits = as_tensor(logits)
        targets = as_tensor(targets, logits.dtype)
        if targets.shape == logits.shape[:-1]:  # class ids given as floats, most likely
            raise TypeError(f"cross_entropy: targets must be integers (class ids) of shape "
                            f"{logits.shape[:-1]}, or probabilities of the logits' shape "
                            f"{logits.shape}; got {targets.dtype} of shape {targets.shape}")
        if targets.shape != logits.shape:
            raise ValueError(f"cross_entropy: probability targets {targets.shape} need the "
                             f"logits' shape {logits.shape}")
        targets = targets * (1.0 - label_smoothing) + label_smoothing / logits.shape[-1]
        return _reduce(-(log_softmax(logits) * targets).sum(axis=-1), reduction,
                       "cross_entropy")
    targets = np.asarray(array_of(targets))
    if reduction == "mean" and label_smoothing == 0.0:
        return apply(neural.CrossEntropy, logits, Tensor(targets), ignore_index=ignore_index)
    return _nll(log_softmax(logits), targets, ignore_index, reduction, label_smoothing,
                "cross_entropy")


def nll_loss(log_probs, targets, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -log_probs[..., target], the classes on the last axis; targets
    equal to `ignore_index` are left out of the mean and are 0 under "none". Composed: a
    gather, so the gradient is -1 at each target (over the count for "mean").

    PyTorch: the classes are on the last axis, not axis 1; no `weight`; the mean over no
    targets is 0, not NaN."""
    return _nll(as_tensor(log_probs), np.asarray(array_of(targets)), ignore_index, reduction,
                0.0, "nll_loss")


def _nll(logp: Tensor, targets: np.ndarray, ignore_index, reduction, eps, op) -> Tensor:
    if targets.dtype.kind not in "iu" or targets.shape != logp.shape[:-1]:
        raise ValueError(f"{op}: scores {logp.shape} need integer targets of shape "
                         f"{logp.shape[:-1]}, got {targets.dtype} {targets.shape}")
    ignored = targets == ignore_index
    safe = np.where(ignored, 0, targets)
    if safe.size and (safe.min() < 0 or safe.max() >= logp.shape[-1]):
        raise IndexError(f"{op}: target ids must be in [0, {logp.shape[-1]}) or equal "
                         f"ignore_index={ignore_index}")
    loss = -logp.gather(-1, safe[..., None]).squeeze(-1)  # (...,)
    if eps:  # the smoothed part: the mean over classes of -log p
        loss = loss * (1.0 - eps) - logp.mean(axis=-1) * eps
    loss = loss.masked_fill(ignored, 0.0)
    if reduction == "mean":  # over the targets that count
        return loss.sum() / max(int((~ignored).sum()), 1)
    return _reduce(loss, reduction, op)


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """(input - target)^2, averaged (or summed, or per element); d/dinput = 2 (input - target)
    over the count."""
    return _reduce((as_tensor(input) - target).square(), reduction, "mse_loss")


def l1_loss(input, target, reduction: str = "mean") -> Tensor:
    """|input - target|, averaged (or summed, or per element); d/dinput = sign(input - target),
    0 where they are equal."""
    return _reduce((as_tensor(input) - target).abs(), reduction, "l1_loss")


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p, each log clamped at -100 (as
    PyTorch, so p = 0 or 1 stays finite); see ops.neural.BinaryCrossEntropy for the gradient.
    Prefer `binary_cross_entropy_with_logits` on raw scores: it never forms log(0).

    PyTorch: the target's gradient where p is 0 or 1 is the derivative of the clamped loss
    (+-100), where PyTorch gives +-inf; no `weight`."""
    target = as_tensor(target, as_tensor(input).dtype)
    return _reduce(apply(neural.BinaryCrossEntropy, input, target), reduction,
                   "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of sigmoid(x) against y, from the scores x:
    (1 - y) x + (1 + (w - 1) y) softplus(-x), with w = pos_weight (1 by default), exact for
    scores of any size; d/dx = sigmoid(x) - y when w = 1."""
    x = as_tensor(input)
    y = as_tensor(target, x.dtype)
    weight = 1.0 if pos_weight is None else (pos_weight - 1.0) * y + 1.0
    loss = (1.0 - y) * x + softplus(-x, threshold=np.inf) * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


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


# ---- activations ---------------------------------------------------------------------------
def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x); d/dx = s (1 - s)."""
    return apply(elementwise.Sigmoid, x)


def tanh(x) -> Tensor:
    """tanh(x); d/dx = 1 - tanh(x)^2."""
    return apply(elementwise.Tanh, x)


def silu(x) -> Tensor:
    """x * sigmoid(x) (SiLU, also called swish; SwiGLU's gate), one op:
    d/dx = s (1 + x (1 - s))."""
    return apply(elementwise.Silu, x)


swish = silu


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch);
    d/dx = sigmoid(beta x). One op, computed without overflow."""
    return apply(elementwise.Softplus, x, beta=beta, threshold=threshold)


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


# ---- padding, one-hot, einsum --------------------------------------------------------------
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


# ---- the modern decoder: RMSNorm, rotary embeddings, attention with any mask ----------
# (ops/norms.py and ops/rotary.py hold the ops; Llama-style models are built from these)

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
