"""Grade a whole class: every submission in a folder, each in its own process, resumable.

`grade_class(submissions, suite, out)` finds the students (one folder or zip per student, or a
roster CSV), grades each that has no up-to-date result with `grade_submission` in a worker
process of its own (its tasks' pytest processes run under the per-task time limit and a memory
limit, grade.py), `jobs` students at once, and writes each student's result atomically the
moment it is done (students.py). One student's import error, endless loop, memory hog,
`os._exit` or tampering costs that student's tasks only: the worker and its tests are separate
processes, a worker that dies or overruns is killed with its whole process group, and no file
another student's grading reads is in reach of the graded code.

A result is reused when the submission's hash (the files the grader reads) and the suite's hash
(every suite file and the grading settings) are those it was graded with.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .feedback import write_feedback
from .grade import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT,
    GradeError,
    check_suite,
    choose_tasks,
    submission_root,
    suite_files,
)
from .manifest import MANIFEST
from .students import Student, discover_students, read_record, unpack_zip, write_record

WORKER_SLACK = 60.0  # seconds on top of the tasks' limits before a worker is killed
# A task row's error text, first match wins, and the class status it gives the student.
PROBLEMS = [("timed out", "timeout"), ("MemoryError", "memory"),
            ("grading tree changed", "crashed"), ("crashed", "crashed"),
            ("could not import", "import-error"), ("syntax error", "import-error"),
            ("is missing from", "import-error"), ("broken markers", "import-error"),
            ("region(s) marked", "import-error"), ("not UTF-8", "import-error"),
            ("symbolic link", "import-error"), ("larger than", "import-error")]
SEVERITY = ["crashed", "timeout", "memory", "import-error"]


def tree_hash(root: str, rels) -> str:
    """sha256 over the named files of `root` (path and content; a missing one counts as
    missing), so any change to what the grader reads changes it."""
    h = hashlib.sha256()
    for rel in sorted(rels):
        h.update(rel.encode() + b"\0")
        path = os.path.join(root, rel)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        else:
            h.update(b"missing")
    return h.hexdigest()


def suite_hash(suite: str, settings: dict) -> str:
    """The suite's hash: every suite file, its manifest, and the grading settings."""
    h = hashlib.sha256(tree_hash(suite, suite_files(suite) + [MANIFEST]).encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()


def submission_hash(student: Student, region_files) -> str:
    """The hash of what the grader reads from a submission: a zip's bytes, or a folder's files
    that hold regions and its manifest (a copy zipped one folder down is looked into)."""
    if student.path is None:
        return ""
    if os.path.isfile(student.path):
        h = hashlib.sha256()
        with open(student.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return "zip:" + h.hexdigest()
    root = submission_root(student.path)
    return tree_hash(root, list(region_files) + [MANIFEST])


def task_problem(row: dict) -> str:
    """What kept a task from being graded normally ('' when its tests ran): one of the class
    statuses, or 'not-attempted'."""
    if row["status"] == "not attempted":
        return "not-attempted"
    texts = [row["message"]] + [t["message"] for t in row.get("tests", [])]
    if row["status"] == "error":
        for needle, kind in PROBLEMS:
            if needle in row["message"]:
                return kind
        return "crashed"
    if any("MemoryError" in t for t in texts):
        return "memory"
    return ""


def class_status(report: dict) -> tuple[str, str]:
    """A student's status and a one-line reason from the report's task rows: the most severe
    problem of any task (crashed, timeout, memory, import-error), else `partial` when some task
    was not attempted, else `graded`."""
    kinds: dict[str, list[str]] = {}
    for row in report["tasks"]:
        kinds.setdefault(task_problem(row), []).append(row["task"])
    for kind in SEVERITY:
        if kind in kinds:
            first = next(r for r in report["tasks"] if r["task"] == kinds[kind][0])
            line = next((x for x in first["message"].splitlines() if x.strip()), kind)
            if kind == "memory" and first["status"] != "error":
                line = "a test ran out of memory (MemoryError under the memory limit)"
            return kind, f"{kind} in task {', '.join(kinds[kind])}: {line[:160]}"
    if "not-attempted" in kinds:
        return "partial", f"not attempted: {', '.join(kinds['not-attempted'])}"
    return "graded", ""


class _Workers:
    """The live worker processes, so an interrupted run kills their process groups."""

    def __init__(self):
        self.procs: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False  # set on Ctrl-C: a student cut short gets no record

    def run(self, cmd: list[str], timeout: float, log: str) -> int | None:
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            with self.lock:
                self.procs.add(proc)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
            finally:
                _kill_group(proc)
                with self.lock:
                    self.procs.discard(proc)

    def kill_all(self) -> None:
        self.stopping = True
        with self.lock:
            for proc in list(self.procs):
                _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop a worker: SIGTERM first, on which it kills its task's test run (in a process group
    of its own), then SIGKILL to its group for whatever is left."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _failed_record(student: Student, tasks, kind: str, reason: str) -> dict:
    return {"status": kind, "reason": reason, "score": 0.0, "max_score": sum(
        t.points for t in tasks), "points": {t.id: 0.0 for t in tasks}, "report": None}


def grade_one(student: Student, settings: dict, tasks, out: str, workers: _Workers) -> dict:
    """Grade one student in a worker process; returns the record's grading part."""
    if student.path is None:
        return _failed_record(student, tasks, "missing", "no submission found")
    work = os.path.join(out, ".work", student.safe_id)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        path = student.path
        if os.path.isfile(path):
            try:
                path = unpack_zip(path, os.path.join(work, "submission"))
            except ValueError as e:
                return _failed_record(student, tasks, "import-error", str(e))
        report_path = os.path.join(work, "report.json")
        cmd = [sys.executable, "-m", "tinygrad_lm.course.assignments.class_worker",
               json.dumps({**settings, "submission": path, "report": report_path,
                           "work": os.path.join(work, "grade")})]
        limit = len(tasks) * (settings["timeout"] + WORKER_SLACK) + WORKER_SLACK
        code = workers.run(cmd, limit, os.path.join(work, "worker.log"))
        if code is None:
            return _failed_record(student, tasks, "timeout",
                                  f"grading took more than {limit:g} s and was stopped")
        try:
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            with open(os.path.join(work, "worker.log"), encoding="utf-8",
                      errors="replace") as f:
                tail = " ".join(f.read().strip().splitlines()[-1:])[:200]
            return _failed_record(student, tasks, "crashed",
                                  f"the grader's worker stopped (exit {code}): {tail}")
        status, reason = class_status(report)
        return {"status": status, "reason": reason, "score": report["score"],
                "max_score": report["max_score"],
                "points": {r["task"]: r["points"] for r in report["tasks"]}, "report": report}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grade_class(submissions: str, suite: str, out: str, only=None, tasks=None,
                timeout: float = DEFAULT_TIMEOUT, memory_mb: float | None = DEFAULT_MEMORY_MB,
                jobs: int = 1, roster: str | None = None, students=None, force: bool = False,
                progress=print) -> dict:
    """Grade every student of `submissions` with `suite` into `out`, reusing up-to-date
    results unless `force` or the student is named in `students`. Returns the class: its task
    list, every student's record (students.py) and which were graded this run."""
    if not timeout > 0 or jobs < 1:
        raise GradeError(f"--timeout must be positive and --jobs at least 1 (got {timeout:g} "
                         f"and {jobs})")
    suite, out = os.path.abspath(suite), os.path.abspath(out)
    if not os.path.isdir(submissions):
        raise GradeError(f"submissions folder {submissions} is not a directory")
    regions = check_suite(suite)
    with tempfile.TemporaryDirectory() as empty:  # the class's tasks: the suite's and the flags'
        chosen, chosen_by = choose_tasks(suite, empty, only, tasks)
    ids = {t.id for t in chosen}
    region_files = sorted(rel for rel, rs in regions.items() if any(r.task_id in ids
                                                                     for r in rs))
    settings = {"suite": suite, "tasks": sorted(ids), "timeout": timeout,
                "memory_mb": memory_mb or 0}
    suite_sha = suite_hash(suite, settings)
    roll = discover_students(submissions, roster, out)
    if students:
        unknown = set(students) - {s.id for s in roll}
        if unknown:
            raise GradeError(f"--student: no such student {sorted(unknown)} in {submissions}"
                             + (f" or {roster}" if roster else ""))
    os.makedirs(out, exist_ok=True)
    records, todo = {}, []
    for s in roll:
        sub_sha = submission_hash(s, region_files)
        old = read_record(out, s)
        wanted = force or (students and s.id in students) or old is None or \
            old.get("submission_sha256") != sub_sha or old.get("suite_sha256") != suite_sha
        if students and s.id not in students and old is not None:
            wanted = False
        if wanted:
            todo.append((s, sub_sha))
        else:
            old["roster"] = s.roster  # the roster's names and LMS ids as they are now
            records[s.id] = old
    progress(f"{len(roll)} students, {len(todo)} to grade ({len(roll) - len(todo)} up to "
             f"date), tasks {', '.join(sorted(ids))} chosen by {chosen_by}")
    workers = _Workers()

    def one(item):
        s, sub_sha = item
        start = time.perf_counter()
        rec = grade_one(s, settings, chosen, out, workers)
        if workers.stopping:
            return None
        rec.update(student=s.id, submission=s.path, roster=s.roster,
                   submission_sha256=sub_sha, suite_sha256=suite_sha,
                   seconds=round(time.perf_counter() - start, 2),
                   graded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_record(out, s, rec)
        write_feedback(out, s, rec, chosen)
        progress(f"  {s.id}: {rec['status']} {rec['score']:g}/{rec['max_score']:g}"
                 f" ({rec['seconds']:g} s){'  ' + rec['reason'] if rec['reason'] else ''}")
        return rec
    pool = ThreadPoolExecutor(jobs)
    try:
        for rec in pool.map(one, todo):
            records[rec["student"]] = rec
    except BaseException:  # Ctrl-C: stop every worker; finished students are on disk
        workers.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    shutil.rmtree(os.path.join(out, ".work"), ignore_errors=True)
    return {"tasks": chosen, "tasks_chosen_by": chosen_by, "suite": suite,
            "students": [records[s.id] for s in roll if s.id in records],
            "graded_now": [s.id for s, _ in todo], "roster": roll}
