"""Coursework assignment 6, the modern decoder: RMSNorm (6.1), rotary embeddings (6.2) and the
SwiGLU MLP (6.3), each checked against its definition written out in NumPy and by float64
gradient checks. No PyTorch needed (tests/test_modern.py compares with PyTorch too)."""

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.nn.modern import SwiGLU

rng = np.random.default_rng(7)


def f64(*shape):
    return tg.Tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)


# ---- 6.1 ------------------------------------------------------------------------------------
@pytest.mark.a6_1
def test_rms_norm_is_its_definition():
    x, w = rng.standard_normal((2, 4, 6)) + 2.0, rng.standard_normal(6)
    want = x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-5) * w
    np.testing.assert_allclose(F.rms_norm(x, w).data, want, atol=1e-12)
    np.testing.assert_allclose(F.rms_norm(x).data, want / w, atol=1e-12)
    out = F.rms_norm(x, np.ones(6)).data
    assert np.all(out.mean(-1) > 0.5), "the mean must not be subtracted: rows keep their sign"


@pytest.mark.a6_1
@pytest.mark.parametrize("with_weight", [True, False])
def test_rms_norm_gradients(with_weight):
    x = f64(3, 5)
    x.data += 1.5  # rows with a mean: a subtracted mean changes the gradient too
    if with_weight:
        tg.gradcheck(lambda a, w: F.rms_norm(a, w), [x, f64(5)])
    else:
        tg.gradcheck(lambda a: F.rms_norm(a, eps=1e-3), [x])


# ---- 6.2 ------------------------------------------------------------------------------------
def rope_by_hand(x, positions, theta, layout):
    d = x.shape[-1]
    angle = positions[:, None] * theta ** (-np.arange(0, d, 2) / d)  # (T, D/2)
    if layout == "half":
        a, b = x[..., :d // 2], x[..., d // 2:]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
    ra, rb = a * np.cos(angle) - b * np.sin(angle), a * np.sin(angle) + b * np.cos(angle)
    if layout == "half":
        return np.concatenate([ra, rb], axis=-1)
    return np.stack([ra, rb], axis=-1).reshape(x.shape)


@pytest.mark.a6_2
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_rope_is_its_definition(layout):
    x, pos = rng.standard_normal((2, 3, 5, 8)), np.arange(4, 9)
    np.testing.assert_allclose(F.rope(x, pos, 100.0, layout).data,
                               rope_by_hand(x, pos, 100.0, layout), atol=1e-12)


@pytest.mark.a6_2
@pytest.mark.parametrize("layout", ["half", "interleaved"])
def test_rope_gradients(layout):
    tg.gradcheck(lambda a: F.rope(a, np.arange(2, 6), layout=layout), [f64(2, 4, 6)])


@pytest.mark.a6_2
def test_rope_scores_see_only_the_offset():
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    rot = lambda v, p: F.rope(v[None], np.array([p])).data[0]  # noqa: E731
    scores = [rot(q, m) @ rot(k, m + 2) for m in (0, 5, 40)]
    np.testing.assert_allclose(scores, scores[0], atol=1e-12)


@pytest.mark.a6_2
def test_rope_with_a_kv_cache_rotates_by_the_absolute_position():
    config = tg.GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=4, n_embd=16,
                          position="rope", n_kv_head=2)
    model = tg.GPT(config, seed=0).to(np.float64)
    ids = rng.integers(0, 30, (2, 9))
    full = model(ids)[0].data
    cache = model.new_kv_cache(2)
    steps = [model(ids[:, :4], kv_cache=cache)[0].data]
    steps += [model(ids[:, t:t + 1], kv_cache=cache)[0].data for t in range(4, 9)]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-12)


# ---- 6.3 ------------------------------------------------------------------------------------
@pytest.mark.a6_3
def test_swiglu_is_w2_of_silu_w1x_times_w3x():
    mlp = SwiGLU(6, 10, rng=np.random.default_rng(0)).to(np.float64)
    x = rng.standard_normal((2, 3, 6))
    w1, w3, w2 = (m.weight.data for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj))
    gate = x @ w1
    want = (gate / (1 + np.exp(-gate)) * (x @ w3)) @ w2
    np.testing.assert_allclose(mlp(x).data, want, atol=1e-12)


@pytest.mark.a6_3
def test_swiglu_gradients():
    mlp = SwiGLU(4, 6, bias=True, rng=np.random.default_rng(1)).to(np.float64)
    tg.gradcheck(lambda x: mlp(x), [f64(2, 3, 4)])
    mlp(f64(3, 4)).sum().backward()
    grads = {name: p.grad for name, p in mlp.named_parameters()}
    assert set(grads) == {f"{n}.{w}" for n in ("gate_proj", "up_proj", "down_proj")
                          for w in ("weight", "bias")}
    assert all(np.abs(g).sum() > 0 for g in grads.values())
