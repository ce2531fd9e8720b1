"""A Hugging Face Llama directory (`LlamaForCausalLM`: SmolLM, Llama 3, TinyLlama ...) in and out.

config.json (model_type "llama") maps onto GPTConfig with the LLAMA block (RMSNorm, rotary
positions in the half-split layout that Hugging Face's `rotate_half` uses, SwiGLU, no biases):

    hidden_size -> n_embd         num_attention_heads -> n_head   num_key_value_heads -> n_kv_head
    num_hidden_layers -> n_layer  intermediate_size -> mlp_hidden rms_norm_eps -> norm_eps
    rope_theta (or rope_parameters.rope_theta) -> rope_theta      max_position_embeddings ->
    block_size                    tie_word_embeddings -> tie_weights   attention_bias -> bias

Anything this engine would compute differently is refused, naming the field: another
activation than silu, a head_dim that is not hidden_size / heads, rope scaling (Llama 3.1's
"llama3" frequencies, YaRN ...), biases in only one of attention and MLP.

Weights: PyTorch's nn.Linear stores (out, in); ours are (in, out), so every projection is
transposed. q_proj, k_proj and v_proj become one c_attn of width (n_head + 2 n_kv_head) hs,
side by side in that order; o_proj is attn.c_proj; gate_proj, up_proj and down_proj keep their
names; embed_tokens is wte, input_layernorm ln_1, post_attention_layernorm ln_2, model.norm ln_f.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from ..nn.gpt import GPT, LLAMA
from .hf_files import PretrainedError, _tensors, config_path

LLAMA_FIELDS = ("norm", "position", "mlp")
# our name (after transformer.h.{i}.) <- Hugging Face's (after model.layers.{i}.)
LAYER_NAMES = {"input_layernorm.weight": "ln_1.weight",
               "post_attention_layernorm.weight": "ln_2.weight",
               "self_attn.o_proj.weight": "attn.c_proj.weight",
               "self_attn.o_proj.bias": "attn.c_proj.bias",
               **{f"mlp.{p}.{w}": f"mlp.{p}.{w}" for p in ("gate_proj", "up_proj", "down_proj")
                  for w in ("weight", "bias")}}
QKV = ("q_proj", "k_proj", "v_proj")
_LAYER = re.compile(r"model\.layers\.(\d+)\.(.+)")


def is_llama(config) -> bool:
    """Whether a GPTConfig is a Llama: the LLAMA block, normalised before each sub-layer."""
    return all(getattr(config, k) == LLAMA[k] for k in LLAMA_FIELDS) \
        and config.norm_position == "pre"


def read_llama_config(directory: str, c: dict, dropout: float = 0.0) -> dict:
    """The GPTConfig fields of a Hugging Face Llama config.json (already parsed as `c`)."""
    path = config_path(directory)

    def need(name):
        if name not in c:
            raise PretrainedError(f"{path!r}: no {name!r} field; a Llama config.json has it")
        return c[name]

    def refuse(why: str):
        raise PretrainedError(f"{path!r}: {why}; this engine computes Llama models with plain "
                              "RoPE, SwiGLU (silu) and RMSNorm only")

    n_embd, n_head = need("hidden_size"), need("num_attention_heads")
    if c.get("hidden_act", "silu") != "silu":
        refuse(f"hidden_act is {c['hidden_act']!r}, not 'silu'")
    if c.get("head_dim") not in (None, n_embd // max(n_head, 1)):
        refuse(f"head_dim {c['head_dim']} is not hidden_size / num_attention_heads")
    rope = c.get("rope_parameters") or {}
    scaling = c.get("rope_scaling") or {}
    kind = rope.get("rope_type", scaling.get("rope_type", scaling.get("type", "default")))
    if kind != "default":
        refuse(f"rope type {kind!r} (scaled rotary frequencies) is not supported")
    bias = bool(c.get("attention_bias", False))
    if bool(c.get("mlp_bias", False)) != bias:
        refuse("attention_bias and mlp_bias differ; GPTConfig.bias sets both")
    return dict(vocab_size=need("vocab_size"), block_size=need("max_position_embeddings"),
                n_layer=need("num_hidden_layers"), n_head=n_head, n_embd=n_embd,
                n_kv_head=c.get("num_key_value_heads") or n_head,
                mlp_hidden=need("intermediate_size"), norm_eps=c.get("rms_norm_eps", 1e-6),
                rope_theta=rope.get("rope_theta", c.get("rope_theta", 10000.0)),
                tie_weights=bool(c.get("tie_word_embeddings", False)), bias=bias,
                dropout=dropout, **{k: LLAMA[k] for k in LLAMA_FIELDS})


def _our_name(hf_name: str) -> str | None:
    """Our parameter name for a Llama tensor (q/k/v are assembled apart), None to skip."""
    if hf_name == "model.embed_tokens.weight":
        return "transformer.wte.weight"
    if hf_name == "model.norm.weight":
        return "transformer.ln_f.weight"
    if hf_name == "lm_head.weight":
        return hf_name
    m = _LAYER.fullmatch(hf_name)
    if m and m.group(2) in LAYER_NAMES:
        return f"transformer.h.{m.group(1)}.{LAYER_NAMES[m.group(2)]}"
    return None


def load_llama_weights(model: GPT, paths: list[str], dtype=None) -> GPT:
    """Fill a Llama-configured GPT from Hugging Face weight files: names mapped, projections
    transposed, q|k|v concatenated; every name and shape checked, nothing left unset."""
    tied = model.config.tie_weights
    arrays: dict[str, np.ndarray] = {}
    qkv: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    skip = lambda name: name.endswith("rotary_emb.inv_freq") or (  # noqa: E731
        tied and name == "lm_head.weight")
    for path in paths:
        for hf_name, array in _tensors(path, skip):
            m = _LAYER.fullmatch(hf_name)
            part = m and re.fullmatch(r"self_attn\.([qkv]_proj)\.(weight|bias)", m.group(2))
            if part:
                qkv.setdefault((int(m.group(1)), part.group(2)), {})[part.group(1)] = array
                continue
            name = _our_name(hf_name)
            if name is None:
                raise PretrainedError(f"weights file {path!r}: tensor {hf_name!r} has no place "
                                      "in a Llama model (is it another architecture?)")
            arrays[name] = array.T if array.ndim == 2 and name != "transformer.wte.weight" \
                else array  # nn.Linear's (out, in) -> our (in, out)
    for (layer, kind), parts in qkv.items():
        if sorted(parts) != sorted(QKV):
            raise PretrainedError(f"weights {paths}: layer {layer} has {sorted(parts)} of "
                                  f"q_proj, k_proj, v_proj ({kind}); the file is incomplete")
        joined = np.concatenate([parts[p] for p in QKV], axis=0)  # ((nh + 2 nkv) hs, ...)
        arrays[f"transformer.h.{layer}.attn.c_attn.{kind}"] = joined.T if kind == "weight" \
            else joined
    return _assign(model, arrays, paths, dtype)


def _assign(model: GPT, arrays: dict, paths, dtype) -> GPT:
    params = dict(model.named_parameters())
    for name, array in arrays.items():
        p = params.get(name)
        if p is None or array.shape != p.shape:
            why = "has no place in" if p is None else f"has shape {array.shape}, not {p.shape}, in"
            raise PretrainedError(f"weights {[os.path.basename(x) for x in paths]}: {name!r} "
                                  f"{why} the model config.json describes; the weights and "
                                  "the config do not belong together")
        target = np.dtype(dtype) if dtype is not None else (
            np.float64 if array.dtype == np.float64 else np.float32)
        p.data, p.grad = np.ascontiguousarray(array, dtype=target), None
        p._bump_version()
    missing = sorted(set(params) - set(arrays))
    if missing:
        raise PretrainedError(f"weights {[os.path.basename(x) for x in paths]} lack "
                              f"{len(missing)} tensor(s) the config needs, e.g. {missing[:3]}")
    return model


# ---- out ------------------------------------------------------------------------------------
def llama_state_dict(model: GPT) -> dict[str, np.ndarray]:
    """Our weights under LlamaForCausalLM's names and (out, in) layout."""
    c = model.config
    nh, nkv, hs = c.n_head, c.kv_heads, c.head_size
    ours = model.state_dict()
    out = {"model.embed_tokens.weight": ours["transformer.wte.weight"],
           "model.norm.weight": ours["transformer.ln_f.weight"]}
    if not c.tie_weights:
        out["lm_head.weight"] = ours["lm_head.weight"].T  # (V, C)
    back = {v: k for k, v in LAYER_NAMES.items()}
    for name, array in ours.items():
        m = re.fullmatch(r"transformer\.h\.(\d+)\.(.+)", name)
        if not m:
            continue
        prefix, rest = f"model.layers.{m.group(1)}.", m.group(2)
        if rest.startswith("attn.c_attn."):
            kind = rest.rsplit(".", 1)[1]
            pieces = np.split(array, [nh * hs, (nh + nkv) * hs], axis=-1)  # q | k | v
            for proj, piece in zip(QKV, pieces):
                out[f"{prefix}self_attn.{proj}.{kind}"] = piece.T if kind == "weight" else piece
        else:
            out[prefix + back[rest]] = array.T if array.ndim == 2 else array
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def llama_config_dict(config, bos: int | None = None, eos: int | None = None) -> dict:
    """config.json for a Llama-configured GPTConfig, as transformers' LlamaConfig writes it
    (rope_theta both at the top, for transformers 4, and in rope_parameters, for 5)."""
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": config.vocab_size, "hidden_size": config.n_embd,
            "intermediate_size": config.mlp_width, "num_hidden_layers": config.n_layer,
            "num_attention_heads": config.n_head, "num_key_value_heads": config.kv_heads,
            "head_dim": config.head_size, "hidden_act": "silu",
            "max_position_embeddings": config.block_size, "rms_norm_eps": config.norm_eps,
            "rope_theta": config.rope_theta,
            "rope_parameters": {"rope_type": "default", "rope_theta": config.rope_theta},
            "attention_bias": config.bias, "mlp_bias": config.bias,
            "attention_dropout": config.dropout, "tie_word_embeddings": config.tie_weights,
            "initializer_range": 0.02, "use_cache": True, "torch_dtype": "float32",
            "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": None}


def write_llama_config(directory: str, config, eos: int | None = None) -> str:
    """Write llama_config_dict(config) as directory/config.json; returns its path."""
    path = config_path(directory)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(llama_config_dict(config, eos, eos), f, indent=2)
    return path
