"""The API reference, one page per public module, generated at build time.

Each page is a `::: module` directive that mkdocstrings fills from the module's docstrings. The
list of modules is read from the package itself (public_names.public_modules), so a module
that is added, moved or renamed shows up where it now is on the next build, and the index page
gives each module's one-line summary and the top-level names `import tinygrad_lm as tg` offers.
"""

from __future__ import annotations

import importlib
import inspect

from public_names import PACKAGE, module_members, public_modules


def page_path(module: str) -> str:
    """Where the page of `module` lives in the site ("api/tinygrad_lm.nn.gpt.md")."""
    return f"api/{module}.md"


def summary(obj) -> str:
    """The first line of a docstring ("" when there is none)."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


def module_page(module: str) -> str:
    """`::: module` with the options that suit a teaching reference (source shown)."""
    mod = importlib.import_module(module)
    is_package = hasattr(mod, "__path__")
    lines = [f"# `{module}`", "", f"::: {module}", "    options:", "      show_root_heading: false",
             "      show_root_toc_entry: false"]
    if is_package:  # a package page: what its __init__ defines, not what it re-exports
        own = [qualname.rsplit(".", 1)[1] for qualname, _ in module_members(mod)]
        lines += ["      members: [" + ", ".join(own) + "]" if own else "      members: false", ""]
        subs = [m for m in public_modules() if m.rsplit(".", 1)[0] == module]
        if subs:
            lines += ["## Modules", "", "| module | what it holds |", "|---|---|"]
            lines += [f"| [`{m}`]({m}.md) | {summary(importlib.import_module(m))} |"
                      for m in subs]
    return "\n".join(lines) + "\n"


def _anchor(name: str, obj) -> str | None:
    """The identifier mkdocstrings gives the object that `tinygrad_lm.<name>` refers to."""
    if inspect.ismodule(obj):
        return None
    target = getattr(obj, "py_func", obj)
    module = getattr(target, "__module__", None)
    if module and module.startswith(PACKAGE) and hasattr(target, "__qualname__"):
        return f"{module}.{target.__qualname__}"
    for modname in public_modules():  # a constant: the module that defines it
        if modname != PACKAGE and name in vars(importlib.import_module(modname)):
            return f"{modname}.{name}"
    return None


def index_page() -> str:
    """The API index: the top-level names, then every module with its summary."""
    root = importlib.import_module(PACKAGE)
    lines = ["# API reference", "",
             "Generated from the docstrings when the site is built. Every page shows each "
             "function's and class's signature, its docstring (shapes, what it returns, the "
             "math) and, folded, its source.", "",
             f"## `import {PACKAGE} as tg`", "", "| name | what it is |", "|---|---|"]
    for name in sorted(getattr(root, "__all__", []), key=str.lower):
        obj = getattr(root, name)
        if inspect.ismodule(obj):
            lines.append(f"| [`tg.{name}`]({obj.__name__}.md) | {summary(obj)} |")
            continue
        anchor = _anchor(name, obj)
        link = f"[`tg.{name}`][{anchor}]" if anchor else f"`tg.{name}`"
        lines.append(f"| {link} | {summary(obj) if callable(obj) else ''} |")
    lines += ["", "## Modules", "", "| module | what it holds |", "|---|---|"]
    for module in public_modules():
        lines.append(f"| [`{module}`]({module}.md) | "
                     f"{summary(importlib.import_module(module))} |")
    return "\n".join(lines) + "\n"


def nav_entries() -> list:
    """The API section of the navigation: the index, then modules nested by package."""
    entries: list = [{"Overview": "api/index.md"}]
    packages: dict[str, list] = {}
    for module in public_modules():
        parent = module.rsplit(".", 1)[0]
        item = {module.split(".", 1)[-1] if module != PACKAGE else PACKAGE: page_path(module)}
        mod = importlib.import_module(module)
        if hasattr(mod, "__path__") and module != PACKAGE:
            packages[module] = [item]
            target = packages.get(parent, entries)
            target.append({module.split(".", 1)[-1]: packages[module]})
        else:
            packages.get(parent, entries).append(item)
    return entries
