"""GPTConfig: the shape of a GPT and its switches (GPT-2's block by default, Llama's with
LLAMA), each field with its default, meaning and check in one place (`option`, options.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .layers import GELU, ReLU
from .modern import llama_hidden_size
from .options import (
    REQUIRED,
    ConfigError,
    above_one,
    check_fields,
    non_negative,
    one_of,
    option,
    positive,
    probability_below_one,
)

ACTIVATIONS = {"gelu_tanh": lambda: GELU("tanh"), "gelu": lambda: GELU("none"), "relu": ReLU}
NORM_POSITIONS = ("pre", "post")
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rope")
MLPS = ("gelu", "swiglu")
# The modern decoder block (Llama, Mistral, SmolLM, Qwen): RMSNorm, rotary positions, the SwiGLU
# MLP and no biases. GPTConfig(**LLAMA, ...) builds one; grouped-query attention (n_kv_head) and
# an untied head are chosen per model size.
LLAMA = dict(norm="rmsnorm", position="rope", mlp="swiglu", bias=False)


@dataclass
class GPTConfig:
    """The shape of a GPT: vocabulary, context length, depth, width and heads, and its switches.

    Each field declares its type, default, meaning and check together (`option`, nn/options.py)
    and is checked when the config is made, with the rules that tie fields together (n_head
    divides n_embd, n_kv_head divides n_head, an even head size for rotary positions), so a bad
    config fails here and not deep inside a forward. Each head gets hs = n_embd // n_head
    channels.

    The defaults are GPT-2's block; `GPTConfig(**LLAMA, ...)` is Llama's (nn/modern.py). The
    head is tied to the token embedding by `tie_weights` (Hugging Face's tie_word_embeddings).
    """
    vocab_size: int = option(REQUIRED, "tokens in the vocabulary (training sets it from the "
                             "tokenizer)", positive)
    block_size: int = option(REQUIRED, "context length: the longest sequence the model sees",
                             positive)
    n_layer: int = option(REQUIRED, "number of Transformer blocks", positive)
    n_head: int = option(REQUIRED, "attention heads per block (must divide n_embd)", positive)
    n_embd: int = option(REQUIRED, "width of the residual stream (channels C)", positive)
    dropout: float = option(0.0, "dropout probability in [0, 1) (0 = off)",
                            probability_below_one)
    bias: bool = option(True, "biases in Linear and LayerNorm layers")
    tie_weights: bool = option(True, "the output head reuses the token embedding (GPT-2)")
    norm_position: str = option("pre", "'pre' (GPT-2) or 'post' (the original Transformer) "
                                "LayerNorm", one_of(*NORM_POSITIONS))
    activation: str = option("gelu_tanh", "MLP nonlinearity: gelu_tanh, gelu (exact) or relu",
                             one_of(*ACTIVATIONS))
    # STUDENT COPY 4 INSTEAD: fused: bool = False  # your spelled-out code runs; True: fused ops
    fused: bool = True  # run the fused ops (ops/fused.py); False: every op spelled out
    # the modern decoder's switches (nn/modern.py); the defaults are GPT-2's
    norm: str = option("layernorm", "'layernorm' (GPT-2) or 'rmsnorm' (Llama: x / rms(x) * "
                       "weight, no mean, no bias)", one_of(*NORMS))
    norm_eps: float = option(1e-5, "added to the variance (LayerNorm) or the mean square "
                             "(RMSNorm)", positive)
    position: str = option("learned", "'learned' position embeddings (GPT-2) or 'rope' "
                           "(rotary)", one_of(*POSITIONS))
    rope_theta: float = option(10000.0, "RoPE's frequency base (Llama 2: 1e4, Llama 3: 5e5)",
                               above_one)
    mlp: str = option("gelu", "'gelu': GPT-2's MLP (with `activation`); 'swiglu': Llama's "
                      "gated MLP", one_of(*MLPS))
    mlp_hidden: int = option(0, "the MLP's width; 0: 4C for gelu, Llama's rounded 8C/3 for "
                             "swiglu", non_negative)
    n_kv_head: int = option(0, "key/value heads (grouped-query attention); 0: n_head, "
                            "1: multi-query", non_negative)

    def __post_init__(self):
        check_fields(self)
        if self.n_embd % self.n_head:
            raise ConfigError(f"GPTConfig: n_embd={self.n_embd} is not divisible by "
                              f"n_head={self.n_head}; each head gets n_embd // n_head channels")
        self._check_modern()

    def _check_modern(self) -> None:
        """The rules that tie the modern switches to the sizes."""
        if self.n_head % self.kv_heads:
            raise ConfigError(f"GPTConfig: n_kv_head={self.n_kv_head} must divide n_head="
                              f"{self.n_head}; each key/value head serves n_head // n_kv_head "
                              "query heads (1: multi-query attention)")
        if self.position == "rope" and self.head_size % 2:
            raise ConfigError(f"GPTConfig: rotary positions turn pairs of channels, so the head "
                              f"size n_embd // n_head = {self.head_size} must be even")

    @property
    def head_size(self) -> int:
        """Channels per attention head, n_embd // n_head."""
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """Key/value heads: n_kv_head, or n_head when it is 0."""
        return self.n_kv_head or self.n_head

    @property
    def mlp_width(self) -> int:
        """The MLP's hidden width: mlp_hidden, or 4C (gelu) or Llama's 8C/3 rounding (swiglu)."""
        if self.mlp_hidden:
            return self.mlp_hidden
        return 4 * self.n_embd if self.mlp == "gelu" else llama_hidden_size(self.n_embd)

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-safe), as saved in checkpoints."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        """A config from `to_dict()`'s output; an unknown field is an error that names the
        valid ones.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(f"GPTConfig.from_dict: unknown fields {unknown}; the fields are "
                             f"{names}")
        return cls(**d)
