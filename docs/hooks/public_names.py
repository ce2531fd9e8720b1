"""The package's public names, and which of them have no docstring.

A name is public when no part of its dotted path starts with an underscore: every module under
`tinygrad_lm/` (not `_nb_*.py`, not `__main__`), every function and class a module defines
(not what it imports), and every method, classmethod, staticmethod and property a public class
defines. A method that overrides a documented method of a base class (an op's `forward` and
`backward`, a layer's `forward`) inherits that contract's docstring, as `help()` shows it.

Used by the docs build (the API pages) and by tests/test_docs.py (no public name without a
docstring, beyond the recorded list of older gaps).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pkgutil

PACKAGE = "tinygrad_lm"


def public_modules(package: str = PACKAGE) -> list[str]:
    """Dotted names of every public module of `package`, the package itself first."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names, key=lambda n: (n.count("."), n) if n == package else (1, n))


def _own_doc(obj) -> str:
    """The docstring written for `obj` itself (a dataclass's generated signature is none)."""
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        obj = obj.fget
    obj = getattr(obj, "py_func", obj)  # a Numba dispatcher documents its Python function
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and doc:
        if doc.startswith(obj.__name__ + "("):  # written by @dataclass, not by a person
            return ""
    return (doc or "").strip()


def _defined_here(obj, module) -> bool:
    obj = getattr(obj, "py_func", obj)
    return getattr(obj, "__module__", None) == module.__name__


def _is_routine(obj) -> bool:
    return (inspect.isfunction(obj) or isinstance(obj, (staticmethod, classmethod, property))
            or hasattr(obj, "py_func"))


def _inherited_doc(cls, name: str) -> bool:
    for base in cls.__mro__[1:]:
        if name in base.__dict__ and _own_doc(base.__dict__[name]):
            return True
    return False


def module_members(module) -> list[tuple[str, object]]:
    """(qualified name, object) for each public function and class `module` defines."""
    out = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or not _defined_here(obj, module):
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj) or hasattr(obj, "py_func"):
            out.append((f"{module.__name__}.{name}", obj))
    return out


def undocumented(package: str = PACKAGE) -> list[str]:
    """Every public module, function, class and method of `package` that has no docstring."""
    missing = []
    for modname in public_modules(package):
        module = importlib.import_module(modname)
        if not (module.__doc__ or "").strip():
            missing.append(modname)
        for qualname, obj in module_members(module):
            if not _own_doc(obj):
                missing.append(qualname)
            if not inspect.isclass(obj):
                continue
            for name, attr in sorted(vars(obj).items()):
                if name.startswith("_") or not _is_routine(attr):
                    continue
                if not _own_doc(attr) and not _inherited_doc(obj, name):
                    missing.append(f"{qualname}.{name}")
    return missing


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.getcwd())
    for line in undocumented():
        print(line)
