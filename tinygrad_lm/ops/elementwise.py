"""Elementwise ops. Inputs broadcast as in NumPy; the engine sums gradients back to each input's
shape, so every backward below is just the local derivative times the upstream gradient."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


def broadcast_shape(op: str, *shapes) -> tuple[int, ...]:
    """The broadcast result shape, or an error that names the op and every shape."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together (trailing "
                         "dimensions must be equal or 1); reshape one of them") from None


class Add(Function):
    """d(a+b)/da = 1, d(a+b)/db = 1."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("add", a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """d(a-b)/da = 1, d(a-b)/db = -1."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("sub", a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    """d(ab)/da = b, d(ab)/db = a."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("mul", a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 2.1
        a, b = ctx.saved
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)
        # END ASSIGNMENT 2.1


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b^2."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("div", a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 2.2
        a, b = ctx.saved
        return (g / b if ctx.needs_input_grad[0] else None,
                -g * a / (b * b) if ctx.needs_input_grad[1] else None)
        # END ASSIGNMENT 2.2


class Neg(Function):
    """d(-a)/da = -1."""
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log(a) (real for a > 0).

    Two limits are taken where the formulas meet 0 * inf, as PyTorch does: where b = 0 the
    output is the constant 1, so d/da = 0 (not 0 * a^-1, NaN at a = 0); where a = 0 and b >= 0,
    a^b is 0 (or 1) on a neighbourhood of b, so d/db = 0 (not 0 * log 0)."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("pow", a.shape, b.shape)
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved
        ga = gb = None
        if ctx.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * np.where(b == 0, 0.0, b * np.power(a, b - 1))
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * np.where((a == 0) & (b >= 0), 0.0, y * np.log(a))
        return ga, gb


class Exp(Function):
    """d(e^a)/da = e^a: the output is saved, not recomputed."""

    @staticmethod
    def forward(ctx, a):
        y = np.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y


class Log(Function):
    """d(log a)/da = 1/a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g / a


class Sqrt(Function):
    """d(sqrt a)/da = 1 / (2 sqrt a)."""

    @staticmethod
    def forward(ctx, a):
        y = np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g / (2.0 * y)


class Abs(Function):
    """|a|; d/da = sign(a), which is 0 at a = 0 (PyTorch's choice of subgradient)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g * np.sign(a)


class Sin(Function):
    """d(sin a)/da = cos a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return g * np.cos(a)


class Cos(Function):
    """d(cos a)/da = -sin a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return -g * np.sin(a)


class _Step(Function):
    """A piecewise-constant function: its derivative is 0 wherever it exists (and taken as 0
    at the jumps, as PyTorch does), so no gradient flows through it."""

    fn = staticmethod(np.sign)

    @classmethod
    def forward(cls, ctx, a):
        return cls.fn(a)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g)


class Sign(_Step):
    """sign(a) in {-1, 0, 1}; gradient 0."""
    fn = staticmethod(np.sign)


class Floor(_Step):
    """The largest integer <= a; gradient 0."""
    fn = staticmethod(np.floor)


class Ceil(_Step):
    """The smallest integer >= a; gradient 0."""
    fn = staticmethod(np.ceil)


class Round(_Step):
    """The nearest integer, halves to even (as NumPy and PyTorch); gradient 0."""
    fn = staticmethod(np.round)


class Maximum(Function):
    """The elementwise larger of a and b; the gradient goes to the larger one, and is split
    in half between them where they are equal (as PyTorch), so maximum(x, x) has gradient 1."""

    @staticmethod
    def forward(ctx, a, b):
        broadcast_shape("maximum", a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        share = (a > b) + 0.5 * (a == b)  # a's share of the gradient; b gets the rest
        return (g * share if ctx.needs_input_grad[0] else None,
                g * (1.0 - share) if ctx.needs_input_grad[1] else None)


class Where(Function):
    """where(cond, a, b): the gradient goes to a where cond holds, to b elsewhere."""

    @staticmethod
    def forward(ctx, cond, a, b):
        broadcast_shape("where", cond.shape, a.shape, b.shape)
        cond = cond.astype(bool, copy=False)
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved
        zero = np.zeros((), dtype=g.dtype)
        return (None,
                np.where(cond, g, zero) if ctx.needs_input_grad[1] else None,
                np.where(cond, zero, g) if ctx.needs_input_grad[2] else None)


class MaskedFill(Function):
    """Positions where mask is True take `value`; their gradient is 0, the rest pass through."""

    @staticmethod
    def forward(ctx, a, mask, value=0.0):
        broadcast_shape("masked_fill", a.shape, mask.shape)
        mask = mask.astype(bool, copy=False)
        ctx.save_for_backward(mask)
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return np.where(mask, np.zeros((), dtype=g.dtype), g), None


class Cast(Function):
    """Change dtype; the gradient is cast back to the input's dtype by the engine."""

    @staticmethod
    def forward(ctx, a, dtype=np.float32):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g
