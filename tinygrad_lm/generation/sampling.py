"""Turning next-token logits into a token: temperature, top-k, top-p (nucleus) and sampling.

Every function here is pure: it takes a logits ndarray of shape (V,) or (B, V) and returns a new
array (or token ids), never touching a model. `generate` chains them as

    logits -> apply_temperature -> top_k_filter -> top_p_filter -> sample_from_logits

Filters remove a token by setting its logit to -inf, so its probability after softmax is exactly
zero and the surviving tokens keep their relative odds.

The probability arithmetic runs in float64 whatever the model's dtype: cumulative sums over a
large vocabulary lose the tail in float32, and top-p compares those sums with p.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..kernels import reference

# A cumulative mass that falls short of p by less than this counts as reaching p. Without it,
# probabilities [0.5, 0.3, ...] and p = 0.8 would keep a third token whenever softmax rounds
# 0.5 + 0.3 to 0.79999999999999993.
TOP_P_TOLERANCE = 1e-9


def _as_logits(logits, fn: str) -> np.ndarray:
    arr = np.asarray(logits)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"{fn}: logits must have shape (V,) or (B, V) with V > 0, "
                         f"got shape {arr.shape}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def probabilities(logits) -> np.ndarray:
    """Softmax probabilities over the last axis of an array of logits, in float64: the NumPy
    reference kernel's softmax (kernels/reference.py), on plain arrays, with no graph and no
    gradient (the op is Tensor.softmax / F.softmax)."""
    return reference.softmax_forward(np.asarray(logits, dtype=np.float64))


def log_probabilities(logits) -> np.ndarray:
    """log p over the last axis of an array of logits, in float64: the reference kernel's
    log-softmax (x - logsumexp(x), so no overflow, and no log(0) for a token whose probability
    underflows), on plain arrays (the op is Tensor.log_softmax)."""
    return reference.log_softmax_forward(np.asarray(logits, dtype=np.float64))


def check_temperature(temperature) -> float:
    """`temperature` as a float, or a TypeError/ValueError saying why it cannot be one (it must be
    finite and > 0; greedy decoding is `greedy=True`, not temperature 0).
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}; "
                         "for deterministic decoding pass greedy=True instead of temperature=0")
    return float(temperature)


def check_top_k(k) -> int:
    """`k` as an int >= 1, or a TypeError/ValueError saying why not."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"top_k must be an integer (or None to disable), got {k!r}")
    if k < 1:
        raise ValueError(f"top_k must be >= 1 (top_k=1 is greedy), got {k}")
    return int(k)


def check_top_p(p) -> float:
    """`p` as a float in (0, 1], or a TypeError/ValueError saying why not."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"top_p must be a number in (0, 1] (or None to disable), got {p!r}")
    if not 0 < p <= 1:  # also rejects NaN
        raise ValueError(f"top_p must be in (0, 1], got {p}; top_p=1 keeps every token")
    return float(p)


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """logits / temperature. Below 1 the distribution sharpens toward the argmax, above 1 it
    flattens toward uniform; the ranking of tokens never changes."""
    return _as_logits(logits, "apply_temperature") / check_temperature(temperature)


def top_k_filter(logits, k: int) -> np.ndarray:
    """Keep the k largest logits of each row, set the rest to -inf.

    Exactly k survive even when logits tie at the boundary: ties go to the lower token id, the
    same rule as np.argmax, so top_k=1 always agrees with greedy decoding.
    """
    # BEGIN ASSIGNMENT 5.3
    # STARTER: from ..kernels import unfinished
    # STARTER: return unfinished(STARTER_ERROR, "sampling without top-k filtering",
    # STARTER:                   lambda: _as_logits(logits, "top_k_filter").copy())
    x = _as_logits(logits, "top_k_filter")
    k = check_top_k(k)
    if k >= x.shape[-1]:
        return x.copy()
    # A stable sort of -x lists equal logits in id order, which is the tie rule above.
    order = np.argsort(-x, axis=-1, kind="stable")
    dropped = order[..., k:]
    out = x.copy()
    np.put_along_axis(out, dropped, -np.inf, axis=-1)
    return out
    # END ASSIGNMENT 5.3


def top_p_filter(logits, p: float) -> np.ndarray:
    """Nucleus filtering: keep the smallest set of tokens, taken in descending probability,
    whose cumulative mass reaches p; set the rest to -inf. At least one token always survives.

    Example: probabilities [0.5, 0.3, 0.15, 0.05] with p = 0.8 keep 2 tokens (0.5 + 0.3 reaches
    0.8), with p = 0.81 keep 3. p = 1 keeps every token.
    """
    # BEGIN ASSIGNMENT 5.4
    # STARTER: from ..kernels import unfinished
    # STARTER: return unfinished(STARTER_ERROR, "sampling without top-p filtering",
    # STARTER:                   lambda: _as_logits(logits, "top_p_filter").copy())
    x = _as_logits(logits, "top_p_filter")
    p = check_top_p(p)
    if p >= 1.0:
        return x.copy()
    order = np.argsort(-x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probabilities(x), order, axis=-1)
    cumulative = np.cumsum(sorted_probs, axis=-1)
    # The number of tokens whose running total is still short of p, plus the one that reaches it.
    n_keep = (cumulative < p - TOP_P_TOLERANCE).sum(axis=-1, keepdims=True) + 1
    rank = np.arange(x.shape[-1])
    dropped_sorted = rank >= n_keep
    dropped = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(dropped, order, dropped_sorted, axis=-1)
    return np.where(dropped, -np.inf, x)
    # END ASSIGNMENT 5.4


def sample_from_logits(logits, rng: np.random.Generator):
    """Draw one token per row from softmax(logits): an int for (V,) logits, (B,) int64 for (B, V).

    Inverse-CDF sampling with u in (0, 1]: the first token whose cumulative probability reaches
    u. A token with probability zero never reaches u before its predecessor does, so filtered
    tokens are never drawn (u = 0 could pick a zero-probability token 0, hence the open end).
    """
    x = _as_logits(logits, "sample_from_logits")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("sample_from_logits: rng must be a numpy Generator, "
                        f"e.g. np.random.default_rng(0), got {type(rng).__name__}")
    probs = probabilities(np.atleast_2d(x))             # (B, V)
    cdf = np.cumsum(probs, axis=-1)                      # (B, V)
    u = 1.0 - rng.random(probs.shape[0])                 # (B,) in (0, 1]
    # Scaling u by the final cdf value absorbs rounding: the total may be 0.9999999999999998.
    tokens = (cdf < (u * cdf[:, -1])[:, None]).sum(axis=-1).astype(np.int64)
    return int(tokens[0]) if x.ndim == 1 else tokens


def greedy_from_logits(logits):
    """The most likely token per row (ties go to the lower id)."""
    x = _as_logits(logits, "greedy_from_logits")
    tokens = np.argmax(x, axis=-1)
    return int(tokens) if x.ndim == 1 else tokens.astype(np.int64)
