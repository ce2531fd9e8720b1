"""What the grader takes from a submission: the code between a task's markers, nothing else.

For task T, the graded source is the teacher's reference file with the bodies of T's regions
replaced by the student's bodies. Every other region keeps the reference solution (so 2.1 is
graded even while 1.2 is unsolved), and lines outside the regions are the teacher's (a change
there is reported, not graded). Problems are per task: a missing file, missing or broken
markers, a syntax error give that task 0 with the reason, never a crash and never credit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .build import BuildError, Region, find_regions, read_lines
from .manifest import sha256_text
from .markers import find_copy_lines, reference_form, reference_outside, starter_lines

MAX_SOURCE_BYTES = 2 << 20


@dataclass
class TaskSource:
    """What is graded for one task: the files with the student's regions spliced into the
    reference, why it cannot run (if so), whether it was attempted, and notes for the student.
    """
    task_id: str
    files: dict[str, str] = field(default_factory=dict)  # path -> spliced text to grade
    error: str = ""          # why the task cannot be run (it scores 0)
    attempted: bool = True   # False when every region is still the starter's raise
    notes: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> dict[str, str]:
        """The SHA-256 of each graded file's text, by path."""
        return {rel: sha256_text(text) for rel, text in self.files.items()}


def _read_submission_file(submission: str, rel: str) -> tuple[list[str] | None, str]:
    path = os.path.join(submission, rel)
    if os.path.islink(path):
        return None, f"{rel} is a symbolic link; submit the file itself"
    if not os.path.isfile(path):
        return None, f"{rel} is missing from the submission"
    if os.path.getsize(path) > MAX_SOURCE_BYTES:
        return None, f"{rel} is larger than {MAX_SOURCE_BYTES >> 20} MB"
    try:
        return read_lines(path), ""
    except UnicodeDecodeError as e:
        return None, f"{rel} is not UTF-8 text ({e})"


def _bodies(lines: list[str], regions: list[Region], task_id: str) -> list[list[str]]:
    return [lines[r.begin + 1:r.end] for r in regions if r.task_id == task_id]


def _outside(lines: list[str], regions: list[Region]) -> list[str]:
    """The lines outside every region (the markers included)."""
    keep, i = [], 0
    for r in sorted(regions, key=lambda r: r.begin):
        keep.extend(lines[i:r.begin + 1])
        i = r.end
    return keep + lines[i:]


def splice(lines: list[str], regions: list[Region], task_id: str,
           bodies: list[list[str]]) -> str:
    """`lines` with the bodies of task_id's regions replaced, in order, by `bodies`."""
    out, i, k = [], 0, 0
    for r in sorted(regions, key=lambda r: r.begin):
        if r.task_id != task_id:
            continue
        out.extend(lines[i:r.begin + 1])
        out.extend(bodies[k])
        k += 1
        i = r.end
    out.extend(lines[i:])
    return "".join(out)


def task_sources(suite: str, suite_regions: dict[str, list[Region]], submission: str,
                 task_ids: list[str]) -> dict[str, TaskSource]:
    """One TaskSource per task id, from the submission's copies of the files holding regions."""
    student: dict[str, tuple[list[str] | None, list[Region], str]] = {}
    for rel in suite_regions:
        lines, problem = _read_submission_file(submission, rel)
        regions: list[Region] = []
        if lines is not None:
            try:
                regions = find_regions(rel, lines)
            except BuildError as e:
                lines, problem = None, f"broken markers: {e}"
        student[rel] = (lines, regions, problem)
    result = {}
    for tid in task_ids:
        src = TaskSource(tid)
        starter = True
        for rel, ref_regions in suite_regions.items():
            mine = [r for r in ref_regions if r.task_id == tid]
            if not mine:
                continue
            lines, regions, problem = student[rel]
            if lines is None:
                src.error = problem
                break
            bodies = _bodies(lines, regions, tid)
            if len(bodies) != len(mine):
                src.error = (f"{rel}: expected {len(mine)} region(s) marked BEGIN/END "
                             f"ASSIGNMENT {tid}, found {len(bodies)}; put the markers back")
                break
            ref_lines = read_lines(os.path.join(suite, rel))
            starter &= all([line.strip() for line in b if line.strip()] ==
                           [x.strip() for x in starter_lines(r, ref_lines) if x.strip()]
                           for b, r in zip(bodies, mine))
            text = splice(ref_lines, ref_regions, tid, bodies)
            try:
                compile(text, rel, "exec")
            except SyntaxError as e:
                src.error = f"{rel}: line {e.lineno}: syntax error: {e.msg}"
                break
            marks = find_copy_lines(rel, ref_lines, ref_regions)
            if reference_form(marks, _outside(lines, regions), ref_lines) != \
                    reference_outside(_outside(ref_lines, ref_regions)):
                src.notes.append(f"{rel}: changes outside the marked regions are not graded")
            src.files[rel] = text
        src.attempted = not starter
        if src.error:
            src.files = {}
        result[tid] = src
    return result
