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
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


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

    The default correction=0 matches NumPy's `var` (PyTorch's default is 1)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, correction=0):
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
