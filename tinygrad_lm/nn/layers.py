"""Basic layers: Linear, Embedding, LayerNorm, Dropout, GELU, ReLU.

Weight layout: Linear stores W as (in, out), so that y = x @ W + b reads like the math and like
GPT-2's original Conv1D. PyTorch's nn.Linear stores (out, in) and computes x @ W^T + b;
interop.py transposes when converting.

Initialisation follows GPT-2: weights ~ N(0, std^2) with std = 0.02, biases 0, LayerNorm
weight 1 and bias 0. The random numbers come from `rng`, a numpy Generator; the GPT passes one
Generator to every layer in turn, so one seed fixes the whole model. A layer built alone gets a
Generator seeded with 0: reproducible, but two such layers start identical, so pass a shared
`rng` when building several by hand.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .module import Module, Parameter


def sub_seed(seed, k: int) -> list[int]:
    """A seed for the k-th random stream under `seed` (an int or a list of ints), for
    np.random.default_rng. k starts at 1: NumPy treats [s, 0] as the same seed as s."""
    if k < 1:
        raise ValueError(f"sub_seed: k must be >= 1, got {k}")
    return [*np.atleast_1d(seed).tolist(), k]


class Uninitialised:
    """Passed as `rng`, it leaves the weights unset (np.empty), for a model whose weights are
    read from a file next (GPT(config, init=False)). The OS backs np.empty's pages only once
    they are written, so such a model takes almost no memory until its weights arrive."""


def _normal(rng, std: float, shape) -> np.ndarray:
    if isinstance(rng, Uninitialised):
        return np.empty(shape, np.float32)
    rng = rng if rng is not None else np.random.default_rng(0)
    return rng.normal(0.0, std, shape).astype(np.float32)


class Linear(Module):
    """y = x @ weight + bias, weight of shape (in_features, out_features), over the last axis.

    fused (the default): the same math as one op, `F.linear`, which flattens the leading axes
    into rows and adds the bias while each row is in cache; off, a matmul and an add."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator | None = None, std: float = 0.02, fused: bool = True):
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(_normal(rng, std, (in_features, out_features)))  # (in, out)
        self.bias = Parameter(np.zeros(out_features, np.float32)) if bias else None  # (out,)
        self.fused = fused

    def forward(self, x):
        if not self.fused:
            y = x @ self.weight  # (..., in) @ (in, out) -> (..., out)
            return y if self.bias is None else y + self.bias  # bias broadcast over rows
        return F.linear(x, self.weight, self.bias)  # the two lines above as one op

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


def is_stock(module: Module, cls: type) -> bool:
    """Whether `module` computes exactly what layer `cls` does (a `cls` whose forward is not
    overridden). A fused op knows only the stock layers' math; anything else must run itself."""
    return isinstance(module, cls) and type(module).forward is cls.forward


class Embedding(Module):
    """A lookup table: row `id` of weight (num_embeddings, embedding_dim) for every id."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *,
                 rng: np.random.Generator | None = None, std: float = 0.02):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(_normal(rng, std, (num_embeddings, embedding_dim)))  # (num, dim)

    def forward(self, ids):
        return F.embedding(ids, self.weight)  # (...) int -> (..., dim)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis. eps keeps the division
    finite for a constant row; bias=False drops the shift (nanoGPT's option)."""

    def __init__(self, dim: int, eps: float = 1e-5, bias: bool = True):
        self.dim, self.eps = dim, eps
        self.weight = Parameter(np.ones(dim, np.float32))  # (dim,)
        self.bias = Parameter(np.zeros(dim, np.float32)) if bias else None  # (dim,)

    def forward(self, x):
        return F.layer_norm(x, self.weight, self.bias, self.eps)  # (..., dim)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, bias={self.bias is not None}"


class Dropout(Module):
    """Inverted dropout: zero each element with probability p and scale survivors by 1/(1-p).

    The masks come from the module's own Generator, seeded at construction (the GPT derives one
    seed per dropout layer from its own), so two runs with the same seed drop the same units;
    the trainer checkpoints these Generators so a resumed run does too. Identity in eval() or
    when p == 0, and then it draws no random numbers at all.
    """

    def __init__(self, p: float = 0.0, seed: int | list[int] = 0):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        return F.dropout(x, self.p, training=self.training, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GELU(Module):
    """x * Phi(x). approximate="tanh" is GPT-2's form,
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); "none" uses the exact erf."""

    def __init__(self, approximate: str = "tanh"):
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class ReLU(Module):
    """relu(x) = max(x, 0), elementwise; any shape in, the same shape out."""
    def forward(self, x):
        return F.relu(x)
