"""Scoring a given sequence: its log-likelihood and perplexity under a GPT.

    log_likelihood, perplexity = score(model, ids)

It follows generation's rule for contexts longer than `block_size` (see `generate.py`): the
token at position t is predicted from the last `block_size` tokens before it, so the
log-probabilities `generate` and `beam_search` report add up to what `score` computes for the
same tokens.
"""

from __future__ import annotations

import numpy as np

from .generate import _as_ids, _check_count, _inference
from .sampling import log_probabilities

__all__ = ["score"]


def score(model, idx, *, start: int = 1, stride: int = 1, max_tokens_per_forward: int = 16384):
    """Log-likelihood and perplexity of a sequence (T,) or a batch (B, T).

    log_likelihood = sum over t = start .. T-1 of log P(x_t | x_<t)
    perplexity     = exp(-log_likelihood / (T - start))

    Returns two floats for a 1-D sequence, two (B,) float64 arrays for a batch. The default
    start=1 scores every token but the first (nothing predicts it); start=T0 scores only what
    came after a T0-token prompt, which is what `generate` and `beam_search` report.

    Sequences longer than block_size: with stride=1 (the default) every x_t is predicted from
    exactly the last block_size tokens before it, the same context generation uses, at the cost
    of one window forward per token past the first window. stride=s > 1 slides the window s
    tokens at a time and scores its last s positions, so a token sees between block_size - s + 1
    and block_size tokens of context: s times fewer forwards, slightly pessimistic numbers.
    """
    ids, single = _as_ids(idx, model.config.vocab_size)
    B, T = ids.shape
    if T < 2:
        raise ValueError(f"score needs at least 2 tokens (the first is never predicted), got {T}")
    start = _check_count("start", start, 1)
    if start >= T:
        raise ValueError(f"start ({start}) must be < the sequence length ({T})")
    bs = model.config.block_size
    stride = _check_count("stride", stride, 1)
    if stride > bs:
        raise ValueError(f"stride ({stride}) must be <= block_size ({bs})")
    with _inference(model):
        token_logprobs = _token_logprobs(model, ids, stride, max_tokens_per_forward)  # (B, T-1)
    log_likelihood = token_logprobs[:, start - 1:].sum(axis=1)                        # (B,)
    perplexity = np.exp(-log_likelihood / (T - start))
    if single:
        return float(log_likelihood[0]), float(perplexity[0])
    return log_likelihood, perplexity


def _gather(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log P(target) at each position: (N, T, V), (N, T) -> (N, T)."""
    return np.take_along_axis(log_probabilities(logits), targets[..., None], axis=-1)[..., 0]


def _token_logprobs(model, ids: np.ndarray, stride: int, max_tokens: int) -> np.ndarray:
    """log P(x_t | window before t) for t = 1 .. T-1, as (B, T-1)."""
    B, T = ids.shape
    bs = model.config.block_size
    # The first window predicts x_1 .. x_min(bs, T-1) from their whole prefix.
    n_first = min(bs, T - 1)
    logits, _ = model(ids[:, :min(bs, T)])                                 # (B, <=bs, V)
    parts = [_gather(logits.data[:, :n_first], ids[:, 1:n_first + 1])]    # (B, n_first)
    # The rest, x_{bs+1} .. x_{T-1}, in chunks of `stride` targets. The chunk ending at target
    # e comes from the window ids[e - bs : e], whose last position predicts x_e.
    rest = T - 1 - bs
    if rest <= 0:
        return parts[0]
    n_full, tail = divmod(rest, stride)
    # Windows of bs + 1 tokens: the first bs are the input, the last bs are the targets.
    windows = np.lib.stride_tricks.sliding_window_view(ids, bs + 1, axis=1)  # (B, T-bs, bs+1)
    starts = stride * np.arange(1, n_full + 1)                             # (n_full,)
    b_of, k_of = np.divmod(np.arange(B * n_full), n_full)   # flattened (sequence, window) pairs
    rows_per_call = max(1, max_tokens // bs)
    chunk_lp = []
    for i in range(0, B * n_full, rows_per_call):
        w = windows[b_of[i:i + rows_per_call], starts[k_of[i:i + rows_per_call]]]  # (N, bs+1)
        logits, _ = model(w[:, :-1])                                       # (N, bs, V)
        chunk_lp.append(_gather(logits.data[:, -stride:], w[:, -stride:]))  # (N, stride)
    if chunk_lp:
        parts.append(np.concatenate(chunk_lp).reshape(B, n_full * stride))
    if tail:
        logits, _ = model(ids[:, T - 1 - bs:T - 1])                        # (B, bs, V)
        parts.append(_gather(logits.data[:, -tail:], ids[:, T - tail:]))   # (B, tail)
    return np.concatenate(parts, axis=1)
