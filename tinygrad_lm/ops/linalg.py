"""Matrix multiplication, with NumPy's rules for 1-D operands and broadcast batch axes, and
einsum, the contractions named by letters."""

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


def parse_einsum(equation: str, shapes) -> tuple[list[str], str]:
    """'bij,bjk->bik' as (['bij', 'bjk'], 'bik'), checked against the operands' shapes. Without
    '->' the output is every letter used once, in alphabetical order (NumPy's and PyTorch's
    rule). Ellipses are not supported: write the batch axes out."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    letters = "".join(ins)
    if "." in eq or not all(s.isalpha() for s in ins + ([out] if out else [])):
        raise ValueError(f"einsum: {equation!r}: use letters only (no '...'): name every axis")
    if not arrow:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {equation!r} names {len(ins)} operands, got {len(shapes)}")
    sizes: dict[str, int] = {}
    for sub, shape in zip(ins, shapes):
        if len(sub) != len(shape):
            raise ValueError(f"einsum: {equation!r}: operand {sub!r} has {len(sub)} letters "
                             f"but shape {tuple(shape)}")
        for c, n in zip(sub, shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: {equation!r}: axis {c!r} is {sizes[c]} in one place "
                                 f"and {n} in another (shapes {[tuple(s) for s in shapes]})")
    if len(set(out)) != len(out) or not set(out) <= set(letters):
        raise ValueError(f"einsum: {equation!r}: each output letter must appear once, and in "
                         "an input")
    return ins, out


class Einsum(Function):
    """out = einsum(equation, *operands): multiply the operands' elements that share letters and
    sum over the letters missing from the output (matmul 'ij,jk->ik', batched attention scores
    'bhtd,bhsd->bhts', transposes 'ij->ji', traces 'ii->').

    Backward for operand k is another einsum: the output's gradient times every other operand,
    summed to k's letters, dL/dA_k = einsum(out, others -> k). A letter of k found nowhere else
    was summed away alone, so its gradient is copied along it (broadcast); a letter repeated in
    k ('ii') read a diagonal, so the gradient is written back onto that diagonal."""

    @staticmethod
    def forward(ctx, *operands, equation=""):
        ins, out = parse_einsum(equation, [a.shape for a in operands])
        ctx.save_for_backward(*operands)
        ctx.ins, ctx.out = ins, out
        return np.asarray(np.einsum(f"{','.join(ins)}->{out}", *operands))

    @staticmethod
    def backward(ctx, g):
        operands, grads = ctx.saved, []
        for k, (sub, a) in enumerate(zip(ctx.ins, operands)):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [(s, o) for i, (s, o) in enumerate(zip(ctx.ins, operands)) if i != k]
            unique = "".join(dict.fromkeys(sub))  # k's letters, each once, in order
            seen = set(ctx.out).union(*(s for s, _ in others))
            kept = "".join(c for c in unique if c in seen)
            subs = ",".join([ctx.out] + [s for s, _ in others])
            part = np.einsum(f"{subs}->{kept}", g, *(o for _, o in others))
            # letters summed away in k alone: insert their axes and copy the gradient along them
            sizes = dict(zip(sub, a.shape))
            part = part.reshape([sizes[c] if c in kept else 1 for c in unique])
            part = np.broadcast_to(part, [sizes[c] for c in unique])
            if unique == sub:
                grads.append(part)
                continue
            full = np.zeros(a.shape, dtype=g.dtype)
            np.einsum(f"{sub}->{unique}", full)[...] = part  # a writeable view of the diagonal
            grads.append(full)
        return tuple(grads)
