"""Weights in and out: npz/safetensors files, Hugging Face GPT-2 and PyTorch/nanoGPT layouts."""

import numpy as np
import pytest

from tinygrad_lm.interop import from_torch_state_dict, load_hf_gpt2, to_torch_state_dict
from tinygrad_lm.nn import GPT, GPTConfig
from tinygrad_lm.serialization import load_weights, read_weights

CFG = dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)
IDX = np.random.default_rng(0).integers(0, 11, (2, 6))


def trained(**kw):
    model = GPT(GPTConfig(**{**CFG, **kw}), seed=1)
    for p in model.parameters():
        p.data += np.random.default_rng(2).standard_normal(p.shape).astype(p.dtype) * 0.1
    return model


def logits(model):
    return model(IDX)[0].data


def test_npz_round_trip_with_config(tmp_path):
    model = trained(tie_weights=False)
    path = str(tmp_path / "w.npz")
    model.save(path)
    np.testing.assert_array_equal(logits(GPT.from_file(path)), logits(model))
    other = GPT(GPTConfig(**CFG, tie_weights=False), seed=9)
    load_weights(other, path)
    np.testing.assert_array_equal(logits(other), logits(model))


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    model = trained()
    path = str(tmp_path / "w.safetensors")
    model.save(path)
    np.testing.assert_array_equal(logits(GPT.from_file(path)), logits(model))


def test_weights_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        read_weights(str(tmp_path / "nope.npz"))
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="bad.npz"):
        read_weights(str(tmp_path / "bad.npz"))
    with pytest.raises(ValueError, match=".npz or .safetensors"):
        trained().save(str(tmp_path / "w.bin"))


@pytest.mark.parametrize("tie", [True, False])
def test_torch_layout_round_trip(tie):
    model = trained(tie_weights=tie)
    sd = to_torch_state_dict(model)
    c_attn = sd["transformer.h.0.attn.c_attn.weight"]
    assert c_attn.shape == (3 * 8, 8)  # nn.Linear: (out, in)
    assert sd["lm_head.weight"].shape == (11, 8)
    back = from_torch_state_dict(sd, GPTConfig(**CFG, tie_weights=tie))
    np.testing.assert_array_equal(logits(back), logits(model))


def test_hf_gpt2_state_dict_loads():
    model = trained()
    hf = {k.replace("transformer.", "", 1): v for k, v in model.state_dict().items()}
    hf["h.0.attn.bias"] = np.tril(np.ones((1, 1, 6, 6)))  # HF's mask buffers are skipped
    hf["h.1.attn.masked_bias"] = np.array(-1e4)
    hf["lm_head.weight"] = hf["wte.weight"]
    loaded = load_hf_gpt2(hf, n_head=2)
    assert loaded.config.n_layer == 2 and loaded.config.block_size == 6
    np.testing.assert_array_equal(logits(loaded), logits(model))


def test_logits_match_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = trained(tie_weights=False)
    sd = {k: torch.from_numpy(v.astype(np.float64)) for k, v in to_torch_state_dict(model).items()}
    c = model.config
    idx = torch.from_numpy(IDX)
    x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][:IDX.shape[1]]

    def lin(x, name):
        return F.linear(x, sd[f"{name}.weight"], sd.get(f"{name}.bias"))

    def ln(x, name):
        return F.layer_norm(x, (c.n_embd,), sd[f"{name}.weight"], sd[f"{name}.bias"], 1e-5)

    B, T = IDX.shape
    for i in range(c.n_layer):
        h = f"transformer.h.{i}"
        q, k, v = lin(ln(x, f"{h}.ln_1"), f"{h}.attn.c_attn").split(c.n_embd, dim=2)
        q, k, v = (t.view(B, T, c.n_head, -1).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + lin(y.transpose(1, 2).reshape(B, T, c.n_embd), f"{h}.attn.c_proj")
        m = F.gelu(lin(ln(x, f"{h}.ln_2"), f"{h}.mlp.c_fc"), approximate="tanh")
        x = x + lin(m, f"{h}.mlp.c_proj")
    expected = F.linear(ln(x, "transformer.ln_f"), sd["lm_head.weight"]).numpy()
    np.testing.assert_allclose(logits(model), expected, rtol=1e-4, atol=1e-5)
