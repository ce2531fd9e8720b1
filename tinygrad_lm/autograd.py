"""Reverse-mode automatic differentiation, on ndarrays: the floor below the Tensor.

A computation builds a graph: every Tensor produced by an op keeps a `Context` that remembers the
op (a `Function` subclass), its parent tensors and whatever arrays the op saved for backward.
`backward()` walks that graph from the output to the leaves in reverse topological order and
applies the chain rule:

    dL/dx = sum over every use u of x:  (du/dx)^T  dL/du

Each op's `backward` only states its local derivative. Two things are done here, once, for all
ops: undoing NumPy broadcasting (a gradient flowing into an input that was broadcast must be
summed back to the input's shape) and accumulating gradients of tensors used more than once.

This module imports nothing else of the package: it sees tensors only through their `data`,
`grad`, `requires_grad`, `_ctx` and `_version`. `tensor.apply` runs an op and records it here.

Reading order: grad mode, Context, the Function contract, then the chain rule (unbroadcast,
toposort, backward) on one screen, then the checks and hooks that wrap each op's forward and
backward (profiler, anomaly detection, in-place version checks) in one place, `run_forward` and
`run_backward`, outside the math.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

# The engine's global state: grad mode, plus the hooks below (a profiler only inside
# `with profile():`, anomaly checks only inside `with detect_anomaly():`). The kernel backend
# is the other global, kept in tinygrad_lm.kernels.
_grad_enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph for backward (the default; False inside `no_grad()`)."""
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets grad mode and restores the previous one."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._previous: list[bool] = []

    def __enter__(self):
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous.pop()
        return False


def no_grad() -> _GradMode:
    """`with no_grad():` ops inside record no graph (evaluation, optimizer updates)."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """`with enable_grad():` ops record the graph again, even inside a `no_grad()` block."""
    return _GradMode(True)


class Context:
    """What an op keeps between its forward and its backward."""

    def __init__(self):
        self.saved: tuple | None = ()
        self.needs_input_grad: tuple[bool, ...] = ()
        self.fn: type[Function] | None = None
        self.parents: tuple = ()
        self.versions: tuple[int, ...] = ()

    def save_for_backward(self, *arrays) -> None:
        """Keep `arrays` (inputs, outputs or intermediates of forward) for backward, as
        `ctx.saved`, in the order given."""
        self.saved = arrays

    def free(self) -> None:
        """Drop saved arrays and the links to the parents, so that activations can be freed
        while backward is still running; a second backward through this node is an error."""
        self.saved = None
        self.parents = ()


# Every Function subclass registers itself here by lowercase class name, so that tests can check
# that each op has a gradient check. Names starting with "_" (helpers, test doubles) are left out.
FUNCTION_REGISTRY: dict[str, type[Function]] = {}


class Function:
    """One differentiable op: `forward` on ndarrays, `backward` giving one gradient per input.

    Subclasses implement::

        @staticmethod
        def forward(ctx, *arrays, **attrs) -> np.ndarray
        @staticmethod
        def backward(ctx, grad) -> np.ndarray | None | tuple[np.ndarray | None, ...]

    `backward` returns gradients with the shape of the op's (broadcast) output view of each input;
    the engine sums them back to each input's own shape. Run an op on tensors with
    `tinygrad_lm.tensor.apply(Op, *inputs, **attrs)` (what every Tensor method does).
    """

    # Whether backward may read the op's output (Exp saves e^a). When it cannot (Clone), the
    # output may be changed in place under no_grad() without making backward stale.
    output_in_backward = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            FUNCTION_REGISTRY[cls.__name__.lower()] = cls

    @staticmethod
    def forward(ctx, *arrays, **attrs):  # pragma: no cover - abstract
        """Compute the op's output from its input arrays.

        Args:
            ctx: the op's `Context`; `ctx.save_for_backward(...)` keeps what backward needs.
            *arrays: the inputs as ndarrays (broadcasting as NumPy does).
            **attrs: the op's non-differentiable settings (an axis, a shape, a scale...).

        Returns:
            The output ndarray.
        """
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        """The chain rule for this op: from dL/d(output) to dL/d(each input).

        Args:
            ctx: the op's `Context`, with `ctx.saved` from forward and `ctx.needs_input_grad`.
            grad: dL/d(output), an ndarray of the output's shape.

        Returns:
            One gradient per input (a single array for a one-input op, else a tuple), each
            `local derivative * grad`; None for an input that needs no gradient. A gradient
            may have the broadcast shape: the engine sums it back to the input's shape.
        """
        raise NotImplementedError


# ---- the chain rule -------------------------------------------------------------------------
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1; the derivative
    of a copy is the sum of the gradients of all copies.
    """
    # BEGIN ASSIGNMENT 1.3
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != tuple(shape):
        raise RuntimeError(f"internal error: gradient of shape {grad.shape} does not reduce "
                           f"to input shape {tuple(shape)}")
    return grad
    # END ASSIGNMENT 1.3


def toposort(root) -> list:
    """Tensors reachable from `root` through tensors that require grad, parents first.

    Iterative (an explicit stack), so graphs deeper than Python's recursion limit work.
    """
    # BEGIN ASSIGNMENT 1.1
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.parents:
                if parent is not None and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order
    # END ASSIGNMENT 1.1


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires grad."""
    grad = _seed_gradient(root, grad)
    # BEGIN ASSIGNMENT 1.2
    grads = {id(root): grad}
    order = toposort(root)
    while order:  # children first; popping releases each node once it is done
        node = order.pop()
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if node._ctx is None:  # a leaf: accumulate, never overwrite
            g = g.astype(node.dtype, copy=False)
            if node.grad is None:
                node.grad = owned_gradient(g)
            else:
                node.grad += g
            continue
        ctx = node._ctx
        for parent, pg in zip(ctx.parents, run_backward(node, g)):
            if pg is None:  # an input that needs no gradient
                continue
            pg = unbroadcast(pg, parent.shape).astype(parent.dtype, copy=False)
            key = id(parent)
            grads[key] = pg if key not in grads else grads[key] + pg
        if not retain_graph:
            ctx.free()
    # END ASSIGNMENT 1.2


def owned_gradient(g: np.ndarray) -> np.ndarray:
    """g as a leaf's first `.grad`: g itself when nothing but the backward loop holds it and it
    is no view (the fresh array an op's backward has just returned), else a copy. The copy is
    what makes accumulating into one `.grad` later safe: it must never write into an array that
    something else holds (another leaf's gradient, an op's saved array, the caller's grad=).
    Skipping it for fresh arrays saves a pass over every parameter's gradient per backward:
    for GPT-2 small, 500 MB copied, about 50 ms a step on 2 cores.

    The count: the caller's variable, this argument and getrefcount's own (a view of g, alive
    anywhere, holds one more through its base)."""
    if g.base is None and g.flags.owndata and g.flags.writeable and sys.getrefcount(g) <= 3:
        return g
    return np.array(g, copy=True)


def _seed_gradient(root, grad) -> np.ndarray:
    """dL/dL: ones for a scalar output, else the caller's `grad` of the output's shape."""
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                           "create the inputs with requires_grad=True")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: output has shape {root.shape}; a gradient can only be created "
                "implicitly for a scalar. Reduce it first (e.g. .sum() or .mean()) or pass "
                "grad= with the output's shape")
        return np.ones_like(root.data)
    grad = np.asarray(getattr(grad, "data", grad), dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(f"backward: grad has shape {grad.shape} but the output has shape "
                         f"{root.shape}")
    return grad


# ---- around each op: the checks and hooks, in one place -------------------------------------
# run_forward and run_backward are the only two places an op's math is called. The profiler and
# anomaly detection hook in here; so do the checks that give a clear error instead of a wrong
# gradient (a second backward through freed arrays, an input changed in place, a backward that
# returns the wrong number or shape of gradients).
_profiler = None
_detect_anomaly = False


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf while anomaly detection was on."""


class detect_anomaly(contextlib.ContextDecorator):
    """`with detect_anomaly():` every op checks that its output (forward) and its gradients
    (backward) are finite, and the first one that is not raises AnomalyError naming the op.
    Slow: for hunting the origin of a NaN, not for normal training."""

    def __enter__(self):
        global _detect_anomaly
        self._previous, _detect_anomaly = _detect_anomaly, True
        return self

    def __exit__(self, *exc):
        global _detect_anomaly
        _detect_anomaly = self._previous
        return False


def current_profiler():
    """The profiler that times every op's forward and backward, or None."""
    return _profiler


def set_profiler(profiler) -> None:
    """Install `profiler` (an object with `timed(op, phase, fn, *args)`), or None to remove it;
    `tinygrad_lm.profile()` does this for its `with` block."""
    global _profiler
    _profiler = profiler


def run_forward(fn: type[Function], ctx: Context, arrays: tuple, attrs: dict) -> np.ndarray:
    """`fn.forward(ctx, *arrays, **attrs)`, timed when profiling, checked when hunting NaNs."""
    if _profiler is None:
        out = fn.forward(ctx, *arrays, **attrs)
    else:
        out = _profiler.timed(fn.__name__, "forward", fn.forward, ctx, *arrays, **attrs)
    if _detect_anomaly:
        _check_finite(fn.__name__, "forward", (out,),
                      [None if a is None else a.shape for a in arrays])
    return out


def run_backward(node, grad: np.ndarray) -> tuple:
    """The gradients of `node`'s op for its inputs, one per parent (None where none is needed):
    `ctx.fn.backward(ctx, grad)`, checked before and after and timed when profiling."""
    ctx = node._ctx
    op = ctx.fn.__name__
    if ctx.saved is None:
        raise RuntimeError(
            f"backward through {op} a second time: its saved arrays were freed "
            "by the first backward. Pass retain_graph=True to the first .backward() if you "
            "need to differentiate the same graph twice, or recompute the forward pass")
    _check_versions(node)
    if _profiler is None:
        in_grads = ctx.fn.backward(ctx, grad)
    else:
        in_grads = _profiler.timed(op, "backward", ctx.fn.backward, ctx, grad)
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    if len(in_grads) != len(ctx.parents):
        raise RuntimeError(f"{op}.backward returned {len(in_grads)} gradient(s) for "
                           f"{len(ctx.parents)} input(s): return one per input of forward, "
                           "None for an input that gets no gradient")
    in_grads = tuple(None if pg is None or not needed else np.asarray(pg)
                     for pg, needed in zip(in_grads, ctx.needs_input_grad))
    for i, (parent, pg) in enumerate(zip(ctx.parents, in_grads)):
        if pg is not None and not _fits(pg.shape, parent.shape):
            raise RuntimeError(f"{op}.backward returned a gradient of shape {pg.shape} "
                               f"for input {i} of shape {parent.shape}")
    if _detect_anomaly:
        _check_finite(op, "backward", in_grads,
                      [None if p is None else p.shape for p in ctx.parents])
    return in_grads


def _check_finite(op: str, phase: str, arrays, shapes) -> None:
    for a in arrays:
        if a is not None and np.asarray(a).dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise AnomalyError(f"{op}.{phase} produced NaN/inf (inputs of shapes {shapes}); "
                               "this is the first non-finite value in the computation")


def _check_versions(node) -> None:
    ctx = node._ctx
    changed = [(i, p) for i, (p, v) in enumerate(zip(ctx.parents, ctx.versions))
               if p is not None and p._version != v]
    if changed or (node._version != 0 and ctx.fn.output_in_backward):
        what = (f"input {changed[0][0]} (shape {changed[0][1].shape})" if changed
                else f"its output (shape {node.shape})")
        raise RuntimeError(
            f"backward of {ctx.fn.__name__}: {what} was modified in place after the op used it, "
            "so the values saved for backward are stale. Use an out-of-place op "
            "(x = x + y instead of x += y), or change a copy: x.clone().")


def _fits(grad_shape: tuple, shape: tuple) -> bool:
    """Whether a gradient of grad_shape can be summed down to an input of `shape`: it has at
    least as many axes, and each of the input's axes matches or was 1 (broadcast)."""
    if len(grad_shape) < len(shape):
        return False
    tail = grad_shape[len(grad_shape) - len(shape):]
    return all(n == m or n == 1 for n, m in zip(shape, tail))
