"""Hand a model on to the engines that scale: a Hugging Face directory, a nanoGPT ckpt.pt.

    export_hf(model, tokenizer, "out/hf")          # GPT2LMHeadModel / AutoTokenizer read it
    export_nanogpt(model, "out/nano/ckpt.pt", ...)  # nanoGPT's train.py --init_from=resume

Hugging Face: config.json, model.safetensors (names `transformer.h.0...`, Conv1D layout (in,
out) = ours, metadata format "pt" as transformers expects), and the tokenizer as vocab.json,
merges.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json. GPT-2 always
has biases, so a model trained with bias=False is written with zero biases: the same function.

nanoGPT: a torch.save dict with `model` (nn.Linear layout (out, in), lm_head.weight present),
`model_args`, `iter_num`, `best_val_loss`, `config` and `optimizer` (AdamW's state in torch's
format, moments carried over when given), loadable with torch.load(weights_only=True).

Nothing is overwritten: the output directory must be new or empty, and ckpt.pt must not exist.
"""

from __future__ import annotations

import json
import os

import numpy as np
from safetensors.numpy import save_file

from ..formats.checkpoint import write_atomic
from ..nn.gpt import GPT
from ..nn.layers import Linear
from ..tokenizers import BPETokenizer, CharTokenizer, Tokenizer
from ..tokenizers.bpe_files import ENDOFTEXT
from .hf_files import MASK_BUFFERS, write_hf_config
from .interop import to_torch_state_dict
from .llama import is_llama, llama_state_dict, write_llama_config

__all__ = ["export_hf", "export_nanogpt", "hf_state_dict"]


class ExportError(ValueError):
    """A model or tokenizer that the target format cannot express, or an output in the way."""


def _fresh_directory(out_dir: str) -> None:
    if os.path.isfile(out_dir):
        raise ExportError(f"{out_dir!r} is a file; export writes a directory")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise ExportError(f"{out_dir!r} already exists and is not empty; export never overwrites"
                          " files: choose a new directory or delete this one yourself")
    os.makedirs(out_dir, exist_ok=True)


def hf_state_dict(model: GPT) -> dict[str, np.ndarray]:
    """Our weights under transformers' GPT2LMHeadModel names; zero biases for bias=False."""
    c = model.config
    if c.norm_position != "pre":
        raise ExportError("GPT-2 normalises before each block (norm_position='pre'); a post-LN "
                          "model has no Hugging Face GPT-2 equivalent")
    modern = {k: getattr(c, k) for k in ("norm", "position", "mlp", "norm_eps", "mlp_width",
                                         "kv_heads")}
    if modern != {"norm": "layernorm", "position": "learned", "mlp": "gelu", "norm_eps": 1e-5,
                  "mlp_width": 4 * c.n_embd, "kv_heads": c.n_head}:
        raise ExportError(f"this model is neither a GPT-2 nor a Llama ({modern}); Hugging Face "
                          "has GPT-2 (layernorm, learned positions, gelu MLP of 4C, every head "
                          "its own keys) and Llama (rmsnorm, rope, swiglu) directories only")
    sd = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    if not c.bias:
        dtype = model.transformer.wte.weight.dtype
        for i in range(c.n_layer):
            p = f"transformer.h.{i}."
            for name, width in (("ln_1", c.n_embd), ("attn.c_attn", 3 * c.n_embd),
                                ("attn.c_proj", c.n_embd), ("ln_2", c.n_embd),
                                ("mlp.c_fc", 4 * c.n_embd), ("mlp.c_proj", c.n_embd)):
                sd[f"{p}{name}.bias"] = np.zeros(width, dtype)
        sd["transformer.ln_f.bias"] = np.zeros(c.n_embd, dtype)
    if "lm_head.weight" in sd:
        sd["lm_head.weight"] = np.ascontiguousarray(sd["lm_head.weight"].T)  # (V, C)
    assert not any(k.endswith(MASK_BUFFERS) for k in sd)
    return sd


def export_hf(model: GPT, tokenizer: Tokenizer | None, out_dir: str) -> list[str]:
    """Write a Hugging Face directory, GPT2LMHeadModel's or, for a model with the LLAMA block
    (io/llama.py), LlamaForCausalLM's; returns the files written."""
    out_dir = os.fspath(out_dir)
    llama = is_llama(model.config)
    sd = llama_state_dict(model) if llama else hf_state_dict(model)
    if tokenizer is not None and tokenizer.vocab_size > model.config.vocab_size:
        raise ExportError(f"the tokenizer has {tokenizer.vocab_size} tokens but the model only "
                          f"{model.config.vocab_size}: they do not belong together")
    _fresh_directory(out_dir)
    eos = getattr(tokenizer, "special_tokens", {}).get(ENDOFTEXT)
    write_config = write_llama_config if llama else write_hf_config
    written = [write_config(out_dir, model.config, eos)]
    weights = os.path.join(out_dir, "model.safetensors")
    save_file(sd, weights, metadata={"format": "pt"})
    written.append(weights)
    if tokenizer is not None:
        written += write_hf_tokenizer(tokenizer, out_dir, model.config.block_size)
    return written


def write_hf_tokenizer(tokenizer: Tokenizer, out_dir: str, max_length: int) -> list[str]:
    """Tokenizer files that AutoTokenizer reads. A byte-level BPE is GPT-2's own kind
    (GPT2Tokenizer); a character tokenizer becomes a tokenizer.json whose BPE model has no
    merges, so each character is one token, and whose decoder joins the tokens back."""
    if isinstance(tokenizer, BPETokenizer):
        written = tokenizer.save_hf(out_dir)
        eos = ENDOFTEXT if ENDOFTEXT in tokenizer.special_tokens else None
        settings = {"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": False,
                    "errors": "replace", **({"bos_token": eos, "eos_token": eos,
                                             "unk_token": eos} if eos else {})}
        specials = {k: eos for k in ("bos_token", "eos_token", "unk_token")} if eos else {}
    elif isinstance(tokenizer, CharTokenizer):
        written = [_write_char_tokenizer_json(tokenizer, out_dir)]
        settings = {"tokenizer_class": "PreTrainedTokenizerFast"}
        specials = {"unk_token": tokenizer.unk} if tokenizer.unk is not None else {}
    else:
        raise ExportError(f"no Hugging Face format for a {type(tokenizer).__name__}")
    for name, doc in (("tokenizer_config.json", {**settings, "model_max_length": max_length}),
                      ("special_tokens_map.json", specials)):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
        written.append(path)
    return written


def _write_char_tokenizer_json(tok: CharTokenizer, out_dir: str) -> str:
    doc = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
           "normalizer": None, "pre_tokenizer": None, "post_processor": None,
           "decoder": {"type": "Fuse"},
           "model": {"type": "BPE", "dropout": None, "unk_token": tok.unk,
                     "continuing_subword_prefix": None, "end_of_word_suffix": None,
                     "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                     "vocab": {c: i for i, c in enumerate(tok.chars)}, "merges": []}}
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return path


# ---- nanoGPT ------------------------------------------------------------------------------------

def nanogpt_model_args(model: GPT) -> dict:
    """nanoGPT's GPTConfig fields. nanoGPT always ties the head, normalises before each block
    and uses nn.GELU() (the exact erf form): a model of ours that differs is refused, except
    the tanh GELU, which nanoGPT itself accepts when it loads GPT-2 (a 1e-3-sized change)."""
    c = model.config
    if not c.tie_weights or c.norm_position != "pre" or c.activation == "relu":
        raise ExportError("nanoGPT's model ties the head to the token embedding, normalises "
                          "before each block and uses GELU; this model has tie_weights="
                          f"{c.tie_weights}, norm_position={c.norm_position!r}, activation="
                          f"{c.activation!r}; export it with --format hf instead")
    if (c.norm, c.position, c.mlp, c.kv_heads, c.mlp_width, c.norm_eps) != (
            "layernorm", "learned", "gelu", c.n_head, 4 * c.n_embd, 1e-5):
        raise ExportError("nanoGPT's model is GPT-2's block (layernorm, learned positions, a "
                          "4C gelu MLP, one key head per query head); export this model with "
                          "--format hf instead")
    return {"n_layer": c.n_layer, "n_head": c.n_head, "n_embd": c.n_embd,
            "block_size": c.block_size, "bias": c.bias, "vocab_size": c.vocab_size,
            "dropout": c.dropout}


def _torch_adamw_state(torch, model: GPT, sd: dict, moments: dict | None, config: dict) -> dict:
    """torch.optim.AdamW's state_dict for nanoGPT's parameter groups (matrices decay, the rest
    not), in nanoGPT's parameter order (its named_parameters: the tied head is not listed)."""
    linear = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, Linear)}
    params = {n: torch.nn.Parameter(t.clone()) for n, t in sd.items() if n != "lm_head.weight"}
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.get("weight_decay", 0.1)},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=config.get("lr", 6e-4), betas=(config.get("beta1", 0.9),
                                                              config.get("beta2", 0.95)))
    for name, st in (moments or {}).items():
        flip = (lambda a: a.T) if name in linear else (lambda a: a)  # (in, out) -> (out, in)
        opt.state[params[name]] = {
            "step": torch.tensor(float(st["step"])),
            **{k: torch.from_numpy(np.ascontiguousarray(flip(st[k]), dtype=np.float32))
               for k in ("exp_avg", "exp_avg_sq")}}
    return opt.state_dict()


def export_nanogpt(model: GPT, path: str, *, iter_num: int = 0, best_val_loss: float = 1e9,
                   config: dict | None = None, adam_moments: dict | None = None,
                   torch=None) -> str:
    """Write nanoGPT's ckpt.pt (needs torch, passed in or imported). adam_moments (parameter
    name -> {step, exp_avg, exp_avg_sq} arrays, as `optim.moments_by_name` reads them from the
    trainer's AdamW state) carries Adam's moments over; without it nanoGPT's AdamW starts fresh,
    as after its init_from='gpt2'. config: the training settings, kept
    under `config` (lr, beta1, beta2 and weight_decay also set the AdamW groups)."""
    if torch is None:
        try:
            import torch
        except ImportError:
            raise ExportError("a nanoGPT ckpt.pt is a torch.save file: pip install torch "
                              "first (--format hf needs no torch)") from None
    path = os.fspath(path)
    if os.path.exists(path):
        raise ExportError(f"{path!r} already exists; export never overwrites files")
    args = nanogpt_model_args(model)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
          for k, v in to_torch_state_dict(model).items()}
    checkpoint = {"model": sd, "model_args": args, "iter_num": int(iter_num),
                  "best_val_loss": float(best_val_loss), "config": dict(config or {}),
                  "optimizer": _torch_adamw_state(torch, model, sd, adam_moments, config or {})}
    write_atomic(path, lambda f: torch.save(checkpoint, f))
    return path
