"""Hugging Face Llama directories in (tg.from_pretrained) and out (export --format hf), both
ways against a small random LlamaForCausalLM that transformers builds in the test (nothing is
downloaded): float64 logits to 1e-10 and identical greedy tokens, with grouped-query attention
(2 key/value heads for 4 query heads, and multi-query) and tied and untied heads."""

import json
import os

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.io.export import ExportError, export_hf
from tinygrad_lm.io.hf_files import PretrainedError
from tinygrad_lm.nn.gpt import LLAMA
from tinygrad_lm.tokenizers import BPETokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
llama = pytest.importorskip("transformers.models.llama.modeling_llama")

TEXT = "the quick brown fox jumps over the lazy dog. " * 20 + "a cat sat on the mat. " * 20
CASES = {"gqa_tied": (2, True), "mqa_untied": (1, False), "mha_untied": (4, False)}


@pytest.fixture
def float64_transformers(monkeypatch):
    """transformers computes RMSNorm and the rotation table in float32 whatever the model's
    dtype (as does its eager attention's softmax, hence attn_implementation="sdpa" below);
    here they run in the model's dtype, float64, so that the comparison measures the mapping
    of the architecture and the weights, not float32 rounding (about 1e-6 without it)."""
    def rms_forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.variance_epsilon))

    def rope_forward(self, x, position_ids):
        d = self.inv_freq.shape[0] * 2
        theta = self.config.rope_parameters["rope_theta"]
        inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
        emb = torch.cat([position_ids[..., None].double() * inv] * 2, dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)

    monkeypatch.setattr(llama.LlamaRMSNorm, "forward", rms_forward)
    monkeypatch.setattr(llama.LlamaRotaryEmbedding, "forward", rope_forward)


def hf_llama(n_kv_head, tied, vocab=300, seed=0):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=n_kv_head, max_position_embeddings=64,
        rms_norm_eps=1e-5, rope_theta=500.0, tie_word_embeddings=tied, bos_token_id=None,
        eos_token_id=None, pad_token_id=None, attn_implementation="sdpa")
    model = transformers.LlamaForCausalLM(config).to(torch.float64).eval()
    with torch.no_grad():  # larger than the 0.02 init, and norms that are not all ones, so
        for p in model.parameters():  # that every weight visibly shapes the logits
            p.copy_(torch.randn_like(p) * (0.3 if p.ndim == 2 else 0.5) + (p.ndim == 1))
    return model


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor(ids)).logits.numpy()


def hf_greedy(model, prompt, n):
    with torch.no_grad():
        out = model.generate(torch.tensor(prompt), max_new_tokens=n, min_new_tokens=n,
                             do_sample=False, pad_token_id=0)
    return out.numpy()


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, 300)


@pytest.mark.parametrize("case", list(CASES))
def test_from_pretrained_reads_a_transformers_llama(case, tmp_path, tokenizer,
                                                   float64_transformers):
    hf = hf_llama(*CASES[case])
    hf.save_pretrained(tmp_path)
    tokenizer.save_hf(str(tmp_path))
    model, tok = tg.from_pretrained(tmp_path, dtype=np.float64)
    c = model.config
    assert (c.norm, c.position, c.mlp, c.kv_heads, c.tie_weights) == (
        "rmsnorm", "rope", "swiglu", CASES[case][0], CASES[case][1])
    assert tok.encode(TEXT) == tokenizer.encode(TEXT)
    ids = np.array([tok.encode("the lazy cat jumps over the quick dog")])
    ours, theirs = model(ids)[0].data, hf_logits(hf, ids)
    assert np.abs(ours - theirs).max() < 1e-10, np.abs(ours - theirs).max()
    prompt = ids[:, :5]
    np.testing.assert_array_equal(tg.generate(model, prompt, 12, greedy=True),
                                  hf_greedy(hf, prompt, 12))


@pytest.mark.parametrize("case", list(CASES))
def test_export_hf_writes_a_llama_transformers_loads(case, tmp_path, tokenizer,
                                                     float64_transformers):
    n_kv, tied = CASES[case]
    config = tg.GPTConfig(vocab_size=300, block_size=64, n_layer=2, n_head=4, n_embd=32,
                          n_kv_head=n_kv, tie_weights=tied, mlp_hidden=56, rope_theta=500.0,
                          **LLAMA)
    model = tg.GPT(config, seed=3).to(np.float64)
    for p in model.parameters():  # as above: weights that matter
        p.data[...] = np.random.default_rng(p.size).normal(p.ndim == 1, 0.3, p.shape)
    files = export_hf(model, tokenizer, tmp_path / "out")
    assert {os.path.basename(f) for f in files} >= {"config.json", "model.safetensors",
                                                    "tokenizer.json"}
    assert json.load(open(tmp_path / "out" / "config.json"))["model_type"] == "llama"
    hf = transformers.LlamaForCausalLM.from_pretrained(
        tmp_path / "out", dtype=torch.float64, attn_implementation="sdpa").eval()
    ids = np.array([tokenizer.encode("a quick cat sat on the lazy fox")])
    diff = np.abs(model(ids)[0].data - hf_logits(hf, ids)).max()
    assert diff < 1e-10, diff
    np.testing.assert_array_equal(tg.generate(model, ids[:, :4], 12, greedy=True),
                                  hf_greedy(hf, ids[:, :4], 12))
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    assert hf_tok(TEXT[:200])["input_ids"] == tokenizer.encode(TEXT[:200])
    back, _ = tg.from_pretrained(tmp_path / "out", dtype=np.float64)  # and in again
    np.testing.assert_array_equal(back(ids)[0].data, model(ids)[0].data)


def test_unsupported_llamas_are_refused_by_name(tmp_path, tokenizer):
    hf = hf_llama(2, True)
    hf.save_pretrained(tmp_path)
    tokenizer.save_hf(str(tmp_path))
    path = tmp_path / "config.json"
    good = json.load(open(path))
    for change, match in (({"hidden_act": "gelu"}, "hidden_act"),
                          ({"rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5}},
                           "rope type"),
                          ({"attention_bias": True}, "mlp_bias")):
        json.dump({**good, **change}, open(path, "w"))
        with pytest.raises(PretrainedError, match=match):
            tg.from_pretrained(tmp_path)
    json.dump(good, open(path, "w"))
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        os.remove(tmp_path / name)
    (tmp_path / "tokenizer.model").write_bytes(b"\x00")
    with pytest.raises(PretrainedError, match="SentencePiece"):
        tg.from_pretrained(tmp_path)


def test_a_model_neither_gpt2_nor_llama_is_not_exported(tmp_path):
    model = tg.GPT(tg.GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8,
                                position="rope"))
    with pytest.raises(ExportError, match="neither a GPT-2 nor a Llama"):
        export_hf(model, None, tmp_path / "out")
    assert not (tmp_path / "out").exists()
