"""The Tensor: an ndarray that remembers how it was computed, in one file.

A `Tensor` holds the state autograd reads and writes (`data`, `grad`, `requires_grad`, the
Context of the op that made it, a version counter); `backward()`; the in-place changes autograd
must police (`+=`, `zero_()`, `copy_()`: counted, and refused where they would corrupt a graph);
the comparisons, which have no gradient; and the methods that compute, each one op:
`t.exp()` is `apply(elementwise.Exp, t)`, and the op's class (in tinygrad_lm/ops/) holds its
forward and backward side by side. `apply` (below the class) runs an op and records the graph
that `backward()` walks (tinygrad_lm/autograd.py).

Dtypes: Python numbers and lists become float32 (training precision); float ndarrays keep their
dtype, so float64 arrays stay float64 for gradient checks; integer and bool arrays keep theirs
(token ids, masks). Mixing float32 and float64 promotes to float64, as NumPy does: never a silent
downcast. Python scalars in an expression take the tensor's dtype.
"""

from __future__ import annotations

import numpy as np

from . import autograd
from .autograd import Context, Function
from .ops import elementwise, linalg, movement, neural, reduce


def _to_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "f" and data.dtype.itemsize < 4:
            return data.astype(np.float32)
        return data
    arr = np.array(data)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    return arr


def as_tensor(x, like_dtype=None) -> Tensor:
    """Wrap op inputs; Python scalars take the dtype of the tensor they meet."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float, bool)) and like_dtype is not None:
        if np.dtype(like_dtype).kind == "f":
            return Tensor(np.array(x, dtype=like_dtype))
    return Tensor(x)


class Tensor:
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

    """

    # Make `ndarray + Tensor` call Tensor.__radd__ rather than NumPy's elementwise loop.
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: np.ndarray | None = None
        self._ctx = None
        self._version = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data, requires_grad: bool) -> Tensor:
        t = cls.__new__(cls)
        t.data = data if isinstance(data, np.ndarray) else np.asarray(data)
        t.grad, t._ctx, t._version, t.requires_grad = None, None, 0, requires_grad
        return t

    # ---- basic properties -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, as NumPy's `ndarray.shape`."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions, `len(shape)`."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of `data` (float32 unless asked otherwise)."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements, the product of `shape`."""
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded op produced (an input or a parameter): the graph ends here,
        and `backward()` leaves the gradient in `grad`.
        """
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all() on .data")
        return bool(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray itself (not a copy: writing to it changes the tensor)."""
        return self.data

    def item(self):
        """The value of a one-element tensor (a loss, say) as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """The data as nested Python lists of numbers."""
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing the same data, cut from the graph."""
        return type(self)._from_op(self.data, requires_grad=False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Start (or stop) tracking this tensor as a leaf that receives a gradient; returns it.

        Raises TypeError for an integer or boolean tensor, which has no derivative.
        """
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require grad, got {self.dtype}")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (`grad = None`) before the next backward."""
        self.grad = None

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Fill `grad` of every tensor this one depends on with dL/d(that tensor).

        Walks the recorded graph from this tensor to the leaves in reverse topological order and
        applies the chain rule, `dL/dx = sum over uses u of x: (du/dx)^T dL/du`, accumulating into
        `grad` (call `zero_grad()` or the optimizer's between steps).

        Args:
            grad: dL/d(this tensor); omit it for a one-element tensor (a loss), where it is 1.
            retain_graph: keep the saved arrays so backward can run through the graph again.
        """
        autograd.backward(self, grad, retain_graph=retain_graph)

    # ---- in-place changes (version-counted, forbidden where they would corrupt a graph) -----
    def _check_inplace(self, what: str) -> None:
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{what}: a tensor that requires grad cannot be changed in place while grad is "
                "enabled (its old value may be needed for backward). Use `with no_grad():` for "
                "parameter updates, or an out-of-place op (x = x + y)")

    def _inplace(self, what: str, fn) -> Tensor:
        self._check_inplace(what)
        fn(self.data)
        self._bump_version()
        return self

    def _bump_version(self) -> None:
        """Count a change of `data` made in place (or a new `data` array): backward through a
        graph that saved this tensor before the change then refuses to run, as its saved value
        is stale. The in-place operators call this; so do code that writes `data` directly (an
        optimizer's step, loading or cropping weights), which never touches the count itself."""
        self._version += 1

    def __iadd__(self, other):
        return self._inplace("+=", lambda d: np.add(d, array_of(other), out=d))

    def __isub__(self, other):
        return self._inplace("-=", lambda d: np.subtract(d, array_of(other), out=d))

    def __imul__(self, other):
        return self._inplace("*=", lambda d: np.multiply(d, array_of(other), out=d))

    def __itruediv__(self, other):
        return self._inplace("/=", lambda d: np.divide(d, array_of(other), out=d))

    def __setitem__(self, index, value):
        def assign(d):
            d[_raw_index(index)] = array_of(value)
        self._inplace("__setitem__", assign)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; returns the tensor.

        Refused on a tensor that requires grad while grad mode is on (wrap parameter updates in
        `no_grad()`), since backward may still need the old values.
        """
        return self._inplace("zero_", lambda d: d.fill(0))

    def fill_(self, value) -> Tensor:
        """Set every element to `value` in place (the rule of `zero_`); returns the tensor."""
        return self._inplace("fill_", lambda d: d.fill(value))

    def copy_(self, src) -> Tensor:
        """Copy `src` (a Tensor, or an array that broadcasts to this shape) in place; returns it.

        The rule of `zero_` applies.
        """
        return self._inplace("copy_", lambda d: np.copyto(d, array_of(src)))

    # ---- comparisons: no gradient, boolean results ------------------------------------------
    def _compare(self, other, fn) -> Tensor:
        return type(self)(fn(self.data, array_of(other)))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

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
def array_of(x):
    """The ndarray of a tensor; anything else (a number, an array) as it is."""
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    return array_of(index)


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
