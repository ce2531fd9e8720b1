"""Loss functions (`F.cross_entropy`, `F.nll_loss`, `F.mse_loss`, ...), with PyTorch's names,
defaults and `reduction=` ("mean", "sum", "none")."""

from __future__ import annotations

import numpy as np

from ..ops import neural
from ..tensor import Tensor, apply, array_of, as_tensor
from .activations import softplus
from .layers import log_softmax


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
