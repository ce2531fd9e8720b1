"""Ops that move data without arithmetic: the gradient is moved back the opposite way."""

from __future__ import annotations

import numpy as np

from ..autograd import Function


class Reshape(Function):
    """Same elements, new shape; the gradient is reshaped back."""

    @staticmethod
    def forward(ctx, a, shape=()):
        shape = tuple(int(s) for s in shape)
        known = int(np.prod([s for s in shape if s != -1]))
        wildcard = shape.count(-1)
        ok = (wildcard == 0 and known == a.size) or (
            wildcard == 1 and known > 0 and a.size % known == 0) or (
            wildcard == 1 and known == 0 and a.size == 0)
        if wildcard > 1 or not ok:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) into {shape}")
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    """Reorder axes; backward applies the inverse permutation."""

    @staticmethod
    def forward(ctx, a, axes=None):
        axes = tuple(reversed(range(a.ndim))) if axes is None else tuple(int(x) for x in axes)
        if sorted(ax % max(a.ndim, 1) for ax in axes) != list(range(a.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {a.ndim} axes of "
                             f"a tensor of shape {a.shape}")
        ctx.axes = axes
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, np.argsort([ax % g.ndim for ax in ctx.axes]))


class Expand(Function):
    """broadcast_to(a, shape): a view; the engine sums the gradient back to a's shape."""

    @staticmethod
    def forward(ctx, a, shape=()):
        try:
            return np.broadcast_to(a, tuple(shape))
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {a.shape} to {tuple(shape)}; only "
                             "axes of size 1 (or new leading axes) can be expanded") from None

    @staticmethod
    def backward(ctx, g):
        return g


def _has_array_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(Function):
    """a[index] with NumPy's basic and integer-array indexing.

    Backward scatters the gradient into zeros of a's shape. With integer arrays an element can be
    picked several times, so the scatter must add (np.add.at), not assign.
    """

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.shape, ctx.index, ctx.dtype = a.shape, index, a.dtype
        try:
            return np.asarray(a[index])
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {a.shape}: {e}") \
                from None

    @staticmethod
    def backward(ctx, g):
        # BEGIN ASSIGNMENT 2.6
        out = np.zeros(ctx.shape, dtype=g.dtype)
        if _has_array_index(ctx.index):
            np.add.at(out, ctx.index, g)
        else:  # basic indexing never selects an element twice
            out[ctx.index] = g
        return out
        # END ASSIGNMENT 2.6


class Concatenate(Function):
    """Join along an axis; backward splits the gradient at the same boundaries."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: needs at least one tensor")
        try:
            out = np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}") from None
        ctx.axis = axis
        ctx.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    """Join along a new axis; backward takes each slice of the gradient."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack: needs at least one tensor")
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
        ctx.axis = axis
        ctx.n = len(arrays)
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.take(g, i, axis=ctx.axis) for i in range(ctx.n))
