"""Writes docs/ops.md, the op reference, from the ops themselves:

    python -m tinygrad_lm.ops.reference_page          # rewrite docs/ops.md
    python -m tinygrad_lm.ops.reference_page --check  # exit 1 if docs/ops.md is stale

The page lists every public Tensor method, every function of tinygrad_lm.functional and
tinygrad_lm.creation, and every op class (the Function subclasses of this package), each with
its docstring: the formula, the gradient, and, where there is one, the difference from PyTorch
(a docstring paragraph starting "PyTorch:"). It also says which op class each function applies,
or that it is composed of other ops.

The sources are read with `ast`, not imported: the ops floor must not import the Tensor above
it, and nothing is run. tests/test_ops_reference.py fails when the committed page differs from
what this writes, so a changed docstring is a changed page.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent
PAGE = PACKAGE.parent / "docs" / "ops.md"
OP_FILES = ["elementwise", "activations", "reduce", "movement", "linalg", "neural", "fused",
            "norms", "rotary"]

# Tensor methods that hold or move state rather than compute: not ops.
NOT_OPS = {"numpy", "item", "tolist", "requires_grad_", "zero_grad", "backward", "zero_",
           "fill_", "copy_", "shape", "ndim", "dtype", "size", "is_leaf", "T", "float",
           "double", "to"}

INTRO = """# Op reference

Every op of the engine: what it computes, its gradient, how it is built, and how it differs
from PyTorch where it does (the differences are gathered on
[Differences from PyTorch](pytorch-differences.md)). "Op" names the class in
`tinygrad_lm/ops/` whose `forward` and `backward` run; "composed" means the function is
built from other ops, so its gradient is the chain rule through them. Each op has a float64
gradient check (`tests/op_table.py`) and a comparison with PyTorch
(`tests/test_ops_torch.py`).

This page is generated from the docstrings by `python -m tinygrad_lm.ops.reference_page`;
edit a docstring, not this page.
"""


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _cell(text: str) -> str:
    """A docstring as one table cell: one line, pipes and angle brackets escaped."""
    text = " ".join(inspect.cleandoc(text or "").split())
    return text.replace("|", "\\|").replace("<", "&lt;") or "—"


def _split_pytorch(doc: str) -> tuple[str, str]:
    """(the docstring without its "PyTorch:" paragraph, that paragraph's text)."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    rest = [p for p in paragraphs if not p.lstrip().startswith("PyTorch:")]
    torch = [p.lstrip()[len("PyTorch:"):] for p in paragraphs if p.lstrip().startswith("PyTorch:")]
    return "\n\n".join(rest), " ".join(torch)


def _signature(fn: ast.FunctionDef, drop_self: bool) -> str:
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args]
    if drop_self and names and names[0] == "self":
        names = names[1:]
    defaults = [None] * (len(names) - len(args.defaults)) + [ast.unparse(d) for d in
                                                              args.defaults][-len(names):]
    parts = [n if d is None else f"{n}={d}" for n, d in zip(names, defaults)]
    if args.vararg:
        parts.append("*" + args.vararg.arg)
    elif args.kwonlyargs:
        parts.append("*")
    parts += [a.arg if d is None else f"{a.arg}={ast.unparse(d)}"
              for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return "(" + ", ".join(parts) + ")"


# Methods that return a tensor no gradient flows through.
NO_GRADIENT = {"detach", "argmax", "argmin", "any", "all"}


def _applied(fn: ast.FunctionDef) -> str:
    """The op classes a function applies (`apply(movement.Gather, ...)`), or "composed"."""
    if fn.name in NO_GRADIENT:
        return "none: no gradient"
    ops = []
    for node in ast.walk(fn):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "apply" and node.args):
            name = ast.unparse(node.args[0]).split(".")[-1]
            if name not in ops:
                ops.append(name)
    return ", ".join(f"`{o}`" for o in ops) if ops else "composed"


def _functions(body, drop_self: bool, aliases: dict) -> list[tuple[str, str, str, str]]:
    """(name with signature, op, docstring without PyTorch paragraph, PyTorch paragraph)."""
    rows, defs = [], {}
    for node in body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and not any(
                isinstance(d, ast.Name) and d.id in ("property", "classmethod", "staticmethod")
                for d in node.decorator_list):
            defs[node.name] = node
        elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
              and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            aliases.setdefault(node.value.id, []).append(node.targets[0].id)
    for name, node in defs.items():
        if drop_self and name in NOT_OPS:
            continue
        doc, torch = _split_pytorch(ast.get_docstring(node) or "")
        names = [name] + [a for a in aliases.get(name, []) if not a.isupper()
                          and not a.startswith("_")]
        rows.append((" / ".join(f"`{n}`" for n in names) + f" `{_signature(node, drop_self)}`",
                     _applied(node), doc, torch))
    return sorted(rows, key=lambda r: r[0].lower())


def _table(rows) -> list[str]:
    out = ["| function | op | what it computes, and its gradient | differs from PyTorch |",
           "|---|---|---|---|"]
    out += [f"| {name} | {op} | {_cell(doc)} | {_cell(torch) if torch else ''} |"
            for name, op, doc, torch in rows]
    return out


def _op_classes() -> list[str]:
    rows = []
    for module in OP_FILES:
        for node in _tree(PACKAGE / "ops" / f"{module}.py").body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                doc, torch = _split_pytorch(ast.get_docstring(node) or "")
                rows.append(f"| `{node.name}` | `ops/{module}.py` | {_cell(doc)} |")
    return ["| op class | file | forward and backward |", "|---|---|---|"] + rows


def reference_markdown() -> str:
    """The whole page, as `python -m tinygrad_lm.ops.reference_page` writes it."""
    tensor = next(n for n in _tree(PACKAGE / "tensor.py").body
                  if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    lines = [INTRO, "## Tensor methods", "",
             "Operators (`+ - * / ** @`, unary `-`, `abs()`) are the ops `Add`, `Sub`, `Mul`, "
             "`Div`, `Pow`, `MatMul`, `Neg` and `Abs`; indexing `x[...]` is `GetItem` (ints "
             "select before index arrays, as in PyTorch); comparisons (`< <= > >= == !=`) "
             "return boolean tensors and have no gradient. Reductions take NumPy's keywords, "
             "`axis=` and `keepdims=`, where PyTorch says `dim=` and `keepdim=`.", ""]
    lines += _table(_functions(tensor.body, True, {}))
    for title, files, note in (
            ("`tinygrad_lm.functional` (`import tinygrad_lm.functional as F`)",
             ["functional/layers.py", "functional/activations.py", "functional/losses.py"],
             "Layers, activations, losses, padding, one-hot and einsum (`tg.einsum` is "
             "`F.einsum`)."),
            ("Creating tensors (`tinygrad_lm.creation`, as `tg.zeros`, `tg.eye`, ...)",
             ["creation.py"], "No gradient flows into a created tensor's arguments; `cat`, "
             "`stack` and `where` are ops.")):
        lines += ["", f"## {title}", "", note, ""]
        body = [node for file in files for node in _tree(PACKAGE / file).body]
        lines += _table(_functions(body, False, {}))
    lines += ["", "## Op classes", "",
              "The classes the functions above apply, each `forward` beside its `backward` in "
              "`tinygrad_lm/ops/`.", ""]
    lines += _op_classes()
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write docs/ops.md (or, with "--check" in argv, only compare it); returns the exit code."""
    text = reference_markdown()
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is stale: run python -m tinygrad_lm.ops.reference_page")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
