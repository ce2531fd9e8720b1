"""The kernel contract: what a backend must provide, one method per kernel.

A backend is a module (reference.py, numba_cpu.py) with a `NAME` and every function below, with
these signatures. Ops reach the active one through `tinygrad_lm.kernels.active_backend()`;
`register_backend` checks a new backend against this list when it is loaded, so a missing kernel
fails there and not at its first call. Arrays may have any leading shape; the reduction axis is
the last. `reference.py` is the executable specification: each kernel's math is written there,
once, and faster backends are tested equal to it in float32 and float64.

What a forward kernel returns for its backward (the attention weights, say) is the backend's own
business: the op that saved it hands it back to the same backend's backward kernel.
"""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Protocol

import numpy as np


class KernelBackend(Protocol):
    """The methods every kernel backend provides. Each kernel's math is written once, in the
    docstring and code of its namesake in reference.py (the specification); a line here adds
    only what the contract itself requires of a backend."""
    NAME: str

    # ---- matmul and the linear layer --------------------------------------------------------
    def matmul(self, a: np.ndarray, b: np.ndarray, trans_a: bool = False,
               trans_b: bool = False):
        """reference.matmul."""

    def linear_forward(self, x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
        """reference.linear_forward."""

    def linear_backward(self, x: np.ndarray, w: np.ndarray, gy: np.ndarray, need_x: bool = True,
                        need_w: bool = True, need_b: bool = True):
        """reference.linear_backward."""

    def linear_gelu_forward(self, x: np.ndarray, w: np.ndarray, b=None,
                            approximate: str = "tanh"):
        """reference.linear_gelu_forward."""

    def linear_gelu_backward(self, x: np.ndarray, w: np.ndarray, h: np.ndarray, gy: np.ndarray,
                             need_x: bool = True, need_w: bool = True, need_b: bool = True,
                             approximate: str = "tanh"):
        """reference.linear_gelu_backward."""

    # ---- int8 weights, for inference (their math: kernels/quantized.py) ----------------------
    def quantize_int8_per_channel(self, w: np.ndarray):
        """reference.quantize_int8_per_channel: bit-for-bit the same q and scale."""

    def int8_linear_forward(self, x: np.ndarray, q: np.ndarray, scale: np.ndarray,
                            b=None) -> np.ndarray:
        """reference.int8_linear_forward; no backward (int8 weights are for inference)."""

    # ---- softmax and the loss ---------------------------------------------------------------
    def softmax_forward(self, x: np.ndarray, scale: float = 1.0,
                        causal: bool = False) -> np.ndarray:
        """reference.softmax_forward."""

    def softmax_backward(self, y: np.ndarray, gy: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """reference.softmax_backward."""

    def log_softmax_forward(self, x: np.ndarray) -> np.ndarray:
        """reference.log_softmax_forward."""

    def log_softmax_backward(self, y: np.ndarray, gy: np.ndarray) -> np.ndarray:
        """reference.log_softmax_backward."""

    def cross_entropy_forward(self, logits: np.ndarray, targets: np.ndarray,
                              ignore_index: int = -100):
        """reference.cross_entropy_forward; bad targets raise as in `embedding_forward`."""

    def cross_entropy_backward(self, logits, targets, lse, ignore_index: int = -100,
                               grad_scale=1.0):
        """reference.cross_entropy_backward."""

    # ---- layer norm and GELU ----------------------------------------------------------------
    def layernorm_forward(self, x: np.ndarray, weight, bias, eps: float = 1e-5):
        """reference.layernorm_forward."""

    def layernorm_backward(self, gy: np.ndarray, x: np.ndarray, weight, mean, rstd):
        """reference.layernorm_backward."""

    def gelu_forward(self, x: np.ndarray, approximate: str = "tanh") -> np.ndarray:
        """reference.gelu_forward."""

    def gelu_backward(self, x: np.ndarray, gy: np.ndarray,
                      approximate: str = "tanh") -> np.ndarray:
        """reference.gelu_backward."""

    # ---- attention ----------------------------------------------------------------------------
    def attention_forward(self, qkv: np.ndarray, n_head: int):
        """reference.attention_forward; the weights it returns may be in any form of this
        backend's own (the op hands them back to this backend's attention_backward)."""

    def attention_backward(self, qkv: np.ndarray, att, gy: np.ndarray, n_head: int):
        """reference.attention_backward, given what this backend's attention_forward saved."""

    def attention_tiled_forward(self, qkv: np.ndarray, n_head: int, tile: int = 64):
        """reference.attention_tiled_forward: no (T, T) array may exist."""

    def attention_tiled_backward(self, qkv: np.ndarray, y: np.ndarray, lse: np.ndarray,
                                 gy: np.ndarray, n_head: int, tile: int = 64):
        """reference.attention_tiled_backward: no (T, T) array may exist."""

    # ---- embedding ----------------------------------------------------------------------------
    def embedding_forward(self, weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """reference.embedding_forward, with its checks: IndexError (from
        `reference.check_ids`) for an id outside [0, num_embeddings), TypeError for non-integer
        ids; the ops do not check."""

    def embedding_backward(self, gy: np.ndarray, ids: np.ndarray,
                           num_embeddings: int) -> np.ndarray:
        """reference.embedding_backward."""

    # ---- optimizer ----------------------------------------------------------------------------
    def sum_squares(self, x: np.ndarray) -> float:
        """reference.sum_squares."""

    def sum_squares_many(self, arrays) -> float:
        """reference.sum_squares_many."""

    def adamw_update_(self, p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
        """reference.adamw_update_: p, m and v change in place."""

    def adamw_update_many_(self, params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2,
                           eps, weight_decay, step):
        """reference.adamw_update_many_: each setting is a sequence, one entry per tensor."""


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
