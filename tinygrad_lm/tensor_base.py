"""What a Tensor is before it computes anything: an ndarray plus what autograd needs.

`TensorBase` holds the state autograd reads and writes (`data`, `grad`, `requires_grad`, the
Context of the op that made it, a version counter), the properties and conversions
(`shape`, `item()`, `numpy()`, ...), `backward()`, the in-place changes autograd must police
(`+=`, `zero_()`, `copy_()`: counted, and refused where they would corrupt a graph) and the
comparisons, which have no gradient. None of it runs an op.

`Tensor` (tinygrad_lm/tensor.py) is this class plus the methods that compute, each one op; a
program only ever makes `Tensor`s, and methods here that return a tensor make one of the class
they were called on.

Dtypes: Python numbers and lists become float32 (training precision); float ndarrays keep their
dtype, so float64 arrays stay float64 for gradient checks; integer and bool arrays keep theirs
(token ids, masks). Mixing float32 and float64 promotes to float64, as NumPy does: never a silent
downcast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import autograd

if TYPE_CHECKING:  # annotations are never evaluated at run time (typing.Self is 3.11+)
    from typing import Self


def _to_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, TensorBase):
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


class TensorBase:
    """The state and bookkeeping every Tensor has: data, grad, backward, in-place changes.

    Not made directly: `Tensor` (tinygrad_lm/tensor.py) inherits all of this and adds the
    methods that run ops. See `Tensor` for the arguments.
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
    def _from_op(cls, data, requires_grad: bool) -> Self:
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

    def detach(self) -> Self:
        """A new leaf sharing the same data, cut from the graph."""
        return type(self)._from_op(self.data, requires_grad=False)

    def requires_grad_(self, flag: bool = True) -> Self:
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

    def _inplace(self, what: str, fn) -> Self:
        self._check_inplace(what)
        fn(self.data)
        self._version += 1
        return self

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

    def zero_(self) -> Self:
        """Set every element to 0 in place; returns the tensor.

        Refused on a tensor that requires grad while grad mode is on (wrap parameter updates in
        `no_grad()`), since backward may still need the old values.
        """
        return self._inplace("zero_", lambda d: d.fill(0))

    def fill_(self, value) -> Self:
        """Set every element to `value` in place (the rule of `zero_`); returns the tensor."""
        return self._inplace("fill_", lambda d: d.fill(value))

    def copy_(self, src) -> Self:
        """Copy `src` (a Tensor, or an array that broadcasts to this shape) in place; returns it.

        The rule of `zero_` applies.
        """
        return self._inplace("copy_", lambda d: np.copyto(d, array_of(src)))

    # ---- comparisons: no gradient, boolean results ------------------------------------------
    def _compare(self, other, fn) -> Self:
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


def array_of(x):
    """The ndarray of a tensor; anything else (a number, an array) as it is."""
    return x.data if isinstance(x, TensorBase) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(array_of(i) for i in index)
    return array_of(index)
