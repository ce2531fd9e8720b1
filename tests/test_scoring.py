"""score: the sliding-window log-likelihood of a text under a model, checked against the model's
own next-token distribution."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.generation.sampling import log_probabilities
from tinygrad_lm.generation.scoring import score

from .test_generate import BLOCK, make_model, reference_logprob


@pytest.fixture(scope="module")
def model64():
    return make_model()


@pytest.fixture(scope="module")
def model32():
    return make_model(dtype=np.float32)


# ---- score -------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [2, BLOCK, BLOCK + 1, 3 * BLOCK + 2])
def test_score_is_the_sliding_window_log_likelihood(model64, length):
    ids = (np.arange(length) * 5 + 1) % 7
    expected = sum(reference_logprob(model64, ids, t) for t in range(1, length))
    ll, ppl = score(model64, ids)
    np.testing.assert_allclose(ll, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ppl, np.exp(-expected / (length - 1)))
    lls, _ = score(model64, np.stack([ids, ids[::-1]]), max_tokens_per_forward=BLOCK)
    np.testing.assert_allclose(lls[0], ll, atol=1e-10)


@pytest.mark.parametrize("stride", [3, BLOCK])
def test_score_stride_scores_every_token_once(model64, stride):
    ids = (np.arange(3 * BLOCK + 2) * 3 + 2) % 7
    T = len(ids)

    def context_start(t):  # each chunk of `stride` targets shares the window ending at its last
        if t <= BLOCK:
            return 0
        end = min(BLOCK + stride * -(-(t - BLOCK) // stride), T - 1)
        return end - BLOCK

    expected = 0.0
    for t in range(1, T):
        with tg.no_grad():
            logits, _ = model64(ids[None, context_start(t):t])
        expected += log_probabilities(logits.data[0, -1])[ids[t]]
    np.testing.assert_allclose(score(model64, ids, stride=stride)[0], expected, atol=1e-10)


def test_score_rejects_bad_arguments(model32):
    with pytest.raises(ValueError, match="at least 2"):
        score(model32, [1])
    with pytest.raises(ValueError, match="start"):
        score(model32, [1, 2, 3], start=3)
    with pytest.raises(ValueError, match="stride"):
        score(model32, [1, 2, 3], stride=BLOCK + 1)
