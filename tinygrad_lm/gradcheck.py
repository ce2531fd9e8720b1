"""Check analytical gradients against finite differences.

For a function f of tensors x_1..x_n and a fixed random upstream vector v, backward gives
g_i = v^T (df/dx_i). Central differences give the same thing numerically, element by element:

    g_i[k] ~ ( v.f(x_i + eps e_k) - v.f(x_i - eps e_k) ) / (2 eps)

with error O(eps^2) from the Taylor series, plus rounding error ~ machine_eps / eps. In float64
(machine eps 1e-16) eps = 1e-6 makes both ~1e-10..1e-12; in float32 (1e-7) rounding alone is
~0.1, which is why inputs must be float64.

mode="full" perturbs every element; mode="fast" compares directional derivatives
v^T J u (numerical) with (v^T J) u (analytical) for a few random directions u, which costs two
forward passes per direction instead of two per element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import blame as _blame
from .autograd import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with finite differences (or a sanity check failed)."""


@dataclass
class GradcheckResult:
    """What `gradcheck` found: whether it passed, the largest absolute and relative errors between
    the analytic and the numerical gradient for each input (by position), and a message.
    """
    passed: bool
    max_abs_error: dict[int, float] = field(default_factory=dict)
    max_rel_error: dict[int, float] = field(default_factory=dict)
    message: str = ""


def _outputs(fn, inputs) -> tuple[Tensor, ...]:
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return tuple(o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f")


def _weighted_sum(outs, vs) -> float:
    return float(sum(np.sum(o.data.astype(np.float64) * v) for o, v in zip(outs, vs)))


def _analytical(fn, inputs, vs) -> list[np.ndarray | None]:
    for x in inputs:
        x.grad = None
    outs = _outputs(fn, inputs)
    for o, v in zip(outs, vs):
        if o.requires_grad:
            o.backward(v.astype(o.dtype))
    grads = [None if not x.requires_grad else
             (np.zeros_like(x.data) if x.grad is None else x.grad.copy()) for x in inputs]
    for x in inputs:
        x.grad = None
    return grads


def _name(fn) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


def _validate(fn, inputs, allow_float32: bool) -> None:
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError(f"gradcheck({_name(fn)}): no input requires grad; create at least one "
                         "with requires_grad=True")
    for i, x in enumerate(inputs):
        if x.requires_grad and x.dtype != np.float64 and not allow_float32:
            raise TypeError(
                f"gradcheck({_name(fn)}): input {i} is {x.dtype}; finite differences need "
                "float64 (float32 rounding error ~1e-3 swamps the check). Create it with "
                "dtype=np.float64, or pass allow_float32=True for a coarse smoke check")


def _fail(raise_exception, result, message):
    result.passed, result.message = False, message
    if raise_exception:
        raise GradcheckError(message)
    return result


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              mode: str = "full", seed: int = 0, raise_exception: bool = True,
              allow_float32: bool = False, n_directions: int = 4,
              blame: bool = True) -> GradcheckResult:
    """Compare fn's backward with central differences for every input that requires grad.

    `fn(*inputs)` returns a Tensor or a tuple of Tensors. Raises GradcheckError naming the
    function, output, input, worst element and both values on failure (or returns a failed
    result when raise_exception=False). When the gradients disagree and `blame` is on, the
    message also names the first op whose own backward is wrong, and where it was called
    (tinygrad_lm/blame.py), or says that every op passes alone.
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"gradcheck: mode must be 'full' or 'fast', got {mode!r}")
    inputs = list(inputs)
    _validate(fn, inputs, allow_float32)
    if allow_float32 and any(x.requires_grad and x.dtype == np.float32 for x in inputs):
        eps, atol, rtol = max(eps, 1e-3), max(atol, 1e-2), max(rtol, 1e-2)
    name = _name(fn)
    rng = np.random.default_rng(seed)
    originals = [x.data.copy() for x in inputs]
    result = GradcheckResult(passed=True)

    outs = _outputs(fn, inputs)
    if not outs:
        raise ValueError(f"gradcheck({name}): the function returned no floating-point tensor")
    for k, o in enumerate(outs):
        if not np.all(np.isfinite(o.data)):
            return _fail(raise_exception, result, f"gradcheck({name}): output {k} has NaN/inf")
    vs = [rng.standard_normal(o.shape) for o in outs]

    try:
        grads = _analytical(fn, inputs, vs)
    except Exception as e:  # an op's backward crashed: say which op, under the traceback
        # (code not written yet, NotImplementedError, is no wrong op: nothing to blame)
        if blame and hasattr(e, "add_note") and not isinstance(e, NotImplementedError):
            e.add_note(_blame.explain(fn, inputs, seed=seed))
        raise
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is None:
            continue
        if g.shape != x.shape or g.dtype != x.dtype:
            return _fail(raise_exception, result,
                         f"gradcheck({name}): grad of input {i} has shape {g.shape} and dtype "
                         f"{g.dtype}, but the input has shape {x.shape} and dtype {x.dtype}")
        if not np.all(np.isfinite(g)):
            return _fail(raise_exception, result,
                         f"gradcheck({name}): grad of input {i} has NaN/inf")

    again = _analytical(fn, inputs, vs)
    for i, (g1, g2) in enumerate(zip(grads, again)):
        if g1 is not None and not np.allclose(g1, g2, rtol=1e-10, atol=1e-12):
            return _fail(raise_exception, result, f"gradcheck({name}): backward run twice gives "
                         f"different grads for input {i} (hidden state or randomness?)")
    zero = _analytical(fn, inputs, [np.zeros_like(v) for v in vs])
    for i, g in enumerate(zero):
        if g is not None and np.any(g != 0):
            return _fail(raise_exception, result, f"gradcheck({name}): a zero upstream gradient "
                         f"gives a non-zero grad for input {i}")

    check = _check_full if mode == "full" else _check_fast
    message = check(fn, inputs, vs, grads, eps, atol, rtol, rng, n_directions, result, name)
    mismatch = bool(message)
    for i, (x, orig) in enumerate(zip(inputs, originals)):
        if not np.array_equal(x.data, orig, equal_nan=True):
            x.data[...] = orig
            message = message or f"gradcheck({name}): the function changed input {i} in place"
    if mismatch and blame:
        message += "\n  " + _blame.explain(fn, inputs, seed=seed)
    if message:
        return _fail(raise_exception, result, message)
    return result


def _report(name, out_desc, i, where, num, ana, atol, rtol, bad_count, total) -> str:
    abs_err = abs(num - ana)
    rel_err = abs_err / max(abs(num), 1e-12)
    return (f"gradcheck({name}) failed for {out_desc}, input {i} at element {where}:\n"
            f"  numerical  = {num:.10g}\n  analytical = {ana:.10g}\n"
            f"  abs error  = {abs_err:.3g}, rel error = {rel_err:.3g} "
            f"(tolerance: atol={atol:g} + rtol={rtol:g} * |numerical|)\n"
            f"  {bad_count} of {total} elements mismatched")


def _perturbed(fn, inputs, vs, x, flat_index, delta) -> float:
    flat = x.data.reshape(-1)
    old = flat[flat_index]
    flat[flat_index] = old + delta
    with no_grad():
        value = _weighted_sum(_outputs(fn, inputs), vs)
    flat[flat_index] = old
    return value


def _check_full(fn, inputs, vs, grads, eps, atol, rtol, rng, n_dirs, result, name):
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is None:
            continue
        if not x.data.flags.writeable or not x.data.flags.c_contiguous:
            x.data = np.ascontiguousarray(x.data).copy()
        num = np.empty(x.size)
        for k in range(x.size):
            plus = _perturbed(fn, inputs, vs, x, k, eps)
            minus = _perturbed(fn, inputs, vs, x, k, -eps)
            num[k] = (plus - minus) / (2 * eps)
        ana = g.reshape(-1).astype(np.float64)
        err = np.abs(num - ana)
        bad = err > atol + rtol * np.abs(num)
        result.max_abs_error[i] = float(err.max(initial=0.0))
        result.max_rel_error[i] = float((err / np.maximum(np.abs(num), 1e-12)).max(initial=0.0))
        if bad.any():
            k = int(np.argmax(np.where(bad, err, -1)))
            where = np.unravel_index(k, x.shape) if x.ndim else ()
            return _report(name, "the weighted sum of the outputs", i, tuple(int(w) for w in where),
                           num[k], ana[k], atol, rtol, int(bad.sum()), x.size)
    return ""


def _check_fast(fn, inputs, vs, grads, eps, atol, rtol, rng, n_dirs, result, name):
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is None:
            continue
        errs = []
        for d in range(n_dirs):
            u = rng.standard_normal(x.shape)
            base = x.data.copy()
            x.data = base + eps * u
            with no_grad():
                plus = _weighted_sum(_outputs(fn, inputs), vs)
            x.data = base - eps * u
            with no_grad():
                minus = _weighted_sum(_outputs(fn, inputs), vs)
            x.data = base
            num = (plus - minus) / (2 * eps)
            ana = float(np.sum(g.astype(np.float64) * u))
            errs.append(abs(num - ana))
            if abs(num - ana) > atol + rtol * abs(num):
                return _report(name, "the weighted sum of the outputs", i, f"direction {d}",
                               num, ana, atol, rtol, 1, n_dirs)
        result.max_abs_error[i] = max(errs)
    return ""
