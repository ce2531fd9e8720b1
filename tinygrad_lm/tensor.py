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
from .ops import activations, elementwise, linalg, movement, neural, reduce


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
        return apply(activations.Tanh, self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + e^-x); d/dx = s (1 - s)."""
        return apply(activations.Sigmoid, self)

    def relu(self) -> Tensor:
        """max(x, 0); the gradient passes where x > 0."""
        return apply(activations.Relu, self)

    def gelu(self, approximate: str = "tanh") -> Tensor:
        """x * Phi(x), with GPT-2's tanh approximation of Phi by default ("none": the exact erf)."""
        return apply(activations.Gelu, self, approximate=approximate)

    def silu(self) -> Tensor:
        """x * sigmoid(x) (swish); d/dx = s (1 + x (1 - s))."""
        return apply(activations.Silu, self)

    def abs(self) -> Tensor:
        """|x|; d/dx = sign(x), 0 at x = 0 (as PyTorch)."""
        return apply(elementwise.Abs, self)

    __abs__ = abs

    def sign(self) -> Tensor:
        """-1, 0 or 1; gradient 0."""
        return apply(elementwise.Sign, self)

    def floor(self) -> Tensor:
        """Round down; gradient 0 (a step function is flat wherever it has a slope)."""
        return apply(elementwise.Floor, self)

    def ceil(self) -> Tensor:
        """Round up; gradient 0."""
        return apply(elementwise.Ceil, self)

    def round(self) -> Tensor:
        """Round to the nearest integer, halves to even; gradient 0."""
        return apply(elementwise.Round, self)

    def sin(self) -> Tensor:
        """d/dx sin(x) = cos(x)."""
        return apply(elementwise.Sin, self)

    def cos(self) -> Tensor:
        """d/dx cos(x) = -sin(x)."""
        return apply(elementwise.Cos, self)

    def square(self) -> Tensor:
        """x * x; d/dx = 2x. Composed: one Mul."""
        return self * self

    def reciprocal(self) -> Tensor:
        """1 / x; d/dx = -1 / x^2. Composed: one Div."""
        return apply(elementwise.Div, 1.0, self)

    def rsqrt(self) -> Tensor:
        """1 / sqrt(x); d/dx = -x^(-3/2) / 2. Composed: x ** -0.5."""
        return self ** -0.5

    def maximum(self, other) -> Tensor:
        """The elementwise larger of self and other (broadcast); ties split the gradient
        in half, as PyTorch."""
        return apply(elementwise.Maximum, self, other)

    def minimum(self, other) -> Tensor:
        """The elementwise smaller: -maximum(-self, -other), ties split as in `maximum`."""
        return -apply(elementwise.Maximum, -self, -as_tensor(other, self.dtype))

    def clamp(self, min=None, max=None) -> Tensor:
        """x limited to [min, max] (numbers or tensors, either may be None). The gradient passes
        where min <= x <= max (bounds included, as PyTorch) and goes to a tensor bound where
        x is beyond it. Composed of two `where`s; with min > max every element is max."""
        out = self
        if min is not None:
            out = apply(elementwise.Where, out.data < array_of(min), min, out)
        if max is not None:
            out = apply(elementwise.Where, out.data > array_of(max), max, out)
        return out

    clip = clamp

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

        PyTorch: the mean over an empty axis is an error here, NaN in PyTorch.
        """
        return apply(reduce.Mean, self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> Tensor:
        """The largest value over `axis`; ties share the gradient equally.

        PyTorch: this is `torch.amax`: values only, ties sharing the gradient. PyTorch's
        `x.max(dim)` also returns the indices and gives the whole gradient to one of the ties;
        use `argmax` for the index."""
        return apply(reduce.Max, self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False) -> Tensor:
        """The smallest value over `axis`; ties share the gradient equally.

        PyTorch: this is `torch.amin` (see `max`)."""
        return apply(reduce.Min, self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Variance, sum((x - mean)^2) / (n - correction).

        PyTorch: the default correction=1 (unbiased) is PyTorch's, not NumPy's 0; pass
        correction=0 for the population variance (what layer norm uses)."""
        return apply(reduce.Var, self, axis=axis, keepdims=keepdims, correction=correction)

    def std(self, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
        """Standard deviation, sqrt(var); d/dx_i = (x_i - mean) / ((n - correction) std), and 0
        where std = 0. The default correction=1 is PyTorch's, as for `var`."""
        return apply(reduce.Std, self, axis=axis, keepdims=keepdims, correction=correction)

    def var_mean(self, axis=None, keepdims: bool = False, correction: int = 1):
        """(var, mean) over `axis`, as `torch.var_mean`."""
        return self.var(axis, keepdims, correction), self.mean(axis, keepdims)

    def std_mean(self, axis=None, keepdims: bool = False, correction: int = 1):
        """(std, mean) over `axis`, as `torch.std_mean`."""
        return self.std(axis, keepdims, correction), self.mean(axis, keepdims)

    def prod(self, axis=None, keepdims: bool = False) -> Tensor:
        """The product over `axis`; d/dx_i = the product of the other elements (exact with
        zeros: never prod / x_i)."""
        return apply(reduce.Prod, self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) over `axis`, as m + log(sum(exp(x - m))) with m the max held
        constant, so no exp overflows; d/dx = softmax(x). Composed of exp, sum and log."""
        axes = reduce.normalize_axes("logsumexp", axis, self.ndim)
        m = np.max(self.data, axis=axes, keepdims=True) if self.size else np.zeros(())
        m = np.where(np.isfinite(m), m, 0.0).astype(self.dtype)  # all -inf: shift by 0
        s = (self - m).exp().sum(axis=axes, keepdims=keepdims)
        return s.log() + (m if keepdims else np.squeeze(m, axes))

    def argmax(self, axis=None, keepdims: bool = False) -> Tensor:
        """The index of the largest value (the first of ties), flat when axis is None: an
        integer tensor, which has no gradient (backward through it is an error)."""
        return type(self)(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims: bool = False) -> Tensor:
        """The index of the smallest value (the first of ties); no gradient, as argmax."""
        return type(self)(np.argmin(self.data, axis=axis, keepdims=keepdims))

    def any(self, axis=None, keepdims: bool = False) -> Tensor:
        """Whether any element is nonzero, over `axis`: a boolean tensor (no gradient)."""
        return type(self)(np.any(self.data, axis=axis, keepdims=keepdims))

    def all(self, axis=None, keepdims: bool = False) -> Tensor:
        """Whether every element is nonzero, over `axis`: a boolean tensor (no gradient)."""
        return type(self)(np.all(self.data, axis=axis, keepdims=keepdims))

    # ---- scans and orderings ----------------------------------------------------------------
    def cumsum(self, axis: int) -> Tensor:
        """Running sums along `axis`; d/dx_i = sum of the gradients at and after i."""
        return apply(reduce.Cumsum, self, axis=axis)

    def cumprod(self, axis: int) -> Tensor:
        """Running products along `axis` (exact gradient also where x holds zeros)."""
        return apply(reduce.Cumprod, self, axis=axis)

    def cummax(self, axis: int):
        """(values, indices): the running maximum along `axis` and where it was found (the latest
        of ties, as PyTorch). The values are gathered, so each gradient goes to its index."""
        return self._running(axis, np.maximum)

    def cummin(self, axis: int):
        """(values, indices): the running minimum along `axis`, as `cummax`."""
        return self._running(axis, np.minimum)

    def _running(self, axis: int, pick) -> tuple[Tensor, Tensor]:
        if self.ndim == 0:
            return self.clone(), type(self)(np.zeros((), dtype=np.int64))
        x = np.moveaxis(self.data, axis, -1)  # (..., n)
        best = pick.accumulate(x, axis=-1)
        # the latest j <= i where x_j equals the running extreme: best only changes at such j
        hits = np.where(x == best, np.arange(x.shape[-1]), 0)
        idx = np.moveaxis(np.maximum.accumulate(hits, axis=-1), -1, axis)
        return self.gather(axis, idx), type(self)(idx)

    def sort(self, axis: int = -1, descending: bool = False) -> tuple[Tensor, Tensor]:
        """(values, indices) sorted along `axis` (stable: ties keep their order). The values
        are gathered from the input, so each gradient returns to where its value came from.

        PyTorch: always stable (PyTorch's default sort may order ties either way)."""
        key = -self.data if descending else self.data
        idx = np.argsort(key, axis=axis, kind="stable") if self.ndim else np.zeros((), np.int64)
        return (self.gather(axis, idx) if self.ndim else self.clone()), type(self)(idx)

    def topk(self, k: int, axis: int = -1, largest: bool = True) -> tuple[Tensor, Tensor]:
        """(values, indices) of the k largest (or smallest) along `axis`, largest first
        (smallest first when largest=False), gathered as in `sort`.

        PyTorch: no `sorted=False`; the k values always come sorted."""
        if not 0 <= k <= (self.shape[axis] if self.ndim else 1):
            raise ValueError(f"topk: k={k} is out of range for axis {axis} of shape {self.shape}")
        _, idx = self.sort(axis, descending=largest)
        idx = np.take(idx.data, np.arange(k), axis=axis) if self.ndim else idx.data
        return (self.gather(axis, idx) if self.ndim else self.clone()), type(self)(idx)

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
        """NumPy indexing (basic and integer arrays); tensors used as indices carry no grad.

        PyTorch: where ints and index arrays are mixed, the ints select first, as PyTorch does,
        so `x[1, :, idx]` of a (2, 3, 4) tensor is (3, len(idx)); NumPy would give
        (len(idx), 3)."""
        parts = movement.index_parts(_index_arrays(index))
        steps = movement.split_int_and_array_index(parts)
        if steps is not None:
            return apply(movement.GetItem, self, index=steps[0])[steps[1]]
        return apply(movement.GetItem, self, index=parts)

    def reshape(self, *shape) -> Tensor:
        """`t.reshape(2, 3)` or `t.reshape((2, 3))`; one axis may be -1."""
        return apply(movement.Reshape, self, shape=shape_from_args(shape))

    view = reshape

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> Tensor:
        """Axes start_axis..end_axis merged into one (all of them by default: `(size,)`; a 0-d
        tensor becomes `(1,)`, as PyTorch); backward reshapes the gradient back."""
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_axis % self.ndim, end_axis % self.ndim
        return self.reshape(*self.shape[:start], -1, *self.shape[end + 1:])

    def unflatten(self, axis: int, sizes) -> Tensor:
        """Axis `axis` split into `sizes` (one may be -1), the inverse of `flatten`."""
        axis %= self.ndim
        return self.reshape(*self.shape[:axis], *sizes, *self.shape[axis + 1:])

    def squeeze(self, axis=None) -> Tensor:
        """Axes of size 1 removed: all of them, or those among `axis` (an int or a tuple; an axis
        whose size is not 1 is left alone, as PyTorch)."""
        axes = range(self.ndim) if axis is None else reduce.normalize_axes(
            "squeeze", axis, self.ndim)
        return self.reshape(*[n for i, n in enumerate(self.shape) if not (
            i in axes and n == 1)])

    def unsqueeze(self, axis: int) -> Tensor:
        """A new axis of size 1 at position `axis` (in [-ndim-1, ndim])."""
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for shape {self.shape}")
        axis %= self.ndim + 1
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    def flip(self, axes) -> Tensor:
        """The order reversed along `axes` (an int or a tuple): a reversed slice, so the
        gradient is flipped back."""
        axes = reduce.normalize_axes("flip", axes, self.ndim)
        return self[tuple(slice(None, None, -1) if i in axes else slice(None)
                          for i in range(self.ndim))]

    def roll(self, shifts, axes=None) -> Tensor:
        """Elements shifted along `axes` (over the flattened tensor when None), wrapping around:
        an index array, so backward scatters the gradient back."""
        if axes is None:
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        axes = (axes,) if isinstance(axes, int) else tuple(axes)
        out = self
        for shift, axis in zip(shifts, axes):
            n = self.shape[axis]
            out = out.index_select(axis, (np.arange(n) - shift) % max(n, 1))
        return out

    def repeat(self, *sizes) -> Tensor:
        """Tiled `sizes` times along each axis (PyTorch's `repeat`, NumPy's `tile`; extra sizes
        add leading axes). Composed: reshape, expand, reshape, so the gradient sums the tiles."""
        sizes = shape_from_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of shape {self.shape}; "
                             "give one per axis")
        shape = (1,) * (len(sizes) - self.ndim) + self.shape
        spread = [d for n in shape for d in (1, n)]  # (1, n0, 1, n1, ...)
        tiled = [d for r, n in zip(sizes, shape) for d in (r, n)]  # (r0, n0, r1, n1, ...)
        return self.reshape(*spread).expand(*tiled).reshape(
            *[r * n for r, n in zip(sizes, shape)])

    def index_select(self, axis: int, index) -> Tensor:
        """The entries at the 1-D integer `index` along `axis`; repeated ones add gradients."""
        index = np.asarray(array_of(index))
        if index.ndim != 1:
            raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
        return self[(slice(None),) * (axis % self.ndim) + (index.astype(np.intp),)]

    def gather(self, axis: int, index) -> Tensor:
        """out[p] = self[p with its `axis` coordinate replaced by index[p]], as PyTorch's gather;
        backward scatter-adds the gradient to the picked places."""
        return apply(movement.Gather, self, np.asarray(array_of(index)), axis=axis)

    def scatter(self, axis: int, index, src) -> Tensor:
        """A copy with `src` (a tensor or a number) written where `gather` with the same index
        would read; the gradient of the overwritten places goes to src."""
        return apply(movement.Scatter, self, np.asarray(array_of(index)), src, axis=axis)

    def scatter_add(self, axis: int, index, src) -> Tensor:
        """A copy with `src` added where `gather` would read (a repeated index adds twice)."""
        return apply(movement.Scatter, self, np.asarray(array_of(index)), src, axis=axis,
                     reduce="add")

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two axes (j <= i + diagonal), zeros above; masked_fill,
        so the zeroed places get no gradient."""
        n, m = self.shape[-2:]
        return self.masked_fill(~np.tri(n, m, diagonal, dtype=bool), 0.0)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two axes (j >= i + diagonal), zeros below."""
        n, m = self.shape[-2:]
        return self.masked_fill(np.tri(n, m, diagonal - 1, dtype=bool), 0.0)

    def chunk(self, chunks: int, axis: int = 0) -> list[Tensor]:
        """At most `chunks` pieces of ceil(n / chunks) along `axis` (the last may be shorter,
        and there may be fewer, as PyTorch)."""
        n = self.shape[axis]
        return self.split(max(-(-n // chunks), 1), axis=axis) if n else [self]

    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph (d/dx = 1): change the copy in
        place without touching the original."""
        return apply(movement.Clone, self)

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
