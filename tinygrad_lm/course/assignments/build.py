"""Write a student copy of the repository with each solution region replaced by a `raise`.

    # BEGIN ASSIGNMENT 2.3
    ...solution lines...
    # END ASSIGNMENT 2.3

becomes, at the BEGIN line's indentation,

    # BEGIN ASSIGNMENT 2.3
    raise NotImplementedError("Assignment 2.3: backward of matmul (2-D, batched, 1-D operands)")
    # END ASSIGNMENT 2.3

The marker lines stay, so a student sees where to write and the grader can find the task. A
copy also changes a few lines outside the regions (COPY_EDITS): a copy of assignment 4 turns
`GPTConfig.fused` off, so that what a student writes is what trains. Only
tracked files are copied (`git ls-files`, or the source files when the tree is no checkout):
never a user's runs, checkpoints or other untracked files. Hidden tests and the planted-bug
corpus stay behind. The copy carries `assignments.json`, the manifest of what was cut.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from .catalog import BY_ID, HANDOUTS, HIDDEN_DIR
from .manifest import MANIFEST, sha256_file, write_manifest

MARKER = re.compile(r"^(?P<indent>\s*)# (?P<kind>BEGIN|END) ASSIGNMENT (?P<id>\d+\.\d+)\s*$")
SKIP_DIRS = {".git", "out", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
             "build", "dist", ".venv", ".v", "results", "runs", "figures"}
SOURCE_SUFFIXES = (".py", ".md", ".cfg", ".toml", ".txt", ".json", ".ipynb", ".sh")
# Files a student copy never gets: the hidden tests, the corpus of planted bugs (its patches
# quote the solution lines they break) and the tests of the coursework tooling, which need the
# reference solutions.
TEACHER_ONLY = (HIDDEN_DIR + "/", "tinygrad_lm/course/assignments/bugs.py", "tests/test_grader.py",
                "tests/test_assignments.py")


class BuildError(ValueError):
    """Markers that do not pair up, nest, or name an unknown task; a bad output directory."""


@dataclass(frozen=True)
class CopyEdit:
    """A line outside the regions that a copy with `assignment` cut (None: every copy) changes
    from `old` to `new`. The grader knows these lines, so they are never reported as edits."""
    assignment: int | None
    path: str
    old: str
    new: str


COPY_EDITS = (
    # What a student writes in 4.2 is what runs when they train: the fused attention op would
    # run instead while fused is on. `--fused=true` switches the fast path back on.
    CopyEdit(4, "tinygrad_lm/nn/gpt.py",
             "    fused: bool = True  # run the fused ops (ops/fused.py); False: every op "
             "spelled out\n",
             "    fused: bool = False  # this copy: your spelled-out code runs; True: the fused "
             "ops\n"),
    CopyEdit(4, "tinygrad_lm/nn/attention.py",
             "                 fused: bool = True):\n",
             "                 fused: bool = False):  # this copy: your spelled-out code runs\n"),
    # A copy has stand-ins on (the starters of STAND_IN_STARTERS and the kernel wrappers).
    CopyEdit(None, "tinygrad_lm/course/stand_ins.py",
             "STAND_INS = False  # the reference repository has nothing unfinished; a student "
             "copy: True\n",
             "STAND_INS = True  # a student copy (the reference repository has False)\n"),
)


def copy_edits(rel: str, only: set[int] | None) -> list[CopyEdit]:
    """The edits a copy with assignments `only` cut (None: all) makes to file `rel`."""
    return [e for e in COPY_EDITS if e.path == rel and
            (e.assignment is None or only is None or e.assignment in only)]


def edit_copy(rel: str, text: str, only: set[int] | None) -> str:
    """`text` of file `rel` with the copy's edits applied; each line must occur exactly once."""
    for e in copy_edits(rel, only):
        if text.count(e.old) != 1:
            raise BuildError(f"{rel}: the line a student copy changes occurs "
                             f"{text.count(e.old)} times (expected once): {e.old.strip()!r}; "
                             "update COPY_EDITS in tinygrad_lm/course/assignments/build.py")
        text = text.replace(e.old, e.new)
    return text


def undo_copy_edits(rel: str, lines: list[str]) -> list[str]:
    """A copy's lines with every copy edit put back as the reference has it (for comparing)."""
    text = "".join(lines)
    for e in COPY_EDITS:
        if e.path == rel:
            text = text.replace(e.new, e.old)
    return text.splitlines(keepends=True)


@dataclass
class Region:
    """One region to cut: task `task_id`, in `path`, between the 0-based line indexes of its BEGIN
    and END markers, at the markers' indentation.
    """
    task_id: str
    path: str
    begin: int  # 0-based line index of the BEGIN marker
    end: int    # 0-based line index of the END marker
    indent: str


def find_regions(path: str, lines: list[str]) -> list[Region]:
    """Every `# BEGIN ASSIGNMENT X.Y` ... `# END ASSIGNMENT X.Y` region of a file's `lines`; a
    marker that does not pair up, nests or names an unknown task is a BuildError at `path:line`.
    """
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


def collect_regions(repo: str, files: list[str] | None = None) -> dict[str, list[Region]]:
    """All regions under repo/tinygrad_lm, by file. A task may have several regions (its
    readable code and a reference kernel that would give it away, say)."""
    by_file = {}
    files = package_files(repo) if files is None else files
    for rel in files:
        # the coursework tooling's own docs show markers
        if not (rel.startswith("tinygrad_lm/") and rel.endswith(".py")) or \
                rel.startswith("tinygrad_lm/course/assignments/"):
            continue
        regions = find_regions(rel, read_lines(os.path.join(repo, rel)))
        if regions:
            by_file[rel] = regions
    return by_file


def starter_message(task_id: str) -> str:
    """What a starter's NotImplementedError says: the task, and where it is explained."""
    task = BY_ID[task_id]
    return (f"Assignment {task.id}: {task.description}; not written yet, see "
            f"{HANDOUTS[task.assignment]}").replace('"', "'")


# Starter code that runs a stand-in (tinygrad_lm/course/stand_ins.py) until the task is written, by
# (task, file); every other region's starter raises. A stand-in does the region's job with code
# the copy has anyway, never with the task's solution, and never in tests of its task or grading.
STAND_IN_STARTERS = {
    ("4.2", "tinygrad_lm/nn/attention.py"): (
        "fast = kv_cache is None and not return_attention and not dropping",
        'y = unfinished("4.2", "{message}", "the fused attention op F.causal_attention",',
        "               (lambda: F.causal_attention(self.c_attn(x), nh)) if fast else None)"),
    ("5.2", "tinygrad_lm/training/optim.py"): (
        'return unfinished("5.2", "{message}", "a constant learning rate", lambda: lr)',),
    ("5.3", "tinygrad_lm/generation/sampling.py"): (
        'return unfinished("5.3", "{message}", "sampling without top-k filtering",',
        '                  lambda: _as_logits(logits, "top_k_filter").copy())'),
    ("5.4", "tinygrad_lm/generation/sampling.py"): (
        'return unfinished("5.4", "{message}", "sampling without top-p filtering",',
        '                  lambda: _as_logits(logits, "top_p_filter").copy())'),
}


def starter_lines(task_id: str, path: str, indent: str) -> list[str]:
    """The body a student copy puts in a region of `task_id` in file `path`."""
    code = STAND_IN_STARTERS.get((task_id, path))
    if code is None:
        return [f'{indent}raise NotImplementedError("{starter_message(task_id)}")\n']
    return [f"{indent}{line.format(message=starter_message(task_id))}\n" for line in code]


def cut(lines: list[str], regions: list[Region], only: set[int] | None) -> list[str]:
    """`lines` with the body of each region replaced by its starter (markers kept); with
    `only`, just the regions of those assignment numbers.
    """
    out, i = [], 0
    for r in sorted(regions, key=lambda r: r.begin):
        if only is not None and BY_ID[r.task_id].assignment not in only:
            continue
        out.extend(lines[i:r.begin + 1])
        out.extend(starter_lines(r.task_id, r.path, r.indent))
        i = r.end
    out.extend(lines[i:])
    return out


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
    edited = {e.path for e in COPY_EDITS}
    texts = {rel: edit_copy(rel, "".join(cut(read_lines(os.path.join(repo, rel)),
                                             regions.get(rel, []), only)), only)
             for rel in files if rel in regions or rel in edited}
    os.makedirs(out, exist_ok=True)
    for rel in files:
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if rel in texts:
            with open(target, "w", encoding="utf-8") as f:
                f.write(texts[rel])
        else:
            shutil.copy2(os.path.join(repo, rel), target)
    cut_regions = {rel: [r for r in rs if only is None or BY_ID[r.task_id].assignment in only]
                   for rel, rs in regions.items()}
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
