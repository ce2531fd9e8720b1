"""Write a student copy of the repository with each solution region replaced by a `raise`.

    # BEGIN ASSIGNMENT 2.3
    ...solution lines...
    # END ASSIGNMENT 2.3

becomes, at the BEGIN line's indentation,

    # BEGIN ASSIGNMENT 2.3
    raise NotImplementedError("Assignment 2.3: backward of matmul (2-D, batched, 1-D operands)")
    # END ASSIGNMENT 2.3

The marker lines stay, so a student sees where to write and the grader can find the task.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from .catalog import BY_ID

MARKER = re.compile(r"^(?P<indent>\s*)# (?P<kind>BEGIN|END) ASSIGNMENT (?P<id>\d+\.\d+)\s*$")
SKIP_DIRS = {".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
             "build", "dist", ".venv", ".v", "results"}


class BuildError(ValueError):
    """Markers that do not pair up, nest, repeat, or name an unknown task."""


@dataclass
class Region:
    task_id: str
    path: str
    begin: int  # 0-based line index of the BEGIN marker
    end: int    # 0-based line index of the END marker
    indent: str


def find_regions(path: str, lines: list[str]) -> list[Region]:
    regions, open_region = [], None
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        where = f"{path}:{i + 1}"
        if m["id"] not in BY_ID:
            raise BuildError(f"{where}: unknown assignment task {m['id']}")
        if m["kind"] == "BEGIN":
            if open_region is not None:
                raise BuildError(f"{where}: BEGIN ASSIGNMENT {m['id']} inside the region of "
                                 f"{open_region.task_id} opened at line {open_region.begin + 1}")
            open_region = Region(m["id"], path, i, -1, m["indent"])
        else:
            if open_region is None or open_region.task_id != m["id"]:
                raise BuildError(f"{where}: END ASSIGNMENT {m['id']} without a matching BEGIN")
            open_region.end = i
            regions.append(open_region)
            open_region = None
    if open_region is not None:
        raise BuildError(f"{path}:{open_region.begin + 1}: BEGIN ASSIGNMENT "
                         f"{open_region.task_id} is never closed by an END line")
    return regions


def _python_files(root: str):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and
                             not d.endswith(".egg-info"))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield os.path.join(dirpath, name)


def collect_regions(repo: str) -> dict[str, list[Region]]:
    """All regions under repo/tinygrad_lm, by file. A task may have several regions (its
    readable code and a reference kernel that would give it away, say)."""
    by_file = {}
    tooling = os.path.join(repo, "tinygrad_lm", "assignments")  # its docs show markers
    for path in _python_files(os.path.join(repo, "tinygrad_lm")):
        if path.startswith(tooling + os.sep):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        rel = os.path.relpath(path, repo)
        regions = find_regions(rel, lines)
        if regions:
            by_file[rel] = regions
    return by_file


def cut(lines: list[str], regions: list[Region], only: set[int] | None) -> list[str]:
    out, i = [], 0
    for r in sorted(regions, key=lambda r: r.begin):
        if only is not None and int(r.task_id.split(".")[0]) not in only:
            continue
        out.extend(lines[i:r.begin + 1])
        task = BY_ID[r.task_id]
        message = f"Assignment {task.id}: {task.description}".replace('"', "'")
        out.append(f'{r.indent}raise NotImplementedError("{message}")\n')
        i = r.end
    out.extend(lines[i:])
    return out


def build_student_copy(repo: str, out: str, only: set[int] | None = None) -> list[str]:
    """Copy `repo` to `out` with the solution regions (of assignments in `only`, or all) cut.
    Returns the list of task ids cut. `out` must not exist or be empty."""
    repo, out = os.path.abspath(repo), os.path.abspath(out)
    inside = out == repo or out.startswith(repo + os.sep)
    # a copy inside the repository would copy itself, unless it sits in a folder we skip
    if inside and os.path.relpath(out, repo).split(os.sep)[0] not in SKIP_DIRS:
        raise BuildError(f"output directory {out} must be outside the repository {repo}")
    if os.path.exists(out) and os.listdir(out):
        raise BuildError(f"output directory {out} is not empty")
    regions = collect_regions(repo)  # validate everything before writing anything
    shutil.copytree(repo, out, dirs_exist_ok=True, ignore=lambda d, names: [
        n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")])
    cut_ids = []
    for rel, file_regions in regions.items():
        path = os.path.join(out, rel)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(cut(lines, file_regions, only))
        cut_ids += [r.task_id for r in file_regions
                    if only is None or int(r.task_id.split(".")[0]) in only]
    return sorted(cut_ids, key=lambda t: tuple(int(x) for x in t.split(".")))
