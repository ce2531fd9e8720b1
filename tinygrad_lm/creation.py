"""Making tensors: from data, filled with a value, random, ranges, and joined from others.

These are the functions a student writes first (`tg.zeros(2, 3)`, `tg.randn(B, T, C)`); the
Tensor type itself, its methods and `apply` live in tinygrad_lm/tensor.py.
"""

from __future__ import annotations

import numpy as np

from .ops import elementwise, movement
from .tensor import Tensor, apply, shape_from_args


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """A new Tensor from `data`: `Tensor(data, requires_grad, dtype)`."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """Wrap an ndarray without copying, keeping its dtype."""
    return Tensor(np.asarray(array), requires_grad=requires_grad, dtype=None)


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`."""
    return Tensor(np.zeros(shape_from_args(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `ones(2, 3)` or `ones((2, 3))`."""
    return Tensor(np.ones(shape_from_args(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape, value, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` whose every element is `value`."""
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape of `t`, and its dtype unless `dtype` is given."""
    return full_like(t, 0, dtype=dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape of `t`, and its dtype unless `dtype` is given."""
    return full_like(t, 1, dtype=dtype, requires_grad=requires_grad)


def full_like(t: Tensor, value, dtype=None, requires_grad: bool = False) -> Tensor:
    """`value` everywhere, with the shape of `t`, and its dtype unless `dtype` is given."""
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    return Tensor(np.full_like(data, value, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """The (n, m) identity matrix (m = n by default): ones on the diagonal."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def linspace(start, end, steps: int, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included (PyTorch: steps is
    required; float32 by default)."""
    return Tensor(np.linspace(start, end, steps, dtype=dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, seed=None, rng: np.random.Generator | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `rng`, or a Generator seeded with `seed`."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    data = rng.standard_normal(shape_from_args(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, seed=None, rng: np.random.Generator | None = None,
         requires_grad: bool = False) -> Tensor:
    """Samples uniform on [0, 1) from `rng`, or from a Generator seeded with `seed`."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    return Tensor(rng.random(shape_from_args(shape)).astype(dtype), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    """`start, start + step, ...` below `stop` (`arange(n)` is 0, ..., n-1), as `np.arange`.

    Without `dtype`: int64 for integer arguments, float32 when any is a float (as PyTorch;
    NumPy would give float64)."""
    if stop is None:
        start, stop = 0, start
    data = np.arange(start, stop, step, dtype=dtype)
    if dtype is None and data.dtype.kind == "f":
        data = data.astype(np.float32)
    return Tensor(data)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors end to end along an existing `axis` (`cat` is the same function).

    Backward: each input gets its own slice of the gradient along `axis`.
    """
    return apply(movement.Concatenate, *tensors, axis=axis)


cat = concatenate


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new `axis`: n tensors of (B, C) give (n, B, C) for axis 0.

    Backward: input i gets the gradient's slice i along that axis.
    """
    return apply(movement.Stack, *tensors, axis=axis)


def where(cond, a, b) -> Tensor:
    """a where cond is True, b elsewhere; gradients flow to the side that was chosen."""
    return apply(elementwise.Where, cond, a, b)
