"""Causal multi-head self-attention and the KV cache for incremental decoding.

    att = softmax(q k^T / sqrt(hs)  with keys j > i removed)      (B, nh, T, T)
    y   = att v                                                     (B, nh, T, hs)

Each of the nh heads attends with its own slice of the q/k/v projection; their outputs are
concatenated and mixed by the output projection.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .layers import Dropout, Linear
from .module import Module


class KVCache:
    """Keys and values of positions already processed, per layer, so that decoding one more
    token costs one position's work instead of re-running the whole prefix.

    Arrays are preallocated to block_size positions and filled in place: (L, B, nh, block, hs).
    `length` counts the cached positions; GPT.forward advances it after all layers have run.
    """

    def __init__(self, n_layer, batch_size, n_head, block_size, head_size, dtype=np.float32):
        shape = (n_layer, batch_size, n_head, block_size, head_size)
        self.k = np.zeros(shape, dtype=dtype)
        self.v = np.zeros(shape, dtype=dtype)
        self.block_size = block_size
        self.length = 0

    @property
    def batch_size(self) -> int:
        return self.k.shape[1]

    def reset(self) -> None:
        self.length = 0

    def crop(self, n: int) -> None:
        """Keep only the first n cached positions."""
        self.length = max(0, min(n, self.length))

    def reorder(self, indices) -> None:
        """Select/reorder batch rows (beam search keeps the cache of the surviving beams)."""
        indices = np.asarray(indices, dtype=np.int64)
        self.k = self.k[:, indices]
        self.v = self.v[:, indices]

    def append(self, layer: int, k: np.ndarray, v: np.ndarray):
        """Store k, v (B, nh, T_new, hs) after the cached positions; return all keys and values
        so far, (B, nh, length + T_new, hs)."""
        # BEGIN ASSIGNMENT 5.5
        start, end = self.length, self.length + k.shape[2]
        self.k[layer, :, :, start:end] = k
        self.v[layer, :, :, start:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]
        # END ASSIGNMENT 5.5


class CausalSelfAttention(Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True, *,
                 rng: np.random.Generator | None = None, proj_std: float = 0.02, seed: int = 0):
        if n_embd % n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd={n_embd} is not divisible by "
                             f"n_head={n_head}; each head needs n_embd // n_head channels")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.n_embd, self.n_head = n_embd, n_head
        self.c_attn = Linear(n_embd, 3 * n_embd, bias, rng=rng)  # fused q, k, v projection
        self.c_proj = Linear(n_embd, n_embd, bias, rng=rng, std=proj_std)
        self.attn_dropout = Dropout(dropout, seed=seed + 1)
        self.resid_dropout = Dropout(dropout, seed=seed + 2)
        self.last_attention: np.ndarray | None = None

    def forward(self, x, kv_cache: KVCache | None = None, layer: int = 0,
                return_attention: bool = False):
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        # BEGIN ASSIGNMENT 4.2
        q, k, v = self.c_attn(x).split(C, axis=2)  # 3 x (B, T, C)
        q = q.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        if kv_cache is not None:  # inference only: the cache holds plain arrays
            keys, values = kv_cache.append(layer, k.data, v.data)
            k, v = Tensor(keys), Tensor(values)  # (B, nh, Tk, hs), Tk = cached + T
        # scale, causal mask and softmax in one fused op; the mask aligns queries to the end
        att = F.softmax(q @ k.transpose(-2, -1), scale=1.0 / math.sqrt(hs), causal=True)
        if return_attention:
            self.last_attention = att.data  # (B, nh, T, Tk)
        y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh * hs): heads side by side
        # END ASSIGNMENT 4.2
        return self.resid_dropout(self.c_proj(y))
