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
    """broadcast_to(a, shape): a view; the engine sums the gradient back to a's shape.
    A -1 in `shape` keeps that axis's size (as PyTorch's `expand`)."""

    @staticmethod
    def forward(ctx, a, shape=()):
        shape = tuple(int(s) for s in shape)
        lead = len(shape) - a.ndim
        if lead < 0 or any(s == -1 for s in shape[:lead]):
            raise ValueError(f"expand: cannot expand shape {a.shape} to {shape}: the new shape "
                             "needs at least as many axes, and -1 only where an axis exists")
        shape = tuple(a.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {a.shape} to {shape}; only "
                             "axes of size 1 (or new leading axes) can be expanded") from None

    @staticmethod
    def backward(ctx, g):
        return g


def _is_int(p) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, bool) or (
        isinstance(p, np.ndarray) and p.ndim == 0 and p.dtype.kind in "iu")


def _is_array(p) -> bool:
    return isinstance(p, np.ndarray) and not _is_int(p)


def index_parts(index) -> tuple:
    """An index as a tuple whose lists and tuples (`x[(0, 0),]`, `x[[1, 2]]`) are integer or
    boolean arrays, which is what NumPy makes of them: integer-array indexing, which can pick
    an element twice. (An empty list becomes an empty integer array, not a float one.)"""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, (list, tuple)):
            p = np.asarray(p)
            p = p.astype(np.intp) if p.size == 0 else p
        out.append(p)
    return tuple(out)


def split_int_and_array_index(parts: tuple):
    """PyTorch's order for an index that mixes ints and arrays: the ints select first (basic
    indexing), then the arrays index what is left (Tensor.__getitem__ applies GetItem twice).
    So `x[1, :, idx]` of a (2, 3, 4) tensor is (3, len(idx)) as in PyTorch, where NumPy, seeing
    advanced indices split by a slice, would put idx's axis first: (len(idx), 3).
    Returns (first, then), or None when the index does not mix them."""
    if not (any(_is_int(p) for p in parts) and any(_is_array(p) for p in parts)):
        return None
    first, then = [], []
    for p in parts:
        if _is_array(p):
            first += [slice(None)] * (p.ndim if p.dtype == bool else 1)
            then.append(p)
        elif _is_int(p):
            first.append(p)
        else:  # a slice, None or Ellipsis: applied first; the axis it leaves is kept whole
            first.append(p)
            then.append(Ellipsis if p is Ellipsis else slice(None))
    return tuple(first), tuple(then)


def _has_array_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(Function):
    """a[index] with NumPy's basic and integer-array indexing (lists and tuples inside the index
    are integer arrays, as in NumPy: see `index_parts`).

    Backward scatters the gradient into zeros of a's shape. With integer arrays an element can be
    picked several times, so the scatter must add (np.add.at), not assign.
    """

    @staticmethod
    def forward(ctx, a, index=None):
        index = index_parts(index)
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


def _along_axis(index: np.ndarray, axis: int) -> tuple:
    """The full NumPy index that picks, at each position p of `index`, the element whose
    coordinates are p's except along `axis`, where it is index[p] (gather's addressing)."""
    grids = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
    grids[axis] = index
    return tuple(grids)


def check_gather_index(op: str, a_shape, index: np.ndarray, axis: int) -> None:
    """The rules of PyTorch's gather/scatter index: integer, as many axes as the input, no
    larger than it off `axis`, entries in [0, size along axis)."""
    if index.dtype.kind not in "iu" or index.ndim != len(a_shape):
        raise ValueError(f"{op}: index must be an integer array with the input's {len(a_shape)} "
                         f"axes, got {index.dtype} of shape {index.shape}")
    if any(i > n for d, (i, n) in enumerate(zip(index.shape, a_shape)) if d != axis):
        raise ValueError(f"{op}: index of shape {index.shape} is larger than the input "
                         f"{tuple(a_shape)} outside axis {axis}")
    if index.size and (index.min() < 0 or index.max() >= a_shape[axis]):
        raise IndexError(f"{op}: index values must be in [0, {a_shape[axis]}) along axis {axis} "
                         f"of shape {tuple(a_shape)}, got {index.min()}..{index.max()}")


class Gather(Function):
    """out[p] = a[p with its `axis` coordinate replaced by index[p]] (PyTorch's gather).
    Backward scatter-adds the gradient to the picked places: one picked twice gets both."""

    @staticmethod
    def forward(ctx, a, index, axis=0):
        axis = int(axis) % max(a.ndim, 1)
        check_gather_index("gather", a.shape, index, axis)
        ctx.where, ctx.shape = _along_axis(index, axis), a.shape
        return a[ctx.where]

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, ctx.where, g)
        return out, None


class Scatter(Function):
    """A copy of a with src written (reduce="assign") or added (reduce="add") at the places
    gather would read: out[p with axis coordinate index[p]] = src[p], for p over index.

    Backward: the gradient passes to a except, for "assign", at the overwritten places; src
    gets the gradient gathered from those places, gather(g, index). Where an index repeats,
    "assign" keeps one of the writes (which one is unspecified, as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, index, src, axis=0, reduce="assign"):
        if reduce not in ("assign", "add"):
            raise ValueError(f"scatter: reduce must be 'assign' or 'add', got {reduce!r}")
        axis = int(axis) % max(a.ndim, 1)
        check_gather_index("scatter", a.shape, index, axis)
        if src.ndim and any(i > n for i, n in zip(index.shape, src.shape)):
            raise ValueError(f"scatter: src of shape {src.shape} is smaller than the index "
                             f"{index.shape}")
        part = tuple(slice(0, n) for n in index.shape) if src.ndim else ()
        values = np.broadcast_to(src[part], index.shape)
        where = _along_axis(index, axis)
        out = a.copy()
        if reduce == "add":
            np.add.at(out, where, values)
        else:
            out[where] = values
        ctx.where, ctx.part, ctx.src_shape, ctx.reduce = where, part, src.shape, reduce
        return out

    @staticmethod
    def backward(ctx, g):
        ga = g
        if ctx.reduce == "assign":
            ga = g.copy()
            ga[ctx.where] = 0
        gsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
        if ctx.src_shape:
            gsrc[ctx.part] = g[ctx.where]
        else:  # a scalar src was written everywhere the index points
            gsrc = np.asarray(g[ctx.where].sum(), dtype=g.dtype)
        return ga, None, gsrc


class Clone(Function):
    """A copy with its own memory: changing it in place leaves the original alone. d/da = 1.
    Backward reads nothing saved, so the copy may be changed in place (under no_grad)."""

    output_in_backward = False

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Concatenate(Function):
    """Join along an axis; backward splits the gradient at the same boundaries."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: needs at least one tensor")
        if any(a.ndim == 0 for a in arrays):
            raise ValueError("concatenate: 0-d tensors have no axis to join along; use stack "
                             "to make a new axis (tg.stack([a, b]))")
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
