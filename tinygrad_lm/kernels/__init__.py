"""The kernel layer: which implementation of the heavy ops runs.

Two backends with identical function signatures:

- "numpy": `reference.py`, plain NumPy, the specification a student reads;
- "numba": `numba_cpu.py`, compiled loops, the default when Numba is importable.

Ops call `current()` and never import Numba themselves, so the engine works (slower) without it.
The backend is one of the two pieces of global state; change it with `set_backend` or, scoped,
`with use_backend("numpy"): ...`. The Numba backend's thread count is the other knob,
`set_num_threads(n)` or `with use_threads(n):` (threads.py; one per core by default).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from types import ModuleType

from .threads import num_threads, set_num_threads, use_threads  # noqa: F401  (re-exported)

BACKENDS = {"numpy": "tinygrad_lm.kernels.reference", "numba": "tinygrad_lm.kernels.numba_cpu"}

_current: ModuleType | None = None


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def available_backends() -> list[str]:
    return [name for name in BACKENDS if name != "numba" or numba_available()]


def _load(name: str) -> ModuleType:
    if name not in BACKENDS:
        raise ValueError(f"unknown kernel backend {name!r}; choose one of {sorted(BACKENDS)}")
    if name == "numba" and not numba_available():
        raise RuntimeError("the 'numba' backend needs the numba package: pip install numba "
                           "(or use the 'numpy' backend)")
    from .allocator import keep_freed_memory
    keep_freed_memory()  # a training step's arrays are reused, not page-faulted in anew
    return importlib.import_module(BACKENDS[name])


def current() -> ModuleType:
    """The active backend module (chosen lazily, so importing the package stays fast)."""
    global _current
    if _current is None:
        _current = _load("numba" if numba_available() else "numpy")
    return _current


def get_backend() -> str:
    return current().NAME


def set_backend(name: str) -> None:
    global _current
    _current = _load(name)


@contextlib.contextmanager
def use_backend(name: str):
    """`with use_backend("numpy"):` run ops on that backend, then restore the previous one."""
    global _current
    previous = _current
    _current = _load(name)
    try:
        yield _current
    finally:
        _current = previous
