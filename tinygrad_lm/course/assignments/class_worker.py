"""One student's grading in a process of its own, started by class_grading.py:
`python -m tinygrad_lm.course.assignments.class_worker SETTINGS_JSON`.

It runs only the grader's code (the student's code runs further down, in the task's pytest
processes with their time and memory limits) and writes the report where SETTINGS says; the
class run reads it back, so nothing a student's grading does can reach another's in memory.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from .grade import grade_submission, stop_running_tests
from .results import write_json


def _stop(signum, frame):
    """SIGTERM from the class run: end the task's test run (its own process group, which a
    kill of this one would not reach), then this process."""
    stop_running_tests()
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    """Grade the submission named in the settings (argv[0], JSON) and write its report."""
    signal.signal(signal.SIGTERM, _stop)
    s = json.loads(argv[0])
    # --only over the tasks' assignments makes the class's task list win over the copy's
    # own assignments.json (grade.choose_tasks), so every student is scored on the same tasks
    only = {int(t.split(".")[0]) for t in s["tasks"]}
    report = grade_submission(s["submission"], s["suite"], only=only, tasks=s["tasks"],
                              timeout=s["timeout"], jobs=1, work_dir=s["work"],
                              memory_mb=s["memory_mb"] or None)
    write_json(s["report"], report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
