"""The Tensor: every method that computes is one op, and `apply` runs an op on tensors.

`t.exp()` is `apply(elementwise.Exp, t)`, and the op's class (in tinygrad_lm/ops/) holds its
forward and backward side by side. `apply` (below the class) runs an op and records the graph
that `backward()` walks (tinygrad_lm/autograd.py). What a tensor holds (data, grad,
requires_grad), `backward()`, conversions, comparisons and the in-place changes come from
`TensorBase` (tinygrad_lm/tensor_base.py), which runs no op.

Dtypes are as in tensor_base.py (float32 unless asked; float64 stays float64); Python scalars
in an expression take the tensor's dtype.
"""

from __future__ import annotations

import numpy as np

from . import autograd
from .autograd import Context, Function
from .ops import elementwise, linalg, movement, neural, reduce
from .tensor_base import TensorBase, array_of


def as_tensor(x, like_dtype=None) -> Tensor:
    """Wrap op inputs; Python scalars take the dtype of the tensor they meet."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float, bool)) and like_dtype is not None:
        if np.dtype(like_dtype).kind == "f":
            return Tensor(np.array(x, dtype=like_dtype))
    return Tensor(x)


class Tensor(TensorBase):
    """An n-dimensional array that remembers how it was computed, so gradients can flow back.

    `data` is the ndarray; `grad` is filled by `backward()` with dL/d(this tensor), an array
    of the same shape, for every tensor created with `requires_grad=True`. Each op on tensors
    (`a @ b`, `x.exp()`, `x.sum(axis=-1)`...) runs one `Function` from `tinygrad_lm.ops` and,
    when a gradient will be needed, records it in the graph that `backward()` walks.

    Args:
        data: an ndarray (kept as it is, with its dtype; float16 becomes float32), a nested
            list or a number (floats become float32), or another Tensor (its array).
        requires_grad: track this tensor as a leaf whose gradient `backward()` computes
            (floating point only).
        dtype: store a copy in this dtype (`np.float64` for gradient checks).

    The methods below each run one op. What the tensor holds and the bookkeeping around it
    (`shape`, `item()`, `detach()`, `requires_grad_()`, `backward()`, the in-place `+=`,
    `zero_()`, `copy_()` and the comparisons) are inherited from `TensorBase` in
    tinygrad_lm/tensor_base.py.
    """

    # ---- dtype ------------------------------------------------------------------------------
    def to(self, dtype) -> Tensor:
        """This tensor in another dtype (itself when it already has it); gradients flow back
        cast to the original dtype."""
        if np.dtype(dtype) == self.dtype:
            return self
        return apply(elementwise.Cast, self, dtype=np.dtype(dtype))

    astype = to

    def float(self) -> Tensor:
        """This tensor as float32, `to(np.float32)`: the dtype training runs in."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """This tensor as float64, `to(np.float64)`: the precision gradient checks need."""
        return self.to(np.float64)

    # ---- arithmetic: each operator is one op of ops/elementwise.py or ops/linalg.py ----------
    def __add__(self, other) -> Tensor:
        return apply(elementwise.Add, self, other)

    def __radd__(self, other) -> Tensor:
        return apply(elementwise.Add, other, self)

    def __sub__(self, other) -> Tensor:
        return apply(elementwise.Sub, self, other)

    def __rsub__(self, other) -> Tensor:
        return apply(elementwise.Sub, other, self)

    def __mul__(self, other) -> Tensor:
        return apply(elementwise.Mul, self, other)

    def __rmul__(self, other) -> Tensor:
        return apply(elementwise.Mul, other, self)

    def __truediv__(self, other) -> Tensor:
        return apply(elementwise.Div, self, other)

    def __rtruediv__(self, other) -> Tensor:
        return apply(elementwise.Div, other, self)

    def __neg__(self) -> Tensor:
        return apply(elementwise.Neg, self)

    def __pow__(self, other) -> Tensor:
        return apply(elementwise.Pow, self, other)

    def __rpow__(self, other) -> Tensor:
        return apply(elementwise.Pow, other, self)

    def __matmul__(self, other) -> Tensor:
        return apply(linalg.MatMul, self, other)

    def __rmatmul__(self, other) -> Tensor:
        return apply(linalg.MatMul, other, self)

    # ---- elementwise functions --------------------------------------------------------------
    def exp(self) -> Tensor:
        """e^x; d/dx = e^x."""
        return apply(elementwise.Exp, self)

    def log(self) -> Tensor:
        """Natural log; d/dx = 1/x."""
        return apply(elementwise.Log, self)

    def sqrt(self) -> Tensor:
        """d/dx sqrt(x) = 1 / (2 sqrt(x))."""
        return apply(elementwise.Sqrt, self)

    def tanh(self) -> Tensor:
        """d/dx tanh(x) = 1 - tanh(x)^2."""
        return apply(elementwise.Tanh, self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x); d/dx = s (1 - s)."""
        return apply(elementwise.Sigmoid, self)

    def relu(self) -> Tensor:
        """max(x, 0); the gradient passes where x > 0."""
        return apply(elementwise.Relu, self)

    def gelu(self, approximate: str = "tanh") -> Tensor:
        """x * Phi(x), with GPT-2's tanh approximation of Phi by default ("none": the exact erf)."""
        return apply(elementwise.Gelu, self, approximate=approximate)

    def masked_fill(self, mask, value) -> Tensor:
        """`value` where `mask` is True, self elsewhere; no gradient flows to the filled places."""
        return apply(elementwise.MaskedFill, self, mask, value=value)

    # ---- reductions (ops/reduce.py) ---------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        """The sum over `axis` (an int, a tuple, or None for all axes).

        Backward: d(sum x)/dx_i = 1, so the gradient is `grad` copied back over the summed axes.
        """
        return apply(reduce.Sum, self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        """The mean over `axis` (an int, a tuple, or None for all axes).

        Backward: d(mean x)/dx_i = 1/n, with n the number of elements averaged.
        """
        return apply(reduce.Mean, self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """The largest value; ties share the gradient equally."""
        return apply(reduce.Max, self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        """The smallest value; ties share the gradient equally."""
        return apply(reduce.Min, self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims: bool = False, correction: int = 0) -> Tensor:
        """Variance, sum((x - mean)^2) / (n - correction); correction=1 is the unbiased one."""
        return apply(reduce.Var, self, axis=axis, keepdims=keepdims, correction=correction)

    # ---- softmax (ops/neural.py) ------------------------------------------------------------
    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x - max) / sum(exp(x - max)) along `axis` (the kernels work on the last axis, so
        any other axis is swapped there and back)."""
        if axis in (-1, self.ndim - 1):
            return apply(neural.Softmax, self)
        return apply(neural.Softmax, self.transpose(axis, -1)).transpose(axis, -1)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """x - logsumexp(x) along `axis`."""
        if axis in (-1, self.ndim - 1):
            return apply(neural.LogSoftmax, self)
        return apply(neural.LogSoftmax, self.transpose(axis, -1)).transpose(axis, -1)

    # ---- movement (ops/movement.py) ---------------------------------------------------------
    def __getitem__(self, index) -> Tensor:
        """NumPy indexing (basic and integer arrays); tensors used as indices carry no grad."""
        return apply(movement.GetItem, self, index=_index_arrays(index))

    def reshape(self, *shape) -> Tensor:
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one axis may be -1."""
        return apply(movement.Reshape, self, shape=shape_from_args(shape))

    view = reshape

    def flatten(self) -> Tensor:
        """All elements in one dimension, shape `(size,)`; backward reshapes the gradient back."""
        return apply(movement.Reshape, self, shape=(-1,))

    def permute(self, *axes) -> Tensor:
        """The axes reordered: output axis i is input axis `axes[i]`.

        `x.permute(0, 2, 1, 3)` turns (B, T, nh, hs) into (B, nh, T, hs); backward applies the
        inverse permutation to the gradient.
        """
        return apply(movement.Permute, self, axes=shape_from_args(axes))

    def expand(self, *shape) -> Tensor:
        """Broadcast to `shape`; the gradient is summed back over the copies."""
        return apply(movement.Expand, self, shape=shape_from_args(shape))

    broadcast_to = expand

    def transpose(self, axis0: int = -2, axis1: int = -1) -> Tensor:
        """Swap two axes (the last two by default)."""
        axes = list(range(self.ndim))
        axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
        return apply(movement.Permute, self, axes=tuple(axes))

    @property
    def T(self) -> Tensor:
        """All axes reversed, as NumPy's `.T`."""
        return apply(movement.Permute, self, axes=None)

    def split(self, size_or_sections, axis: int = 0) -> list[Tensor]:
        """Pieces of `size` along `axis` (the last may be shorter), or at the given sizes."""
        n = self.shape[axis]
        if isinstance(size_or_sections, int):
            size = size_or_sections
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
        else:
            sizes = list(size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (axis {axis} of "
                             f"{self.shape})")
        out, start = [], 0
        for s in sizes:
            index = [slice(None)] * self.ndim
            index[axis] = slice(start, start + s)
            out.append(self[tuple(index)])
            start += s
        return out


# ---- running an op on tensors ---------------------------------------------------------------
def apply(fn: type[Function], *inputs, **attrs) -> Tensor:
    """Run op `fn` on tensors and record it in the graph when a gradient will be needed.

    Unwraps the inputs to arrays (Python numbers take the dtype of the float tensor they meet;
    None stands for an absent optional input, a LayerNorm without bias, say), calls
    `fn.forward` on them, and wraps the result. When grad mode is on and some input requires
    grad, the output keeps a Context linking it to its inputs, which is what backward walks.
    """
    like = next((x.dtype for x in inputs if isinstance(x, Tensor) and x.dtype.kind == "f"), None)
    tensors = tuple(None if x is None else as_tensor(x, like_dtype=like) for x in inputs)
    ctx = Context()
    ctx.needs_input_grad = tuple(t is not None and t.requires_grad for t in tensors)
    arrays = tuple(None if t is None else t.data for t in tensors)
    out_data = autograd.run_forward(fn, ctx, arrays, attrs)
    record = autograd.is_grad_enabled() and any(ctx.needs_input_grad)
    out = Tensor._from_op(out_data, requires_grad=record)
    if record:
        ctx.fn = fn
        ctx.parents = tensors
        ctx.versions = tuple(-1 if t is None else t._version for t in tensors)
        out._ctx = ctx
    return out


def _index_arrays(index):
    """Tensors used as indices become their arrays (index arrays carry no gradient)."""
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return array_of(index)


def shape_from_args(shape) -> tuple[int, ...]:
    """A shape given as separate ints, `f(2, 3)`, or as one tuple, `f((2, 3))`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)
