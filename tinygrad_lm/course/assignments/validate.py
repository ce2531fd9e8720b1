"""Prove the grader on known answers: the solution scores full marks, the starter 0, and each
planted bug (bugs.py) costs its own task points and leaves every other task's graded code
byte-for-byte the solution's (so their scores cannot move: each task is graded on its own
regions only, with the reference standing in for the rest).

Only the affected task is graded for each bug; that the others are untouched is checked on
the exact bytes they would be graded on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

from .bugs import BUGS, BY_NAME, Bug
from .build import build_student_copy, collect_regions, read_lines
from .catalog import BY_ID, TASKS
from .grade import grade_submission, suite_files
from .sources import task_sources


class BugError(ValueError):
    """A bug whose patch no longer applies where it should: the corpus must follow the code."""


def _owned_copy(repo: str, regions: dict, out: str) -> None:
    for rel in regions:
        os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
        shutil.copy2(os.path.join(repo, rel), os.path.join(out, rel))


def apply_bug(repo: str, regions: dict, bug: Bug, out: str) -> None:
    """Write the solution's files holding regions to `out`, with `bug` patched in. The patch
    must occur exactly once in its file and lie inside a region of its task."""
    if bug.task not in BY_ID:
        raise BugError(f"bug {bug.name}: unknown task {bug.task}")
    if bug.path not in regions:
        raise BugError(f"bug {bug.name}: {bug.path} holds no regions (did the code move?)")
    text = "".join(read_lines(os.path.join(repo, bug.path)))
    count = text.count(bug.old)
    if count != 1:
        raise BugError(f"bug {bug.name}: its snippet occurs {count} times in {bug.path} "
                       "(expected once): update the corpus to the code")
    first = text[:text.index(bug.old)].count("\n")
    last = first + bug.old.count("\n") - 1
    if not any(r.task_id == bug.task and r.begin < first and last < r.end
               for r in regions[bug.path]):
        raise BugError(f"bug {bug.name}: lines {first + 1}-{last + 1} of {bug.path} are not "
                       f"inside a region of task {bug.task}")
    _owned_copy(repo, regions, out)
    with open(os.path.join(out, bug.path), "w", encoding="utf-8") as f:
        f.write(text.replace(bug.old, bug.new))


def _others_unchanged(repo, regions, solution_sha, submission, task) -> list[str]:
    ids = [t.id for t in TASKS if t.id != task]
    mine = task_sources(repo, regions, submission, ids)
    return [t for t in ids if mine[t].error or mine[t].sha256 != solution_sha[t]]


def _grade(submission, repo, work, tasks=None, skip_unattempted=True, timeout=120.0):
    return grade_submission(submission, repo, tasks=tasks, timeout=timeout, jobs=1,
                            skip_unattempted=skip_unattempted, work_dir=work)


def validate(repo: str = ".", jobs: int = 2, names: list[str] | None = None,
             timeout: float = 120.0, ends: bool = True) -> dict:
    """Grade the solution and the starter (when `ends`) and every bug (or those named)."""
    start = time.perf_counter()
    repo = os.path.abspath(repo)
    regions = collect_regions(repo, suite_files(repo))
    unknown = set(names or []) - set(BY_NAME)
    if unknown:
        raise BugError(f"unknown bug(s) {sorted(unknown)}")
    bugs = [b for b in BUGS if not names or b.name in names]
    with tempfile.TemporaryDirectory(prefix="tinygrad-lm-validate-") as tmp:
        solution = os.path.join(tmp, "solution")
        _owned_copy(repo, regions, solution)
        solution_sha = {t: s.sha256 for t, s in
                        task_sources(repo, regions, solution, list(BY_ID)).items()}
        for b in bugs:  # every patch must apply before anything runs
            apply_bug(repo, regions, b, os.path.join(tmp, "bugs", b.name))
        jobs = max(1, jobs)
        works = [os.path.join(tmp, f"work{i}") for i in range(jobs)]

        def run(item):
            i, (kind, arg) = item
            work = works[i % jobs]
            if kind == "solution":
                return kind, arg, _grade(solution, repo, work, tasks=[arg], timeout=timeout)
            if kind == "starter":
                return kind, arg, _grade(os.path.join(tmp, "starter"), repo, work,
                                         tasks=[arg], skip_unattempted=False, timeout=timeout)
            return kind, arg, _grade(os.path.join(tmp, "bugs", arg.name), repo, work,
                                     tasks=[arg.task], timeout=timeout)
        items = []
        if ends:
            build_student_copy(repo, os.path.join(tmp, "starter"))
            items += [("solution", t.id) for t in TASKS] + [("starter", t.id) for t in TASKS]
        items += [("bug", b) for b in bugs]
        for w in works:
            os.makedirs(w)
        shares = [[(i, x) for i, x in enumerate(items) if i % jobs == k] for k in range(jobs)]
        with ThreadPoolExecutor(jobs) as pool:
            done = [r for share in pool.map(lambda s: [run(x) for x in s], shares)
                    for r in share]
        rows = []
        for kind, arg, report in done:
            if kind != "bug":
                continue
            row = report["tasks"][0]
            changed = _others_unchanged(repo, regions, solution_sha,
                                        os.path.join(tmp, "bugs", arg.name), arg.task)
            rows.append({"bug": arg.name, "task": arg.task, "what": arg.what,
                         "points_lost": float(row["max_points"] - Fraction(row["points_exact"])),
                         "max_points": row["max_points"], "status": row["status"],
                         "others_unchanged": not changed, "changed": changed,
                         "seconds": row["seconds"],
                         "ok": row["points"] < row["max_points"] and not changed})
    order = {b.name: i for i, b in enumerate(BUGS)}
    rows.sort(key=lambda r: order[r["bug"]])
    ends_rows = {kind: {arg: report["tasks"][0] for k, arg, report in done if k == kind}
                 for kind in ("solution", "starter")}
    ok = all(r["ok"] for r in rows)
    if ends:
        ok &= all(r["points"] == r["max_points"] for r in ends_rows["solution"].values())
        ok &= all(r["points"] == 0 for r in ends_rows["starter"].values())
    return {"ok": ok, "bugs": rows, "solution": ends_rows["solution"],
            "starter": ends_rows["starter"], "seconds": round(time.perf_counter() - start, 1)}


def format_validation(result: dict) -> str:
    """The validation result as text: solution and starter scores, and for each planted bug the
    points it cost its task and whether the other tasks were untouched.
    """
    lines = []
    for kind, want in (("solution", "full marks"), ("starter", "0")):
        rows = result[kind]
        if rows:
            got = sum(r["points"] for r in rows.values())
            best = sum(r["max_points"] for r in rows.values())
            bad = [t for t, r in rows.items() if r["points"] != (r["max_points"]
                                                                  if kind == "solution" else 0)]
            lines.append(f"{kind}: {got:g}/{best} (want {want})"
                         + (f"; wrong on {', '.join(bad)}" if bad else ""))
    lines += [f"{'bug':<36}{'task':<6}{'lost':>10}  others unchanged  verdict", "-" * 78]
    for r in result["bugs"]:
        lost = round(r["points_lost"], 2)
        lines.append(f"{r['bug']:<36}{r['task']:<6}{lost:>5g}/{r['max_points']:<4}"
                     f"  {'yes' if r['others_unchanged'] else 'NO ' + ','.join(r['changed']):<16}"
                     f"  {'ok' if r['ok'] else 'NOT CAUGHT' if r['others_unchanged'] else 'LEAKS'}")
    lines.append(f"{sum(r['ok'] for r in result['bugs'])}/{len(result['bugs'])} bugs caught; "
                 f"{'valid' if result['ok'] else 'NOT VALID'}; {result['seconds']:g} s")
    return "\n".join(lines)
