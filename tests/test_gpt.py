"""Layers and the GPT: gradients of every layer and of a whole model, causality, weights I/O."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.nn import (
    GELU,
    GPT,
    MLP,
    Block,
    CausalSelfAttention,
    Dropout,
    Embedding,
    GPTConfig,
    LayerNorm,
    Linear,
)

TINY = dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)


def x64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True,
                     dtype=np.float64)


def check_module(module, *inputs, mode="full"):
    """Gradcheck a module with respect to its inputs and every parameter."""
    module.to(np.float64)
    params = module.parameters()

    def fn(*tensors):
        return module(*tensors[:len(inputs)])

    tg.gradcheck(fn, list(inputs) + params, mode=mode)


@pytest.mark.parametrize("make, shape", [
    (lambda: Linear(4, 3, rng=np.random.default_rng(0), std=0.5), (2, 5, 4)),
    (lambda: Linear(4, 3, bias=False, rng=np.random.default_rng(0), std=0.5), (3, 4)),
    (lambda: LayerNorm(6), (2, 3, 6)),
    (lambda: LayerNorm(6, bias=False), (4, 6)),
    (lambda: GELU("tanh"), (3, 4)),
    (lambda: GELU("none"), (3, 4)),
    (lambda: MLP(4, rng=np.random.default_rng(0)), (2, 3, 4)),
])
def test_layer_gradcheck(make, shape):
    module = make()
    for p in module.parameters():  # move LayerNorm away from its trivial 1/0 initialisation
        p.data += np.random.default_rng(1).standard_normal(p.shape) * 0.3
    check_module(module, x64(*shape))


def test_embedding_gradcheck():
    emb = Embedding(5, 3, rng=np.random.default_rng(0)).to(np.float64)
    ids = np.array([[0, 4, 4], [1, 0, 2]])
    tg.gradcheck(lambda w: emb(ids), [emb.weight])


@pytest.mark.a4_2
def test_attention_gradcheck():
    attn = CausalSelfAttention(8, 2, rng=np.random.default_rng(0), proj_std=0.3)
    for p in attn.parameters():
        p.data += np.random.default_rng(2).standard_normal(p.shape) * 0.3
    check_module(attn, x64(2, 4, 8))


@pytest.mark.a4_3
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_block_gradcheck(norm_position):
    block = Block(GPTConfig(**TINY, norm_position=norm_position), rng=np.random.default_rng(0))
    check_module(block, x64(1, 3, 8), mode="fast")


def tiny_gpt(**kw):
    model = GPT(GPTConfig(**{**TINY, **kw}), seed=0).to(np.float64)
    for p in model.parameters():  # larger weights than the 0.02 init make a sharper test
        p.data += np.random.default_rng(3).standard_normal(p.shape) * 0.1
    return model


def gpt_loss_fn(model, idx, targets):
    names = [n for n, _ in model.named_parameters()]

    def fn(*params):
        return model(idx, targets)[1]
    return names, fn


def test_whole_gpt_gradcheck_every_parameter():
    model = tiny_gpt()
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 11, (2, 6)), rng.integers(0, 11, (2, 6))
    names, fn = gpt_loss_fn(model, idx, targets)
    result = tg.gradcheck(fn, model.parameters())
    worst = {names[i]: err for i, err in result.max_rel_error.items()}
    name = max(worst, key=worst.get)
    print(f"\nwhole-GPT gradcheck: worst relative error {worst[name]:.2e} ({name})")
    assert len(worst) == len(names)


@pytest.mark.parametrize("kw", [dict(norm_position="post"), dict(bias=False),
                                dict(tie_weights=False), dict(activation="gelu")])
def test_gpt_variants_gradcheck(kw):
    model = tiny_gpt(**kw)
    rng = np.random.default_rng(1)
    idx, targets = rng.integers(0, 11, (2, 5)), rng.integers(0, 11, (2, 5))
    _, fn = gpt_loss_fn(model, idx, targets)
    tg.gradcheck(fn, model.parameters(), mode="fast")


def test_causality():
    model = tiny_gpt()
    idx = np.random.default_rng(0).integers(0, 11, (1, 6))
    base = model(idx)[0].data
    for t in range(5):
        changed = idx.copy()
        changed[0, t + 1:] = (changed[0, t + 1:] + 3) % 11
        out = model(changed)[0].data
        np.testing.assert_allclose(out[0, :t + 1], base[0, :t + 1], rtol=0, atol=1e-12)


@pytest.mark.a4_1
def test_causal_mask():
    from tinygrad_lm.kernels.reference import causal_mask
    np.testing.assert_array_equal(causal_mask(3, 3), np.triu(np.ones((3, 3), bool), 1))
    # with a KV cache the 2 new queries sit at positions 3 and 4 of 5 keys
    np.testing.assert_array_equal(causal_mask(2, 5), [[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])


@pytest.mark.a4_1
def test_attention_rows_sum_to_one_and_are_causal():
    attn = CausalSelfAttention(8, 2, rng=np.random.default_rng(0))
    with tg.use_backend("numpy"):  # the reference mask (the Numba kernel fuses its own)
        attn(tg.randn(2, 5, 8, seed=0), return_attention=True)
    att = attn.last_attention
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-6)
    assert np.all(att[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)


def test_dropout_inert_in_eval_and_eval_is_deterministic():
    model = GPT(GPTConfig(**TINY, dropout=0.5), seed=0)
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    model.train()
    assert not np.array_equal(model(idx)[0].data, model(idx)[0].data)
    model.eval()
    np.testing.assert_array_equal(model(idx)[0].data, model(idx)[0].data)
    assert not Dropout(0.5).eval().training


def test_parameter_count_closed_form():
    for kw in (dict(), dict(bias=False), dict(tie_weights=False)):
        c = GPTConfig(**{**TINY, **kw})
        C, V, L = c.n_embd, c.vocab_size, c.n_layer
        b = 1 if c.bias else 0
        per_block = (2 * (C + b * C)                      # ln_1, ln_2
                     + C * 3 * C + b * 3 * C + C * C + b * C  # attention
                     + C * 4 * C + b * 4 * C + 4 * C * C + b * C)  # mlp
        head = 0 if c.tie_weights else C * V
        expected = V * C + c.block_size * C + L * per_block + (C + b * C) + head
        model = GPT(c)
        assert model.num_parameters() == expected
        assert model.num_parameters(non_embedding=True) == expected - c.block_size * C


def test_same_seed_same_model_and_state_dict_round_trip():
    a, b = GPT(GPTConfig(**TINY), seed=5), GPT(GPTConfig(**TINY), seed=5)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    _, loss = a(idx, idx)
    loss.backward()
    with tg.no_grad():
        for p in a.parameters():
            p -= 0.1 * p.grad
    c = GPT(GPTConfig(**TINY), seed=99)
    c.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(c(idx)[0].data, a(idx)[0].data)


def test_state_dict_names_follow_gpt2():
    names = set(GPT(GPTConfig(**TINY, tie_weights=False)).state_dict())
    for key in ("transformer.wte.weight", "transformer.wpe.weight",
                "transformer.h.1.ln_1.weight", "transformer.h.0.attn.c_attn.bias",
                "transformer.h.0.attn.c_proj.weight", "transformer.h.0.mlp.c_fc.weight",
                "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.bias", "lm_head.weight"):
        assert key in names
    assert "lm_head.weight" not in GPT(GPTConfig(**TINY)).state_dict()


def test_bad_state_dicts():
    model = GPT(GPTConfig(**TINY))
    state = dict(model.state_dict())
    with pytest.raises(KeyError, match="missing keys \\['transformer.wte.weight'\\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "transformer.wte.weight"})
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        model.load_state_dict({**state, "extra": np.zeros(1)})
    bad = {**state, "transformer.wpe.weight": np.zeros((7, 8))}
    with pytest.raises(ValueError, match=r"transformer.wpe.weight has shape \(7, 8\).*\(6, 8\)"):
        model.load_state_dict(bad)


def test_bad_inputs():
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(ValueError, match="cannot forward a sequence of length 7, block size is "
                                         "only 6"):
        model(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(IndexError, match="token id 11 is out of range for size 11"):
        model(np.array([[1, 11]]))
    with pytest.raises(IndexError, match="-1"):
        model(np.array([[1, -1]]))
    with pytest.raises(TypeError, match="integers"):
        model(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"shape \(B, T\)"):
        model(np.array([1, 2]))
    with pytest.raises(ValueError, match="empty batch"):
        model(np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="not divisible"):
        GPTConfig(**{**TINY, "n_head": 3})
    with pytest.raises(ValueError, match="not divisible"):
        CausalSelfAttention(10, 4)
    with pytest.raises(TypeError, match="n_layer must be an int"):
        GPTConfig(**{**TINY, "n_layer": 2.0})
    with pytest.raises(ValueError, match="norm_position"):
        GPTConfig(**TINY, norm_position="middle")


@pytest.mark.a5_5
def test_kv_cache_matches_full_forward():
    model = tiny_gpt()
    model.eval()
    idx = np.random.default_rng(0).integers(0, 11, (2, 6))
    with tg.no_grad():
        full = model(idx)[0].data
        cache = model.new_kv_cache(2)
        steps = [model(idx[:, :3], kv_cache=cache)[0].data]
        for t in range(3, 6):
            steps.append(model(idx[:, t:t + 1], kv_cache=cache)[0].data)
        np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=0, atol=1e-10)
        assert cache.length == 6
        with pytest.raises(ValueError, match="crop or reset the cache"):
            model(idx[:, :1], kv_cache=cache)
        cache.reorder([1, 1])  # beam search: both rows continue sequence 1
        cache.crop(4)
        out = model(idx[[1, 1], 4:5], kv_cache=cache)[0].data
        np.testing.assert_allclose(out[0, 0], full[1, 4], atol=1e-10)


def test_crop_block_size():
    model = GPT(GPTConfig(**TINY))
    model.crop_block_size(4)
    assert model.config.block_size == 4 and model.transformer.wpe.weight.shape == (4, 8)
    with pytest.raises(ValueError, match="length 5, block size is only 4"):
        model(np.zeros((1, 5), dtype=np.int64))
