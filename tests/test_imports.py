"""The package's import graph: one-way floors, no cycles, no lazy imports of the package's own
modules (an import inside a function hides a dependency, and usually a cycle).

Every `import` and `from ... import` statement in tinygrad_lm/ is read with `ast` (nothing is
imported or run), relative names are resolved, and each statement is an edge from its module to
the package module it names. Optional extras may be imported lazily: other libraries
(matplotlib, safetensors, tqdm, ...), and a part of the package that may be absent, imported
inside `try: ... except ImportError` (the bug corpus, which a student copy does not have).
"""

from __future__ import annotations

import ast
import configparser
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "tinygrad_lm"
PACKAGE = "tinygrad_lm"

# Lazy imports kept on purpose, each with its reason.
ALLOWED_LAZY = {
    ("tinygrad_lm.course.assignments.pytest_plugin", "tinygrad_lm"):
        "the grader's pytest plugin must not import the package it grades before the tests do",
}

def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def resolve(node: ast.ImportFrom | ast.Import, name: str, is_package: bool,
            known: dict) -> list[str]:
    """The package modules an import statement names (empty for other libraries)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        # `from pkg import sub` imports the submodule pkg.sub when there is one
        subs = [f"{stem}.{alias.name}" for alias in node.names if f"{stem}.{alias.name}" in known]
        targets = subs if subs and len(subs) == len(node.names) else [stem] + subs
    return [t for t in targets if t == PACKAGE or t.startswith(PACKAGE + ".")]


@functools.cache
def import_graph(root: Path = ROOT):
    """({module: {imported package modules}}, [(module, line, target) of lazy imports])."""
    known = modules(root)
    graph, lazy = {}, []
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top = set(id(n) for n in tree.body)
        optional = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try)
                    and any(h.type is not None and "ImportError" in ast.unparse(h.type)
                            for h in t.handlers) for n in ast.walk(t)}
        edges = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in resolve(node, name, path.name == "__init__.py", known):
                if target not in known and id(node) in optional:
                    continue  # a part a student copy does not have
                if target not in known:
                    raise AssertionError(f"{path}:{node.lineno}: imports {target}, which is not "
                                         "a module of the package")
                if id(node) in top:
                    edges.add(target)
                elif id(node) not in optional and (name, target) not in ALLOWED_LAZY:
                    lazy.append((name, node.lineno, target))
    return graph, lazy


def find_cycle(graph) -> list[str] | None:
    state = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_no_import_cycle():
    graph, _ = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_lazy_import_of_the_package():
    _, lazy = import_graph()
    lazy = [(m, line, t) for m, line, t in lazy if (m, t) not in _granted_edges()]
    assert not lazy, "imports of the package's own modules inside functions (move them to the " \
        "top of the module; a cycle they hid must be broken instead): " + ", ".join(
            f"{m} line {line} imports {t}" for m, line, t in lazy)


def _floors_contract() -> configparser.SectionProxy:
    config = configparser.ConfigParser()
    config.read(ROOT.parent / "setup.cfg")
    return config["importlinter:contract:floors"]


def _granted_edges() -> set[tuple[str, str]]:
    """The contract's `ignore_imports`: none in the reference repository. A student copy's build
    writes there the engine modules whose starters call the course's stand-ins."""
    text = _floors_contract().get("ignore_imports", "")
    return {tuple(part.strip() for part in line.split("->"))
            for line in text.split("\n") if "->" in line}


def test_only_a_starters_call_of_the_stand_ins_goes_up_a_floor():
    assert all(target == f"{PACKAGE}.course.stand_ins" for _, target in _granted_edges())


def test_the_floors_contract_holds():
    """The import-linter `layers` contract in setup.cfg (the floors ARCHITECTURE.md draws)."""
    cli = pytest.importorskip("importlinter.cli",
                              reason="pip install import-linter (the test extra)")
    assert cli.lint_imports(config_filename=str(ROOT.parent / "setup.cfg")) == 0, \
        "an import goes up a floor: run `lint-imports` for the list"


def test_every_module_is_on_a_floor():
    """A new module or subpackage at the root must be placed on a floor of the contract."""
    floors = {name.strip() for line in _floors_contract()["layers"].split("\n")
              for name in line.split("|") if name.strip()}
    top = {p.stem if p.suffix else p.name for p in ROOT.iterdir()
           if (p.suffix == ".py" or (p / "__init__.py").exists())}
    missing = sorted(top - floors - {"__init__", "__main__"})
    assert not missing, f"modules on no floor of setup.cfg's import-linter contract: {missing}"


def test_autograd_imports_nothing_of_the_package():
    graph, _ = import_graph()
    assert graph[f"{PACKAGE}.autograd"] == set()
    # kernels are arrays only (in a student copy, its starters may call the stand-ins)
    kernels = {m for m in graph if m.startswith(f"{PACKAGE}.kernels")}
    assert all(t.startswith(f"{PACKAGE}.kernels") or (m, t) in _granted_edges()
               for m in kernels for t in graph[m])


def _graph_of(sources: dict[str, str], tmp_path) -> tuple:
    pkg = tmp_path / PACKAGE
    for rel, text in sources.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return import_graph(pkg)


def test_the_walker_finds_a_cycle_and_a_lazy_import(tmp_path):
    graph, lazy = _graph_of({"__init__.py": "", "a.py": "from .b import x\n",
                             "b.py": "from . import a\n\ndef f():\n    from .c import y\n",
                             "c.py": "import numpy\n\ndef g():\n    import matplotlib\n"
                                     "    try:\n        from .d import z\n"
                                     "    except ImportError:\n        pass\n",
                             "d.py": ""},
                            tmp_path)
    assert find_cycle(graph) in (["tinygrad_lm.a", "tinygrad_lm.b", "tinygrad_lm.a"],
                                 ["tinygrad_lm.b", "tinygrad_lm.a", "tinygrad_lm.b"])
    assert lazy == [("tinygrad_lm.b", 4, "tinygrad_lm.c")]  # matplotlib is an optional extra
