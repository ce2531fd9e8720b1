"""`tinygrad-lm assignments status`: where a student stands, task by task, in their own copy.

For each task the copy asks for: not started (its regions still hold the starter), failing or
passing under the copy's own visible tests, the points those tests give (shared as the grader
shares them, weights.py; hidden tests can still take points), the first failing check's reason
in one line, the gradient-blame line when a gradcheck named an op of another task, and the
first hint. Then the next task to work on, with its handout. `--quick` (the default) leaves out
the tests marked slow. What the student has opened (hints) and the last lesson run are kept in
`.tinygrad-lm/progress.json` in the copy, which nothing else writes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time

from .build import BuildError, collect_regions, read_lines
from .catalog import HANDOUTS, TASKS, Task
from .grade import suite_files, test_files
from .hints import HINTS, OP_TASK
from .manifest import MANIFEST, ManifestError, manifest_task_ids, read_manifest
from .markers import is_starter
from .weights import shares

PROGRESS = os.path.join(".tinygrad-lm", "progress.json")
MAX_PROGRESS_BYTES = 1 << 20
REASON_WIDTH = 120
NEEDS = re.compile(r"needs task (\d+\.\d+)")
BLAME = re.compile(r"first wrong op: (\w+)\.backward \(([^)]*)\) called at (\S+)")


class StatusError(ValueError):
    """The folder is not a copy status can read (no tinygrad_lm/ or tests/, broken markers)."""


# ---- what the copy asks for, and what the student has touched -------------------------------
def copy_tasks(root: str) -> list[tuple[Task, bool]]:
    """(task, started) for every task this copy asks for, in catalogue order. A task whose
    every region still holds the starter is not started."""
    if not os.path.isdir(os.path.join(root, "tinygrad_lm")) or \
            not os.path.isdir(os.path.join(root, "tests")):
        raise StatusError(f"{root} is not a copy of the coursework: it needs tinygrad_lm/ and "
                          "tests/ (run status from the folder `assignments build` made)")
    try:
        regions = collect_regions(root, suite_files(root))
    except BuildError as e:
        raise StatusError(f"{e}; put the BEGIN/END ASSIGNMENT lines back as they were") from None
    started: dict[str, bool] = {}
    for rel, rs in regions.items():
        lines = read_lines(os.path.join(root, rel))
        for r in rs:
            body = lines[r.begin + 1:r.end]
            starter = is_starter(r.task_id, body) or (
                len(body) <= 3 and f"Assignment {r.task_id}:" in "".join(body))
            started[r.task_id] = started.get(r.task_id, False) or not starter
    wanted = list(started)
    path = os.path.join(root, MANIFEST)
    if os.path.isfile(path):
        try:
            wanted = [t for t in manifest_task_ids(read_manifest(path)) if t in started]
        except ManifestError:
            pass  # the student's file: a broken one is no reason to stop; show every region
    return [(t, started[t.id]) for t in TASKS if t.id in wanted]


def read_progress(root: str) -> dict:
    """The copy's progress file ({} when there is none or it is unreadable)."""
    path = os.path.join(root, PROGRESS)
    try:
        if os.path.getsize(path) > MAX_PROGRESS_BYTES:
            return {}
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_progress(root: str, data: dict) -> None:
    """Write the progress file atomically (a crash never leaves half a file)."""
    path = os.path.join(root, PROGRESS)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def hints_opened(progress: dict) -> dict[str, int]:
    """task id -> how many of its hints the student has seen."""
    raw = progress.get("hints_opened", {})
    return {t: n for t, n in raw.items() if t in HINTS and isinstance(n, int) and n > 0} \
        if isinstance(raw, dict) else {}


def next_hint(root: str, task_id: str) -> tuple[int, str]:
    """Open the next hint of `task_id` (remembered in the progress file): (its number, text).
    After the last one, the last one again."""
    if task_id not in HINTS:
        raise StatusError(f"no task {task_id}; tasks are {', '.join(HINTS)}")
    progress = read_progress(root)
    opened = hints_opened(progress)
    n = min(opened.get(task_id, 0) + 1, len(HINTS[task_id]))
    opened[task_id] = n
    progress["hints_opened"] = opened
    write_progress(root, progress)
    return n, HINTS[task_id][n - 1]


# ---- the visible tests -----------------------------------------------------------------------
def run_tests(root: str, tasks: list[Task], quick: bool = True, timeout: float = 600.0) -> dict:
    """Run the copy's tests of `tasks` in one pytest process; the status plugin's record."""
    files = sorted({f for t in tasks for f in test_files(root, t)})
    if not tasks or not files:
        return {"tests": [], "collect_errors": []}
    expr = "(" + " or ".join(t.marker for t in tasks) + ")" + (" and not slow" if quick else "")
    with tempfile.TemporaryDirectory(prefix="tinygrad-lm-status-") as tmp:
        out = os.path.join(tmp, "status.json")
        env = dict(os.environ, PYTHONPATH=root, TINYGRAD_LM_STATUS_OUT=out,
                   PYTHONDONTWRITEBYTECODE="1")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "tinygrad_lm.course.assignments.status_plugin", "--rootdir", root,
               "-m", expr, *files]
        try:
            done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StatusError(f"the tests took longer than {timeout:g} s: an endless loop? Run "
                              "one task alone to see which: python -m pytest -x -m a1_1") \
                from None
        if not os.path.exists(out):
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-12:])
            raise StatusError(f"the tests did not run (exit code {done.returncode}):\n{tail}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


def _reason(test: dict) -> str:
    """One line: the check's name and the first line of why it did not pass."""
    name = test["nodeid"].split("::")[-1]
    lines = [x.strip() for x in test["message"].splitlines() if x.strip()]
    head = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else \
        (lines[0] if lines else test["outcome"])  # "AssertionError:" alone says nothing
    first = re.sub(r"^(\w+\.)+(\w+(Error|Exception|Warning))", r"\2", head)  # not its module
    if test["outcome"] == "skipped":
        first = "skipped, " + first
    text = f"{name}: {first}"
    return text if len(text) <= REASON_WIDTH else text[:REASON_WIDTH - 3] + "..."


def _blame(tests: list[dict], task_id: str) -> str:
    """The gradient-blame line of the first failure that has one, with the task owning the op."""
    for t in tests:
        m = BLAME.search(t["message"])
        if m:
            op, where = m[1], m[3]
            owner = OP_TASK.get(op)
            if owner and owner != task_id:
                return (f"gradient blame: {op}.backward (called at {where}) is wrong, and that "
                        f"is task {owner}'s code: fix {owner} first")
            return f"gradient blame: {op}.backward (called at {where}) is the first wrong op"
    return ""


def task_row(task: Task, started: bool, record: dict, opened: int) -> dict:
    """One task's row: status, points, tests passed, the first failure, blame and hint."""
    row = {"task": task.id, "description": task.description, "max_points": task.points,
           "handout": f"{HANDOUTS[task.assignment]}#{task.id}",
           "hints_opened": opened, "hints_total": len(HINTS[task.id])}
    if not started:
        return {**row, "status": "not started", "points": 0.0, "passed": 0, "total": 0,
                "reason": "the starter's raise NotImplementedError is still there",
                "blame": "", "hint": ""}
    tests = [t for t in record["tests"] if task.id in t["tasks"]]
    won = sum((s for t, s in zip(tests, shares(tests, task.points)) if t["outcome"] == "passed"),
              0)
    bad = [t for t in tests if t["outcome"] != "passed"]
    if record["collect_errors"] and not tests:
        status, reason = "failing", "the tests do not import: " + \
            record["collect_errors"][0].splitlines()[-1][:160]
    elif not tests:
        status, reason = "no quick tests", "every test of this task is slow: run with --full"
    else:
        status, reason = ("failing", _reason(bad[0])) if bad else ("passing", "")
        needs = sorted({m[1] for t in bad if t["outcome"] == "skipped"
                        for m in [NEEDS.search(t["message"])] if m})
        if bad and needs and all(t["outcome"] == "skipped" for t in bad):
            # nothing of this task failed: some tests wait for an earlier task
            status, reason = "waiting", f"{len(bad)} test(s) wait for task {', '.join(needs)}"
    failing = status == "failing"
    return {**row, "status": status, "points": round(float(won), 2),
            "passed": len(tests) - len(bad), "total": len(tests), "reason": reason,
            "blame": _blame(bad, task.id) if failing else "",
            "hint": HINTS[task.id][0] if failing else ""}


def status_report(root: str, quick: bool = True, timeout: float = 600.0) -> dict:
    """Run the copy's visible tests and report every task (see the module docstring). The
    first hint of each failing task counts as opened."""
    start = time.perf_counter()
    root = os.path.abspath(root)
    tasks = copy_tasks(root)
    record = run_tests(root, [t for t, started in tasks if started], quick, timeout)
    progress = read_progress(root)
    opened = hints_opened(progress)
    rows = [task_row(t, s, record, opened.get(t.id, 0)) for t, s in tasks]
    for r in rows:
        if r["hint"] and r["hints_opened"] == 0:
            opened[r["task"]] = r["hints_opened"] = 1
    if opened != hints_opened(read_progress(root)):
        progress["hints_opened"] = opened
        write_progress(root, progress)
    # next: the first task to work on; a task only waiting for another is not it
    todo = next((r for r in rows if r["status"] not in ("passing", "waiting")),
                next((r for r in rows if r["status"] != "passing"), None))
    return {"copy": root, "quick": quick, "tasks": rows,
            "score": round(sum(r["points"] for r in rows), 2),
            "max_score": sum(r["max_points"] for r in rows),
            "next": None if todo is None else {"task": todo["task"], "handout": todo["handout"]},
            "hints_opened": sum(r["hints_opened"] for r in rows),
            "lessons": progress.get("lessons", {}),
            "seconds": round(time.perf_counter() - start, 1)}


def format_status(report: dict) -> str:
    """The report as the table the terminal shows."""
    lines = [f"{'task':<6}{'status':<15}{'points':>10}  {'tests':>7}  first failing check",
             "-" * 96]
    for r in report["tasks"]:
        tests = f"{r['passed']}/{r['total']}" if r["total"] else ""
        lines.append(f"{r['task']:<6}{r['status']:<15}{r['points']:>6g}/{r['max_points']:<3}"
                     f"  {tests:>7}  {r['reason'] if r['status'] != 'not started' else ''}")
        if r["blame"]:
            lines.append(f"{'':38}{r['blame']}")
        if r["hint"]:
            lines.append(f"{'':38}hint 1/{r['hints_total']}: {r['hint']}")
    lines += ["-" * 96, f"{'total':<21}{report['score']:>6g}/{report['max_score']:<3}"
              "  (from your visible tests; the grader's hidden tests can take points too)"]
    lessons = report.get("lessons") or {}
    runs = lessons.get("runs", {}) if isinstance(lessons, dict) else {}
    if runs:
        done = sorted(n for n, r in runs.items() if r.get("ran_to_end"))
        stuck = sorted(set(runs) - set(done))
        lines.append(f"lessons: {len(done)} of {len(runs)} ran to the end"
                     + (f"; stopped early: {', '.join(stuck)}" if stuck else "")
                     + f" (run {lessons.get('when', '?')}; `status --lessons` runs them again)")
        for name in stuck[:3]:
            why = str(runs[name].get("stopped", ""))
            lines.append(f"    {name}: {why[:REASON_WIDTH]}")
    else:
        lines.append("lessons: not run yet (`status --lessons` runs each in quick mode)")
    if report["next"]:
        n = report["next"]
        lines.append(f"next: task {n['task']} — {n['handout']}"
                     f"   (more help: tinygrad-lm assignments status --hint {n['task']})")
    else:
        lines.append("every task passes its visible tests: submit when you are ready")
    return "\n".join(lines)
