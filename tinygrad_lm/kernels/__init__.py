"""The kernel layer: which implementation of the heavy ops runs. Arrays in, arrays out.

Two backends follow one contract (contract.py, a method per kernel; each kernel's math is
written in reference.py):

- "numpy": `reference.py`, plain NumPy, the specification a student reads;
- "numba": `numba_cpu.py`, compiled loops, the default when Numba is importable.

Ops call `active_backend().<kernel>(...)` and never import Numba themselves, so the engine works
(slower) without it. The active backend is global state next to grad mode; change it with
`set_backend` or, scoped, `with use_backend("numpy"): ...`. A backend is checked against the
contract when it is registered (the built-in ones on first use), so a missing kernel fails there.

The Numba backend's thread count is a knob of its own, `set_num_threads(n)` or
`with use_threads(n):` (threads.py; one per core by default). `with tuned_for_training():`
(tuning.py) keeps freed memory in the process and BLAS on one thread for one block; nothing in
the engine switches it on, the `tinygrad-lm train` command and the benchmarks do.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from types import ModuleType

from .allocator import keep_freed_memory
from .contract import KERNELS, KernelBackend, check_backend
from .threads import blas_held, num_threads, set_num_threads, use_threads
from .tuning import tuned_for_training
from .wrappers import (
    may_replace_unfinished,
    set_unfinished_policy,
    unfinished,
    unfinished_replacements,
)

__all__ = ["KERNELS", "KernelBackend", "active_backend", "available_backends", "blas_held",
           "get_backend", "keep_freed_memory", "may_replace_unfinished", "num_threads",
           "numba_available", "register_backend", "set_backend", "set_num_threads",
           "set_unfinished_policy", "tuned_for_training", "unfinished",
           "unfinished_replacements", "use_backend", "use_threads"]

_BUILTIN = {"numpy": "tinygrad_lm.kernels.reference", "numba": "tinygrad_lm.kernels.numba_cpu"}
_registered: dict[str, ModuleType] = {}
_active: ModuleType | None = None


def numba_available() -> bool:
    """True when Numba can be imported (the numba backend can be used)."""
    return importlib.util.find_spec("numba") is not None


def available_backends() -> list[str]:
    """Names of the backends that can be selected here: built in, then registered."""
    names = [n for n in _BUILTIN if n != "numba" or numba_available()]
    return names + [n for n in _registered if n not in names]


def register_backend(name: str, module: ModuleType) -> None:
    """Make `module` selectable as backend `name`, after checking it against the contract."""
    check_backend(module)
    _registered[name] = module


def _load(name: str) -> ModuleType:
    if name not in _registered:
        if name not in _BUILTIN:
            raise ValueError(f"unknown kernel backend {name!r}; choose one of "
                             f"{available_backends()}")
        if name == "numba" and not numba_available():
            raise RuntimeError("the 'numba' backend needs the numba package: pip install numba "
                               "(or use the 'numpy' backend)")
        # the Numba backend is an optional extra: imported only when chosen
        register_backend(name, importlib.import_module(_BUILTIN[name]))
    return _registered[name]


def active_backend() -> ModuleType:
    """The backend module the ops call (chosen on first use, so importing the package does not
    import Numba)."""
    global _active
    if _active is None:
        _active = _load("numba" if numba_available() else "numpy")
    return _active


def get_backend() -> str:
    """The name of the active kernel backend ("numba", "numpy" or a registered one)."""
    return active_backend().NAME


def set_backend(name: str) -> None:
    """Make backend `name` the active one for every op from now on (`use_backend` does it for
    one `with` block).
    """
    global _active
    _active = _load(name)


@contextlib.contextmanager
def use_backend(name: str):
    """`with use_backend("numpy"):` run ops on that backend, then restore the previous one."""
    global _active
    previous = _active
    _active = _load(name)
    try:
        yield _active
    finally:
        _active = previous
