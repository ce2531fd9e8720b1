"""Weights to and from other GPT implementations, as dicts of numpy arrays.

- Hugging Face GPT-2 (`GPT2LMHeadModel.state_dict()` converted to numpy): keys `h.N.attn.c_attn.
  weight`, optionally prefixed `transformer.`; its Conv1D layers store (in, out), our layout,
  so weights copy straight across; the causal-mask buffers `attn.bias` / `attn.masked_bias`
  are skipped; the head is tied to `wte`.
- PyTorch / nanoGPT: the same names as ours, but nn.Linear stores (out, in), so every Linear
  weight is transposed on the way; `lm_head.weight` (V, C) is always present (equal to wte when
  tied).
"""

from __future__ import annotations

import re

import numpy as np

from .nn.gpt import GPT, GPTConfig
from .nn.layers import Linear


def _linear_weight_names(model: GPT) -> set[str]:
    return {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, Linear)}


def load_hf_gpt2(state_dict, config: GPTConfig | None = None, n_head: int | None = None) -> GPT:
    """A GPT holding Hugging Face GPT-2 weights. Without `config`, the shape is read from the
    arrays (n_head defaults to n_embd // 64, as in every GPT-2 size)."""
    sd = {}
    for key, value in state_dict.items():
        key = key[len("transformer."):] if key.startswith("transformer.") else key
        if key.endswith((".attn.bias", ".attn.masked_bias")) or key == "lm_head.weight":
            continue  # mask buffers; the head is tied to wte
        sd[key] = np.asarray(value)
    if config is None:
        try:
            vocab, n_embd = sd["wte.weight"].shape
            block = sd["wpe.weight"].shape[0]
        except KeyError as e:
            raise KeyError(f"load_hf_gpt2: no {e.args[0]} in the state dict; is this GPT-2?") \
                from None
        n_layer = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"h\.(\d+)\.", k)))
        config = GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer,
                           n_head=n_head or max(1, n_embd // 64), n_embd=n_embd)
    model = GPT(config)
    model.load_state_dict({f"transformer.{k}": v for k, v in sd.items()})
    return model


def to_torch_state_dict(model: GPT) -> dict[str, np.ndarray]:
    """Our weights under PyTorch/nanoGPT conventions: Linear weights as (out, in)."""
    linear = _linear_weight_names(model)
    out = {k: (v.T if k in linear else v).copy() for k, v in model.state_dict().items()}
    if model.config.tie_weights:
        out["lm_head.weight"] = out["transformer.wte.weight"].copy()
    return out


def from_torch_state_dict(state_dict, config: GPTConfig) -> GPT:
    """A GPT from a PyTorch/nanoGPT state dict (Linear weights (out, in)). Keys ending in
    `.attn.bias` (nanoGPT's mask buffer) are skipped."""
    model = GPT(config)
    linear = _linear_weight_names(model)
    sd = {}
    for key, value in state_dict.items():
        value = np.asarray(value)
        if key.endswith(".attn.bias") and value.ndim == 4:
            continue
        if key == "lm_head.weight" and config.tie_weights:
            continue
        sd[key] = value.T if key in linear else value
    model.load_state_dict(sd)
    return model
