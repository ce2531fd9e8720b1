"""Causal multi-head self-attention and the KV cache for incremental decoding.

    q, k, v = x Wq, x Wk, x Wv                  one fused projection c_attn, (B, T, 3C)
    att = softmax(q k^T / sqrt(hs), keys j > i removed)                 (B, nh, T, T)
    y   = att v                                                        (B, nh, T, hs)

Each of the nh heads attends with its own hs = C / nh channels of q, k and v; the heads' outputs
are put side by side again and mixed by the output projection c_proj. The 1/sqrt(hs) keeps the
scores' variance near 1 whatever the head size, so the softmax does not saturate at init.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import is_grad_enabled, no_grad
from ..kernels import active_backend
from ..tensor import Tensor
from .layers import Dropout, Linear, sub_seed
from .module import Module


class KVCache:
    """Keys and values of the positions already processed, per layer, so that decoding one more
    token costs one position's work instead of re-running the whole prefix.

    `k[layer]` and `v[layer]` are preallocated (B, nh, block_size, hs) arrays filled in place;
    only the first `length` positions are valid (`keys(layer)` / `values(layer)` return those).
    Preallocating beats concatenating a growing array at every step, which copies the whole
    cache each time: O(T^2) copying over a generation instead of O(T).

    Protocol: during one forward every layer calls `append(layer, k_new, v_new)`, which writes
    after the cached positions and returns all keys and values so far; once every layer has run,
    GPT.forward calls `advance(T_new)`. Until then `length` still describes the old prefix, so a
    forward that fails half way leaves the cache as it was. Inference only: the arrays carry no
    gradient.
    """

    def __init__(self, n_layer: int, batch_size: int, n_head: int, block_size: int,
                 head_size: int, dtype=np.float32):
        for name, value in (("n_layer", n_layer), ("batch_size", batch_size),
                            ("n_head", n_head), ("block_size", block_size),
                            ("head_size", head_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"KVCache: {name} must be a positive int, got {value!r}")
        shape = (batch_size, n_head, block_size, head_size)  # (B, nh, block_size, hs)
        self.k = [np.zeros(shape, dtype=dtype) for _ in range(n_layer)]
        self.v = [np.zeros(shape, dtype=dtype) for _ in range(n_layer)]
        self.block_size = block_size
        self.length = 0

    @property
    def n_layer(self) -> int:
        """The number of layers (blocks) the cache holds keys and values for."""
        return len(self.k)

    @property
    def batch_size(self) -> int:
        """The batch size B the cache was made for."""
        return self.k[0].shape[0]

    def keys(self, layer: int) -> np.ndarray:
        """The cached keys of `layer` for the positions so far, (B, nh, length, hs)."""
        return self.k[layer][:, :, :self.length]  # (B, nh, length, hs)

    def values(self, layer: int) -> np.ndarray:
        """The cached values of `layer` for the positions so far, (B, nh, length, hs)."""
        return self.v[layer][:, :, :self.length]  # (B, nh, length, hs)

    def reset(self) -> None:
        """Forget every position (the arrays are reused; stale entries past length are never
        read)."""
        self.length = 0

    def crop(self, n: int) -> None:
        """Keep only the first n cached positions (n >= length keeps everything)."""
        if n < 0:
            raise ValueError(f"KVCache.crop: n must be >= 0, got {n}")
        self.length = min(int(n), self.length)

    def reorder(self, indices) -> None:
        """Row i of the cache becomes old row indices[i]; the batch size becomes len(indices).
        Beam search uses it to keep (and duplicate) the caches of the surviving beams."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ValueError(f"KVCache.reorder: indices must be a non-empty 1-D int array, got "
                             f"shape {idx.shape} and dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= self.batch_size:
            raise IndexError(f"KVCache.reorder: index {idx.min() if idx.min() < 0 else idx.max()}"
                             f" is out of range for a cache of batch size {self.batch_size}")
        n = self.length
        for store in (self.k, self.v):
            for layer, old in enumerate(store):
                new = np.empty((len(idx),) + old.shape[1:], dtype=old.dtype)  # (B', nh, bs, hs)
                new[:, :, :n] = old[idx, :, :n]  # only the valid positions are worth copying
                store[layer] = new

    def append(self, layer: int, k: np.ndarray, v: np.ndarray):
        """Store k, v (B, nh, T_new, hs) after the cached positions; return all keys and values
        so far, each (B, nh, length + T_new, hs)."""
        cache = self.k[layer]
        if k.shape[0] != cache.shape[0] or k.shape[1] != cache.shape[1] \
                or k.shape[3] != cache.shape[3]:
            raise ValueError(f"KVCache.append: new keys {k.shape} do not fit a cache of "
                             f"(B, nh, T, hs) = {cache.shape}; build the cache with "
                             "model.new_kv_cache(batch_size) for this model and batch")
        # BEGIN ASSIGNMENT 5.5
        start, end = self.length, self.length + k.shape[2]
        if end > self.block_size:
            raise ValueError(f"KVCache: {self.length} cached + {k.shape[2]} new positions exceed "
                             f"block size {self.block_size}; crop or reset the cache")
        self.k[layer][:, :, start:end] = k
        self.v[layer][:, :, start:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]
        # END ASSIGNMENT 5.5

    def advance(self, n: int) -> None:
        """Count n more cached positions (after every layer has appended them)."""
        self.length += n

    def __repr__(self) -> str:
        return (f"KVCache(n_layer={self.n_layer}, batch_size={self.batch_size}, "
                f"length={self.length}, block_size={self.block_size})")


def attend_cached(qkv: np.ndarray, cache: KVCache, layer: int, n_head: int) -> np.ndarray:
    """The spelled-out attention with a KV cache (CausalSelfAttention.forward), on arrays:
    (B, T, 3C) q|k|v of T new positions -> (B, T, C). Their keys and values go into the cache
    and each new query attends to the cached keys up to its own position.

    A cache means inference, so there is no graph to record: decoding a token, the ten ops a
    layer would record cost more than their arithmetic (GPT-2 small: about 140 ops a token).
    Tested equal to the spelled-out path."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // n_head
    q, k, v = qkv.reshape(B, T, 3, n_head, hs).transpose(2, 0, 3, 1, 4)  # 3 x (B, nh, T, hs)
    keys, values = cache.append(layer, k, v)  # (B, nh, Tk, hs), Tk = cached + T
    backend = active_backend()
    scores = backend.matmul(q, keys, trans_b=True)  # (B, nh, T, Tk)
    att = backend.softmax_forward(scores, 1.0 / math.sqrt(hs), True)  # aligned to the end
    y = backend.matmul(att, values)  # (B, nh, T, hs)
    return y.transpose(0, 2, 1, 3).reshape(B, T, C)


class CausalSelfAttention(Module):
    """Multi-head causal self-attention, (B, T, C) -> (B, T, C).

    forward(x, kv_cache=None, layer=0, return_attention=False). With return_attention=True the
    attention weights (B, nh, T, T_keys) are kept in `last_attention` (an ndarray) for plotting.
    With a kv_cache, x holds only the new positions; keys and values of earlier positions come
    from the cache (entry `layer`), and the causal mask aligns the queries to the END of the keys.

    forward spells the math out, op by op. fused (the default): the same math from the q|k|v
    projection to the merged heads runs as one op, `F.causal_attention`, except when the call
    needs what only the spelled-out path gives: a KV cache, the attention weights, or attention
    dropout.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True, *,
                 rng: np.random.Generator | None = None, proj_std: float = 0.02, seed=0,
                 # STUDENT COPY 4 INSTEAD: fused: bool = False):  # your spelled-out code runs
                 fused: bool = True):
        if n_head < 1 or n_embd % n_head != 0:
            raise ValueError(f"CausalSelfAttention: n_embd={n_embd} is not divisible by "
                             f"n_head={n_head}; each head needs n_embd // n_head channels")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.n_embd, self.n_head = n_embd, n_head
        self.c_attn = Linear(n_embd, 3 * n_embd, bias, rng=rng, fused=fused)  # q, k, v at once
        self.c_proj = Linear(n_embd, n_embd, bias, rng=rng, std=proj_std, fused=fused)
        self.attn_dropout = Dropout(dropout, seed=sub_seed(seed, 1))
        self.resid_dropout = Dropout(dropout, seed=sub_seed(seed, 2))
        self.last_attention: np.ndarray | None = None
        self.fused = fused

    def forward(self, x, kv_cache: KVCache | None = None, layer: int = 0,
                return_attention: bool = False):
        if kv_cache is not None and is_grad_enabled():
            with no_grad():  # cached keys are plain arrays: no gradient could flow through them
                return self.forward(x, kv_cache, layer, return_attention)
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"CausalSelfAttention: expected input (B, T, C={self.n_embd}), got "
                             f"{x.shape}")
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        dropping = self.attn_dropout.training and self.attn_dropout.p > 0
        # STUDENT COPY 4 INSTEAD: decoding = False  # your 4.2 code runs with a cache too
        decoding = self.fused and kv_cache is not None and not return_attention and not dropping
        if decoding:  # the spelled-out lines below with a cache, as one call on arrays
            y = Tensor(attend_cached(self.c_attn(x).data, kv_cache, layer, nh))  # (B, T, C)
            self.last_attention = None
        elif not self.fused or kv_cache is not None or return_attention or dropping:
            # BEGIN ASSIGNMENT 4.2
            # STARTER: from ..kernels import unfinished
            # STARTER: fast = kv_cache is None and not return_attention and not dropping
            # STARTER: y = unfinished(STARTER_ERROR, "the fused attention op F.causal_attention",
            # STARTER:                F.causal_attention if fast else None, self.c_attn(x), nh)
            q, k, v = self.c_attn(x).split(C, axis=2)  # 3 x (B, T, C)
            q = q.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
            k = k.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
            v = v.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
            if kv_cache is not None:
                keys, values = kv_cache.append(layer, k.data, v.data)
                k, v = Tensor(keys), Tensor(values)  # (B, nh, Tk, hs), Tk = cached + T
            # scale, causal mask and softmax in one op; the mask aligns the queries to the end
            att = F.softmax(q @ k.transpose(-2, -1), scale=1.0 / math.sqrt(hs), causal=True)
            # (B, nh, T, Tk)
            self.last_attention = att.data if return_attention else None
            y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
            y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh * hs): heads side by side again
            # END ASSIGNMENT 4.2
        else:  # the lines above as one op, from the q|k|v projection to the merged heads
            y = F.causal_attention(self.c_attn(x), nh)  # (B, T, C)
            self.last_attention = None
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)

    def extra_repr(self) -> str:
        return f"n_embd={self.n_embd}, n_head={self.n_head}"
