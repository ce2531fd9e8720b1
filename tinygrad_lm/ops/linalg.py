"""Matrix multiplication, with NumPy's rules for 1-D operands and broadcast batch axes."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..kernels import active_backend


def check_matmul_shapes(a_shape, b_shape) -> None:
    """Raise a ValueError naming both shapes when `a @ b` cannot be computed (a 0-d operand, or
    inner dimensions that differ), before NumPy's less helpful message.
    """
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: {a_shape} @ {b_shape}: both operands need at least one "
                         "dimension (use * for scalars)")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: {a_shape} @ {b_shape}: inner dimensions {k_a} and {k_b} "
                         "differ; transpose or reshape one operand")
    if len(a_shape) > 2 or len(b_shape) > 2:
        try:
            np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: {a_shape} @ {b_shape}: batch dimensions "
                             f"{a_shape[:-2]} and {b_shape[:-2]} cannot be broadcast") from None


class MatMul(Function):
    """C = A B.  dA = dC B^T,  dB = A^T dC  (over the last two axes, batch axes broadcast).

    A 1-D operand is treated as a row (left) or column (right) vector whose extra axis is
    removed from the result, as in NumPy; backward re-inserts that axis. Two 2-D or batched
    operands go to the kernel matmul (kernels/reference.py).
    """

    @staticmethod
    def forward(ctx, a, b):
        check_matmul_shapes(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        if a.ndim >= 2 and b.ndim >= 2:
            return active_backend().matmul(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 2.5
        a, b = ctx.saved
        if a.ndim == 1 and b.ndim == 1:  # dot product: a scalar output
            return g * b, g * a
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        k = active_backend()
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = k.matmul(g, b2, trans_b=True)  # (..., M, K)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_input_grad[1]:
            gb = k.matmul(a2, g, trans_a=True)  # (..., K, N)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb
        # END ASSIGNMENT 2.5
