"""The GPT: token + position embeddings, a stack of Transformer blocks, a final LayerNorm and a
language-model head giving P(x_t | x_<t) = softmax(h_t W_head).

State-dict names follow GPT-2 / nanoGPT: `transformer.wte.weight`, `transformer.wpe.weight`,
`transformer.h.{i}.ln_1.weight/bias`, `transformer.h.{i}.attn.c_attn.weight/bias`,
`transformer.h.{i}.attn.c_proj.*`, `transformer.h.{i}.ln_2.*`, `transformer.h.{i}.mlp.c_fc.*`,
`transformer.h.{i}.mlp.c_proj.*`, `transformer.ln_f.weight/bias`, and `lm_head.weight` only
when the head is not tied.

Weight layout: our Linear weights are stored (in, out) (y = x @ W + b), as in GPT-2's original
Conv1D; PyTorch's nn.Linear stores (out, in), so interop.py transposes them. Embeddings are
(num, dim) in both. With tie_weights the head has no weight of its own: logits = h @ wte.weight^T,
a matmul on the same Parameter, so the gradients of both uses add up in one array, and
`lm_head` is None.
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from .. import functional as F
from ..autograd import is_grad_enabled, no_grad
from ..formats.weights import load_into, read_weights, save_weights
from ..tensor import Tensor
from .attention import CausalSelfAttention, KVCache
from .config import ACTIVATIONS, LLAMA, GPTConfig  # noqa: F401 (LLAMA: nn.gpt.LLAMA)
from .layers import (
    GELU,
    Dropout,
    Embedding,
    LayerNorm,
    Linear,
    Uninitialised,
    is_stock,
    sub_seed,
)
from .modern import RMSNorm, RotarySelfAttention, SwiGLU
from .module import Module
from .quantized import QuantizedLinear, check_quantization, quantize_linears


class MLP(Module):
    """Position-wise feed-forward: expand to 4C, nonlinearity, project back to C.

    fused (the default): with a GELU, c_fc and the activation run as one op, `F.linear_gelu`,
    which applies the GELU to each row while it is in cache."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True,
                 activation: str = "gelu_tanh", *, rng=None, proj_std: float = 0.02, seed=0,
                 fused: bool = True, hidden: int | None = None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {list(ACTIVATIONS)}, got "
                             f"{activation!r}")
        hidden = 4 * n_embd if hidden is None else hidden
        self.c_fc = Linear(n_embd, hidden, bias, rng=rng, fused=fused)
        self.act = ACTIVATIONS[activation]()
        self.c_proj = Linear(hidden, n_embd, bias, rng=rng, std=proj_std, fused=fused)
        self.dropout = Dropout(dropout, seed=sub_seed(seed, 3))
        self.fused = fused

    def forward(self, x):
        if not (self.fused and is_stock(self.act, GELU) and is_stock(self.c_fc, Linear)):
            h = self.act(self.c_fc(x))  # (B, T, 4C)
        else:  # the line above as one op
            h = F.linear_gelu(x, self.c_fc.weight, self.c_fc.bias, self.act.approximate)
        return self.dropout(self.c_proj(h))  # (B, T, C)


def make_norm(c: GPTConfig) -> Module:
    """The block's (and the final) normalisation that the config asks for."""
    if c.norm == "rmsnorm":
        return RMSNorm(c.n_embd, eps=c.norm_eps)
    return LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)


class Block(Module):
    """One Transformer block, (B, T, C) -> (B, T, C).

    pre-LN (GPT-2, the default):  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x)).
    post-LN (the original Transformer, and the code in the seed article):
                                  x = ln_1(x + attn(x));  x = ln_2(x + mlp(x)).
    Pre-LN leaves an un-normalised identity path from the output to the input, so gradients
    reach the first layers unchanged and deep stacks train without learning-rate warmup tricks.
    """

    def __init__(self, config: GPTConfig, *, rng=None, seed=0):
        c = config
        proj_std = 0.02 / math.sqrt(2 * c.n_layer)  # GPT-2: each residual branch is scaled
        # down so that the sum of 2 * n_layer branches keeps the residual stream's variance
        self.norm_position = c.norm_position
        self.ln_1 = make_norm(c)
        if c.position == "learned" and c.kv_heads == c.n_head:  # GPT-2's attention
            self.attn = CausalSelfAttention(c.n_embd, c.n_head, c.dropout, c.bias, rng=rng,
                                            proj_std=proj_std, seed=seed, fused=c.fused)
        else:  # rotary positions and/or grouped-query attention (nn/modern.py)
            self.attn = RotarySelfAttention(
                c.n_embd, c.n_head, c.kv_heads, c.dropout, c.bias, rope=c.position == "rope",
                rope_theta=c.rope_theta, rng=rng, proj_std=proj_std, seed=seed, fused=c.fused)
        self.ln_2 = make_norm(c)
        if c.mlp == "gelu":
            self.mlp = MLP(c.n_embd, c.dropout, c.bias, c.activation, rng=rng,
                           proj_std=proj_std, seed=seed, fused=c.fused, hidden=c.mlp_width)
        else:
            self.mlp = SwiGLU(c.n_embd, c.mlp_width, c.dropout, c.bias, rng=rng,
                              proj_std=proj_std, seed=seed, fused=c.fused)

    def forward(self, x, kv_cache: KVCache | None = None, layer: int = 0,
                return_attention: bool = False):
        # BEGIN ASSIGNMENT 4.3
        if self.norm_position == "pre":
            x = x + self.attn(self.ln_1(x), kv_cache, layer, return_attention)  # (B, T, C)
            x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        else:
            x = self.ln_1(x + self.attn(x, kv_cache, layer, return_attention))  # (B, T, C)
            x = self.ln_2(x + self.mlp(x))  # (B, T, C)
        return x
        # END ASSIGNMENT 4.3

    def extra_repr(self) -> str:
        return f"norm_position={self.norm_position!r}"


class Transformer(Module):
    """The trunk's modules, a container named as in GPT-2 so that state-dict keys read
    transformer.h.0....; GPT.forward runs them."""

    def __init__(self, config: GPTConfig, rng: np.random.Generator, seed: int):
        c = config
        self.wte = Embedding(c.vocab_size, c.n_embd, rng=rng)  # token embedding (V, C)
        if c.position == "learned":  # with RoPE, positions enter inside attention instead
            self.wpe = Embedding(c.block_size, c.n_embd, rng=rng)  # learned positions (block, C)
        self.drop = Dropout(c.dropout, seed=sub_seed(seed, 1))
        self.h = [Block(c, rng=rng, seed=sub_seed(seed, i + 2)) for i in range(c.n_layer)]
        self.ln_f = make_norm(c)


class GPT(Module):
    """GPT(config, seed=0): the same config and seed give the same weights and dropout masks.

    init=False leaves the weights unset (uninitialised memory, not yet backed by the OS), for a
    model whose weights are loaded next: io.pretrained and GPT.from_file build it so, and
    loading GPT-2 then holds its weights once instead of a random set beside the file's.

    forward(idx, targets=None, kv_cache=None, return_attention=False) -> (logits, loss).

    quantize("int8") turns it into an inference-only model with int8 Linear weights;
    `quantized` says which ("int8"), None for the float model.
    """

    quantized: str | None = None  # set by quantize()

    def __init__(self, config: GPTConfig, seed: int = 0, *, init: bool = True):
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT: config must be a GPTConfig, got {type(config).__name__}; "
                            "build one with GPTConfig(vocab_size=..., block_size=..., ...)")
        self.config = config
        # one stream for every weight, in module order
        rng = np.random.default_rng(seed) if init else Uninitialised()
        self.transformer = Transformer(config, rng, seed)
        self.lm_head = None if config.tie_weights else Linear(
            config.n_embd, config.vocab_size, bias=False, rng=rng, fused=config.fused)

    def _check_idx(self, idx) -> np.ndarray:
        ids = idx.data if isinstance(idx, Tensor) else np.asarray(idx)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"GPT: token ids must be integers, got dtype {ids.dtype}; convert "
                            "with .astype(np.int64)")
        if ids.ndim != 2:
            raise ValueError(f"GPT: idx must have shape (B, T), got {ids.shape}; use "
                             "idx[None, :] for a single sequence")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(f"GPT: empty batch {ids.shape}: need B >= 1 and T >= 1")
        return ids  # out-of-range ids: the embedding kernel raises (kernels/reference.check_ids)

    def _check_cache(self, cache: KVCache, B: int, T: int) -> None:
        c, dtype = self.config, self.transformer.wte.weight.dtype
        if cache.n_layer != c.n_layer or cache.batch_size != B or cache.k[0].dtype != dtype:
            raise ValueError(f"GPT: the KV cache ({cache.n_layer} layers, batch {cache.batch_size}"
                             f", {cache.k[0].dtype}) does not fit this model ({c.n_layer} layers,"
                             f" {dtype}) and batch {B}; make it with model.new_kv_cache({B}) "
                             "after any model.to(dtype)")
        if cache.length + T > c.block_size:
            raise ValueError(f"GPT: {cache.length} cached + {T} new positions exceed block size "
                             f"{c.block_size}; crop or reset the cache (generation slides the "
                             "window by resetting and prefilling again)")

    def forward(self, idx, targets=None, kv_cache: KVCache | None = None,
                return_attention: bool = False, last_position_only: bool = False):
        """idx (B, T) int -> (logits (B, T, V), mean cross-entropy or None).

        Targets equal to -1 are left out of the loss. With kv_cache, idx holds only the new
        tokens, whose positions continue after the `kv_cache.length` cached ones; that is
        inference: it runs without recording a graph. return_attention=True keeps every
        layer's attention weights in transformer.h[i].attn.last_attention.
        last_position_only=True returns the logits of the last position alone, (B, 1, V): all
        that generation needs, and for a long prompt the head over the whole vocabulary is a
        large part of the forward (GPT-2 small at 512 tokens: 40 of its 127 GFLOP).
        """
        if kv_cache is not None and is_grad_enabled():
            with no_grad():
                return self.forward(idx, targets, kv_cache, return_attention,
                                    last_position_only)
        if last_position_only and targets is not None:
            raise ValueError("GPT: last_position_only=True gives no loss (the loss needs every "
                             "position's logits); pass targets=None or leave it False")
        ids = self._check_idx(idx)
        B, T = ids.shape
        start = 0
        if kv_cache is not None:
            self._check_cache(kv_cache, B, T)
            start = kv_cache.length
        elif T > self.config.block_size:
            raise ValueError(f"cannot forward a sequence of length {T}, block size is only "
                             f"{self.config.block_size}")
        tr = self.transformer
        x = tr.wte(ids)  # (B, T, C)
        if self.config.position == "learned":
            x = x + tr.wpe(np.arange(start, start + T))  # (B, T, C) + (T, C) -> (B, T, C)
        x = tr.drop(x)  # (B, T, C); RoPE adds positions in each attention layer instead
        for i, block in enumerate(tr.h):
            x = block(x, kv_cache, i, return_attention)  # (B, T, C)
        if last_position_only:
            x = x[:, -1:, :]  # (B, 1, C)
        x = tr.ln_f(x)  # (B, T, C), or (B, 1, C)
        if self.lm_head is None and not self.config.fused:
            logits = x @ tr.wte.weight.T  # (B, T, C) @ (C, V) -> (B, T, V)
        elif self.lm_head is None:
            logits = F.linear(x, tr.wte.weight.T)  # the line above as one op
        else:
            logits = self.lm_head(x)  # (B, T, V)
        if kv_cache is not None:
            kv_cache.advance(T)
        loss = None if targets is None else F.cross_entropy(logits, targets, ignore_index=-1)
        return logits, loss

    def new_kv_cache(self, batch_size: int) -> KVCache:
        """An empty cache for `batch_size` sequences, with room for block_size positions."""
        c = self.config
        return KVCache(c.n_layer, batch_size, c.kv_heads, c.block_size, c.head_size,
                       self.transformer.wte.weight.dtype)  # n_kv_head heads: GQA's saving

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Parameter count. non_embedding=True leaves out the position embeddings, as nanoGPT
        does (the token embedding stays: tied, it is also the head's weight)."""
        n = super().num_parameters()
        wpe = getattr(self.transformer, "wpe", None)  # None with rotary positions
        return n - wpe.weight.size if non_embedding and wpe is not None else n

    def crop_block_size(self, block_size: int) -> None:
        """Shrink the context window, keeping the first block_size learned positions (e.g. to
        fine-tune a long-context model on short text). Build optimizers after this."""
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
                or not 0 < block_size <= self.config.block_size:
            raise ValueError(f"crop_block_size: need an int 0 < block_size <= "
                             f"{self.config.block_size}, got {block_size!r}")
        wpe = getattr(self.transformer, "wpe", None)  # rotary positions have no table to crop
        if wpe is not None:
            wpe.weight.data = np.ascontiguousarray(wpe.weight.data[:block_size])  # (block, C)
            wpe.weight.grad = None
            wpe.weight._bump_version()
            wpe.num_embeddings = int(block_size)
        self.config = dataclasses.replace(self.config, block_size=int(block_size))

    def quantize(self, scheme: str = "int8") -> GPT:
        """Make every Linear weight int8 with one float32 scale per output channel, for
        generation and evaluation; returns the model itself, in eval mode.

        The attention and MLP projections and the head become nn.QuantizedLinear and their
        float32 weights are dropped (kernels/quantized.py has the math). A tied head keeps the
        token embedding float32 for the lookup and gets an int8 copy of its own, `lm_head`.
        Embeddings and norms stay float32 and are all that `parameters()` lists afterwards.
        A quantized model is for inference only: backward raises, and it has no state dict
        to save or export; keep (or reload) the float32 model for those. Only "int8" exists;
        calling it again with "int8" changes nothing.
        """
        check_quantization(scheme)
        if self.quantized is None:
            if self.lm_head is None:  # tied: the table (V, C) is the head's weight (out, in)
                self.lm_head = QuantizedLinear.from_weight(self.transformer.wte.weight.data)
            quantize_linears(self)
            self.quantized = scheme
        return self.eval()

    def _refuse_if_quantized(self, what: str) -> None:
        if self.quantized is not None:
            raise RuntimeError(f"GPT.{what}: this model is quantized ({self.quantized}) for "
                               "inference and its float32 Linear weights are gone; save, "
                               "export or load weights with the float32 model (load it again "
                               "with tinygrad_lm.load or GPT.from_file)")

    def state_dict(self) -> dict[str, np.ndarray]:
        """Module.state_dict, for a float model only (see quantize)."""
        self._refuse_if_quantized("state_dict")
        return super().state_dict()

    def load_state_dict(self, state, strict: bool = True, assign: bool = False):
        """Module.load_state_dict, for a float model only (see quantize)."""
        self._refuse_if_quantized("load_state_dict")
        return super().load_state_dict(state, strict, assign)

    def save(self, path: str) -> None:
        """Weights and config to a .npz (or .safetensors) file; GPT.from_file reads it back."""
        save_weights(self, path)

    @classmethod
    def from_file(cls, path: str) -> GPT:
        """The GPT saved by save(path) / save_weights(model, path), config included, in the
        file's float dtype (a float64 model comes back float64)."""
        arrays, config = read_weights(path)
        if config is None and "__meta__" in arrays:
            raise ValueError(f"{os.fspath(path)!r} is a trainer checkpoint, not a weights file; "
                             "load it with tinygrad_lm.load(path), which returns (model, "
                             "tokenizer)")
        if config is None:
            raise ValueError(f"weights file {os.fspath(path)!r} holds no model config; build the "
                             "GPT yourself and call load_weights(model, path)")
        try:
            model = cls(GPTConfig.from_dict(config), init=False)  # the file sets every weight
        except (TypeError, ValueError) as e:
            raise ValueError(f"weights file {os.fspath(path)!r} holds a bad model config: {e}") \
                from None
        dtypes = {a.dtype for a in arrays.values() if a.dtype.kind == "f"}
        dtype = dtypes.pop() if len(dtypes) == 1 else np.float32  # float64 stays float64
        arrays = {k: a.astype(dtype, copy=False) for k, a in arrays.items()}
        load_into(model, arrays, path, assign=True)  # the file's arrays become the weights
        return model

    def extra_repr(self) -> str:
        int8 = "" if self.quantized is None else f", quantized={self.quantized!r}"
        return f"num_parameters={self.num_parameters()}{int8}"
