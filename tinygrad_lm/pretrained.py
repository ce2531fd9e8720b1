"""A Hugging Face GPT-2 directory (`config.json`, `model.safetensors`, tokenizer files) in.

    model, tok = tinygrad_lm.from_pretrained("gpt2/")     # any GPT-2 size
    ids = tok.encode("The meaning of life is")

What the directory holds, and where it goes:
- `config.json`: model_type "gpt2"; n_layer, n_head, n_embd, n_positions (our block_size),
  vocab_size, activation_function, tie_word_embeddings. Anything GPT-2 can be but this engine
  cannot compute the same way (another model type, activation or LayerNorm epsilon, scaled
  attention per layer, cross-attention) is refused, naming the field.
- `model.safetensors` (or shards listed in `model.safetensors.index.json`): weights named
  `h.0.attn.c_attn.weight` or `transformer.h.0...`. GPT-2's Conv1D stores (in, out), our layout,
  so no weight is transposed; the causal-mask buffers are skipped; a separate `lm_head.weight`
  (V, C) is only read when the embeddings are not tied. `pytorch_model.bin` is a pickle and
  is read only when torch is installed, with `weights_only=True`, which refuses code.
- tokenizer: `tokenizer.json`, `vocab.json` + `merges.txt`, `encoder.json` + `vocab.bpe` or a
  `.tiktoken` file (tokenizers.load_tokenizer).

Memory: tensors are read one at a time (safetensors maps the file; each array is copied out
once) and become the model's parameters in place of the random ones, so loading never holds
two full copies of the weights.
"""

from __future__ import annotations

import json
import os

import numpy as np
from safetensors import SafetensorError, safe_open

from .gpt2_files import read_json
from .nn.gpt import GPT, GPTConfig
from .tokenizers import Tokenizer, load_tokenizer

# Hugging Face activation names -> ours. gelu_new, gelu_pytorch_tanh and gelu_fast are all
# 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's GELU.
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
               "gelu": "gelu", "relu": "relu"}
MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")
LAYER_NORM_EPS = 1e-5  # our LayerNorm's


class PretrainedError(ValueError):
    """A model directory that is missing a file, is not GPT-2, or holds damaged weights."""


def read_hf_config(directory: str, dropout: float = 0.0) -> GPTConfig:
    """The GPTConfig of a Hugging Face GPT-2 `config.json`, every field checked."""
    path = os.path.join(directory, "config.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{directory!r} has no config.json, so it is not a Hugging Face model directory; "
            "one holds config.json, model.safetensors and tokenizer files (write one with "
            "tinygrad-lm export --format hf OUT, or transformers' save_pretrained)")
    c = read_json(path, "config.json")
    if not isinstance(c, dict):
        raise PretrainedError(f"{path!r}: expected a JSON object")

    def field(name, *aliases, default=None):
        for key in (name, *aliases):
            if key in c:
                return c[key]
        if default is None:
            raise PretrainedError(f"{path!r}: no {name!r} field; a GPT-2 config.json has it")
        return default

    def refuse(why: str):
        raise PretrainedError(f"{path!r}: {why}; only GPT-2 models (transformers' "
                              "GPT2LMHeadModel) load here")

    if c.get("model_type") != "gpt2":
        refuse(f"model_type is {c.get('model_type')!r}, not 'gpt2'")
    act = field("activation_function", default="gelu_new")
    if act not in ACTIVATIONS:
        refuse(f"activation_function {act!r} is not one of {sorted(ACTIVATIONS)}")
    eps = field("layer_norm_epsilon", default=LAYER_NORM_EPS)
    if eps != LAYER_NORM_EPS:
        refuse(f"layer_norm_epsilon is {eps}, this engine's LayerNorm uses {LAYER_NORM_EPS}")
    for name, want in (("scale_attn_by_inverse_layer_idx", False), ("add_cross_attention", False),
                       ("scale_attn_weights", True)):
        if c.get(name, want) != want:
            refuse(f"{name} is {c[name]!r} (GPT-2 has {want})")
    n_embd = field("n_embd", "hidden_size")
    if c.get("n_inner") not in (None, 4 * n_embd):
        refuse(f"n_inner is {c['n_inner']}, not 4 * n_embd = {4 * n_embd}")
    try:
        return GPTConfig(vocab_size=field("vocab_size"), block_size=field("n_positions", "n_ctx"),
                         n_layer=field("n_layer"), n_head=field("n_head"), n_embd=n_embd,
                         dropout=dropout, bias=True, activation=ACTIVATIONS[act],
                         tie_weights=bool(c.get("tie_word_embeddings", True)))
    except (TypeError, ValueError) as e:
        raise PretrainedError(f"{path!r}: {e}") from None


def weight_files(directory: str) -> list[str]:
    """model.safetensors, the shards of model.safetensors.index.json, or pytorch_model.bin."""
    single = os.path.join(directory, "model.safetensors")
    index = single + ".index.json"
    if os.path.isfile(single):
        return [single]
    if os.path.isfile(index):
        weight_map = read_json(index, "safetensors index").get("weight_map")
        if not isinstance(weight_map, dict):
            raise PretrainedError(f"{index!r}: no 'weight_map' object of tensor -> shard file")
        shards = sorted(set(weight_map.values()))
        if any(os.path.basename(s) != s for s in shards):
            raise PretrainedError(f"{index!r}: shard names must be plain file names in the "
                                  "directory")
        return [os.path.join(directory, s) for s in shards]
    binary = os.path.join(directory, "pytorch_model.bin")
    if os.path.isfile(binary):
        return [binary]
    raise FileNotFoundError(f"{directory!r} has config.json but no weights: expected "
                            "model.safetensors (or model.safetensors.index.json with its shards, "
                            "or pytorch_model.bin)")


def _tensors(path: str):
    """(name, array) pairs of one weights file, one tensor in memory at a time."""
    if path.endswith(".bin"):
        yield from _torch_bin(path)
        return
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    try:
        with safe_open(path, framework="numpy") as f:
            for name in f.keys():
                dtype = f.get_slice(name).get_dtype()
                if dtype not in ("F16", "F32", "F64", "U8", "I64", "BOOL"):
                    raise PretrainedError(
                        f"weights file {path!r}: tensor {name!r} is {dtype}, which NumPy cannot "
                        "hold; save the model in float32 (model.float().save_pretrained(DIR))")
                yield name, f.get_tensor(name)
    except SafetensorError as e:
        raise PretrainedError(f"weights file {path!r} is damaged or not a safetensors file "
                              f"({e}); download or export it again") from None


def _torch_bin(path: str):
    try:
        import torch
    except ImportError:
        raise PretrainedError(f"{path!r} is a PyTorch pickle; reading it needs torch (pip "
                              "install torch), or convert it to model.safetensors") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # an unpickling error, a truncated zip, ...: all mean the same
        raise PretrainedError(f"weights file {path!r} cannot be read safely ({type(e).__name__}:"
                              f" {e}); use a model.safetensors file") from None
    for name in list(state):
        yield name, state.pop(name).float().numpy()


def _our_name(name: str) -> str | None:
    """Our parameter name for a Hugging Face tensor name, None for a mask buffer."""
    name = name.removeprefix("transformer.")
    if name.endswith(MASK_BUFFERS):
        return None
    return name if name == "lm_head.weight" else f"transformer.{name}"


def load_hf_weights(model: GPT, paths: list[str], dtype=None) -> GPT:
    """Fill `model` from Hugging Face GPT-2 weight files; every name and shape is checked.
    dtype: the model's float dtype; None keeps the files' (float16 becomes float32)."""
    params = dict(model.named_parameters())
    loaded = set()
    for path in paths:
        for hf_name, array in _tensors(path):
            name = _our_name(hf_name)
            if name is None or (name == "lm_head.weight" and model.config.tie_weights):
                continue  # a tied head is the embedding; HF ignores a stored copy too
            if name == "lm_head.weight":
                array = array.T  # (V, C) -> our (in, out) = (C, V)
            p = params.get(name)
            if p is None:
                raise PretrainedError(f"weights file {path!r}: tensor {hf_name!r} has no place in "
                                      "a GPT-2 with this config.json (is it another model?)")
            if array.shape != p.shape:
                raise PretrainedError(
                    f"weights file {path!r}: {hf_name!r} has shape {array.shape} but config.json "
                    f"({_shape_summary(model.config)}) needs {p.shape}; the weights and the "
                    "config do not belong together")
            target = np.dtype(dtype) if dtype is not None else (
                np.float64 if array.dtype == np.float64 else np.float32)
            p.data = np.ascontiguousarray(array, dtype=target)  # replaces the random init
            p.grad = None
            p._version += 1
            loaded.add(name)
    missing = sorted(set(params) - loaded)
    if missing:
        raise PretrainedError(f"weights {[os.path.basename(p) for p in paths]} lack "
                              f"{len(missing)} tensor(s) the config needs, e.g. {missing[:3]}; "
                              "the file is incomplete or from another model")
    return model


def _shape_summary(c: GPTConfig) -> str:
    return (f"n_layer={c.n_layer}, n_embd={c.n_embd}, vocab_size={c.vocab_size}, "
            f"n_positions={c.block_size}")


def from_pretrained(path: str, *, dropout: float = 0.0, dtype=None) -> tuple[GPT, Tokenizer]:
    """(model, tokenizer) from a Hugging Face GPT-2 directory; the model is in eval() mode.

    dropout: for fine-tuning (GPT-2 was trained with 0.1); dtype: np.float32 or np.float64,
    None keeps the files'."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path!r} is not a directory; from_pretrained reads a Hugging "
                                "Face model directory (config.json, model.safetensors, "
                                "tokenizer files)")
    config = read_hf_config(path, dropout)
    paths = weight_files(path)
    try:
        tokenizer = load_tokenizer(path)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e}; the model's weights are there but its tokenizer is not")\
            from None
    if tokenizer.vocab_size > config.vocab_size:
        raise PretrainedError(f"{path!r}: the tokenizer has {tokenizer.vocab_size} tokens but "
                              f"config.json's vocab_size is {config.vocab_size}")
    model = load_hf_weights(GPT(config), paths, dtype)
    model.eval()
    return model, tokenizer


def hf_config_dict(config: GPTConfig, eos_token_id: int | None = None) -> dict:
    """config.json for a GPT of ours, as transformers' GPT2Config writes it."""
    to_hf = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}
    d = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
         "vocab_size": config.vocab_size, "n_positions": config.block_size,
         "n_ctx": config.block_size, "n_embd": config.n_embd, "n_layer": config.n_layer,
         "n_head": config.n_head, "n_inner": None, "activation_function": to_hf[config.activation],
         "resid_pdrop": config.dropout, "embd_pdrop": config.dropout,
         "attn_pdrop": config.dropout, "layer_norm_epsilon": LAYER_NORM_EPS,
         "initializer_range": 0.02, "scale_attn_weights": True, "use_cache": True,
         "tie_word_embeddings": config.tie_weights, "torch_dtype": "float32"}
    if eos_token_id is not None:
        d.update(bos_token_id=eos_token_id, eos_token_id=eos_token_id)
    return d


def write_hf_config(directory: str, config: GPTConfig, eos_token_id: int | None = None) -> str:
    """Write hf_config_dict(config) as directory/config.json; returns its path."""
    path = os.path.join(directory, "config.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(hf_config_dict(config, eos_token_id), f, indent=2)
    return path
