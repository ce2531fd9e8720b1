"""The modern decoder's parts (RMSNorm, SiLU, RoPE, attention with masks, grouped-query
attention, SwiGLU) against PyTorch and against their own definitions, and the GPTConfig switches
with every path: fused and readable, KV cache, generation, beam search, checkpoints, resume."""

import dataclasses

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.nn.gpt import LLAMA
from tinygrad_lm.nn.modern import RotarySelfAttention, llama_hidden_size

rng = np.random.default_rng(0)
COMBOS = {
    "gpt2": {},
    "rmsnorm": dict(norm="rmsnorm"),
    "rope": dict(position="rope"),
    "swiglu": dict(mlp="swiglu", mlp_hidden=48),
    "gqa": dict(n_kv_head=2),
    "llama_gqa": dict(LLAMA, n_kv_head=2, tie_weights=False),
    "llama_mqa": dict(LLAMA, n_kv_head=1),
}


def model_of(fused=True, seed=1, **kw):
    c = tg.GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=32, fused=fused,
                     **kw)
    return tg.GPT(c, seed=seed).to(np.float64)


# ---- the ops, against PyTorch ---------------------------------------------------------------
def test_rms_norm_and_silu_match_torch():
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((2, 3, 8)), rng.standard_normal(8)
    want = torch.nn.functional.rms_norm(torch.tensor(x), (8,), torch.tensor(w), eps=1e-5)
    np.testing.assert_allclose(F.rms_norm(x, w).data, want.numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(F.silu(x).data, torch.nn.functional.silu(torch.tensor(x)).numpy(),
                               rtol=0, atol=1e-15)
    assert np.isfinite(F.silu(np.array([-1e4, 1e4])).data).all()


def test_rms_norm_does_not_subtract_the_mean():
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(F.rms_norm(x, eps=1e-12).data, x / np.sqrt(14 / 3))


def torch_rotate_half(x, pos, theta):
    """Hugging Face Llama's rotation (modeling_llama.rotate_half / apply_rotary_pos_emb)."""
    import torch
    d = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    emb = torch.cat([pos[:, None] * inv] * 2, dim=-1)
    half = torch.cat([-x[..., d // 2:], x[..., :d // 2]], dim=-1)
    return x * emb.cos() + half * emb.sin()


def torch_rotate_complex(x, pos, theta):
    """Meta's original Llama rotation: consecutive pairs as complex numbers times e^(i p w)."""
    import torch
    d = x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    z = torch.view_as_complex(x.reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(z * torch.polar(torch.ones(1, dtype=torch.float64),
                                              pos[:, None] * inv)).flatten(-2)


@pytest.mark.parametrize("layout, reference", [("half", torch_rotate_half),
                                               ("interleaved", torch_rotate_complex)])
def test_rope_both_layouts_match_their_reference(layout, reference):
    torch = pytest.importorskip("torch")
    x, pos = rng.standard_normal((2, 3, 7, 8)), np.arange(5, 12)
    want = reference(torch.tensor(x), torch.tensor(pos, dtype=torch.float64), 500.0).numpy()
    np.testing.assert_allclose(F.rope(x, pos, 500.0, layout).data, want, rtol=0, atol=1e-13)


def test_the_two_layouts_differ_by_a_permutation_of_channels():
    """Hugging Face's conversion permutes q and k's rows: half = perm . interleaved . perm^-1."""
    x, pos = rng.standard_normal((3, 6, 8)), np.arange(6)
    perm = np.concatenate([np.arange(0, 8, 2), np.arange(1, 8, 2)])  # pair i -> (i, i + 4)
    half = F.rope(x[..., perm], pos, layout="half").data
    inter = F.rope(x, pos, layout="interleaved").data
    np.testing.assert_allclose(half, inter[..., perm], atol=1e-14)
    assert not np.allclose(F.rope(x, pos, layout="half").data, inter)


def test_rope_keeps_norms_and_scores_depend_on_relative_position_only():
    q, k = rng.standard_normal(8), rng.standard_normal(8)
    rot = lambda v, p: F.rope(v[None], np.array([p])).data[0]  # noqa: E731
    np.testing.assert_allclose(np.linalg.norm(rot(q, 37)), np.linalg.norm(q))
    scores = [rot(q, p) @ rot(k, p - 3) for p in (3, 10, 500)]
    np.testing.assert_allclose(scores, scores[0], atol=1e-12)
    assert not np.isclose(rot(q, 10) @ rot(k, 7), rot(q, 10) @ rot(k, 6))


def test_rope_rejects_bad_inputs():
    with pytest.raises(ValueError, match="even"):
        F.rope(np.zeros((2, 5)), np.arange(2))
    with pytest.raises(ValueError, match="layout"):
        F.rope(np.zeros((2, 4)), np.arange(2), layout="sideways")
    with pytest.raises(ValueError, match="do not broadcast"):
        F.rope(np.zeros((2, 3, 4)), np.arange(5))


@pytest.mark.parametrize("case", ["bool", "float", "causal", "causal_rect", "gqa", "mqa_mask"])
def test_scaled_dot_product_attention_matches_torch(case):
    torch = pytest.importorskip("torch")
    L, S = (4, 6) if case == "causal_rect" else (5, 5)
    hq, hkv = (4, {"gqa": 2, "mqa_mask": 1}.get(case, 4))
    q = rng.standard_normal((2, hq, L, 8))
    k, v = rng.standard_normal((2, hkv, S, 8)), rng.standard_normal((2, hkv, S, 3))
    kw = {"enable_gqa": hkv != hq}
    if case in ("bool", "mqa_mask"):
        mask = rng.random((2, 1, L, S)) > 0.4
        mask[..., 0] = True
        kw["attn_mask"] = mask
    elif case == "float":
        kw["attn_mask"] = rng.standard_normal((L, S))
    else:
        kw["is_causal"] = True
    want = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in (q, k, v)),
        **{n: torch.tensor(a) if isinstance(a, np.ndarray) else a for n, a in kw.items()})
    got = F.scaled_dot_product_attention(q, k, v, **kw).data
    np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-13)


def test_sdpa_errors():
    q = np.zeros((1, 2, 3, 4))
    with pytest.raises(ValueError, match="attends to nothing"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(ValueError, match="divide"):
        F.scaled_dot_product_attention(np.zeros((1, 3, 3, 4)), q, q, enable_gqa=True)


def test_grouped_query_attention_is_attention_with_repeated_key_heads():
    """n_kv_head = 2 equals n_kv_head = 4 whose k, v projections repeat each key head twice."""
    x = rng.standard_normal((2, 5, 16))
    gqa = RotarySelfAttention(16, 4, 2, bias=True, rng=np.random.default_rng(0)).to(np.float64)
    mha = RotarySelfAttention(16, 4, 4, bias=True, rng=np.random.default_rng(1)).to(np.float64)
    hs, w, b = 4, gqa.c_attn.weight.data, gqa.c_attn.bias.data
    pick = np.concatenate([np.arange(16)] + [16 + np.repeat(np.arange(2), 2)[:, None] * hs
                                             + np.arange(hs) + off for off in (0, 8)], axis=None)
    mha.c_attn.weight.data[...] = w[:, pick]
    mha.c_attn.bias.data[...] = b[pick]
    mha.c_proj.weight.data[...] = gqa.c_proj.weight.data
    mha.c_proj.bias.data[...] = gqa.c_proj.bias.data
    np.testing.assert_allclose(gqa(x).data, mha(x).data, atol=1e-13)


def test_llama_hidden_size():
    assert llama_hidden_size(4096) == 11008  # Llama 7B
    assert llama_hidden_size(64, multiple_of=16) == 176


# ---- the config and the model ---------------------------------------------------------------
def test_config_defaults_are_gpt2_and_bad_values_fail():
    c = tg.GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=16)
    assert (c.norm, c.position, c.mlp, c.kv_heads, c.mlp_width) == ("layernorm", "learned",
                                                                     "gelu", 4, 64)
    for bad, match in ((dict(n_kv_head=3), "divide"), (dict(norm="batchnorm"), "norm"),
                       (dict(position="alibi"), "position"), (dict(rope_theta=0.5), "rope"),
                       (dict(mlp="geglu"), "mlp"), (dict(n_embd=12, n_head=4, position="rope"),
                                                    "even")):
        with pytest.raises(ValueError, match=match):
            tg.GPTConfig(**{**c.to_dict(), **bad})


def test_rope_models_have_no_position_table():
    m = model_of(**COMBOS["llama_gqa"])
    names = [n for n, _ in m.named_parameters()]
    assert not any("wpe" in n for n in names) and not any(n.endswith(".bias") for n in names)
    assert m.num_parameters(non_embedding=True) == m.num_parameters()
    m.crop_block_size(8)
    assert m.config.block_size == 8
    assert m.new_kv_cache(1).k[0].shape == (1, 2, 8, 8)  # (B, n_kv_head, block, hs)


@pytest.mark.parametrize("combo", list(COMBOS))
def test_fused_equals_readable_forward_and_backward(combo):
    ids = rng.integers(0, 40, (2, 9))
    grads = []
    for fused in (True, False):
        m = model_of(fused, **COMBOS[combo])
        _, loss = m(ids, np.roll(ids, -1, 1))
        loss.backward()
        grads.append({n: p.grad for n, p in m.named_parameters()})
    for n in grads[0]:
        np.testing.assert_allclose(grads[0][n], grads[1][n], atol=1e-12, err_msg=n)


@pytest.mark.parametrize("combo", list(COMBOS))
def test_cached_decoding_equals_uncached(combo):
    """The KV cache rotates new keys by their absolute positions: prefill 6, then 1, then 3."""
    m = model_of(**COMBOS[combo])
    ids = rng.integers(0, 40, (2, 10))
    full, _ = m(ids)
    cache = m.new_kv_cache(2)
    parts = [m(ids[:, a:b], kv_cache=cache)[0].data for a, b in ((0, 6), (6, 7), (7, 10))]
    np.testing.assert_allclose(np.concatenate(parts, 1), full.data, atol=1e-12)


@pytest.mark.parametrize("combo", ["rope", "gqa", "llama_mqa"])
def test_generation_and_beam_search_with_and_without_cache(combo):
    m = model_of(**COMBOS[combo])
    prompt = rng.integers(0, 40, (2, 3))
    # 20 new tokens pass the 16-token window, so the cached path also resets and refills
    a = tg.generate(m, prompt, 20, temperature=1.0, seed=3, use_cache=True)
    b = tg.generate(m, prompt, 20, temperature=1.0, seed=3, use_cache=False)
    np.testing.assert_array_equal(a, b)
    (seq_a, score_a), (seq_b, score_b) = [tg.beam_search(m, prompt[:1], 6, num_beams=3,
                                                         use_cache=u) for u in (True, False)]
    np.testing.assert_array_equal(seq_a, seq_b)
    np.testing.assert_allclose(score_a, score_b, atol=1e-10)


def test_weights_file_and_checkpoint_round_trip(tmp_path):
    m = model_of(**COMBOS["llama_gqa"])
    m.save(str(tmp_path / "m.npz"))
    back = tg.GPT.from_file(str(tmp_path / "m.npz"))
    assert back.config == m.config
    ids = rng.integers(0, 40, (1, 7))
    np.testing.assert_array_equal(back(ids)[0].data, m(ids)[0].data)


def test_llama_preset_trains_and_resumes_bit_exact(tmp_path):
    from tinygrad_lm.training.config import make_config
    from tinygrad_lm.training.trainer import Trainer

    def cfg(out, iters):
        return make_config("llama", [f"--out_dir={out}", f"--max_iters={iters}", "--n_layer=1",
                                     "--n_embd=16", "--block_size=16", "--batch_size=4",
                                     "--n_examples=300", "--checkpoint_interval=3",
                                     "--eval_interval=3", "--eval_iters=1", "--progress=false",
                                     "--plots=false", "--sample_tokens=5"])
    assert dataclasses.asdict(cfg(tmp_path / "x", 1).model).items() >= {
        "norm": "rmsnorm", "position": "rope", "mlp": "swiglu", "bias": False}.items()
    straight = Trainer(cfg(tmp_path / "a", 6), log=lambda *a, **k: None)
    straight.train()
    Trainer(cfg(tmp_path / "b", 3), log=lambda *a, **k: None).train()
    second = Trainer(cfg(tmp_path / "b", 6), log=lambda *a, **k: None)
    second.resume()
    second.train()
    for (n, p), (_, q) in zip(straight.model.named_parameters(),
                              second.model.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    model, _ = tg.load(str(tmp_path / "b"))
    assert model.config.position == "rope"
