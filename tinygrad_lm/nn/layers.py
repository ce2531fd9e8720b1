"""Basic layers. Weight layout: Linear stores W as (in, out) so that y = x @ W + b reads like the
math; PyTorch's nn.Linear stores (out, in) — interop.py transposes when converting."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, Parameter


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator | None = None, std: float = 0.02):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.weight = Parameter(rng.normal(0.0, std, (in_features, out_features))
                                .astype(np.float32))  # (in, out)
        self.bias = Parameter(np.zeros(out_features, np.float32)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)  # (..., in) -> (..., out)


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, *,
                 rng: np.random.Generator | None = None, std: float = 0.02):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.weight = Parameter(rng.normal(0.0, std, (num_embeddings, embedding_dim))
                                .astype(np.float32))  # (num, dim)

    def forward(self, ids):
        return F.embedding(ids, self.weight)  # (...) -> (..., dim)


class LayerNorm(Module):
    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True):
        self.eps = eps
        self.weight = Parameter(np.ones(dim, np.float32))
        self.bias = Parameter(np.zeros(dim, np.float32)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight, self.bias, self.eps)


class Dropout(Module):
    """Inverted dropout with the module's own seeded Generator (checkpointed by the trainer so a
    resumed run draws the same masks); identity in eval() or when p == 0."""

    def __init__(self, p: float = 0.0, seed: int = 0):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training, rng=self.rng)


class GELU(Module):
    def __init__(self, approximate: str = "tanh"):
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)
