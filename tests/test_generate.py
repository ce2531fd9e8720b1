"""Text generation: sampling helpers, cached vs uncached decoding, beam search, scoring."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lm as tg
from tinygrad_lm.generation.generate import NextTokenLogits, beam_search, generate
from tinygrad_lm.generation.sampling import (
    apply_temperature,
    log_probabilities,
    probabilities,
    sample_from_logits,
    top_k_filter,
    top_p_filter,
)
from tinygrad_lm.generation.scoring import score

gpt = pytest.importorskip("tinygrad_lm.nn.gpt")

BLOCK = 8


def make_model(vocab=7, block=BLOCK, dtype=np.float64, seed=0):
    config = gpt.GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=16)
    model = gpt.GPT(config, seed=seed)
    # At its initial scale the model predicts almost uniformly (top probability ~0.17 of 7);
    # scaled up it has real preferences, so greedy, beams and exhaustive search can differ.
    for p in model.parameters():
        p.data *= 3.0
    if dtype != np.float32:
        model.to(dtype)
    return model


@pytest.fixture(scope="module")
def model64():
    return make_model()


@pytest.fixture(scope="module")
def model32():
    return make_model(dtype=np.float32)


def reference_logprob(model, ids, t):
    """log P(ids[t] | the last block_size tokens before t), straight from the model."""
    bs = model.config.block_size
    with tg.no_grad():
        logits, _ = model(ids[None, max(0, t - bs):t])
    return log_probabilities(logits.data[0, -1])[ids[t]]


# ---- sampling helpers --------------------------------------------------------------------------
HAND = np.log(np.array([0.5, 0.3, 0.15, 0.05]))


@pytest.mark.parametrize("p, kept", [(0.8, 2), (0.81, 3), (0.5, 1), (0.01, 1), (0.96, 4),
                                     (1.0, 4)])
@pytest.mark.a5_4
def test_top_p_keeps_smallest_set_reaching_p(p, kept):
    out = top_p_filter(HAND, p)
    assert np.isfinite(out).sum() == kept
    assert np.array_equal(np.isfinite(out[:kept]), np.ones(kept, bool))  # the most likely ones
    np.testing.assert_allclose(out[:kept], HAND[:kept])


@pytest.mark.a5_4
def test_top_p_works_per_row_and_in_any_order():
    perm = np.array([2, 0, 3, 1])
    rows = np.stack([HAND[perm], HAND])                        # (2, 4)
    out = top_p_filter(rows, 0.8)
    assert set(np.flatnonzero(np.isfinite(out[0]))) == {1, 3}  # where 0.5 and 0.3 went
    assert set(np.flatnonzero(np.isfinite(out[1]))) == {0, 1}


@pytest.mark.a5_4
@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=12), st.floats(0.01, 1.0))
def test_top_p_set_is_minimal_and_reaches_p(logits, p):
    x = np.array(logits)
    probs = probabilities(x)
    keep = np.isfinite(top_p_filter(x, p))
    assert keep.sum() >= 1
    assert probs[keep].sum() >= p - 1e-9
    # Dropping the least likely kept token falls short of p: the set is the smallest one.
    if keep.sum() > 1:
        assert probs[keep].sum() - probs[keep].min() < p + 1e-9
    # Nothing dropped is more likely than something kept.
    if (~keep).any():
        assert probs[~keep].max() <= probs[keep].min()


@pytest.mark.a5_3
def test_top_k_keeps_exactly_k_with_ties_to_lower_id():
    x = np.array([[1.0, 3.0, 3.0, 0.0, 3.0]])
    assert np.flatnonzero(np.isfinite(top_k_filter(x, 2)[0])).tolist() == [1, 2]
    assert np.flatnonzero(np.isfinite(top_k_filter(x, 1)[0])).tolist() == [1]
    np.testing.assert_array_equal(top_k_filter(x, 10), x)


def test_temperature_sharpens_and_flattens():
    x = np.array([2.0, 1.0, 0.5, -1.0])
    p_cold, p1, p_hot = (probabilities(apply_temperature(x, t)) for t in (0.5, 1.0, 2.0))
    np.testing.assert_allclose(p1, probabilities(x))
    assert p_cold.max() > p1.max() > p_hot.max()
    entropy = [-(p * np.log(p)).sum() for p in (p_cold, p1, p_hot)]
    assert entropy[0] < entropy[1] < entropy[2]
    assert np.argmax(p_cold) == np.argmax(p_hot) == 0           # ranking unchanged
    np.testing.assert_allclose(apply_temperature(x, 0.5), 2 * x)


def test_sample_from_logits_frequencies_and_filtered_tokens():
    probs = np.array([0.5, 0.3, 0.0, 0.2])
    with np.errstate(divide="ignore"):
        logits = np.tile(np.log(probs), (20000, 1))             # log(0) = -inf: filtered
    draws = sample_from_logits(logits, np.random.default_rng(0))
    assert draws.dtype == np.int64 and draws.shape == (20000,)
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert freq[2] == 0
    np.testing.assert_allclose(freq, probs, atol=0.015)
    one = sample_from_logits(np.log([0.2, 0.8]), np.random.default_rng(1))
    assert isinstance(one, int)


# ---- cached and uncached decoding agree --------------------------------------------------------
def step_logits(model, prompt, n_steps, use_cache):
    """Greedy decoding through NextTokenLogits, recording every step's logits (n, B, V)."""
    ids = np.array(prompt, dtype=np.int64)
    out = []
    with tg.no_grad():
        step = NextTokenLogits(model, use_cache)
        for _ in range(n_steps):
            logits = step(ids).copy()
            out.append(logits)
            ids = np.concatenate([ids, logits.argmax(axis=1)[:, None]], axis=1)
    return np.stack(out), ids


@pytest.mark.parametrize("prompt", [[[3]], [[1, 2, 3], [4, 0, 6]], [list(range(7)) * 2]],
                         ids=["one-token", "batch-of-2", "longer-than-block"])
def test_cached_logits_equal_uncached_float64(model64, prompt):
    n = 2 * BLOCK + 3                                           # well past the window
    cached, ids_c = step_logits(model64, prompt, n, use_cache=True)
    plain, ids_p = step_logits(model64, prompt, n, use_cache=False)
    np.testing.assert_allclose(cached, plain, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ids_c, ids_p)


def test_cached_logits_equal_uncached_float32(model32):
    cached, ids_c = step_logits(model32, [[1, 2], [5, 5]], 2 * BLOCK + 3, use_cache=True)
    plain, ids_p = step_logits(model32, [[1, 2], [5, 5]], 2 * BLOCK + 3, use_cache=False)
    np.testing.assert_allclose(cached, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ids_c, ids_p)


def test_uncached_step_is_the_model_on_the_last_window(model64):
    ids = np.arange(12)[None] % 7                               # (1, 12) > block 8
    with tg.no_grad():
        direct = model64(ids[:, -BLOCK:])[0].data[:, -1]
        step = NextTokenLogits(model64, use_cache=False)(ids)
    # the step computes the head for the last position alone: equal up to the matmul's rounding
    np.testing.assert_allclose(step, direct, rtol=0, atol=1e-12)


def test_generate_cached_equals_uncached(model64):
    for kwargs in ({"greedy": True}, {"seed": 5, "temperature": 0.9, "top_k": 5, "top_p": 0.9}):
        a, lp_a = generate(model64, [[1, 2]], 20, use_cache=True, return_logprobs=True, **kwargs)
        b, lp_b = generate(model64, [[1, 2]], 20, use_cache=False, return_logprobs=True, **kwargs)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(lp_a, lp_b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("use_cache", [True, False])
def test_last_position_only_is_the_last_row_of_the_full_logits(model64, use_cache):
    ids = np.array([[1, 2, 3, 4, 5], [0, 6, 5, 4, 3]])
    with tg.no_grad():
        full, _ = model64(ids)                                   # (2, 5, V)
        cache = model64.new_kv_cache(2) if use_cache else None
        last, loss = model64(ids, kv_cache=cache, last_position_only=True)
    assert last.shape == (2, 1, 7) and loss is None
    np.testing.assert_allclose(last.data[:, 0], full.data[:, -1], rtol=0, atol=1e-12)
    if use_cache:
        assert cache.length == 5  # the cache still holds every position's keys and values


def test_last_position_only_refuses_targets(model32):
    with pytest.raises(ValueError, match="last_position_only"):
        model32(np.array([[1, 2]]), targets=np.array([[2, 3]]), last_position_only=True)


# ---- generate ----------------------------------------------------------------------------------
def test_generate_shapes_and_prompt_kinds(model32):
    out = generate(model32, [1, 2, 3], 5, seed=0)
    assert out.shape == (8,) and out.dtype == np.int64 and out[:3].tolist() == [1, 2, 3]
    out2 = generate(model32, np.array([[1, 2, 3], [0, 0, 0]]), 5, seed=0)
    assert out2.shape == (2, 8) and out2[:, :3].tolist() == [[1, 2, 3], [0, 0, 0]]
    assert generate(model32, tg.Tensor(np.array([[4]])), 3, greedy=True).shape == (1, 4)
    assert generate(model32, [2], 0).tolist() == [2]


@pytest.mark.a5_3
def test_top_k_1_is_greedy(model64):
    greedy = generate(model64, [[0, 3]], 12, greedy=True)
    for seed in range(3):
        np.testing.assert_array_equal(
            generate(model64, [[0, 3]], 12, top_k=1, temperature=1.7, seed=seed), greedy)


def test_seed_and_rng_reproducibility(model32):
    a = generate(model32, [1], 30, seed=11)
    np.testing.assert_array_equal(a, generate(model32, [1], 30, seed=11))
    np.testing.assert_array_equal(a, generate(model32, [1], 30, rng=np.random.default_rng(11)))
    assert not np.array_equal(a, generate(model32, [1], 30, seed=12))


def test_logprobs_are_the_model_distribution_and_sum_to_score(model64):
    prompt = [2, 6, 1]
    ids, lp = generate(model64, prompt, 2 * BLOCK, temperature=0.7, top_p=0.8, seed=1,
                       return_logprobs=True)
    expected = [reference_logprob(model64, ids, t) for t in range(3, len(ids))]
    np.testing.assert_allclose(lp, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(lp.sum(), score(model64, ids, start=3)[0], rtol=0, atol=1e-9)


@pytest.mark.parametrize("every_row", [False, True])
def test_stop_tokens_pad_finished_rows(model64, every_row):
    prompt = np.array([[1, 2], [3, 4], [5, 6]])
    free, free_lp = generate(model64, prompt, 10, greedy=True, return_logprobs=True)
    # Row 0 stops at once; with every_row, each row emits a stop token at some point.
    stop = {int(free[0, 2])} | ({int(free[1, 2]), int(free[2, -1])} if every_row else set())
    ids, lp = generate(model64, prompt, 10, greedy=True, stop_tokens=sorted(stop),
                       return_logprobs=True)
    n_new = []                                                  # new tokens up to the stop
    for row, free_row, row_lp, free_row_lp in zip(ids, free, lp, free_lp):
        hits = np.flatnonzero(np.isin(free_row[2:], list(stop)))
        n = hits[0] + 1 if len(hits) else 10
        n_new.append(n)
        np.testing.assert_array_equal(row[:2 + n], free_row[:2 + n])
        np.testing.assert_allclose(row_lp[:n], free_row_lp[:n], atol=1e-12)
        assert (row[2 + n:] == row[1 + n]).all() and (row_lp[n:] == 0).all()
    assert ids.shape == (3, 2 + max(n_new))                     # ends once every row stopped
    assert (max(n_new) < 10) == every_row


def test_mode_and_grad_mode_restored(model64):
    model64.train()
    generate(model64, [1], 3, seed=0)
    assert model64.training
    model64.eval()
    generate(model64, [1], 3, seed=0)
    assert not model64.training
    assert tg.is_grad_enabled()


def test_mode_restored_on_error(monkeypatch):
    model = make_model()
    model.train()

    def broken(*args, **kwargs):
        assert not model.training                              # generate switched to eval
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "new_kv_cache", broken)
    with pytest.raises(RuntimeError, match="boom"):
        generate(model, [1], 3, seed=0)
    assert model.training and tg.is_grad_enabled()


BAD_GENERATE = [
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"temperature": -1.0}, ValueError, "temperature"),
    ({"top_p": 0.0}, ValueError, "top_p"),
    ({"top_p": 1.5}, ValueError, "top_p"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"top_k": 2.5}, TypeError, "top_k"),
    ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
    ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens"),
    ({"idx": []}, ValueError, "empty"),
    ({"idx": [[]]}, ValueError, "empty"),
    ({"idx": [1, 7]}, IndexError, "7"),
    ({"idx": [-1]}, IndexError, "-1"),
    ({"idx": [1.5, 2.0]}, TypeError, "integer"),
    ({"idx": ["a"]}, TypeError, "integer"),
    ({"idx": [[[1]]]}, ValueError, "shape"),
    ({"stop_tokens": [9]}, IndexError, "stop_tokens"),
    ({"seed": 1, "rng": np.random.default_rng(1)}, ValueError, "seed"),
]


@pytest.mark.parametrize("kwargs, error, match", BAD_GENERATE,
                         ids=[str(k) for k, _, _ in BAD_GENERATE])
def test_generate_rejects_bad_arguments(model32, kwargs, error, match):
    args = {"idx": [1, 2], "max_new_tokens": 3, **kwargs}
    with pytest.raises(error, match=match):
        generate(model32, args.pop("idx"), args.pop("max_new_tokens"), **args)


def test_greedy_accepts_zero_temperature(model32):
    assert generate(model32, [1], 2, greedy=True, temperature=0).shape == (3,)


# ---- beam search -------------------------------------------------------------------------------
def test_one_beam_is_greedy(model64):
    ids, lp = generate(model64, [3, 1], 12, greedy=True, return_logprobs=True)
    seqs, scores = beam_search(model64, [3, 1], 12, num_beams=1)
    np.testing.assert_array_equal(seqs[0], ids)
    np.testing.assert_allclose(scores[0], lp.sum(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("use_cache", [True, False])
def test_beams_beat_greedy_and_match_score(model64, use_cache):
    prompt = [3, 1, 4]
    _, greedy_lp = generate(model64, prompt, 9, greedy=True, return_logprobs=True)
    seqs, scores = beam_search(model64, prompt, 9, num_beams=3, num_return_sequences=3,
                               use_cache=use_cache)                # 3 + 9 > block 8: slides
    assert scores[0] >= greedy_lp.sum() - 1e-12
    for seq, s in zip(seqs, scores):
        np.testing.assert_allclose(s, score(model64, seq, start=len(prompt))[0], atol=1e-10)
    assert (np.diff(scores) <= 1e-12).all()                        # best first (penalty 1, =len)


def all_continuations(model, prompt, steps, vocab, stop=None):
    """Every continuation of up to `steps` tokens (ending early only on `stop`), with its score."""
    out = []
    for n in range(1 if stop is not None else steps, steps + 1):
        for tail in itertools.product(range(vocab), repeat=n):
            if stop in tail[:-1] or (n < steps and tail[-1] != stop):
                continue
            seq = np.array(prompt + list(tail))
            out.append((score(model, seq, start=len(prompt))[0], seq))
    return sorted(out, key=lambda h: -h[0])


@pytest.mark.parametrize("steps, beams", [(2, 4), (3, 16)])
def test_beam_search_matches_exhaustive_search(steps, beams):
    # Exact when num_beams >= V ** (steps - 1): every prefix of the last step survives.
    model = make_model(vocab=4, seed=3)
    best = all_continuations(model, [1, 2], steps, 4)[:3]
    seqs, scores = beam_search(model, [1, 2], steps, num_beams=beams, length_penalty=0.0,
                               num_return_sequences=3)
    for (s_ref, seq_ref), seq, s in zip(best, seqs, scores):
        np.testing.assert_array_equal(seq, seq_ref)
        np.testing.assert_allclose(s, s_ref, atol=1e-10)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
def test_beam_search_with_stop_token_matches_exhaustive_search(length_penalty):
    model = make_model(vocab=4, seed=4)
    hypotheses = all_continuations(model, [0], 3, 4, stop=3)
    # Hypotheses of different lengths: rank by score / n_new ** length_penalty.
    s_ref, seq_ref = max(hypotheses, key=lambda h: h[0] / (len(h[1]) - 1) ** length_penalty)
    seqs, scores = beam_search(model, [0], 3, num_beams=16, length_penalty=length_penalty,
                               stop_tokens=3)
    n = len(seq_ref)
    np.testing.assert_array_equal(seqs[0][:n], seq_ref)
    assert (seqs[0][n:] == 3).all()
    np.testing.assert_allclose(scores[0], s_ref, atol=1e-10)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_beams": 0}, ValueError, "num_beams"),
    ({"num_beams": 2, "num_return_sequences": 3}, ValueError, "num_return_sequences"),
    ({"max_new_tokens": -2}, ValueError, "max_new_tokens"),
    ({"idx": [[1], [2]]}, ValueError, "one prompt"),
])
def test_beam_search_rejects_bad_arguments(model32, kwargs, error, match):
    args = {"idx": [1], "max_new_tokens": 3, "num_beams": 2, **kwargs}
    with pytest.raises(error, match=match):
        beam_search(model32, args.pop("idx"), args.pop("max_new_tokens"), **args)
