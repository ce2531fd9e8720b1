"""Which lessons run to the end: each `lessons/NN_*.py` of the copy run as a script in quick
mode (LESSONS_QUICK=1), in a scratch figures folder, with its exercises' verdicts.

A lesson ran to the end when it exited cleanly and its last line says "done" (every lesson ends
so; tests/test_lessons.py checks that). `tinygrad-lm assignments status --lessons` runs them and
keeps the result in the copy's progress file, so a plain `status` shows it without the wait.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile
import time

EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt|Exit)\b")
VERDICT = re.compile(r"^Exercise (\d+\.\d+): (not answered yet|right|not right yet)", re.M)


def find_lessons(root: str) -> list[str]:
    """The copy's lesson scripts, in order."""
    return sorted(glob.glob(os.path.join(root, "lessons", "[0-9][0-9]_*.py")))


def run_lesson(root: str, path: str, timeout: float) -> dict:
    """Run one lesson in quick mode: did it run to the end, its exercises, why it stopped."""
    with tempfile.TemporaryDirectory(prefix="tinygrad-lm-lesson-") as out:
        env = dict(os.environ, PYTHONPATH=root, LESSONS_QUICK="1", LESSONS_OUT=out,
                   MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        try:
            done = subprocess.run([sys.executable, path], cwd=out, env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"ran_to_end": False, "exercises": {},
                    "stopped": f"still running after {timeout:g} s"}
    lines = done.stdout.strip().splitlines()
    ok = done.returncode == 0 and bool(lines) and "done" in lines[-1].lower()
    errors = [x for x in done.stderr.strip().splitlines() if x.strip()]
    # the exception's own line, not a note printed under it
    raised = [x for x in errors if EXCEPTION_LINE.match(x)] or errors
    return {"ran_to_end": ok,
            "exercises": {m[1]: m[2] for m in VERDICT.finditer(done.stdout)},
            "stopped": "" if ok else (raised[-1][:200] if raised else
                                      f"exit code {done.returncode}")}


def run_lessons(root: str, timeout: float = 300.0, names: list[str] | None = None) -> dict:
    """{"when": ..., "runs": {lesson file name: run_lesson's record}} for the copy's lessons
    (or only those whose file name starts with one of `names`)."""
    runs = {}
    for path in find_lessons(root):
        name = os.path.basename(path)
        if names and not any(name.startswith(n) for n in names):
            continue
        runs[name] = run_lesson(root, path, timeout)
    return {"when": time.strftime("%Y-%m-%d %H:%M"), "runs": runs}
