"""A Hugging Face GPT-2 model directory's files: `config.json` and the weights, read and written.

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

It returns the config as a dict of GPTConfig fields and fills any model through
`named_parameters()`; `pretrained.pretrained_model` builds the GPT from both.
The tokenizer files are tokenizers.load_tokenizer's; pretrained.from_pretrained reads both.

Memory: each tensor is read from its byte range straight into a fresh array, which becomes the
parameter (serialization.safetensors_tensors); built with GPT(config, init=False) the model
holds no weights of its own before, so loading costs the weights' size once, never twice.
"""

from __future__ import annotations

import json
import os

import numpy as np
from safetensors import SafetensorError

from ..formats.weights import safetensors_tensors, torch_load_safely
from ..tokenizers.bpe_files import read_json

# Hugging Face activation names -> ours. gelu_new, gelu_pytorch_tanh and gelu_fast are all
# 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's GELU.
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
               "gelu": "gelu", "relu": "relu"}
MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")
LAYER_NORM_EPS = 1e-5  # our LayerNorm's


class PretrainedError(ValueError):
    """A model directory that is missing a file, is not GPT-2, or holds damaged weights."""


def model_directory(path) -> str:
    """`path` as a string, if it is a directory (else a FileNotFoundError saying what it needs)."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path!r} is not a directory; from_pretrained reads a Hugging "
                                "Face model directory (config.json, model.safetensors, "
                                "tokenizer files)")
    return path


def read_hf_config(directory: str, dropout: float = 0.0) -> dict:
    """The GPTConfig fields of a Hugging Face GPT-2 `config.json`, every field checked."""
    path = config_path(directory)
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
                              "GPT2LMHeadModel) and Llama models (LlamaForCausalLM, model_type "
                              "'llama') load here")

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
    return dict(vocab_size=field("vocab_size"), block_size=field("n_positions", "n_ctx"),
                n_layer=field("n_layer"), n_head=field("n_head"), n_embd=n_embd,
                dropout=dropout, bias=True, activation=ACTIVATIONS[act],
                tie_weights=bool(c.get("tie_word_embeddings", True)))


def config_path(directory: str) -> str:
    """Where a model directory's config.json is."""
    return os.path.join(directory, "config.json")


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


def _tensors(path: str, skip):
    """(name, array) pairs of one weights file, one tensor in memory at a time."""
    if path.endswith(".bin"):
        yield from _torch_bin(path, skip)
        return
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    try:
        yield from safetensors_tensors(path, skip)
    except SafetensorError as e:
        raise PretrainedError(f"weights file {path!r} is damaged or not a safetensors file "
                              f"({e}); download or export it again") from None
    except ValueError as e:  # a dtype NumPy has not (BF16)
        raise PretrainedError(f"{e} (model.float().save_pretrained(DIR))") from None


def _torch_bin(path: str, skip):
    state = torch_load_safely(path, "weights file", missing_torch=PretrainedError,
                              unreadable=PretrainedError, fix="convert it to model.safetensors")
    for name in list(state):
        tensor = state.pop(name)
        if not skip(name):
            yield name, tensor.float().numpy()


def our_name(name: str) -> str | None:
    """Our parameter name for a Hugging Face tensor name, None for a mask buffer."""
    name = name.removeprefix("transformer.")
    if name.endswith(MASK_BUFFERS):
        return None
    return name if name == "lm_head.weight" else f"transformer.{name}"


def load_hf_weights(model, paths: list[str], dtype=None):
    """Fill a GPT (`model.config`, `model.named_parameters()`) from Hugging Face GPT-2 weight
    files: each array read becomes a parameter's data (replacing what the model held), every
    name and shape is checked, and any parameter the files do not set is an error.
    dtype: the model's float dtype; None keeps the files' (float16 becomes float32)."""
    params = dict(model.named_parameters())
    tied = model.config.tie_weights

    def skip(hf_name):  # never read: mask buffers, and a stored copy of a tied head
        name = our_name(hf_name)
        return name is None or (name == "lm_head.weight" and tied)

    loaded = set()
    for path in paths:
        for hf_name, array in _tensors(path, skip):
            name = our_name(hf_name)
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
            p.data = np.ascontiguousarray(array, dtype=target)  # no copy when it already fits
            p.grad = None
            p._bump_version()
            loaded.add(name)
    missing = sorted(set(params) - loaded)
    if missing:
        raise PretrainedError(f"weights {[os.path.basename(p) for p in paths]} lack "
                              f"{len(missing)} tensor(s) the config needs, e.g. {missing[:3]}; "
                              "the file is incomplete or from another model")
    return model


def _shape_summary(c) -> str:
    return (f"n_layer={c.n_layer}, n_embd={c.n_embd}, vocab_size={c.vocab_size}, "
            f"n_positions={c.block_size}")


def hf_config_dict(config, eos_token_id: int | None = None) -> dict:
    """config.json for a GPTConfig of ours, as transformers' GPT2Config writes it."""
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


def write_hf_config(directory: str, config, eos_token_id: int | None = None) -> str:
    """Write hf_config_dict(config) as directory/config.json; returns its path."""
    path = config_path(directory)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(hf_config_dict(config, eos_token_id), f, indent=2)
    return path
