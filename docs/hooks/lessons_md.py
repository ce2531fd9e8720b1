"""Lessons as site pages: each percent-format script, run at build time, becomes Markdown.

A lesson `lessons/NN_name.py` is read with jupytext (one cell per `# %%` block) and run cell by
cell by run_cells.py, in a fresh Python process, in quick mode, in a scratch copy of the lessons
folder (so a build never writes into the checkout). It runs as a script, not in a Jupyter
kernel: a kernel costs seconds of start-up per lesson and the script is what a student runs.
Each cell then becomes Markdown: prose cells as written, code cells as Python blocks, what a
cell printed as a text block under it, and the figures it saved as images. A solution cell
(tagged `solution`) is folded away, as a notebook shows it.

Quick mode keeps the build to seconds per lesson; the page says the numbers come from it.
Results are cached under `.cache/docs/lessons/`, keyed by the lesson's source and the package's
sources, so `mkdocs serve` re-runs only a lesson that changed. A lesson that raises fails the
build, naming the lesson, the cell and the error.

A lesson is not run at all when its executed notebook is already there: tests/test_lessons.py
executes every lesson as a notebook (quick mode, a real kernel) and keeps the result with
`save_executed` under `.cache/lessons/notebooks/`, stamped with the same key. CI runs the test
suite before building the site, so each lesson runs once. The page then shows the notebook's
outputs (what the cells printed, the figures `show()` displayed) under the lesson's own cells;
a notebook whose key no longer matches the sources is ignored.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile

LESSON_GLOB = "[0-9][0-9]_*.py"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LESSON_TIMEOUT = 900  # seconds; a lesson in quick mode takes a few
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_cells.py")
log = logging.getLogger("mkdocs.hooks.lessons")
EXECUTED = os.path.join(".cache", "lessons", "notebooks")  # under the repository root


class LessonError(RuntimeError):
    """A lesson raised while the site was being built."""


def find_lessons(root: str) -> list[str]:
    """Every lesson source under `root/lessons`, in order."""
    return sorted(glob.glob(os.path.join(root, "lessons", LESSON_GLOB)))


def lesson_title(path: str) -> str:
    """The lesson's first Markdown heading ("Lesson 5 — ..."), else its file name."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"#\s+#\s+(.+)", line)
            if m:
                return m.group(1).strip()
    return os.path.basename(path)


def _source_key(path: str, root: str) -> str:
    h = hashlib.sha256()
    sources = [path] + sorted(glob.glob(os.path.join(root, "lessons", "_*.py")))
    sources += sorted(glob.glob(os.path.join(root, "tinygrad_lm", "**", "*.py"), recursive=True))
    sources += [__file__, RUNNER]
    for name in sources:
        h.update(name.encode())
        with open(name, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:20]


def execute_lesson(path: str, root: str) -> dict:
    """Run the lesson; return {"cells": [...], "figures": {name: base64 png}}."""
    scratch = tempfile.mkdtemp(prefix="docs-lesson-")
    try:
        lessons = os.path.join(scratch, "lessons")
        shutil.copytree(os.path.join(root, "lessons"), lessons,
                        ignore=shutil.ignore_patterns("out", "__pycache__", "*.ipynb"))
        figures = os.path.join(scratch, "figures")
        os.makedirs(figures)
        script = os.path.join(lessons, os.path.basename(path))
        result = os.path.join(scratch, "cells.json")
        env = dict(os.environ, LESSONS_QUICK="1", LESSONS_OUT=figures, MPLBACKEND="Agg")
        done = subprocess.run([sys.executable, RUNNER, script, figures, result], cwd=lessons,
                              env=env, capture_output=True, text=True, timeout=LESSON_TIMEOUT)
        if done.returncode != 0:
            raise LessonError(f"{os.path.relpath(path, root)} failed while building the site:\n"
                              + ANSI.sub("", done.stdout[-1500:] + done.stderr[-3000:]))
        with open(result, encoding="utf-8") as f:
            cells = json.load(f)
        images = {}
        for cell in cells:
            names = []
            for saved in cell["images"]:
                name = os.path.basename(saved)
                with open(saved, "rb") as f:
                    images[name] = base64.b64encode(f.read()).decode()
                names.append(name)
            cell["images"] = names
        return {"cells": cells, "figures": images}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def executed_path(path: str, root: str) -> str:
    """Where the lesson's executed notebook is kept for the site."""
    return os.path.join(root, EXECUTED, os.path.basename(path)[:-3] + ".ipynb")


def save_executed(path: str, root: str, nb) -> str:
    """Keep `nb`, the lesson at `path` executed in quick mode, for the next site build."""
    import nbformat
    nb.metadata["tinygrad_lm_docs"] = {"source_key": _source_key(path, root), "quick": True}
    target = executed_path(path, root)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    nbformat.write(nb, target)
    return target


def from_executed(path: str, root: str) -> dict | None:
    """The lesson's cells with the outputs of its kept notebook, or None when there is none or
    it was executed from other sources (the lesson or the package changed since)."""
    import jupytext
    import nbformat
    target = executed_path(path, root)
    if not os.path.exists(target):
        return None
    nb = nbformat.read(target, as_version=4)
    if nb.metadata.get("tinygrad_lm_docs", {}).get("source_key") != _source_key(path, root):
        return None
    ran = [c for c in nb.cells if "install" not in c.metadata.get("tags", [])]
    lesson = jupytext.read(path, fmt="py:percent").cells
    if len(ran) != len(lesson):
        return None
    cells, figures = [], {}
    stem = os.path.basename(path)[:-3]
    for index, (cell, done) in enumerate(zip(lesson, ran)):
        entry = {"type": cell.cell_type, "source": cell.source,
                 "tags": list(cell.metadata.get("tags", [])), "text": [], "images": []}
        for out in done.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "stream" and out.name == "stdout":
                entry["text"].append(out.text)
            elif out.output_type == "display_data" and "image/png" in out.data:
                # show() names each figure in the output's metadata
                name = out.metadata.get("filename") or f"{stem}_cell{index}_{len(figures)}.png"
                figures[name] = out.data["image/png"].replace("\n", "")
                entry["images"].append(name)
        cells.append(entry)
    return {"cells": cells, "figures": figures, "notebook": True}


def run_lesson(path: str, root: str) -> dict:
    """The lesson's executed notebook when there is one, else `execute_lesson` through the
    cache under `root/.cache/docs/lessons/`."""
    executed = from_executed(path, root)
    if executed is not None:
        log.info("%s: shown from its executed notebook", os.path.basename(path))
        return executed
    cache = os.path.join(root, ".cache", "docs", "lessons")
    key = os.path.join(cache, f"{os.path.basename(path)[:-3]}-{_source_key(path, root)}.json")
    if os.path.exists(key):
        with open(key, encoding="utf-8") as f:
            return json.load(f)
    result = execute_lesson(path, root)
    os.makedirs(cache, exist_ok=True)
    for old in glob.glob(os.path.join(cache, os.path.basename(path)[:-3] + "-*.json")):
        os.remove(old)
    with open(key, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return result


def _fence(text: str, lang: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def to_markdown(path: str, result: dict, image_dir: str, executed: bool = True) -> str:
    """The lesson page: a note on how it was run, then every cell with its output."""
    name = os.path.basename(path)
    parts = []
    for i, cell in enumerate(result["cells"]):
        if cell["type"] == "markdown":
            parts.append(cell["source"].strip() + "\n")
            if i == 0 and not executed:
                parts.append(f'!!! warning "Not run"\n    This build skipped running the '
                             f"lessons (TINYGRAD_LM_DOCS_RUN_LESSONS=0): run "
                             f"`python lessons/{name}` to see its output.\n")
            elif i == 0:
                how = ("executed as a notebook by a Jupyter kernel, in quick mode, by the test "
                       "run before the site was built" if result.get("notebook") else
                       f"run top to bottom in quick mode (`python lessons/{name} --quick`) "
                       "when the site was built")
                parts.append(
                    f'!!! info "Run at build time"\n    This page is the lesson script '
                    f"[`lessons/{name}`]({name}), {how}: every output and figure below "
                    "comes from that run. Run it yourself without `--quick` for the full-size "
                    "version, or open it as a notebook.\n")
            continue
        if not cell["source"].strip():
            continue
        code = _fence(cell["source"], "python")
        if "solution" in cell["tags"]:
            code = '??? success "Solution (try the exercise first)"\n\n' + "".join(
                "    " + line if line.strip() else line
                for line in code.splitlines(keepends=True))
        parts.append(code)
        text = ANSI.sub("", "".join(cell["text"]))
        if text.strip():
            parts.append(_fence(text, "text"))
        for image in cell["images"]:
            parts.append(f"![{image}]({image_dir}/{image})\n")
    return "\n".join(parts)


if __name__ == "__main__":  # python docs/hooks/lessons_md.py lessons/05_mlp_language_model.py
    here = os.getcwd()
    for arg in sys.argv[1:]:
        print(to_markdown(arg, execute_lesson(os.path.abspath(arg), here), "figures"))
