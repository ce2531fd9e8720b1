"""What every compiled wrapper shares: inputs the compiled loops were not built for go to the
reference kernel of the same name, and arrays are laid out as C-contiguous rows.

The Numba kernels are compiled for float32 and float64 and for arrays with at least one element;
anything else (float16, integers, empty or 0-d arrays) is rare, and the reference, which is the
specification, handles it correctly, only slower.

Unfinished code: a compiled loop that is not written yet can only raise NotImplementedError.
Whoever owns such a loop may install a policy (`set_unfinished_policy`) that is asked, with
the error and where it was raised (a kernel's name), whether the reference may run instead;
with no policy, the default, the error propagates. Generation asks the same policy when its
cached step is unfinished (generation/generate.py), and so does unfinished Python code that
names what could run in its place (`unfinished`).
"""

from __future__ import annotations

import functools

import numpy as np

from . import reference

FLOATS = (np.float32, np.float64)


def is_float(a: np.ndarray, *rest, **options) -> bool:
    """The common test: the first array is float32/float64, with at least one axis and one
    element (further arguments are not looked at)."""
    return a.dtype.type in FLOATS and a.ndim > 0 and a.size > 0


_unfinished_policy = None  # policy(error, where) -> bool, or None: never replace
_replacements = 0  # how many times unfinished code gave way, in this process


def set_unfinished_policy(policy):
    """Install `policy(error, where) -> bool` (None removes it); returns the previous one. It
    decides whether unfinished code, raising NotImplementedError `error` at `where` (a kernel's
    name, or "cached generation"), gives way to its fallback (the reference kernel; generation
    without the cache)."""
    global _unfinished_policy
    previous, _unfinished_policy = _unfinished_policy, policy
    return previous


def may_replace_unfinished(error: NotImplementedError, where: str) -> bool:
    """The installed policy's answer; False when there is none. Each yes is counted
    (`unfinished_replacements`), whichever policy gave it."""
    global _replacements
    if _unfinished_policy is None or not _unfinished_policy(error, where):
        return False
    _replacements += 1
    return True


def unfinished_replacements() -> int:
    """How many times unfinished code has given way to its fallback in this process (the
    grader fails a test during which any did: grading runs only the student's own code)."""
    return _replacements


STAND_IN = "stand-in: "  # how `unfinished` names its place to the policy: STAND_IN + instead


def unfinished(error: NotImplementedError, instead: str, run, *args, **kwargs):
    """Unfinished code that something else can stand in for: `run(*args, **kwargs)` (which
    computes `instead`, in words) when the installed policy allows it, asked with `error` and
    where = STAND_IN + instead; else `error` is raised. `run` None: nothing fits this call, so
    `error` is raised. With no policy, the default, nothing stands in."""
    if run is not None and may_replace_unfinished(error, STAND_IN + instead):
        return run(*args, **kwargs)
    raise error


def reference_unless(supported=is_float, spec=None):
    """Decorator: `@reference_unless(test)` on a compiled wrapper calls the reference kernel of
    the same name, with the same arguments, whenever `test(*args, **kwargs)` is false, or when
    the compiled code is unfinished and the policy above lets the reference stand in. `spec`
    replaces that reference call where the arguments hold this backend's own formats (the
    attention's saved weights), which the reference does not read."""
    def wrap(compiled):
        fallback = spec or getattr(reference, compiled.__name__)

        @functools.wraps(compiled)
        def kernel(*args, **kwargs):
            if supported(*args, **kwargs):
                try:
                    return compiled(*args, **kwargs)
                except NotImplementedError as error:
                    if not may_replace_unfinished(error, compiled.__name__):
                        raise
            return fallback(*args, **kwargs)
        return kernel
    return wrap


def rows(a: np.ndarray, dtype) -> np.ndarray:
    """A C-contiguous (rows, last axis) view or copy of `a` in `dtype`: leading axes flattened."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(-1, a.shape[-1]) if a.ndim else a.reshape(1, 1)


def flat(a: np.ndarray, dtype) -> np.ndarray:
    """A C-contiguous 1-D view or copy of `a` in `dtype`."""
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)
