"""RMSNorm, the normalisation of Llama and most decoders after GPT-2.

    y = x / sqrt(mean(x^2) + eps) * weight          over the last axis, C channels

Unlike LayerNorm it neither subtracts the mean nor adds a bias: only the scale of each row is
normalised. That is one reduction instead of two, and it works as well in practice (Zhang and
Sennrich, 2019): what keeps a deep residual stream trainable is the control of its size.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function


class RMSNorm(Function):
    """y = x * r * w with r = 1 / sqrt(mean(x^2) + eps) over the last axis; w optional.

    Backward, with x_hat = x r and g_hat = g * w: as dr/dx_j = -r^3 x_j / C,
        dL/dx = r (g_hat - x_hat * mean(g_hat * x_hat)),     dL/dw = sum over rows of g * x_hat.
    """

    @staticmethod
    def forward(ctx, x, weight=None, eps=1e-5):
        c = x.shape[-1] if x.ndim else 0
        if x.ndim == 0 or c == 0:
            raise ValueError(f"rms_norm: input {x.shape} needs a last axis of channels")
        if weight is not None and weight.shape != (c,):
            raise ValueError(f"rms_norm: weight of shape {weight.shape} does not match "
                             f"normalized size {c} of input {x.shape}")
        if not eps > 0:
            raise ValueError(f"rms_norm: eps must be > 0 (it keeps an all-zero row finite), "
                             f"got {eps}")
        # BEGIN ASSIGNMENT 6.1
        rstd = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + np.asarray(eps, x.dtype))
        x_hat = x * rstd  # (..., C), each row of mean square 1
        ctx.save_for_backward(x_hat, rstd, weight)
        return x_hat if weight is None else x_hat * weight
        # END ASSIGNMENT 6.1

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 6.1
        x_hat, rstd, weight = ctx.saved
        g_hat = g if weight is None else g * weight  # (..., C)
        dx = rstd * (g_hat - x_hat * np.mean(g_hat * x_hat, axis=-1, keepdims=True))
        needs = ctx.needs_input_grad
        dw = None
        if len(needs) > 1 and needs[1]:
            dw = (g * x_hat).reshape(-1, x_hat.shape[-1]).sum(axis=0)  # (C,)
        return (dx if needs[0] else None), dw
        # END ASSIGNMENT 6.1
