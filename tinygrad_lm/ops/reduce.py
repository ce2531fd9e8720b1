"""Reductions over axes. Backward broadcasts the upstream gradient back over the reduced axes."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """`axis` as a sorted tuple of non-negative ints (None means every axis)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        # a 0-d tensor accepts axis 0 and -1 (as PyTorch): it reduces over nothing
        if not -max(ndim, 1) <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def one_axis(op: str, axis, ndim: int) -> int | None:
    """A single axis as a non-negative int (None for a 0-d tensor, which has no axis to run
    along), for ops such as cumsum that take one axis, not a tuple."""
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be one int, got {axis!r}")
    axes = normalize_axes(op, axis, ndim)
    return axes[0] if axes else None


def expand_to(g: np.ndarray, shape, axes, keepdims: bool) -> np.ndarray:
    """Put back the reduced axes of `g` (as size 1) and broadcast it to `shape`."""
    # BEGIN ASSIGNMENT 2.3
    if not keepdims:
        g = np.expand_dims(g, axes) if axes else g
    return np.broadcast_to(g, shape)
    # END ASSIGNMENT 2.3


class Sum(Function):
    """d(sum x)/dx_i = 1: every input element receives the upstream gradient."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes("sum", axis, a.ndim)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return np.asarray(a.sum(axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        return expand_to(g, ctx.shape, ctx.axes, ctx.keepdims)


class Mean(Function):
    """d(mean x)/dx_i = 1/n with n the number of elements averaged."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes("mean", axis, a.ndim)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        ctx.count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        if ctx.count == 0:
            raise ValueError(f"mean: cannot average over an empty axis (shape {a.shape})")
        return np.asarray(a.mean(axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        return expand_to(g / ctx.count, ctx.shape, ctx.axes, ctx.keepdims)


class _Extreme(Function):
    """max/min. Ties share the gradient equally (each of k tied maxima gets g/k), which keeps the
    gradient of max(x, x) the same as that of x."""

    pick = staticmethod(np.max)
    name = "max"

    @classmethod
    def forward(cls, ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(cls.name, axis, a.ndim)
        if a.size == 0:
            raise ValueError(f"{cls.name}: cannot reduce an empty tensor of shape {a.shape}")
        y = np.asarray(cls.pick(a, axis=axes, keepdims=True))
        ctx.save_for_backward(a, y)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return y if keepdims else np.asarray(np.squeeze(y, axis=axes))

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 2.4
        a, y = ctx.saved
        hit = (a == y)
        count = hit.sum(axis=ctx.axes, keepdims=True)
        g = expand_to(g, ctx.shape, ctx.axes, ctx.keepdims)
        return g * hit / count
        # END ASSIGNMENT 2.4


class Max(_Extreme):
    """max over axes; the gradient goes to the maximal entries, split equally among ties."""
    pick = staticmethod(np.max)
    name = "max"


class Min(_Extreme):
    """min over axes; the gradient goes to the minimal entries, split equally among ties."""
    pick = staticmethod(np.min)
    name = "min"


class Var(Function):
    """var = sum((x - mean)^2) / (n - correction); d/dx_i = 2 (x_i - mean) / (n - correction).

    The default correction=1 (the unbiased estimate) is PyTorch's; NumPy's `var` uses 0."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, correction=1):
        axes = normalize_axes("var", axis, a.ndim)
        n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        if n - correction <= 0:
            raise ValueError(f"var: {n} elements with correction={correction} leave no degrees "
                             "of freedom")
        centered = a - a.mean(axis=axes, keepdims=True)
        ctx.save_for_backward(centered)
        ctx.shape, ctx.axes, ctx.keepdims, ctx.dof = a.shape, axes, keepdims, n - correction
        return np.asarray((centered * centered).sum(axis=axes, keepdims=keepdims) / ctx.dof)

    @staticmethod
    def backward(ctx, g):
        (centered,) = ctx.saved
        g = expand_to(g, ctx.shape, ctx.axes, ctx.keepdims)
        return g * (2.0 / ctx.dof) * centered


class Std(Var):
    """std = sqrt(var); d/dx_i = (x_i - mean) / ((n - correction) std).

    Where std = 0 (all values equal) the gradient is 0, PyTorch's limit, not 0/0; this is why
    std is its own op rather than sqrt(var), whose backward would divide by that 0."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, correction=1):
        y = np.sqrt(Var.forward(ctx, a, axis=axis, keepdims=keepdims, correction=correction))
        ctx.std = y
        return y

    @staticmethod
    def backward(ctx, g):
        (centered,) = ctx.saved
        std = expand_to(ctx.std, ctx.shape, ctx.axes, ctx.keepdims)
        g = expand_to(g, ctx.shape, ctx.axes, ctx.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(std == 0, 0.0, g * centered / (ctx.dof * std))


def _to_last(a: np.ndarray, axes) -> np.ndarray:
    """a with the `axes` moved to the end and flattened into one: (..., n)."""
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, rest + list(axes))
    return moved.reshape(moved.shape[:len(rest)] + (-1,))


def _from_last(a: np.ndarray, shape, axes) -> np.ndarray:
    """Undo `_to_last`: (..., n) back to `shape`."""
    rest = [i for i in range(len(shape)) if i not in axes]
    order = rest + list(axes)
    moved = a.reshape([shape[i] for i in order])
    return np.transpose(moved, np.argsort(order))


class Prod(Function):
    """The product over axes; d/dx_i = the product of all the other elements.

    That product is formed from exclusive cumulative products from the left and the right,
    never as prod / x_i, so an input holding zeros gets the right gradient (a lone zero gets
    the product of the rest; with two zeros everything gets 0)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes("prod", axis, a.ndim)
        ctx.save_for_backward(a)
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return np.asarray(np.prod(a, axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        flat = _to_last(a, ctx.axes)  # (..., n)
        ones = np.ones_like(flat[..., :1])
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)  # prod of x_j, j < i
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]  # j > i
        others = _from_last(left * right, a.shape, ctx.axes)
        return expand_to(g, ctx.shape, ctx.axes, ctx.keepdims) * others


class Cumsum(Function):
    """y_k = sum_{i<=k} x_i along an axis; d/dx_i = sum_{k>=i} g_k, a reversed cumsum."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = one_axis("cumsum", axis, a.ndim)
        return np.cumsum(a, axis=ctx.axis).reshape(a.shape)

    @staticmethod
    def backward(ctx, g):
        if ctx.axis is None:  # 0-d
            return g
        return np.flip(np.cumsum(np.flip(g, ctx.axis), axis=ctx.axis), ctx.axis)


class Cumprod(Function):
    """y_k = prod_{i<=k} x_i along an axis. d/dx_i = sum_{k>=i} g_k prod_{j<=k, j!=i} x_j
    = y_{i-1} S_i, with S_i = g_i + x_{i+1} S_{i+1} run from the end: exact when x holds
    zeros, where the shortcut revcumsum(g y) / x would divide by 0."""

    @staticmethod
    def forward(ctx, a, axis=0):
        ctx.axis = one_axis("cumprod", axis, a.ndim)
        y = np.cumprod(a, axis=ctx.axis).reshape(a.shape)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved
        if ctx.axis is None or a.shape[ctx.axis] == 0:  # 0-d or empty: nothing to chain
            return g
        x, y, g = (np.moveaxis(t, ctx.axis, -1) for t in (a, y, g))  # (..., n)
        s = np.empty_like(g)
        s[..., -1] = g[..., -1]
        for i in range(g.shape[-1] - 2, -1, -1):
            s[..., i] = g[..., i] + x[..., i + 1] * s[..., i + 1]
        before = np.concatenate([np.ones_like(y[..., :1]), y[..., :-1]], -1)  # y_{i-1}
        return np.moveaxis(before * s, -1, ctx.axis)
