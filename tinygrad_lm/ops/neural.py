"""Neural-network ops: softmax, log-softmax, cross-entropy, embedding, layer norm, dropout,
binary cross-entropy.
Each is one kernel call forward and one backward (see kernels/reference.py for the math)."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels import active_backend
from ..kernels.reference import (  # noqa: F401 - the NumPy math of each kernel the ops call
    cross_entropy_backward,
    cross_entropy_forward,
    embedding_backward,
    embedding_forward,
    layernorm_backward,
    layernorm_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)


class Softmax(Function):
    """softmax over the last axis, optionally fused with a scale and a causal mask
    (attention: softmax(q k^T / sqrt(hs)) with future keys removed).
    d/dx: scale * y * (g - sum(g * y)).
    The math: softmax_forward, softmax_backward (kernels/reference.py, imported above)."""

    @staticmethod
    def forward(ctx, x, scale=1.0, causal=False):
        if causal and x.ndim < 2:
            raise ValueError(f"softmax: causal masking needs (..., Tq, Tk) scores, got {x.shape}")
        y = active_backend().softmax_forward(x, scale, causal)
        ctx.save_for_backward(y)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return active_backend().softmax_backward(y, g, ctx.scale)


class LogSoftmax(Function):
    """x - logsumexp(x) over the last axis.  d/dx: g - softmax(x) * sum(g).
    The math: log_softmax_forward, log_softmax_backward (kernels/reference.py)."""

    @staticmethod
    def forward(ctx, x):
        y = active_backend().log_softmax_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return active_backend().log_softmax_backward(y, g)


class CrossEntropy(Function):
    """Mean negative log-likelihood of integer targets under softmax(logits).

    logits (N, V) or (B, T, V) with targets (N,) or (B, T). Targets equal to `ignore_index` are
    left out of the mean. Computed through log-sum-exp, never as log(softmax).
    d/dlogits = (softmax - onehot(target)) / count.
    The math: cross_entropy_forward, cross_entropy_backward (kernels/reference.py).
    """

    @staticmethod
    def forward(ctx, logits, targets, ignore_index=-100):
        if logits.ndim < 2 or targets.shape != logits.shape[:-1]:
            raise ValueError(f"cross_entropy: logits {logits.shape} need targets of shape "
                             f"{logits.shape[:-1]}, got {targets.shape}")
        v = logits.shape[-1]
        flat_logits = np.ascontiguousarray(logits.reshape(-1, v))  # (N, V)
        flat_targets = targets.reshape(-1)  # the kernel checks the ids (reference.check_ids)
        loss, lse = active_backend().cross_entropy_forward(flat_logits, flat_targets, ignore_index)
        ctx.save_for_backward(flat_logits, flat_targets, lse)
        ctx.shape, ctx.ignore_index = logits.shape, ignore_index
        return loss

    @staticmethod
    def backward(ctx, g):
        logits, targets, lse = ctx.saved
        d = active_backend().cross_entropy_backward(logits, targets, lse, ctx.ignore_index,
                                                    float(g))
        return d.reshape(ctx.shape), None


class Embedding(Function):
    """out[..., :] = weight[ids[...], :]. Backward scatter-adds rows: an id used k times
    accumulates k gradients. The math: embedding_forward, embedding_backward
    (kernels/reference.py)."""

    @staticmethod
    def forward(ctx, weight, ids):
        if weight.ndim != 2:
            raise ValueError(f"embedding: weight must be 2-D (num, dim), got {weight.shape}")
        ctx.save_for_backward(ids)
        ctx.num = weight.shape[0]
        return active_backend().embedding_forward(weight, ids)

    @staticmethod
    def backward(ctx, g):
        (ids,) = ctx.saved
        return active_backend().embedding_backward(g, ids, ctx.num), None


class LayerNorm(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis; weight and bias are
    optional (pass None). The math, backward too: layernorm_forward, layernorm_backward
    (kernels/reference.py)."""

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, eps=1e-5):
        c = x.shape[-1]
        for name, p in (("weight", weight), ("bias", bias)):
            if p is not None and p.shape != (c,):
                raise ValueError(f"layer_norm: {name} of shape {p.shape} does not match "
                                 f"normalized size {c} of input {x.shape}")
        y, mean, rstd = active_backend().layernorm_forward(x, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved
        dx, dw, db = active_backend().layernorm_backward(g, x, weight, mean, rstd)
        needs = ctx.needs_input_grad
        return (dx if needs[0] else None,
                dw if len(needs) > 1 and needs[1] else None,
                db if len(needs) > 2 and needs[2] else None)


class Dropout(Function):
    """Zero each element with probability p and scale survivors by 1/(1-p) so the expected value
    is unchanged ("inverted dropout"); the same mask scales the gradient."""

    @staticmethod
    def forward(ctx, x, p=0.5, rng=None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout: p must be in [0, 1), got {p}")
        rng = rng if rng is not None else np.random.default_rng()
        mask = (rng.random(x.shape) >= p).astype(x.dtype) / np.asarray(1.0 - p, dtype=x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return g * mask


class BinaryCrossEntropy(Function):
    """Per element, -(y log p + (1 - y) log(1 - p)) for probabilities p and targets y in [0, 1].

    Each log is clamped at -100, as PyTorch does, so p = 0 or 1 gives a large finite loss
    rather than inf. d/dp = (p - y) / (p (1 - p)), its denominator kept >= 1e-12 (PyTorch's
    guard); d/dy = log(1 - p) - log(p) (both clamped), for soft targets that are learned."""

    @staticmethod
    def forward(ctx, p, y):
        if p.shape != y.shape:
            raise ValueError(f"binary_cross_entropy: input {p.shape} and target {y.shape} "
                             "need the same shape")
        if p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError("binary_cross_entropy: the input must be probabilities in [0, 1]; "
                             "for raw scores use binary_cross_entropy_with_logits")
        with np.errstate(divide="ignore"):
            log_p, log_q = np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)
        ctx.save_for_backward(p, y, log_p, log_q)
        return -(y * log_p + (1.0 - y) * log_q)

    @staticmethod
    def backward(ctx, g):
        p, y, log_p, log_q = ctx.saved
        gp = g * (p - y) / np.maximum(p * (1.0 - p), 1e-12) if ctx.needs_input_grad[0] else None
        gy = g * (log_q - log_p) if ctx.needs_input_grad[1] else None
        return gp, gy
