"""The parts that took decoders from GPT-2 (2019) to Llama (2023): RMSNorm, rotary position
embeddings, the SwiGLU MLP and grouped-query attention. GPTConfig's switches (`norm`,
`position`, `mlp`, `n_kv_head`) put them into the GPT's blocks one at a time; the `llama`
settings (gpt.LLAMA) turn on all of them.

    RMSNorm               x / rms(x) * weight                       (no mean, no bias)
    SwiGLU                down(silu(gate(x)) * up(x))               (w2(silu(w1 x) * w3 x))
    RotarySelfAttention   causal attention, q and k turned by RoPE at their absolute positions,
                          n_kv_head key/value heads shared by groups of query heads

State-dict names keep GPT-2's where the part has one (ln_1, ln_2, ln_f, attn.c_attn,
attn.c_proj) and take Hugging Face Llama's for the new MLP (mlp.gate_proj, mlp.up_proj,
mlp.down_proj), so io/llama.py maps every tensor by its name.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd import is_grad_enabled, no_grad
from ..creation import cat
from ..tensor import Tensor
from .attention import KVCache
from .layers import Dropout, Linear, sub_seed
from .module import Module, Parameter


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis: LayerNorm without the mean and
    the bias. eps keeps an all-zero row finite (Llama 2 and SmolLM use 1e-5)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        self.dim, self.eps = dim, eps
        self.weight = Parameter(np.ones(dim, np.float32))  # (dim,)

    def forward(self, x):
        return F.rms_norm(x, self.weight, self.eps)  # (..., dim)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def llama_hidden_size(n_embd: int, multiple_of: int = 256) -> int:
    """Llama's SwiGLU width: two thirds of GPT-2's 4C (three matrices instead of two, so the
    parameter count stays 8C^2), rounded up to a multiple of `multiple_of` for fast matmuls."""
    hidden = int(2 * 4 * n_embd / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


class SwiGLU(Module):
    """The gated MLP of Llama (Shazeer, 2020): y = w2(silu(w1 x) * w3 x), (B, T, C) -> (B, T, C).

    w1 is `gate_proj`, w3 `up_proj`, w2 `down_proj` (Hugging Face's names). The gate decides,
    channel by channel, how much of the linear path w3 x passes; silu(z) = z sigmoid(z) is a
    smooth ReLU. No bias unless asked (Llama has none)."""

    def __init__(self, n_embd: int, hidden: int, dropout: float = 0.0, bias: bool = False, *,
                 rng=None, proj_std: float = 0.02, seed=0, fused: bool = True):
        self.gate_proj = Linear(n_embd, hidden, bias, rng=rng, fused=fused)  # w1
        self.up_proj = Linear(n_embd, hidden, bias, rng=rng, fused=fused)  # w3
        self.down_proj = Linear(hidden, n_embd, bias, rng=rng, std=proj_std, fused=fused)  # w2
        self.dropout = Dropout(dropout, seed=sub_seed(seed, 3))

    def forward(self, x):
        # BEGIN ASSIGNMENT 6.3
        h = F.silu(self.gate_proj(x)) * self.up_proj(x)  # (B, T, hidden)
        return self.dropout(self.down_proj(h))  # (B, T, C)
        # END ASSIGNMENT 6.3


class RotarySelfAttention(Module):
    """Causal self-attention with rotary positions and grouped-query attention, (B, T, C) ->
    (B, T, C); the same call as CausalSelfAttention (kv_cache, layer, return_attention).

    n_kv_head key/value heads (a divisor of n_head) each serve n_head / n_kv_head consecutive
    query heads: n_kv_head = n_head is ordinary multi-head attention, 1 is multi-query
    attention. The KV cache stores only the n_kv_head heads, so it shrinks by that factor.
    c_attn projects to q (n_head heads), k and v (n_kv_head heads each), side by side.

    rope=True turns q and k by their absolute positions before the scores (ops/rotary.py). With
    a KV cache the new tokens' positions start at kv_cache.length: the cached keys were turned by
    theirs when they were stored, and a rotation by the wrong position would break the relative
    offsets the scores depend on.

    forward spells the math out; fused (the default, for training: no cache, no attention
    weights kept, no attention dropout) rotates q and k, repeats the key/value heads for their
    groups and runs the rest as F.causal_attention, the same one op as GPT-2's attention.
    """

    def __init__(self, n_embd: int, n_head: int, n_kv_head: int, dropout: float = 0.0,
                 bias: bool = True, *, rope: bool = True, rope_theta: float = 10000.0,
                 rng=None, proj_std: float = 0.02, seed=0, fused: bool = True):
        if n_head < 1 or n_embd % n_head or n_kv_head < 1 or n_head % n_kv_head:
            raise ValueError(f"RotarySelfAttention: need n_embd={n_embd} divisible by "
                             f"n_head={n_head}, and n_kv_head={n_kv_head} dividing n_head")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.n_embd, self.n_head, self.n_kv_head = n_embd, n_head, n_kv_head
        self.head_size = n_embd // n_head
        self.rope, self.rope_theta = rope, rope_theta
        width = (n_head + 2 * n_kv_head) * self.head_size  # q | k | v
        self.c_attn = Linear(n_embd, width, bias, rng=rng, fused=fused)
        self.c_proj = Linear(n_embd, n_embd, bias, rng=rng, std=proj_std, fused=fused)
        self.attn_dropout = Dropout(dropout, seed=sub_seed(seed, 1))
        self.resid_dropout = Dropout(dropout, seed=sub_seed(seed, 2))
        self.last_attention: np.ndarray | None = None
        self.fused = fused

    def _heads(self, x):
        """q (B, T, nh, hs) and k, v (B, T, nkv, hs) from one projection."""
        B, T, _ = x.shape
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        q, k, v = self.c_attn(x).split([nh * hs, nkv * hs, nkv * hs], axis=2)
        return (q.reshape(B, T, nh, hs), k.reshape(B, T, nkv, hs),  # (B, T, heads, hs)
                v.reshape(B, T, nkv, hs))

    def forward(self, x, kv_cache: KVCache | None = None, layer: int = 0,
                return_attention: bool = False):
        if kv_cache is not None and is_grad_enabled():
            with no_grad():  # cached keys are plain arrays: no gradient could flow through them
                return self.forward(x, kv_cache, layer, return_attention)
        if x.ndim != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"RotarySelfAttention: expected input (B, T, C={self.n_embd}), "
                             f"got {x.shape}")
        B, T, C = x.shape
        nh, nkv, hs = self.n_head, self.n_kv_head, self.head_size
        G = nh // nkv  # query heads per key/value head
        # BEGIN ASSIGNMENT 6.2
        start = kv_cache.length if kv_cache is not None else 0  # absolute position of x[:, 0]
        # END ASSIGNMENT 6.2
        q, k, v = self._heads(x)  # (B, T, nh | nkv, hs)
        if self.rope:
            pos = np.arange(start, start + T)[:, None]  # (T, 1): broadcast over the heads
            q = F.rope(q, pos, self.rope_theta)  # (B, T, nh, hs)
            k = F.rope(k, pos, self.rope_theta)  # (B, T, nkv, hs)
        dropping = self.attn_dropout.training and self.attn_dropout.p > 0
        if self.fused and kv_cache is None and not return_attention and not dropping:
            if G > 1:  # each key/value head repeated for its G query heads (a copy)
                k = k.reshape(B, T, nkv, 1, hs).expand(B, T, nkv, G, hs).reshape(B, T, nh, hs)
                v = v.reshape(B, T, nkv, 1, hs).expand(B, T, nkv, G, hs).reshape(B, T, nh, hs)
            qkv = cat([q.reshape(B, T, C), k.reshape(B, T, C), v.reshape(B, T, C)], axis=2)
            y = F.causal_attention(qkv, nh)  # (B, T, C): the spelled-out lines below, one op
            self.last_attention = None
            return self.resid_dropout(self.c_proj(y))
        q = q.transpose(1, 2).reshape(B, nkv, G, T, hs)  # (B, nkv, G, T, hs)
        k = k.transpose(1, 2)  # (B, nkv, T, hs)
        v = v.transpose(1, 2)  # (B, nkv, T, hs)
        if kv_cache is not None:
            keys, values = kv_cache.append(layer, k.data, v.data)
            k, v = Tensor(keys), Tensor(values)  # (B, nkv, Tk, hs), Tk = cached + T
        Tk = k.shape[2]
        k = k.reshape(B, nkv, 1, Tk, hs)  # one key head for the G query heads of its group
        v = v.reshape(B, nkv, 1, Tk, hs)
        # scale, causal mask (queries aligned to the end of the keys) and softmax in one op
        att = F.softmax(q @ k.transpose(-2, -1), scale=1.0 / math.sqrt(hs), causal=True)
        # (B, nkv, G, T, Tk)
        self.last_attention = att.data.reshape(B, nh, T, Tk) if return_attention else None
        y = self.attn_dropout(att) @ v  # (B, nkv, G, T, hs)
        y = y.reshape(B, nh, T, hs).transpose(1, 2).reshape(B, T, C)  # heads side by side
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)

    def extra_repr(self) -> str:
        return (f"n_embd={self.n_embd}, n_head={self.n_head}, n_kv_head={self.n_kv_head}, "
                f"rope={self.rope}")
