"""The GPT: token + position embeddings, a stack of Transformer blocks, a final LayerNorm and a
language-model head giving P(x_t | x_<t) = softmax(W h_t + b).

State-dict names follow GPT-2/nanoGPT (transformer.wte.weight, transformer.h.0.attn.c_attn.weight,
...). Our Linear weights are stored (in, out), as in GPT-2's original Conv1D layout; PyTorch's
nn.Linear stores (out, in) (see interop.py). With tie_weights the head reuses wte.weight
(V, C), computing logits = h @ wte.weight^T, and there is no separate lm_head.weight.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..ops.nn import check_ids
from ..tensor import Tensor
from .attention import CausalSelfAttention, KVCache
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU
from .module import Module

ACTIVATIONS = {"gelu_tanh": lambda: GELU("tanh"), "gelu": lambda: GELU("none"), "relu": ReLU}


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    norm_position: str = "pre"
    activation: str = "gelu_tanh"

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"GPTConfig.{name} must be an int, got {type(value).__name__} "
                                f"{value!r}")
            if value <= 0:
                raise ValueError(f"GPTConfig.{name} must be positive, got {value}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd={self.n_embd} is not divisible by "
                             f"n_head={self.n_head}")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"GPTConfig.dropout must be a float in [0, 1), got {self.dropout!r}")
        if self.norm_position not in ("pre", "post"):
            raise ValueError(f"GPTConfig.norm_position must be 'pre' or 'post', got "
                             f"{self.norm_position!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"GPTConfig.activation must be one of {sorted(ACTIVATIONS)}, got "
                             f"{self.activation!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class MLP(Module):
    def __init__(self, n_embd, dropout=0.0, bias=True, activation="gelu_tanh", *, rng=None,
                 proj_std=0.02, seed=0):
        self.c_fc = Linear(n_embd, 4 * n_embd, bias, rng=rng)
        self.act = ACTIVATIONS[activation]()
        self.c_proj = Linear(4 * n_embd, n_embd, bias, rng=rng, std=proj_std)
        self.dropout = Dropout(dropout, seed=seed)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))  # (B, T, C)


class Block(Module):
    """pre-LN (GPT-2, the default): x + attn(ln_1(x)), then x + mlp(ln_2(x)).
    post-LN (the seed article's code, the original Transformer): ln_1(x + attn(x)), then
    ln_2(x + mlp(x)). Pre-LN keeps an identity path from output to input, which trains deeper
    stacks without warmup tricks."""

    def __init__(self, config: GPTConfig, *, rng=None, seed=0):
        c = config
        proj_std = 0.02 / math.sqrt(2 * c.n_layer)  # GPT-2: residual projections scaled down
        self.norm_position = c.norm_position
        self.ln_1 = LayerNorm(c.n_embd, bias=c.bias)
        self.attn = CausalSelfAttention(c.n_embd, c.n_head, c.dropout, c.bias, rng=rng,
                                        proj_std=proj_std, seed=seed)
        self.ln_2 = LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = MLP(c.n_embd, c.dropout, c.bias, c.activation, rng=rng, proj_std=proj_std,
                       seed=seed + 3)

    def forward(self, x, kv_cache=None, layer=0, return_attention=False):
        # BEGIN ASSIGNMENT 4.3
        if self.norm_position == "pre":
            x = x + self.attn(self.ln_1(x), kv_cache, layer, return_attention)
            x = x + self.mlp(self.ln_2(x))
        else:
            x = self.ln_1(x + self.attn(x, kv_cache, layer, return_attention))
            x = self.ln_2(x + self.mlp(x))
        return x
        # END ASSIGNMENT 4.3


class Transformer(Module):
    """The trunk, named as in GPT-2 so that state-dict keys read transformer.h.0...."""

    def __init__(self, config: GPTConfig, rng, seed):
        c = config
        self.wte = Embedding(c.vocab_size, c.n_embd, rng=rng)
        self.wpe = Embedding(c.block_size, c.n_embd, rng=rng)
        self.drop = Dropout(c.dropout, seed=seed)
        self.h = [Block(c, rng=rng, seed=seed + 10 * (i + 1)) for i in range(c.n_layer)]
        self.ln_f = LayerNorm(c.n_embd, bias=c.bias)


class GPT(Module):
    def __init__(self, config: GPTConfig, seed: int = 0):
        self.config = config
        rng = np.random.default_rng(seed)  # same seed, same model
        self.transformer = Transformer(config, rng, seed)
        self.lm_head = None if config.tie_weights else Linear(
            config.n_embd, config.vocab_size, bias=False, rng=rng)

    def _check_idx(self, idx) -> np.ndarray:
        ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"GPT: token ids must be integers, got dtype {ids.dtype}")
        if ids.ndim != 2:
            raise ValueError(f"GPT: idx must have shape (B, T), got {ids.shape}; use "
                             "idx[None, :] for a single sequence")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(f"GPT: empty batch {ids.shape}: need B >= 1 and T >= 1")
        check_ids("GPT", ids, self.config.vocab_size, "token id")
        return ids

    def forward(self, idx, targets=None, kv_cache: KVCache | None = None,
                return_attention: bool = False):
        """idx (B, T) int -> (logits (B, T, V), loss or None). With kv_cache, idx holds only the
        new tokens, whose positions continue after the cached ones."""
        ids = self._check_idx(idx)
        B, T = ids.shape
        start = kv_cache.length if kv_cache is not None else 0
        if start + T > self.config.block_size:
            if kv_cache is not None:
                raise ValueError(f"GPT: {start} cached + {T} new positions exceed block size "
                                 f"{self.config.block_size}; crop or reset the cache")
            raise ValueError(f"cannot forward a sequence of length {T}, block size is only "
                             f"{self.config.block_size}")
        tr = self.transformer
        pos = np.arange(start, start + T)
        x = tr.drop(tr.wte(ids) + tr.wpe(pos))  # (B, T, C) + (T, C)
        for i, block in enumerate(tr.h):
            x = block(x, kv_cache, i, return_attention)  # (B, T, C)
        x = tr.ln_f(x)
        head = tr.wte.weight.T if self.lm_head is None else self.lm_head.weight  # (C, V)
        logits = F.linear(x, head)  # (B, T, V)
        if kv_cache is not None:
            kv_cache.length += T
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits, targets, ignore_index=-1)
        return logits, loss

    def new_kv_cache(self, batch_size: int) -> KVCache:
        c = self.config
        dtype = self.transformer.wte.weight.dtype
        return KVCache(c.n_layer, batch_size, c.n_head, c.block_size, c.n_embd // c.n_head,
                       dtype)

    def save(self, path: str) -> None:
        """Weights and config to a .npz (or .safetensors) file; GPT.from_file reads it back."""
        from ..serialization import save_weights
        save_weights(self, path)

    @classmethod
    def from_file(cls, path: str) -> GPT:
        from ..serialization import load_model
        return load_model(path)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count; non_embedding leaves out the position embeddings (as nanoGPT)."""
        n = super().num_parameters()
        return n - self.transformer.wpe.weight.size if non_embedding else n

    def crop_block_size(self, block_size: int) -> None:
        """Shrink the context window (e.g. to fine-tune a long-context model on short text)."""
        if not 0 < block_size <= self.config.block_size:
            raise ValueError(f"crop_block_size: need 0 < {block_size} <= "
                             f"{self.config.block_size}")
        wpe = self.transformer.wpe.weight
        wpe.data = np.ascontiguousarray(wpe.data[:block_size])
        wpe.grad = None
        self.config = dataclasses.replace(self.config, block_size=block_size)
