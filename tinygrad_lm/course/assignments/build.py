"""Write a student copy of the repository with each solution region replaced by its starter.

    # BEGIN ASSIGNMENT 2.3
    ...solution lines...
    # END ASSIGNMENT 2.3

becomes, at the BEGIN line's indentation,

    # BEGIN ASSIGNMENT 2.3
    raise NotImplementedError("Assignment 2.3: backward of matmul (2-D, batched, 1-D operands)")
    # END ASSIGNMENT 2.3

or the region's own `# STARTER:` lines, un-commented. The marker lines stay, so a student sees
where to write and the grader can find the task. A copy also changes the few lines outside the
regions that carry a `# STUDENT COPY` comment: a copy of assignment 4 turns `GPTConfig.fused`
off, so that what a student writes is what trains. Both are declared in the source beside the
code they change (markers.py reads them); this file names no line of the package. Only tracked
files are copied (`git ls-files`, or the source files when the tree is no checkout): never a
user's runs, checkpoints or other untracked files. Hidden tests and the planted-bug corpus stay
behind. The copy carries `assignments.json`, the manifest of what was cut. Its setup.cfg is the
reference's: a starter with a stand-in calls the engine's own hook (`kernels.unfinished`), so
no engine module of a copy imports the course either.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .catalog import BY_ID, HIDDEN_DIR
from .manifest import MANIFEST, sha256_file, write_manifest
from .markers import (
    BuildError,
    CopyLine,
    Region,
    copy_of,
    find_copy_lines,
    find_regions,
)

__all__ = ["BuildError", "Region", "build_student_copy", "collect_regions", "find_regions",
           "package_files", "read_lines", "solution_lines"]
SKIP_DIRS = {".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
             "build", "dist", ".venv", ".v", "results", "runs", "figures"}
SOURCE_SUFFIXES = (".py", ".md", ".cfg", ".toml", ".txt", ".json", ".ipynb", ".sh")
# Files a student copy never gets: the hidden tests, the corpus of planted bugs (its patches
# quote the solution lines they break) with the validation that runs it, and the tests of the
# coursework tooling, which need the reference solutions.
TEACHER_ONLY = (HIDDEN_DIR + "/", "tinygrad_lm/course/assignments/bugs.py",
                "tinygrad_lm/course/assignments/validate.py", "tests/test_grader.py",
                "tests/test_assignments.py")


def read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 file, line endings kept."""
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines(keepends=True)


def package_files(repo: str) -> list[str]:
    """The files of `repo` a copy or a bundle may take, relative paths, sorted: `git ls-files`
    in a checkout (what the author committed), else the source files found by walking."""
    if os.path.isdir(os.path.join(repo, ".git")) or os.path.isfile(os.path.join(repo, ".git")):
        done = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached"],
                              capture_output=True, text=True)
        if done.returncode == 0:
            return sorted(p for p in done.stdout.split("\0")
                          if p and os.path.isfile(os.path.join(repo, p)))
    found = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and
                             not d.endswith(".egg-info"))
        for name in filenames:
            if name.endswith(SOURCE_SUFFIXES) or name == "run":
                found.append(os.path.relpath(os.path.join(dirpath, name), repo))
    return sorted(p.replace(os.sep, "/") for p in found)


def _is_package_source(rel: str) -> bool:
    """A file whose markers count: Python under tinygrad_lm/, except the coursework tooling,
    whose own docs show markers."""
    return rel.startswith("tinygrad_lm/") and rel.endswith(".py") and \
        not rel.startswith("tinygrad_lm/course/assignments/")


def collect_regions(repo: str, files: list[str] | None = None) -> dict[str, list[Region]]:
    """All regions under repo/tinygrad_lm, by file. A task may have several regions (its
    readable code and a reference kernel that would give it away, say)."""
    by_file = {}
    files = package_files(repo) if files is None else files
    for rel in filter(_is_package_source, files):
        regions = find_regions(rel, read_lines(os.path.join(repo, rel)))
        if regions:
            by_file[rel] = regions
    return by_file


def collect_copy_lines(repo: str, files: list[str] | None = None) -> dict[str, list[CopyLine]]:
    """All `# STUDENT COPY` lines under repo/tinygrad_lm, by file (checked: see markers.py)."""
    by_file = {}
    files = package_files(repo) if files is None else files
    for rel in filter(_is_package_source, files):
        lines = read_lines(os.path.join(repo, rel))
        marks = find_copy_lines(rel, lines, find_regions(rel, lines))
        if marks:
            by_file[rel] = marks
    return by_file


def _task_order(task_id: str):
    return tuple(int(x) for x in task_id.split("."))


def _check_out_dir(repo: str, out: str) -> None:
    inside = out == repo or out.startswith(repo + os.sep)
    # a copy inside the repository would copy itself, unless it sits in a folder we skip
    if inside and os.path.relpath(out, repo).split(os.sep)[0] not in SKIP_DIRS:
        raise BuildError(f"output directory {out} must be outside the repository {repo}")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise BuildError(f"output directory {out} is not empty; choose a new one (nothing "
                         "in it was changed)")


def build_student_copy(repo: str, out: str, only: set[int] | None = None) -> list[str]:
    """Copy the tracked files of `repo` to `out` with the solution regions (of assignments in
    `only`, or all) cut, hidden tests and the bug corpus left out, and the manifest written.
    Returns the task ids cut. `out` must not exist or be empty."""
    repo, out = os.path.abspath(repo), os.path.abspath(out)
    _check_out_dir(repo, out)
    known = {t.assignment for t in BY_ID.values()}
    if only is not None and not only <= known:
        raise BuildError(f"--only: unknown assignment(s) {sorted(only - known)}; the "
                         f"assignments are {sorted(known)}")
    files = [f for f in package_files(repo) if not f.startswith(TEACHER_ONLY)
             and f != MANIFEST]
    regions = collect_regions(repo, files)  # validate everything before writing anything
    marks = collect_copy_lines(repo, files)
    texts = {rel: "".join(copy_of(read_lines(os.path.join(repo, rel)), regions.get(rel, []),
                                  marks.get(rel, []), only))
             for rel in files if rel in regions or rel in marks}
    os.makedirs(out, exist_ok=True)
    for rel in files:
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if rel in texts:
            with open(target, "w", encoding="utf-8") as f:
                f.write(texts[rel])
        else:
            shutil.copy2(os.path.join(repo, rel), target)
    # where the regions are in the copy (its starters have other lengths than the solutions)
    cut_regions = {rel: [r for r in find_regions(rel, texts[rel].splitlines(keepends=True))
                         if only is None or BY_ID[r.task_id].assignment in only]
                   for rel in regions}
    cut_ids = sorted({r.task_id for rs in cut_regions.values() for r in rs}, key=_task_order)
    write_manifest(out, cut_ids, cut_regions, only,
                   {rel: sha256_file(os.path.join(out, rel)) for rel in files})
    return cut_ids


def solution_lines(repo: str, task_ids, min_length: int = 12) -> dict[str, set[str]]:
    """Per task, the stripped non-comment lines of its solution regions that are long enough to
    be telling: what a leak check greps a student copy for."""
    found: dict[str, set[str]] = {}
    for rel, regions in collect_regions(repo).items():
        lines = read_lines(os.path.join(repo, rel))
        for r in regions:
            if r.task_id not in task_ids:
                continue
            for line in lines[r.begin + 1:r.end]:
                text = line.strip()
                if len(text) >= min_length and not text.startswith("#"):
                    found.setdefault(r.task_id, set()).add(text)
    return found
