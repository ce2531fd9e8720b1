"""Weights in and out: npz/safetensors files, Hugging Face GPT-2 and PyTorch/nanoGPT layouts."""

import numpy as np
import pytest

from tinygrad_lm.formats.weights import load_weights, read_weights, save_weights
from tinygrad_lm.io.interop import from_torch_state_dict, load_hf_gpt2, to_torch_state_dict
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.nn.layers import Linear

CFG = dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)
IDX = np.random.default_rng(0).integers(0, 11, (2, 6))
TARGETS = np.random.default_rng(1).integers(0, 11, (2, 6))


def trained(dtype=np.float32, **kw):
    """A model whose weights are far from the init (so a mixed-up weight would show)."""
    model = GPT(GPTConfig(**{**CFG, **kw}), seed=1).to(dtype)
    rng = np.random.default_rng(2)
    for p in model.parameters():
        p.data += rng.standard_normal(p.shape).astype(p.dtype) * 0.1
    return model


def logits(model, idx=IDX):
    return model(idx)[0].data


# ---- files ----------------------------------------------------------------------------------
def test_npz_round_trip_with_config(tmp_path):
    model = trained(tie_weights=False, norm_position="post")
    path = str(tmp_path / "w.npz")
    model.save(path)
    back = GPT.from_file(path)
    assert back.config == model.config
    np.testing.assert_array_equal(logits(back), logits(model))
    other = GPT(GPTConfig(**CFG, tie_weights=False, norm_position="post"), seed=9)
    load_weights(other, path)
    np.testing.assert_array_equal(logits(other), logits(model))


def test_float64_model_comes_back_float64(tmp_path):
    model = trained(np.float64)
    save_weights(model, tmp_path / "w.npz")
    back = GPT.from_file(str(tmp_path / "w.npz"))
    assert back.transformer.wte.weight.dtype == np.float64
    np.testing.assert_array_equal(logits(back), logits(model))


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    model = trained()
    path = str(tmp_path / "w.safetensors")
    model.save(path)
    arrays, config = read_weights(path)
    assert config == model.config.to_dict() and set(arrays) == set(model.state_dict())
    np.testing.assert_array_equal(logits(GPT.from_file(path)), logits(model))


def test_weights_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        read_weights(str(tmp_path / "nope.npz"))
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="bad.npz.*truncated or not a weights file"):
        GPT.from_file(str(tmp_path / "bad.npz"))
    good = str(tmp_path / "good.npz")
    trained().save(good)
    (tmp_path / "cut.npz").write_bytes(open(good, "rb").read()[:200])
    with pytest.raises(ValueError, match="cut.npz"):
        read_weights(str(tmp_path / "cut.npz"))
    with pytest.raises(ValueError, match=".npz or .safetensors"):
        trained().save(str(tmp_path / "w.bin"))
    with pytest.raises(ValueError, match=r"good.npz.*shape \(6, 8\) in the state dict but "
                                         r"\(4, 8\)"):
        load_weights(GPT(GPTConfig(**{**CFG, "block_size": 4})), good)


def test_safetensors_errors_name_the_file(tmp_path):
    pytest.importorskip("safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"junkjunkjunk")
    with pytest.raises(ValueError, match="bad.safetensors"):
        read_weights(str(tmp_path / "bad.safetensors"))


# ---- PyTorch / nanoGPT and Hugging Face layouts ---------------------------------------------
@pytest.mark.parametrize("tie", [True, False])
def test_torch_layout_round_trip(tie):
    model = trained(tie_weights=tie)
    sd = to_torch_state_dict(model)
    assert sd["transformer.h.0.attn.c_attn.weight"].shape == (3 * 8, 8)  # nn.Linear: (out, in)
    assert sd["transformer.h.0.mlp.c_fc.weight"].shape == (4 * 8, 8)
    assert sd["lm_head.weight"].shape == (11, 8)
    if tie:
        np.testing.assert_array_equal(sd["lm_head.weight"], sd["transformer.wte.weight"])
    sd["transformer.h.0.attn.bias"] = np.tril(np.ones((1, 1, 6, 6)))  # nanoGPT's mask buffer
    back = from_torch_state_dict({f"_orig_mod.{k}": v for k, v in sd.items()},
                                 GPTConfig(**CFG, tie_weights=tie))
    np.testing.assert_array_equal(logits(back), logits(model))


def test_torch_state_dict_untied_head_into_tied_config_is_an_error():
    sd = to_torch_state_dict(trained(tie_weights=False))
    with pytest.raises(ValueError, match="tie_weights=False"):
        from_torch_state_dict(sd, GPTConfig(**CFG))


def hf_state_dict(model):
    """What GPT2LMHeadModel.state_dict() holds (as numpy): Conv1D weights are (in, out)."""
    hf = {k.replace("transformer.", "", 1): v for k, v in model.state_dict().items()}
    for i in range(model.config.n_layer):
        hf[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 6, 6)))  # mask buffers: skipped
        hf[f"h.{i}.attn.masked_bias"] = np.array(-1e4)
    hf["lm_head.weight"] = hf["wte.weight"]
    return hf


def test_hf_gpt2_state_dict_loads_with_inferred_config():
    model = trained()
    loaded = load_hf_gpt2(hf_state_dict(model), n_head=2)
    assert loaded.config == model.config
    np.testing.assert_array_equal(logits(loaded), logits(model))
    prefixed = {f"transformer.{k}": v for k, v in hf_state_dict(model).items()}
    np.testing.assert_array_equal(logits(load_hf_gpt2(prefixed, model.config)), logits(model))


def test_hf_gpt2_errors():
    hf = hf_state_dict(trained())
    with pytest.raises(ValueError, match="n_embd=8 is not a multiple of GPT-2's head size 64"):
        load_hf_gpt2(hf)
    with pytest.raises(KeyError, match="no wte.weight"):
        load_hf_gpt2({k: v for k, v in hf.items() if k != "wte.weight"}, n_head=2)
    with pytest.raises(KeyError, match=r"load_hf_gpt2: load_state_dict: missing keys "
                                       r"\['transformer.ln_f.bias'\]"):
        load_hf_gpt2({k: v for k, v in hf.items() if k != "ln_f.bias"}, n_head=2)


# ---- the same GPT in PyTorch ----------------------------------------------------------------
def nanogpt_in_torch(torch, c: GPTConfig):
    """nanoGPT's model.py, cut down: the reference our names and layout must match."""
    nn, F = torch.nn, torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
            self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, c.n_head, C // c.n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
            self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

        def forward(self, x):
            form = "tanh" if c.activation == "gelu_tanh" else "none"  # nanoGPT's is "none"
            return self.c_proj(F.gelu(self.c_fc(x), approximate=form))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(c.n_embd, bias=c.bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(c.n_embd, bias=c.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(c.vocab_size, c.n_embd),
                wpe=nn.Embedding(c.block_size, c.n_embd),
                h=nn.ModuleList(Block() for _ in range(c.n_layer)),
                ln_f=nn.LayerNorm(c.n_embd, bias=c.bias)))
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
            if c.tie_weights:
                self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets):
            t = self.transformer
            x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
            for block in t.h:
                x = block(x)
            logits = self.lm_head(t.ln_f(x))
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                   ignore_index=-1)
            return logits, loss

    return TorchGPT().double()


@pytest.mark.parametrize("kw", [dict(), dict(tie_weights=False), dict(bias=False)],
                         ids=["tied", "untied", "nobias"])
def test_logits_loss_and_gradients_match_pytorch(kw):
    torch = pytest.importorskip("torch")
    ours = trained(np.float64, **kw)
    theirs = nanogpt_in_torch(torch, ours.config)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in
                            to_torch_state_dict(ours).items()}, strict=True)
    targets = TARGETS.copy()
    targets[0, 0] = -1
    logits_t, loss_t = theirs(torch.from_numpy(IDX), torch.from_numpy(targets))
    logits_o, loss_o = ours(IDX, targets)
    np.testing.assert_allclose(logits_o.data, logits_t.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert abs(loss_o.item() - loss_t.item()) < 1e-12

    loss_t.backward()
    loss_o.backward()
    linear = {f"{n}.weight" for n, m in ours.named_modules() if isinstance(m, Linear)}
    grads = {n: p.grad.T if n in linear else p.grad for n, p in ours.named_parameters()}
    for name, p in theirs.named_parameters():
        # tied: torch lists the shared tensor once, under whichever name it meets first
        g = grads.get(name, grads["transformer.wte.weight"])
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)
    assert len(grads) == len(list(theirs.parameters()))


def test_torch_initialised_weights_load_into_ours():
    torch = pytest.importorskip("torch")
    c = GPTConfig(**CFG, tie_weights=False)
    torch.manual_seed(0)
    theirs = nanogpt_in_torch(torch, c)
    ours = from_torch_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}, c)
    assert ours.transformer.wte.weight.dtype == np.float64
    with torch.no_grad():
        want = theirs(torch.from_numpy(IDX), torch.from_numpy(TARGETS))[0].numpy()
    np.testing.assert_allclose(logits(ours), want, rtol=1e-9, atol=1e-12)
