"""Grade a repository (a student copy or the solution) task by task with its own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from .catalog import TASKS


def run_tests(repo: str, markers: list[str], timeout: float = 1800,
              pytest_args: list[str] | None = None) -> list[dict]:
    """Run pytest on `repo` for the given markers in a subprocess; return per-test records."""
    fd, out = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    env = dict(os.environ, TINYGRAD_LM_GRADE_OUT=out,
               PYTHONPATH=os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", "tinygrad_lm.assignments.pytest_plugin", "-m", " or ".join(markers),
           "--rootdir", repo, *(pytest_args or []), os.path.join(repo, "tests")]
    try:
        subprocess.run(cmd, cwd=repo, env=env, timeout=timeout, capture_output=True, text=True)
        with open(out, encoding="utf-8") as f:
            text = f.read()
        return json.loads(text) if text else []
    finally:
        os.unlink(out)


def score(records: list[dict], tasks=TASKS) -> list[dict]:
    rows = []
    for task in tasks:
        mine = [r for r in records if task.marker in r["markers"]]
        passed = sum(r["outcome"] == "passed" for r in mine)
        total = len(mine)
        if total and any(r["not_implemented"] for r in mine) and passed < total:
            reason = "not implemented"
        elif not total:
            reason = "no tests found"
        elif passed < total:
            failed = next(r for r in mine if r["outcome"] == "failed")
            reason = f"{total - passed} failing, e.g. {failed['nodeid'].split('::')[-1]}"
        else:
            reason = ""
        points = round(task.points * passed / total, 2) if total else 0.0
        rows.append({"task": task.id, "marker": task.marker, "description": task.description,
                     "passed": passed, "total": total, "points": points,
                     "max_points": task.points, "reason": reason})
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'task':<6}{'tests':>9}{'points':>14}  note", "-" * 60]
    for r in rows:
        lines.append(f"{r['task']:<6}{r['passed']:>4}/{r['total']:<4}"
                     f"{r['points']:>8g}/{r['max_points']:<5}  {r['reason']}")
    got, best = sum(r["points"] for r in rows), sum(r["max_points"] for r in rows)
    lines += ["-" * 60, f"total{'':>11}{got:>8g}/{best}"]
    return "\n".join(lines)


def grade(repo: str = ".", json_path: str | None = None, only: set[int] | None = None,
          pytest_args: list[str] | None = None):
    tasks = [t for t in TASKS if only is None or t.assignment in only]
    records = run_tests(os.path.abspath(repo), [t.marker for t in tasks],
                        pytest_args=pytest_args)
    rows = score(records, tasks)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump({"tasks": rows, "total": sum(r["points"] for r in rows),
                       "max_total": sum(r["max_points"] for r in rows)}, f, indent=2)
    return rows
