"""Gradient blame: when a gradient check of a composite fails, name the first op whose own
backward disagrees with its finite-difference derivative.

A composite's gradient is a product of local Jacobians, v^T J_n ... J_1; one wrong factor spoils
every gradient behind it, so the composite's check cannot say which. The ops can: `blame` runs
the function once with a recorder on the engine's forward hook (the profiler hook of autograd,
installed only for this one run), which keeps each op's class, a float64 copy of its input
arrays, its attributes and the source line that called it. Then each op is checked alone, in
the order the forward ran it (parents before children), with the same identity as gradcheck:

    (v . f(x + eps u) - v . f(x - eps u)) / (2 eps)  ~  (v^T J) u

for a random upstream v and a few random directions u: two forward calls of that one op per
direction and input, so the whole search costs about one gradcheck of the largest op. The
first op that fails is checked element by element (when small enough) for its worst element.

The ops are called directly (`forward`, then `backward` on a fresh Context) and their gradients
summed to the input shapes here, so a broken backward loop or unbroadcast in the engine cannot
hide or fake an op's fault: when every op passes alone, the fault is in how the engine combines
them, and `explain_clean` says so.
"""

from __future__ import annotations

import copy
import os
import sys
from dataclasses import dataclass

import numpy as np

from . import autograd
from .autograd import Context, Function

PACKAGE = os.path.dirname(os.path.abspath(__file__))
# frames inside these are the engine's own plumbing; the op's call site is the first frame
# outside them (a layer in nn/, a lesson, a student's test)
_PLUMBING = tuple(os.path.join(PACKAGE, p) for p in (
    "autograd.py", "tensor.py", "creation.py", "blame.py", "gradcheck.py", "functional" + os.sep,
    "ops" + os.sep, "kernels" + os.sep))
FULL_CHECK_LIMIT = 4096  # elements: larger inputs of the blamed op keep the directional error
MAX_RECORDED_BYTES = 256 * 2 ** 20


@dataclass
class Blame:
    """The first op on the graph whose backward disagrees with finite differences."""
    op: str                  # the op's class name, such as Softmax
    op_file: str             # where the class lives, relative to the package (ops/neural.py)
    called_at: str           # the source line that applied the op (nn/attention.py:88)
    input_index: int
    input_shape: tuple
    max_rel_error: float
    detail: str              # the worst element, or the exception backward raised
    ops_checked: int

    def __str__(self) -> str:
        return (f"{self.op}.backward ({self.op_file}) called at {self.called_at} — input "
                f"{self.input_index} {self.input_shape}: max rel err {self.max_rel_error:.2g}"
                f"{'; ' + self.detail if self.detail else ''}")


@dataclass
class _Call:
    op: type
    arrays: tuple
    attrs: dict
    needs: tuple
    called_at: str


def _relative(path: str) -> str:
    path = os.path.abspath(path)
    if path.startswith(PACKAGE + os.sep):
        return os.path.relpath(path, PACKAGE).replace(os.sep, "/")
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def _call_site() -> str:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PLUMBING):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{_relative(frame.f_code.co_filename)}:{frame.f_lineno}"


def _op_class(name: str, forward) -> type:
    """The Function subclass named `name` whose forward is `forward` (Max shares _Extreme's)."""
    stack, found = list(Function.__subclasses__()), []
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.__name__ == name:
            found.append(cls)
    for cls in found:
        if cls.forward is forward:
            return cls
    if found:
        return found[0]
    raise LookupError(f"blame: no op class named {name}")


class _Recorder:
    """Stands in the profiler hook for one forward run; passes through to a real profiler."""

    def __init__(self, previous):
        self.previous, self.calls, self.nbytes = previous, [], 0

    def timed(self, op, phase, fn, *args, **attrs):
        if phase == "forward":
            ctx, arrays = args[0], args[1:]
            if any(ctx.needs_input_grad) and self.nbytes < MAX_RECORDED_BYTES:
                kept = tuple(None if a is None else _as64(np.array(a, copy=True))
                             for a in arrays)
                self.nbytes += sum(a.nbytes for a in kept if a is not None)
                self.calls.append(_Call(_op_class(op, fn), kept, dict(attrs),
                                        tuple(ctx.needs_input_grad), _call_site()))
        if self.previous is not None:
            return self.previous.timed(op, phase, fn, *args, **attrs)
        return fn(*args, **attrs)


def _as64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def record(fn, inputs) -> list[_Call]:
    """Run fn(*inputs) once, keeping every op that needed a gradient, in forward order."""
    recorder = _Recorder(autograd.current_profiler())
    autograd.set_profiler(recorder)
    try:
        with autograd.enable_grad():
            fn(*inputs)
    finally:
        autograd.set_profiler(recorder.previous)
    return recorder.calls


def _fresh_attrs(attrs: dict) -> dict:
    # a random op (dropout) draws from a Generator: each call gets the same copy of its state,
    # so every forward of the check sees the same mask (and the caller's generator is untouched)
    return {k: copy.deepcopy(v) if isinstance(v, np.random.Generator) else v
            for k, v in attrs.items()}


def _forward(call: _Call, arrays) -> tuple[np.ndarray, Context]:
    ctx = Context()
    ctx.needs_input_grad = call.needs
    out = call.op.forward(ctx, *arrays, **_fresh_attrs(call.attrs))
    return np.asarray(out), ctx


def _sum_to(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo broadcasting here rather than with the engine's unbroadcast (task 1.3)."""
    g = np.asarray(g, dtype=np.float64)
    if g.ndim > len(shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def _value(call, arrays, i, x, v) -> float:
    xs = list(arrays)
    xs[i] = x
    return float(np.sum(_forward(call, xs)[0].astype(np.float64) * v))


def _rel(num, ana):
    """|num - ana| / max(|num|, |ana|): 0 when they agree, 1 or more when they share nothing."""
    return np.abs(num - ana) / np.maximum(np.maximum(np.abs(num), np.abs(ana)), 1e-300)


def _worst_element(call, arrays, i, g, v, eps, atol, rtol) -> tuple[float, str]:
    """Every element of input i perturbed alone: the worst relative error and where."""
    x = arrays[i]
    num = np.empty(x.size)
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        step = step.reshape(x.shape)
        num[k] = (_value(call, arrays, i, x + step, v) - _value(call, arrays, i, x - step, v)) \
            / (2 * eps)
    ana = g.reshape(-1)
    bad = np.abs(num - ana) > atol + rtol * np.abs(num)
    rel = np.where(bad, _rel(num, ana), 0.0)
    k = int(np.argmax(rel))
    where = tuple(int(w) for w in np.unravel_index(k, x.shape)) if x.ndim else ()
    return float(rel[k]), (f"worst at element {where}: numerical {num[k]:.6g}, analytical "
                           f"{ana[k]:.6g} ({int(bad.sum())} of {x.size} elements wrong)")


def check_call(call: _Call, rng, eps=1e-6, atol=1e-5, rtol=1e-3, n_directions=3):
    """None when the op's backward agrees with finite differences of its forward, else
    (input index, max relative error, detail)."""
    arrays = call.arrays
    out, ctx = _forward(call, arrays)
    if out.dtype.kind != "f":
        return None
    if not np.array_equal(out, _forward(call, arrays)[0], equal_nan=True):
        return None  # a forward that changes from call to call cannot be differentiated here
    v = rng.standard_normal(out.shape)
    try:
        grads = call.op.backward(ctx, v.astype(out.dtype))
    except Exception as e:  # a backward that crashes is this op's fault
        first = next(i for i, n in enumerate(call.needs) if n)
        return first, float("inf"), f"backward raised {type(e).__name__}: {e}"
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(arrays):
        return 0, float("inf"), (f"backward returned {len(grads)} gradient(s) for "
                                 f"{len(arrays)} input(s)")
    for i, (x, g, needed) in enumerate(zip(arrays, grads, call.needs)):
        if not needed or x is None or x.dtype.kind != "f":
            continue
        if g is None:
            return i, float("inf"), "backward returned None for an input that needs a gradient"
        g = _sum_to(g, x.shape)
        if g.shape != x.shape:
            return i, float("inf"), (f"backward returned a gradient of shape {np.shape(g)} "
                                     f"for an input of shape {x.shape}")
        for _ in range(n_directions):
            u = rng.standard_normal(x.shape)
            num = (_value(call, arrays, i, x + eps * u, v) -
                   _value(call, arrays, i, x - eps * u, v)) / (2 * eps)
            ana = float(np.sum(g * u))
            if abs(num - ana) > atol + rtol * abs(num):
                if x.size <= FULL_CHECK_LIMIT:
                    return (i, *_worst_element(call, arrays, i, g, v, eps, atol, rtol))
                return i, float(_rel(num, ana)), (f"along a random direction: numerical "
                                                  f"{num:.6g}, analytical {ana:.6g}")
    return None


def blame(fn, inputs, *, seed: int = 0, eps: float = 1e-6, atol: float = 1e-5,
          rtol: float = 1e-3) -> tuple[Blame | None, int]:
    """(the first op of fn(*inputs) whose backward is wrong, or None; how many ops were
    checked). `inputs` are Tensors, as for gradcheck; they are not changed."""
    calls = record(fn, [x for x in inputs])
    rng = np.random.default_rng(seed)
    for n, call in enumerate(calls, start=1):
        found = check_call(call, rng, eps, atol, rtol)
        if found is not None:
            i, rel, detail = found
            op_file = _relative(sys.modules[call.op.__module__].__file__)
            return Blame(call.op.__name__, op_file, call.called_at, i,
                         tuple(call.arrays[i].shape), rel, detail, n), n
    return None, len(calls)


def explain(fn, inputs, **kwargs) -> str:
    """The sentence a failed gradcheck of a composite ends with: the blamed op, or why none."""
    try:
        found, n = blame(fn, inputs, **kwargs)
    except Exception as e:  # blame is a diagnosis: it never hides the check's own failure
        return f"(blame could not run: {type(e).__name__}: {e})"
    if found is not None:
        return f"first wrong op: {found}"
    return (f"every op's backward agrees with finite differences on its own ({n} ops "
            "checked): the fault is in how the engine combines them (the backward loop, "
            "gradient accumulation, unbroadcast) or in a computation outside the ops")


__all__ = ["Blame", "blame", "check_call", "explain", "record"]
