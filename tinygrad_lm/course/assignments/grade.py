"""Grade a submission task by task with the teacher's tests, in disposable trees.

The grading suite (the reference package, its tests including the hidden ones, this plugin and
the catalogue) is the teacher's: the repository this package runs from, or a bundle built with
`tinygrad-lm assignments bundle`. From the submission only the code inside each task's markers
is taken (see sources.py). Each task runs in its own pytest process, in a fresh tree holding the
reference with that task's regions replaced by the student's, under its own time limit; the
run reports the sha256 of the files it imported, which must be the spliced ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from .build import SKIP_DIRS, BuildError, collect_copy_lines, collect_regions
from .catalog import BY_ID, HIDDEN_MARKER, TASKS, Task
from .manifest import MANIFEST, ManifestError, manifest_task_ids, read_manifest, sha256_file
from .markers import is_starter
from .results import score_task, total_score
from .sources import TaskSource, task_sources
from .weights import fraction_text

DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY_MB = 4096
MAX_SUBMISSION_FILES = 20000


class GradeError(ValueError):
    """The grading suite or the request is unusable (not the submission: that only costs
    points)."""


def default_suite() -> str:
    """The repository this package runs from, when it has the tests beside it."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    root = os.path.dirname(package)
    if not os.path.isdir(os.path.join(root, "tests")):
        raise GradeError("no grading suite: this tinygrad_lm is installed without its tests. "
                         "Build one from the reference repository with `tinygrad-lm "
                         "assignments bundle --out DIR` and pass --suite DIR")
    return root


def check_suite(suite: str) -> dict:
    """The suite's regions by file; a suite whose regions are cut (a student copy) is refused."""
    if not os.path.isdir(os.path.join(suite, "tinygrad_lm")) or \
            not os.path.isdir(os.path.join(suite, "tests")):
        raise GradeError(f"{suite} is no grading suite: it needs tinygrad_lm/ and tests/")
    try:
        regions = collect_regions(suite, suite_files(suite))
        collect_copy_lines(suite, suite_files(suite))
    except BuildError as e:
        raise GradeError(f"grading suite {suite}: {e}") from None
    for rel, rs in regions.items():
        with open(os.path.join(suite, rel), encoding="utf-8") as f:
            lines = f.read().splitlines(keepends=True)
        for r in rs:
            if is_starter(r.task_id, lines[r.begin + 1:r.end]):
                raise GradeError(f"{suite} is a student copy ({rel} has task {r.task_id} cut); "
                                 "grade with the reference repository or a bundle (to check "
                                 "your own work, run the copy's tests: python -m pytest -m "
                                 f"{BY_ID[r.task_id].marker})")
    return regions


def choose_tasks(suite: str, submission: str, only, tasks) -> tuple[list[Task], str]:
    """Which tasks to score, and who chose them: the suite's own manifest (a bundle built for
    one copy) wins, then the teacher's --only/--task, then the submission's manifest."""
    chosen, source = None, ""
    for where, label in ((suite, "the grading bundle's manifest"),
                         (submission, "the submission's assignments.json (not verified)")):
        path = os.path.join(where, MANIFEST)
        if os.path.isfile(path):
            chosen, source = manifest_task_ids(read_manifest(path)), label
            break
    if chosen is None or (only is not None and source.startswith("the submission")):
        chosen, source = [t.id for t in TASKS], "the catalogue"
    if only is not None:
        known = {t.assignment for t in TASKS}
        if not only <= known:
            raise GradeError(f"--only: unknown assignment(s) {sorted(only - known)}; the "
                             f"assignments are {sorted(known)}")
        chosen, source = [t for t in chosen if BY_ID[t].assignment in only], source + ", --only"
    if tasks:
        unknown = set(tasks) - set(BY_ID)
        if unknown:
            raise GradeError(f"unknown task(s) {sorted(unknown)}; tasks are {sorted(BY_ID)}")
        chosen = [t for t in chosen if t in tasks]
    if not chosen:
        raise GradeError(f"no task to grade: {source} and --task leave none (the copy's cut "
                         "tasks are in its assignments.json)")
    return [BY_ID[t] for t in chosen], source


def test_files(suite: str, task: Task) -> list[str]:
    """The suite's test files that mention the task's marker (collecting all of them would cost
    seconds per task)."""
    found = []
    for rel in suite_files(suite):
        if rel.startswith("tests/") and os.path.basename(rel).startswith("test_") and \
                rel.endswith(".py"):
            with open(os.path.join(suite, rel), encoding="utf-8") as f:
                text = f.read()
            if re.search(rf"\b{task.marker}\b", text):
                found.append(rel)
    return found


def suite_files(suite: str) -> list[str]:
    """The suite's package and test sources, as they are on disk: the teacher's working tree
    is what the teacher runs (a copy for students takes tracked files only)."""
    found = []
    for top in ("tinygrad_lm", "tests"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(suite, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            found += [os.path.relpath(os.path.join(dirpath, n), suite).replace(os.sep, "/")
                      for n in filenames if not n.endswith((".pyc", ".nbi", ".nbc"))]
    return sorted(found)


def _ini() -> str:
    markers = ["slow: longer tests", f"{HIDDEN_MARKER}: run only by the grader",
               "weight(k): a check worth k times a plain one"]
    markers += [f"{t.marker}: coursework task {t.id}" for t in TASKS]
    return "[pytest]\nmarkers =\n" + "".join(f"    {m}\n" for m in markers)


def _make_tree(suite: str, tree: str, files: dict[str, str]) -> dict[str, str]:
    """A fresh tree: the suite's package and tests (mtimes kept, so Numba's cache of the
    unchanged kernels stays valid across tasks) and the task's spliced files. Returns the
    sha256 of every file written, by path, to check the tree against after the run."""
    if os.path.exists(tree):
        shutil.rmtree(tree)
    written = {}
    for rel in suite_files(suite):
        if rel not in files:
            os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
            with open(os.path.join(suite, rel), "rb") as f:
                data = f.read()
            with open(os.path.join(tree, rel), "wb") as f:
                f.write(data)
            shutil.copystat(os.path.join(suite, rel), os.path.join(tree, rel))
            written[rel] = hashlib.sha256(data).hexdigest()
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        with open(os.path.join(tree, rel), "w", encoding="utf-8", newline="") as f:
            f.write(text)
        written[rel] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with open(os.path.join(tree, "pytest.ini"), "w", encoding="utf-8") as f:
        f.write(_ini())
    return written


# Starts pytest under a memory limit. It runs in the child before pytest (stdlib only, so
# nothing of the package is imported early); preexec_fn would do the same but may deadlock
# when the grader runs tasks on several threads.
_LIMITED_PYTEST = (
    "import resource, runpy, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "for what, value in ((resource.RLIMIT_AS, limit), (resource.RLIMIT_CORE, 0)):\n"
    "    try:\n"
    "        hard = resource.getrlimit(what)[1]\n"
    "        soft = value if hard == resource.RLIM_INFINITY else min(value, hard)\n"
    "        resource.setrlimit(what, (soft, hard))\n"
    "    except (ValueError, OSError):\n"
    "        pass\n"
    "sys.argv[0] = 'pytest'\n"
    "runpy.run_module('pytest', run_name='__main__', alter_sys=True)\n")


def pytest_command(memory_mb: float | None) -> list[str]:
    """The command that starts pytest: `python -m pytest`, or, given `memory_mb`, a launcher
    that first caps the process's address space at that many MiB (RLIMIT_AS: an allocation
    past it raises MemoryError instead of swapping the machine) and its core dumps at 0.
    Linux enforces RLIMIT_AS; macOS accepts it without enforcing it; Windows has no
    `resource` module, so there only the time limit holds."""
    try:
        import resource  # noqa: F401  (POSIX only)
    except ImportError:
        memory_mb = None
    if not memory_mb:
        return [sys.executable, "-m", "pytest"]
    return [sys.executable, "-c", _LIMITED_PYTEST, str(int(memory_mb * (1 << 20)))]


def tampered_files(tree: str, written: dict[str, str]) -> list[str]:
    """The grading tree's files that no longer hold what the grader wrote there (`written`,
    path -> sha256): the code under test rewrote the plugin, a conftest or a test. Files added
    to the tree are not looked at."""
    changed = []
    for rel, digest in sorted(written.items()):
        try:
            if sha256_file(os.path.join(tree, rel)) != digest:
                changed.append(rel)
        except OSError:
            changed.append(f"{rel} (deleted)")
    return changed


RUNNING: set[int] = set()  # the process groups of the test runs under way


def stop_running_tests() -> None:
    """Kill every test run under way with its whole process group (a grader being stopped
    must not leave an endless loop behind it)."""
    for pid in list(RUNNING):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _run_pytest(tree: str, marker: str, files: list[str], timeout: float, cache: str,
                memory_mb: float | None = None):
    """(run record or None, exit code or None on timeout, output tail)."""
    # The results go to a fresh private folder outside the tree, so code under test cannot
    # leave a forged file where the grader will look for it and then exit.
    out_dir = tempfile.mkdtemp(prefix="out-", dir=os.path.dirname(tree))
    out = os.path.join(out_dir, f"result-{os.urandom(8).hex()}.json")
    try:
        return _run_pytest_to(tree, marker, files, timeout, cache, memory_mb, out)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _run_pytest_to(tree, marker, files, timeout, cache, memory_mb, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "TINYGRAD_LM"))}
    env.update(PYTHONPATH=tree, NUMBA_CACHE_DIR=cache, PYTHONDONTWRITEBYTECODE="1",
               TINYGRAD_LM_GRADE_OUT=out)
    cmd = [*pytest_command(memory_mb), "-q", "--strict-markers", "-p", "no:cacheprovider",
           "-p", "no:hypothesispytest", "-p", "tinygrad_lm.course.assignments.pytest_plugin",
           "-c", os.path.join(tree, "pytest.ini"), "--rootdir", tree, "-m", marker, *files]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    RUNNING.add(proc.pid)
    try:
        text, code = proc.communicate(timeout=timeout)[0], proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers the code may have forked
        text, code = proc.communicate()[0], None
    finally:
        RUNNING.discard(proc.pid)
    tail = "\n".join((text or "").strip().splitlines()[-15:])
    if not os.path.exists(out):
        return None, code, tail
    with open(out, encoding="utf-8") as f:
        return json.load(f), code, tail


def grade_task(suite: str, task: Task, src: TaskSource, slot: str, timeout: float,
               skip_unattempted: bool, memory_mb: float | None = None) -> dict:
    """Grade one task: the task's tests of `suite` run on a disposable tree holding the
    submission's code for this task (the reference for every other task), under `timeout`.

    Returns:
        The task's row (`score_task`), with the seconds it took; a crash, a time-out or a
        collection error scores 0 with the reason.
    """
    start = time.perf_counter()
    if src.error or (not src.attempted and skip_unattempted):
        row = score_task(task, None, src, error=src.error or "not attempted: the starter's "
                         "raise NotImplementedError is still in the region")
    else:
        tree = os.path.join(slot, "tree")
        written = _make_tree(suite, tree, src.files)
        files = test_files(suite, task)
        run, code, tail = _run_pytest(tree, task.marker, files, timeout,
                                      os.path.join(os.path.dirname(slot), "numba-cache"),
                                      memory_mb)
        error = ""
        changed = tampered_files(tree, written)
        if changed:
            error = ("the grading tree changed while the tests ran (the code under test "
                     "rewrote " + ", ".join(changed[:5]) + "): the run proves nothing")
        elif code is None:
            error = f"timed out after {timeout:g} s (an endless loop?)\n{tail}"
        elif run is None:
            error = f"the test process crashed (exit code {code})\n{tail}"
        elif run["collect_errors"]:
            error = "the tests could not import the code:\n" + run["collect_errors"][0]
        elif not files or not run["tests"]:
            error = f"no tests carry the marker {task.marker} (the grading suite is incomplete)"
        row = score_task(task, run, src, error=error)
        shutil.rmtree(tree, ignore_errors=True)
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def _ignored_files(submission: str, owned: set[str]) -> list[str]:
    """What the grader does not use, compared with the copy's manifest when there is one."""
    path = os.path.join(submission, MANIFEST)
    try:
        starter = read_manifest(path).get("files_sha256", {}) if os.path.isfile(path) else {}
    except ManifestError:
        starter = {}
    present = {}
    for dirpath, dirnames, filenames in os.walk(submission):
        dirnames[:] = [d for d in dirnames if d not in {".git", "__pycache__"}]
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), submission).replace(os.sep, "/")
            present[rel] = os.path.join(dirpath, name)
            if len(present) > MAX_SUBMISSION_FILES:
                return [f"more than {MAX_SUBMISSION_FILES} files: the rest were not looked at"]
    notes = []
    for rel in sorted(set(starter) - owned - {MANIFEST}):
        if rel not in present:
            notes.append(f"{rel} (deleted)")
        elif os.path.isfile(present[rel]) and sha256_file(present[rel]) != starter[rel]:
            notes.append(f"{rel} (edited)")
    if starter:
        notes += [f"{rel} (added)" for rel in sorted(set(present) - set(starter) - owned)
                  if rel.endswith(".py")]
    return notes


def submission_root(submission: str) -> str:
    """The folder holding the copy: `submission` itself, or its one subfolder that holds
    tinygrad_lm/ when the student zipped the copy's folder rather than its contents (Gradescope
    unpacks the zip as it is; a macOS __MACOSX folder beside it is ignored)."""
    if os.path.isdir(os.path.join(submission, "tinygrad_lm")):
        return submission
    subdirs = [d for d in os.listdir(submission) if d != "__MACOSX" and not d.startswith(".")
               and os.path.isdir(os.path.join(submission, d))
               and not os.path.islink(os.path.join(submission, d))]
    if len(subdirs) == 1 and os.path.isdir(os.path.join(submission, subdirs[0], "tinygrad_lm")):
        return os.path.join(submission, subdirs[0])
    return submission


def grade_submission(submission: str, suite: str | None = None, only: set[int] | None = None,
                     tasks: list[str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                     jobs: int = 1, skip_unattempted: bool = True,
                     work_dir: str | None = None,
                     memory_mb: float | None = DEFAULT_MEMORY_MB) -> dict:
    """The grading report of `submission` (a directory): per task its points, tests, failure
    messages, hint and the sha256 of the graded files. See results.py for its outputs.
    `work_dir` (kept by the caller) lets several runs reuse one tree path and Numba cache;
    `memory_mb` caps each test process's address space (None or 0: no cap)."""
    start = time.perf_counter()
    if not timeout > 0 or jobs < 1:
        raise GradeError(f"--timeout must be positive and --jobs at least 1 (got {timeout:g} "
                         f"and {jobs})")
    suite = os.path.abspath(suite or default_suite())
    submission = os.path.abspath(submission)
    if not os.path.isdir(submission):
        raise GradeError(f"submission {submission} is not a directory")
    submission = submission_root(submission)
    if submission == suite:
        raise GradeError("the submission is the grading suite itself: grading needs the "
                         "teacher's suite (--suite, a bundle or the reference repository). To "
                         "check your own work in a copy, run its visible tests: "
                         "python -m pytest -m a2_5 (task 2.5)")
    regions = check_suite(suite)
    try:
        chosen, chosen_by = choose_tasks(suite, submission, only, tasks)
    except ManifestError as e:
        raise GradeError(f"{e}; rebuild the copy or pass --only") from None
    ids = {t.id for t in chosen}
    wanted = {rel for rel, rs in regions.items() if any(r.task_id in ids for r in rs)}
    sources = task_sources(suite, {rel: rs for rel, rs in regions.items() if rel in wanted},
                           submission, [t.id for t in chosen])
    with tempfile.TemporaryDirectory(prefix="tinygrad-lm-grade-") as tmp:
        work = work_dir or tmp
        slots = [os.path.join(work, f"slot{i}") for i in range(max(1, jobs))]
        for s in slots:
            os.makedirs(s, exist_ok=True)

        def one(i_task):
            i, task = i_task
            return grade_task(suite, task, sources[task.id], slots[i % len(slots)], timeout,
                              skip_unattempted, memory_mb)
        # tasks go to the slots round-robin; each slot runs its share in order, so one tree
        # path per slot (and Numba's cache for it) is reused
        shares = [[(i, t) for i, t in enumerate(chosen) if i % len(slots) == k]
                  for k in range(len(slots))]
        with ThreadPoolExecutor(len(slots)) as pool:
            done = list(pool.map(lambda share: [one(x) for x in share], shares))
    rows = sorted((r for share in done for r in share), key=lambda r: [int(x) for x in
                                                                      r["task"].split(".")])
    total = total_score(rows)
    return {"submission": submission, "suite": suite, "tasks_chosen_by": chosen_by,
            "tasks": rows, "score": float(total), "score_exact": fraction_text(total),
            "max_score": sum(r["max_points"] for r in rows),
            "ignored_files": _ignored_files(submission, wanted),
            "execution_time": round(time.perf_counter() - start, 2)}
