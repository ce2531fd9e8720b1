"""Weights to and from other GPT implementations, as dicts of numpy arrays.

- Hugging Face GPT-2 (`GPT2LMHeadModel.state_dict()`, values converted to numpy): keys
  `h.N.attn.c_attn.weight`, `wte.weight`, `wpe.weight`, `ln_f.*`, optionally prefixed
  `transformer.`. Its Conv1D layers store (in, out), our layout, so weights copy straight
  across; the causal-mask buffers `attn.bias` / `attn.masked_bias` are skipped; the head is
  tied to `wte`. GPT-2 uses the tanh GELU and LayerNorm eps 1e-5, our defaults.
- PyTorch / nanoGPT: the same names as ours, but nn.Linear stores (out, in) and computes
  x @ W^T, so every Linear weight is transposed on the way; `lm_head.weight` (V, C) is always
  present (equal to wte when tied).

- nanoGPT's `ckpt.pt` (its train.py's checkpoint, or export.export_nanogpt's): read back by
  read_nanogpt with torch's `weights_only=True` loader, never plain pickle.

Values may be numpy arrays or anything np.asarray understands (CPU torch tensors included).
"""

from __future__ import annotations

import re

import numpy as np

from ..formats.weights import NonFiniteWeightsError, check_finite, torch_load_safely
from ..nn.gpt import GPT, GPTConfig
from ..nn.layers import Linear

_MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")


def _numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor that may require grad
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _linear_weight_names(model: GPT) -> set[str]:
    return {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, Linear)}


def _load(model: GPT, arrays: dict[str, np.ndarray], where: str) -> GPT:
    check_finite(arrays, where)  # NaN weights would load silently and give NaN logits
    dtypes = {a.dtype for a in arrays.values() if a.dtype.kind == "f"}
    if len(dtypes) == 1:
        model.to(dtypes.pop())  # keep the source's precision (float64 stays float64)
    try:
        model.load_state_dict(arrays)
    except (KeyError, ValueError) as e:
        raise type(e)(f"{where}: {e.args[0]}") from None
    return model


def _infer_gpt2_config(sd: dict[str, np.ndarray], n_head: int | None,
                       tied: bool) -> GPTConfig:
    try:
        vocab, n_embd = sd["wte.weight"].shape
        block = sd["wpe.weight"].shape[0]
    except KeyError as e:
        raise KeyError(f"load_hf_gpt2: no {e.args[0]} in the state dict; is this a GPT-2 "
                       f"state dict? (keys start {sorted(sd)[:4]})") from None
    layers = [int(m.group(1)) for k in sd if (m := re.match(r"h\.(\d+)\.", k))]
    if not layers:
        raise KeyError("load_hf_gpt2: no h.N.* (Transformer block) keys in the state dict")
    if n_head is None:
        if n_embd % 64:
            raise ValueError(f"load_hf_gpt2: n_embd={n_embd} is not a multiple of GPT-2's head "
                             "size 64; pass n_head= (or a config)")
        n_head = n_embd // 64
    return GPTConfig(vocab_size=vocab, block_size=block, n_layer=1 + max(layers),
                     n_head=n_head, n_embd=n_embd, bias="h.0.attn.c_attn.bias" in sd,
                     tie_weights=tied)


def load_hf_gpt2(state_dict, config: GPTConfig | None = None, n_head: int | None = None) -> GPT:
    """A GPT holding Hugging Face GPT-2 weights. Without `config`, the shape is read from the
    arrays (n_head defaults to n_embd // 64, as in every GPT-2 size). An `lm_head.weight` equal
    to wte (the usual case) is dropped: the head is tied."""
    sd = {}
    for key, value in state_dict.items():
        key = key[len("transformer."):] if key.startswith("transformer.") else key
        if not key.endswith(_MASK_BUFFERS):
            sd[key] = _numpy(value)
    head = sd.pop("lm_head.weight", None)  # (V, C), nn.Linear layout
    tied = head is None or np.array_equal(head, sd.get("wte.weight"))
    if config is None:
        config = _infer_gpt2_config(sd, n_head, tied)
    elif config.tie_weights and not tied:
        raise ValueError("load_hf_gpt2: config.tie_weights is True but lm_head.weight differs "
                         "from wte.weight; use tie_weights=False")
    arrays = {f"transformer.{k}": v for k, v in sd.items()}
    if not config.tie_weights:
        if head is None:
            raise KeyError("load_hf_gpt2: config.tie_weights is False but the state dict has no "
                           "lm_head.weight")
        arrays["lm_head.weight"] = head.T  # (C, V): our (in, out)
    return _load(GPT(config, init=False), arrays, "load_hf_gpt2")  # strict: sets every weight


def to_torch_state_dict(model: GPT) -> dict[str, np.ndarray]:
    """Our weights under PyTorch/nanoGPT conventions: Linear weights (out, in), and
    lm_head.weight (V, C) always present (a copy of wte when tied)."""
    linear = _linear_weight_names(model)
    out = {k: np.ascontiguousarray(v.T) if k in linear else v.copy()
           for k, v in model.state_dict().items()}
    if model.config.tie_weights:
        out["lm_head.weight"] = out["transformer.wte.weight"].copy()
    return out


def from_torch_state_dict(state_dict, config: GPTConfig) -> GPT:
    """A GPT from a PyTorch/nanoGPT state dict (Linear weights (out, in)). nanoGPT's mask
    buffers (`.attn.bias`, 4-D) and torch.compile's `_orig_mod.` prefix are dropped. With
    tie_weights, lm_head.weight must equal transformer.wte.weight (it is the same tensor)."""
    model = GPT(config, init=False)  # _load is strict: every weight is set from the dict
    linear = _linear_weight_names(model)
    sd = {}
    for key, value in state_dict.items():
        key = key.removeprefix("_orig_mod.")
        value = _numpy(value)
        if key.endswith(".attn.bias") and value.ndim == 4:
            continue
        sd[key] = value
    if config.tie_weights and "lm_head.weight" in sd:
        head, wte = sd.pop("lm_head.weight"), sd.get("transformer.wte.weight")
        if wte is not None and (head.shape != wte.shape or not np.array_equal(head, wte)):
            raise ValueError("from_torch_state_dict: config.tie_weights is True but lm_head.weight"
                             " differs from transformer.wte.weight; use tie_weights=False")
    arrays = {k: v.T if k in linear else v for k, v in sd.items()}
    return _load(model, arrays, "from_torch_state_dict")


NANOGPT_ARGS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size")


def read_nanogpt(path: str) -> tuple[GPT, dict]:
    """(model, info) from a nanoGPT ckpt.pt; info holds its iter_num, best_val_loss and config.

    A ckpt.pt is a torch.save pickle, so it is read only when torch is installed, with
    torch.load(weights_only=True), which builds tensors and plain containers and refuses
    anything else (a pickle can run code). nanoGPT's model ties the head and uses nn.GELU(), the
    exact erf form, so the model comes back with activation="gelu": its logits are nanoGPT's."""
    ckpt = torch_load_safely(path, "nanoGPT checkpoint", missing_torch=ImportError,
                             unreadable=ValueError, fix="export it from nanoGPT again")
    import torch  # there: torch_load_safely needed it
    args = ckpt.get("model_args") if isinstance(ckpt, dict) else None
    state = ckpt.get("model") if isinstance(ckpt, dict) else None
    if not isinstance(args, dict) or not isinstance(state, dict):
        raise ValueError(f"{path!r} is not a nanoGPT checkpoint: it needs 'model' (a state dict) "
                         "and 'model_args' (n_layer, n_head, ...), as nanoGPT's train.py saves")
    missing = [k for k in NANOGPT_ARGS if k not in args]
    if missing:
        raise ValueError(f"nanoGPT checkpoint {path!r}: model_args lacks {missing}")
    try:
        config = GPTConfig(**{k: args[k] for k in NANOGPT_ARGS}, activation="gelu",
                           dropout=float(args.get("dropout", 0.0)), tie_weights=True)
        arrays = {k: v.float().numpy() if v.is_floating_point() else v.numpy()
                  for k, v in state.items() if isinstance(v, torch.Tensor)}
        check_finite(arrays, f"nanoGPT checkpoint {path!r}")
        model = from_torch_state_dict(arrays, config)
    except NonFiniteWeightsError:
        raise  # names the file already
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"nanoGPT checkpoint {path!r}: {e}") from None
    best = ckpt.get("best_val_loss")
    info = {"iter_num": int(ckpt.get("iter_num", 0)),
            "best_val_loss": None if best is None else float(best),
            "config": ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}}
    return model, info
