"""Text generation from a trained GPT: sampling, greedy and beam search.

    ids = generate(model, prompt_ids, 100, temperature=0.8, top_k=20, seed=0)
    seqs, scores = beam_search(model, prompt_ids, 20, num_beams=4)

Both share one rule for contexts longer than the model's `block_size`: the token at position t
is predicted from the last `block_size` tokens before it (a sliding window), exactly as if the
model were run on `ids[t - block_size:t]`. Generation with and without the KV cache follows that
rule to the last rounding error, and `score` (in `scoring.py`) uses it too, so the
log-probabilities reported by `generate` and `beam_search` add up to what `score` computes for
the same tokens.

Sampling helpers (temperature, top-k, top-p) live in `sampling.py`.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np

from ..autograd import no_grad
from ..formats.weights import check_finite, non_finite
from ..kernels import may_replace_unfinished
from ..tensor import Tensor
from .sampling import (
    check_temperature,
    check_top_k,
    check_top_p,
    greedy_from_logits,
    log_probabilities,
    sample_from_logits,
    top_k_filter,
    top_p_filter,
)

__all__ = ["NextTokenLogits", "beam_search", "generate"]


# ---- argument checks ---------------------------------------------------------------------------
def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_ids(idx, vocab_size: int, name: str = "idx") -> tuple[np.ndarray, bool]:
    """Token ids as a (B, T) int64 array, and whether the caller passed a single 1-D sequence."""
    data = idx.data if isinstance(idx, Tensor) else idx
    try:
        arr = np.asarray(data)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{name}: rows of a batch must all have the same length ({e})") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); give at least one token id, "
                         "e.g. a start-of-text or newline token")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}; encode text "
                        "with a tokenizer first, or cast with np.asarray(ids, dtype=np.int64)")
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be a 1-D sequence (T,) or a 2-D batch (B, T), "
                         f"got shape {arr.shape}")
    bad = (arr < 0) | (arr >= vocab_size)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise IndexError(f"{name}: token id {int(arr[where])} at position {where} is outside "
                         f"the vocabulary [0, {vocab_size}); was it encoded with another "
                         "tokenizer?")
    return np.atleast_2d(arr).astype(np.int64), arr.ndim == 1


def _as_stop_tokens(stop_tokens, vocab_size: int) -> np.ndarray:
    if stop_tokens is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(stop_tokens, numbers.Integral):
        stop_tokens = [stop_tokens]
    stop = np.asarray(list(stop_tokens))
    if stop.size and stop.dtype.kind not in "iu":
        raise TypeError(f"stop_tokens must be token ids (integers), got {list(stop_tokens)!r}")
    if stop.size and (stop.min() < 0 or stop.max() >= vocab_size):
        raise IndexError(f"stop_tokens {stop.tolist()} fall outside the vocabulary "
                         f"[0, {vocab_size})")
    return stop.astype(np.int64)


def _make_rng(seed, rng) -> np.random.Generator:
    if rng is not None:
        if seed is not None:
            raise ValueError(f"pass seed ({seed}) or rng, not both")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


@contextlib.contextmanager
def _inference(model):
    """eval() and no_grad() for the duration, then the model's previous mode, even on errors:
    a training loop that samples text mid-run must not continue with dropout switched off."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


# ---- the decoding step -------------------------------------------------------------------------
# where generation asks the unfinished-code policy (kernels.wrappers) whether to go on without
# the cache when the cached step raises NotImplementedError
CACHED_GENERATION = "cached generation"


class NextTokenLogits:
    """Logits (B, V) for the token that follows each row of `idx`, with or without a KV cache.

    Call it with the whole sequences so far, (B, L). Without a cache every call runs the model on
    the last `block_size` tokens: O(L) work per token. With a cache it feeds only the tokens
    the cache has not seen: the prompt on the first call, then one token per call.

    Past the context window the two would drift apart if done naively. The cache stores keys and
    values computed at absolute positions 0..block_size-1; once the window slides by one token,
    every cached entry sits at the wrong position (and its attention saw a token that is no
    longer in the window). Keeping the cache would be cheap but would no longer be the model
    run on the last block_size tokens. So whenever the window's start moves, the cache is reset
    and refilled with the whole window: past `block_size` tokens every step costs one full
    window forward, the same as the uncached path. The payoff is that cached and uncached
    decoding agree at every step, to rounding error.

    Between calls the caller must only append tokens to the sequences, or pick and reorder rows
    with `reorder` (beam search) before appending.
    """

    def __init__(self, model, use_cache: bool = True):
        self.model = model
        self.block_size = model.config.block_size
        self.use_cache = use_cache
        self.cache = None
        self.start = 0  # sequence position of the first cached token

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        if self.use_cache:
            try:
                return self.cached(idx)
            except NotImplementedError as error:  # an unfinished cache (kernels.wrappers)
                if not may_replace_unfinished(error, CACHED_GENERATION):
                    raise
            # go on without the cache, recomputing the window at every step: the same tokens
            self.use_cache, self.cache = False, None
        start = max(0, idx.shape[1] - self.block_size)
        logits, _ = self.model(idx[:, start:], last_position_only=True)  # (B, 1, V)
        return logits.data[:, -1, :]                          # (B, V)

    def cached(self, idx: np.ndarray) -> np.ndarray:
        """The next-token logits (B, V) of idx (B, L) from the cache, which the call extends."""
        B, L = idx.shape
        start = max(0, L - self.block_size)
        if self.cache is None:
            self.cache = self.model.new_kv_cache(B)
        if start != self.start:
            self.cache.reset()
            self.start = start
        if self.cache.length >= L - start:
            # Asked again for a sequence the cache already holds: recompute its last position.
            self.cache.crop(L - start - 1)
        new = idx[:, start + self.cache.length:]              # (B, T_new)
        logits, _ = self.model(new, kv_cache=self.cache, last_position_only=True)  # (B, 1, V)
        return logits.data[:, -1, :]                          # (B, V)

    def reorder(self, rows) -> None:
        """Row i of the next call continues row rows[i] of the previous one."""
        if self.cache is not None:
            self.cache.reorder(np.asarray(rows, dtype=np.int64))


# ---- sampling and greedy decoding --------------------------------------------------------------
def generate(model, idx, max_new_tokens: int, *, temperature: float = 1.0, top_k=None,
             top_p=None, greedy: bool = False, seed=None, rng=None, stop_tokens=None,
             use_cache: bool = True, return_logprobs: bool = False):
    """Extend `idx` by up to `max_new_tokens` tokens.

    idx: token ids as a list, a 1-D array (T0,), a 2-D batch (B, T0), or an integer Tensor.
    Returns int64 ids (B, T0 + n), or (T0 + n,) for a 1-D prompt, where n = max_new_tokens
    unless every row stopped earlier. With `return_logprobs`, also returns float64 (B, n)
    (or (n,)): log P(token | context) under the model's own distribution, i.e. temperature 1
    and no top-k/top-p. That is the quantity `score` sums, so
    `logprobs.sum() == score(model, ids, start=T0)[0]` whatever sampling settings were used.

    Each step: logits -> temperature -> top-k -> top-p -> sample (sampling.py), or the argmax
    when `greedy` (temperature, top_k, top_p are then ignored). `seed` seeds a fresh
    np.random.default_rng; or pass `rng`, a Generator you own. Same seed, same tokens.

    stop_tokens: a token id or ids. A row is finished once it emits one; finished rows keep
    "emitting" that same stop token as padding (log-probability 0) so the batch stays
    rectangular, and generation ends when every row has finished. Decode a row up to its
    first stop token.

    Contexts longer than model.config.block_size slide: each token is predicted from the last
    block_size tokens. use_cache=False recomputes the window every step (O(T) per token);
    the cache is much faster until the window fills and gives the same logits (see
    NextTokenLogits). Runs under no_grad in eval mode, then restores the model's mode.
    """
    ids, single = _as_ids(idx, model.config.vocab_size)
    max_new_tokens = _check_count("max_new_tokens", max_new_tokens, 0)
    if not greedy:
        temperature = check_temperature(temperature)
        top_k = None if top_k is None else check_top_k(top_k)
        top_p = None if top_p is None else check_top_p(top_p)
    stop = _as_stop_tokens(stop_tokens, model.config.vocab_size)
    rng = None if greedy else _make_rng(seed, rng)

    B = ids.shape[0]
    finished = np.zeros(B, dtype=bool)
    pad = np.zeros(B, dtype=np.int64)           # the stop token each finished row repeats
    new_tokens, new_logprobs = [], []
    with _inference(model):
        step = NextTokenLogits(model, use_cache)
        for t in range(max_new_tokens):
            logits = _finite(step(ids), model, "generate", t)          # (B, V)
            if greedy:
                token = greedy_from_logits(logits)                     # (B,)
            else:
                token = sample_from_logits(_filter(logits, temperature, top_k, top_p), rng)
            token = np.where(finished, pad, token)
            logprob = np.take_along_axis(log_probabilities(logits), token[:, None], axis=1)[:, 0]
            new_logprobs.append(np.where(finished, 0.0, logprob))
            new_tokens.append(token)
            ids = np.concatenate([ids, token[:, None]], axis=1)        # (B, L + 1)
            just_stopped = ~finished & np.isin(token, stop)
            pad[just_stopped] = token[just_stopped]
            finished |= just_stopped
            if finished.all():
                break
    logprobs = np.stack(new_logprobs, axis=1) if new_logprobs else np.zeros((B, 0))  # (B, n)
    if single:
        ids, logprobs = ids[0], logprobs[0]
    return (ids, logprobs) if return_logprobs else ids


def _filter(logits, temperature, top_k, top_p) -> np.ndarray:
    x = logits / temperature
    if top_k is not None:
        x = top_k_filter(x, top_k)
    if top_p is not None:
        x = top_p_filter(x, top_p)
    return x


def _finite(logits: np.ndarray, model, caller: str, t: int) -> np.ndarray:
    """The logits of step t, unless one is NaN or infinite: NaN logits would give NaN
    probabilities, and argmax and sampling would then pick token 0 at every step, silently.
    The check is one pass over (B, V) numbers per step; the weights are scanned only to say why."""
    if np.isfinite(logits).all():
        return logits
    params = {name: p.data for name, p in model.named_parameters()}
    check_finite(params, f"{caller}: the model's weights")  # the usual cause, named if so
    raise ValueError(
        f"{caller}: the logits of new token {t} hold {non_finite(logits)} although every weight "
        "is finite: the forward pass overflowed (weights or activations too large for "
        f"{logits.dtype}); use float32 or float64 weights, or check how they were made")


# ---- beam search -------------------------------------------------------------------------------
def beam_search(model, idx, max_new_tokens: int, num_beams: int, length_penalty: float = 1.0,
                stop_tokens=None, use_cache: bool = True, num_return_sequences: int = 1):
    """The most likely continuations of ONE prompt, kept `num_beams` at a time.

    Returns (sequences, scores):
      sequences: int64 (R, T0 + n), prompt included, best first, R <= num_return_sequences.
        A hypothesis that ended on a stop token earlier than the longest one is padded by
        repeating that stop token.
      scores: float64 (R,), the summed log-probability of each hypothesis's NEW tokens, up to
        and including its stop token (padding excluded): log P(x_t | x_<t) summed over
        t = T0 .. end, which is `score(model, unpadded_row, start=T0)[0]`.

    Ranking uses score / n_new ** length_penalty, n_new counting the new tokens (prompt
    excluded, stop token included), as Hugging Face does: 0 ranks by raw sum (favouring short
    hypotheses), 1 by mean log-probability per token, larger values favour longer ones. The
    returned scores are the raw sums, not the ranking values.

    Each step extends every live beam by every token, keeps the `num_beams` best non-stop
    candidates as the new beams, and sets candidates that end on a stop token (ranked before
    the beams are filled) aside as finished. The search stops after max_new_tokens steps, when
    no beam is alive, or when no live beam can still beat the num_return_sequences-th finished
    one (log-probabilities only fall, so the bound is exact). With num_beams >= V ** (n - 1)
    the search over n steps is exhaustive; fewer beams may miss the best sequence.
    num_beams=1 is greedy decoding.
    """
    ids, _ = _as_ids(idx, model.config.vocab_size)
    if ids.shape[0] != 1:
        raise ValueError(f"beam_search takes one prompt, got a batch of {ids.shape[0]}; "
                         "call it once per row")
    max_new_tokens = _check_count("max_new_tokens", max_new_tokens, 0)
    num_beams = _check_count("num_beams", num_beams, 1)
    num_return_sequences = _check_count("num_return_sequences", num_return_sequences, 1)
    if num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences ({num_return_sequences}) cannot exceed "
                         f"num_beams ({num_beams})")
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, numbers.Real):
        raise TypeError(f"length_penalty must be a number, got {length_penalty!r}")
    stop = _as_stop_tokens(stop_tokens, model.config.vocab_size)
    if max_new_tokens == 0:
        return ids.copy(), np.zeros(1)

    def rank(raw: float, n_new: int) -> float:
        return raw / n_new ** length_penalty

    def best_possible(raw: float, n_new: int) -> float:
        # raw only falls as tokens are added, and raw / n ** lp is monotone in n for raw <= 0.
        return max(rank(raw, n_new + 1), rank(raw, max_new_tokens))

    T0 = ids.shape[1]
    beams, beam_scores = ids, np.zeros(1)       # (n_live, T0 + step), (n_live,)
    finished = []                               # (rank, raw score, tokens), best first
    with _inference(model):
        step = NextTokenLogits(model, use_cache)
        for t in range(max_new_tokens):
            logits = _finite(step(beams), model, "beam_search", t)     # (n_live, V)
            candidates = beam_scores[:, None] + log_probabilities(logits)     # (n_live, V)
            V = candidates.shape[1]
            parents, tokens = [], []
            for flat in np.argsort(-candidates, axis=None, kind="stable"):
                if len(parents) == num_beams:
                    break
                b, token = divmod(int(flat), V)
                if token in stop:
                    raw = float(candidates[b, token])
                    finished.append((rank(raw, t + 1), raw, np.append(beams[b], token)))
                else:
                    parents.append(b)
                    tokens.append(token)
            finished = sorted(finished, key=lambda h: -h[0])[:num_return_sequences]
            if not parents:  # every continuation of every beam was a stop token
                beams = beams[:0]
                break
            beam_scores = candidates[parents, tokens]
            beams = np.concatenate([beams[parents], np.array(tokens)[:, None]], axis=1)
            step.reorder(parents)
            if len(finished) == num_return_sequences and t + 1 < max_new_tokens:
                bound = max(best_possible(s, t + 1) for s in beam_scores)
                if bound <= finished[-1][0]:
                    beams = beams[:0]
                    break
    n_new = beams.shape[1] - T0
    finished += [(rank(s, n_new), float(s), row) for s, row in zip(beam_scores, beams)]
    finished = sorted(finished, key=lambda h: -h[0])[:num_return_sequences]
    width = max(len(row) for _, _, row in finished)
    sequences = np.stack([np.pad(row, (0, width - len(row)), mode="edge")
                          for _, _, row in finished]).astype(np.int64)
    return sequences, np.array([raw for _, raw, _ in finished])
