"""The kernel contract: what a backend must provide, one method per kernel, with its math.

A backend is a module (reference.py, numba_cpu.py) with a `NAME` and every function below, with
these signatures. Ops reach the active one through `tinygrad_lm.kernels.active_backend()`;
`register_backend` checks a new backend against this list when it is loaded, so a missing kernel
fails there and not at its first call. Arrays may have any leading shape; the reduction axis is
the last. `reference.py` is the executable specification of every line here; faster backends are
tested equal to it in float32 and float64.

What a forward kernel returns for its backward (the attention weights, say) is the backend's own
business: the op that saved it hands it back to the same backend's backward kernel.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Protocol

import numpy as np


class KernelBackend(Protocol):
    """The methods every kernel backend provides, each with its math; see the module docstring."""
    NAME: str

    # ---- matmul and the linear layer --------------------------------------------------------
    def matmul(self, a: np.ndarray, b: np.ndarray, trans_a: bool = False,
               trans_b: bool = False):
        """op(a) @ op(b) over the last two axes, batch axes broadcast; op(a) = a^T when asked."""

    def linear_forward(self, x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
        """y = x w + b for rows x (N, in), w (in, out), b (out,) or None."""

    def linear_backward(self, x: np.ndarray, w: np.ndarray, gy: np.ndarray, need_x: bool = True,
                        need_w: bool = True, need_b: bool = True):
        """(dx = gy w^T, dw = x^T gy, db = sum of gy over rows), each None when not needed."""

    def linear_gelu_forward(self, x: np.ndarray, w: np.ndarray, b=None,
                            approximate: str = "tanh"):
        """(y = gelu(h), h = x w + b): backward needs the pre-activation h."""

    def linear_gelu_backward(self, x: np.ndarray, w: np.ndarray, h: np.ndarray, gy: np.ndarray,
                             need_x: bool = True, need_w: bool = True, need_b: bool = True,
                             approximate: str = "tanh"):
        """(dx, dw, db) of y = gelu(x w + b): the linear backward of dh = gy * gelu'(h)."""

    # ---- softmax and the loss ---------------------------------------------------------------
    def softmax_forward(self, x: np.ndarray, scale: float = 1.0,
                        causal: bool = False) -> np.ndarray:
        """y = softmax(scale * x) = exp(scale (x - max x)) / sum(...), over the last axis; with
        `causal`, x is (..., Tq, Tk) scores and keys j > i + Tk - Tq get probability 0."""

    def softmax_backward(self, y: np.ndarray, gy: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """dx = scale * y * (gy - sum(gy * y)) over the last axis."""

    def log_softmax_forward(self, x: np.ndarray) -> np.ndarray:
        """y = x - logsumexp(x) over the last axis, logsumexp = max + log(sum(exp(x - max)))."""

    def log_softmax_backward(self, y: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """dx = gy - exp(y) * sum(gy) over the last axis."""

    def cross_entropy_forward(self, logits: np.ndarray, targets: np.ndarray,
                              ignore_index: int = -100):
        """(loss, lse) for logits (N, V), int targets (N,): loss = mean over counted rows of
        lse_n - logits[n, target_n], lse = logsumexp of each row; rows whose target is
        ignore_index are not counted. Bad targets raise as in `embedding_forward`."""

    def cross_entropy_backward(self, logits, targets, lse, ignore_index: int = -100,
                               grad_scale=1.0):
        """dlogits = grad_scale * (softmax(logits) - onehot(target)) / count, zero for ignored
        rows."""

    # ---- layer norm and GELU ----------------------------------------------------------------
    def layernorm_forward(self, x: np.ndarray, weight, bias, eps: float = 1e-5):
        """(y, mean, rstd): xhat = (x - mean) * rstd with rstd = 1 / sqrt(var + eps) over the
        last axis, y = xhat * weight + bias (either may be None)."""

    def layernorm_backward(self, gy: np.ndarray, x: np.ndarray, weight, mean, rstd):
        """(dx, dweight, dbias) with g = gy * weight:
        dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), dweight = sum of gy * xhat over
        rows (None without weight), dbias = sum of gy over rows."""

    def gelu_forward(self, x: np.ndarray, approximate: str = "tanh") -> np.ndarray:
        """gelu(x) = x Phi(x); "tanh": Phi ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2,
        "none": Phi(x) = (1 + erf(x / sqrt 2)) / 2."""

    def gelu_backward(self, x: np.ndarray, gy: np.ndarray,
                      approximate: str = "tanh") -> np.ndarray:
        """dx = gy * gelu'(x)."""

    # ---- attention ----------------------------------------------------------------------------
    def attention_forward(self, qkv: np.ndarray, n_head: int):
        """(y, saved) for q|k|v = qkv (B, T, 3C), heads of hs = C / n_head:
        att = softmax(q k^T / sqrt(hs), keys j > i removed), y = att v merged to (B, T, C).
        `saved` (att, in whatever form this backend keeps it) goes to attention_backward."""

    def attention_backward(self, qkv: np.ndarray, att, gy: np.ndarray, n_head: int):
        """d qkv (B, T, 3C): dv = att^T dy, ds = softmax backward of dy v^T (with the scale),
        dq = ds k, dk = ds^T q."""

    def attention_tiled_forward(self, qkv: np.ndarray, n_head: int, tile: int = 64):
        """(y, lse): the same y, computed over (tile, tile) blocks of queries and keys with an
        online softmax, never holding a (T, T) array; lse (B, nh, T) is each query's
        log sum_j exp(q_i k_j / sqrt(hs)) over the keys it sees."""

    def attention_tiled_backward(self, qkv: np.ndarray, y: np.ndarray, lse: np.ndarray,
                                 gy: np.ndarray, n_head: int, tile: int = 64):
        """d qkv (B, T, 3C) from y and lse only: att = exp(s - lse) recomputed block by block,
        ds = att (dy v^T - dy . y) / sqrt(hs), then dq, dk, dv as attention_backward."""

    # ---- embedding ----------------------------------------------------------------------------
    def embedding_forward(self, weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """out[..., :] = weight[ids[...], :]. IndexError (from `reference.check_ids`) for an
        id outside [0, num_embeddings), TypeError for non-integer ids: the ops do not check."""

    def embedding_backward(self, gy: np.ndarray, ids: np.ndarray,
                           num_embeddings: int) -> np.ndarray:
        """dweight (num_embeddings, C): scatter-add, a row used k times gets k gradients."""

    # ---- optimizer ----------------------------------------------------------------------------
    def sum_squares(self, x: np.ndarray) -> float:
        """sum(x^2) over every element, accumulated in float64 (a gradient's norm)."""

    def sum_squares_many(self, arrays) -> float:
        """sum(x^2) over every element of every array in the list, in float64 (the squared
        global norm of a model's gradients)."""

    def adamw_update_(self, p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
        """In place: p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
        p -= lr mhat / (sqrt(vhat) + eps), mhat = m / (1 - b1^step), vhat = v / (1 - b2^step)."""

    def adamw_update_many_(self, params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2,
                           eps, weight_decay, step):
        """adamw_update_ on every (params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]), with
        lr[i], beta1[i], ... (each setting a sequence, one entry per tensor): a whole model's
        update in one call."""


KERNELS = tuple(name for name, f in vars(KernelBackend).items()
                if inspect.isfunction(f) and not name.startswith("_"))


def kernel_signature(name: str) -> inspect.Signature:
    """The contract's signature of a kernel, without `self` (as a module function has it)."""
    sig = inspect.signature(getattr(KernelBackend, name))
    return sig.replace(parameters=list(sig.parameters.values())[1:])


def _parameters(sig: inspect.Signature) -> list:
    """What a caller relies on: names, kinds and defaults (annotations are documentation)."""
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def check_backend(module: ModuleType) -> None:
    """Raise TypeError naming every kernel that `module` lacks or declares differently."""
    problems = []
    if not isinstance(getattr(module, "NAME", None), str):
        problems.append("NAME (a str)")
    for name in KERNELS:
        fn = getattr(module, name, None)
        if not callable(fn):
            problems.append(f"{name} (missing)")
        elif _parameters(inspect.signature(fn)) != _parameters(kernel_signature(name)):
            problems.append(f"{name}{inspect.signature(fn)} (the contract says "
                            f"{name}{kernel_signature(name)})")
    if problems:
        raise TypeError(f"kernel backend {module.__name__} does not follow the contract in "
                        f"kernels/contract.py: " + "; ".join(problems))
