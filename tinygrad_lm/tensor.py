"""The Tensor: an ndarray plus what autograd needs (grad, requires_grad, the op that made it).

Dtypes: Python numbers and lists become float32 (training precision); float ndarrays keep their
dtype, so float64 arrays stay float64 for gradient checks; integer and bool arrays keep theirs
(token ids, masks). Mixing float32 and float64 promotes to float64, as NumPy does: never a silent
downcast. Python scalars in an expression take the tensor's dtype.
"""

from __future__ import annotations

import numpy as np

from . import autograd


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
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
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
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing the same data, cut from the graph."""
        return Tensor._from_op(self.data, requires_grad=False)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating point tensors can require grad, got {self.dtype}")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad=None, retain_graph: bool = False) -> None:
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
        self._version += 1
        return self

    def __iadd__(self, other):
        return self._inplace("+=", lambda d: np.add(d, _raw(other), out=d))

    def __isub__(self, other):
        return self._inplace("-=", lambda d: np.subtract(d, _raw(other), out=d))

    def __imul__(self, other):
        return self._inplace("*=", lambda d: np.multiply(d, _raw(other), out=d))

    def __itruediv__(self, other):
        return self._inplace("/=", lambda d: np.divide(d, _raw(other), out=d))

    def __setitem__(self, index, value):
        def assign(d):
            d[_raw_index(index)] = _raw(value)
        self._inplace("__setitem__", assign)

    def zero_(self) -> Tensor:
        return self._inplace("zero_", lambda d: d.fill(0))

    def fill_(self, value) -> Tensor:
        return self._inplace("fill_", lambda d: d.fill(value))

    def copy_(self, src) -> Tensor:
        return self._inplace("copy_", lambda d: np.copyto(d, _raw(src)))

    # ---- dtype ------------------------------------------------------------------------------
    def to(self, dtype) -> Tensor:
        from .ops.elementwise import Cast
        return self if np.dtype(dtype) == self.dtype else Cast.apply(self, dtype=np.dtype(dtype))

    astype = to

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    # ---- comparisons: no gradient, boolean results ------------------------------------------
    def _compare(self, other, fn) -> Tensor:
        return Tensor(fn(self.data, _raw(other)))

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


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


# ---- creators -------------------------------------------------------------------------------
def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """Wrap an ndarray without copying, keeping its dtype."""
    return Tensor(np.asarray(array), requires_grad=requires_grad, dtype=None)


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape, value, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, seed=None, rng: np.random.Generator | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples from `rng`, or a Generator seeded with `seed`."""
    rng = rng if rng is not None else np.random.default_rng(seed)
    data = rng.standard_normal(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, seed=None, rng: np.random.Generator | None = None,
         requires_grad: bool = False) -> Tensor:
    rng = rng if rng is not None else np.random.default_rng(seed)
    return Tensor(rng.random(_shape(shape)).astype(dtype), requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    if stop is None:
        start, stop = 0, start
    return Tensor(np.arange(start, stop, step, dtype=dtype))


# ---- operator and method wiring: every method below is one op from tinygrad_lm.ops ----------
from .ops import elementwise as E  # noqa: E402  (ops import autograd, never this module)
from .ops import linalg as L  # noqa: E402
from .ops import movement as M  # noqa: E402
from .ops import neural as N  # noqa: E402
from .ops import reduce as R  # noqa: E402


def _index_arrays(index):
    """Tensors used as indices become their arrays (index arrays carry no gradient)."""
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return _raw(index)


def _methods():
    T = Tensor
    T.__add__ = lambda a, b: E.Add.apply(a, b)
    T.__radd__ = lambda a, b: E.Add.apply(b, a)
    T.__sub__ = lambda a, b: E.Sub.apply(a, b)
    T.__rsub__ = lambda a, b: E.Sub.apply(b, a)
    T.__mul__ = lambda a, b: E.Mul.apply(a, b)
    T.__rmul__ = lambda a, b: E.Mul.apply(b, a)
    T.__truediv__ = lambda a, b: E.Div.apply(a, b)
    T.__rtruediv__ = lambda a, b: E.Div.apply(b, a)
    T.__neg__ = lambda a: E.Neg.apply(a)
    T.__pow__ = lambda a, b: E.Pow.apply(a, b)
    T.__rpow__ = lambda a, b: E.Pow.apply(b, a)
    T.__matmul__ = lambda a, b: L.MatMul.apply(a, b)
    T.__rmatmul__ = lambda a, b: L.MatMul.apply(b, a)
    T.__getitem__ = lambda a, index: M.GetItem.apply(a, index=_index_arrays(index))

    T.exp = lambda a: E.Exp.apply(a)
    T.log = lambda a: E.Log.apply(a)
    T.sqrt = lambda a: E.Sqrt.apply(a)
    T.tanh = lambda a: E.Tanh.apply(a)
    T.sigmoid = lambda a: E.Sigmoid.apply(a)
    T.relu = lambda a: E.Relu.apply(a)
    T.gelu = lambda a, approximate="tanh": E.Gelu.apply(a, approximate=approximate)
    T.masked_fill = lambda a, mask, value: E.MaskedFill.apply(a, mask, value=value)

    T.sum = lambda a, axis=None, keepdims=False: R.Sum.apply(a, axis=axis, keepdims=keepdims)
    T.mean = lambda a, axis=None, keepdims=False: R.Mean.apply(a, axis=axis, keepdims=keepdims)
    T.max = lambda a, axis=None, keepdims=False: R.Max.apply(a, axis=axis, keepdims=keepdims)
    T.min = lambda a, axis=None, keepdims=False: R.Min.apply(a, axis=axis, keepdims=keepdims)
    T.var = lambda a, axis=None, keepdims=False, correction=0: R.Var.apply(
        a, axis=axis, keepdims=keepdims, correction=correction)

    T.reshape = lambda a, *shape: M.Reshape.apply(a, shape=_shape(shape))
    T.view = T.reshape
    T.flatten = lambda a: M.Reshape.apply(a, shape=(-1,))
    T.permute = lambda a, *axes: M.Permute.apply(a, axes=_shape(axes))
    T.expand = lambda a, *shape: M.Expand.apply(a, shape=_shape(shape))
    T.broadcast_to = T.expand

    def transpose(a, axis0=-2, axis1=-1):
        axes = list(range(a.ndim))
        axes[axis0], axes[axis1] = axes[axis1], axes[axis0]
        return M.Permute.apply(a, axes=tuple(axes))

    T.transpose = transpose
    T.T = property(lambda a: M.Permute.apply(a, axes=None))

    def softmax(a, axis=-1):
        if axis in (-1, a.ndim - 1):
            return N.Softmax.apply(a)
        return transpose(N.Softmax.apply(transpose(a, axis, -1)), axis, -1)

    def log_softmax(a, axis=-1):
        if axis in (-1, a.ndim - 1):
            return N.LogSoftmax.apply(a)
        return transpose(N.LogSoftmax.apply(transpose(a, axis, -1)), axis, -1)

    T.softmax = softmax
    T.log_softmax = log_softmax

    def split(a, size_or_sections, axis=0):
        """Pieces of `size` along `axis` (the last may be shorter), or at the given sizes."""
        n = a.shape[axis]
        sizes = ([size_or_sections] * (n // size_or_sections)
                 + ([n % size_or_sections] if n % size_or_sections else [])
                 if isinstance(size_or_sections, int) else list(size_or_sections))
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not add up to {n} (axis {axis} of "
                             f"{a.shape})")
        out, start = [], 0
        for s in sizes:
            index = [slice(None)] * a.ndim
            index[axis] = slice(start, start + s)
            out.append(a[tuple(index)])
            start += s
        return out

    T.split = split


_methods()
del _methods


def concatenate(tensors, axis: int = 0) -> Tensor:
    return M.Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis: int = 0) -> Tensor:
    return M.Stack.apply(*tensors, axis=axis)


def where(cond, a, b) -> Tensor:
    return E.Where.apply(cond, a, b)
