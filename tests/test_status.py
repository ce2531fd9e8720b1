"""`tinygrad-lm assignments status`, its hints and the lessons' record: what a student sees."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tinygrad_lm.cli import main
from tinygrad_lm.course.assignments import hints, status
from tinygrad_lm.course.assignments.build import build_student_copy
from tinygrad_lm.course.assignments.catalog import BY_ID, TASKS
from tinygrad_lm.course.assignments.lesson_runs import run_lessons

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTOGRAD = "tinygrad_lm/autograd.py"

try:
    from tinygrad_lm.course.assignments.bugs import BY_NAME
except ImportError:  # a student copy has no bug corpus
    BY_NAME = None


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A copy of assignments 1 and 3: 1.1 and 1.3 written, 1.2 written with a planted bug,
    assignment 3 not started (its stand-ins, the NumPy kernels, keep assignment 1 running)."""
    if BY_NAME is None:
        pytest.skip("needs the reference repository")
    out = str(tmp_path_factory.mktemp("copy") / "student")
    build_student_copy(ROOT, out, {1, 3})
    with open(os.path.join(ROOT, AUTOGRAD), encoding="utf-8") as f:
        solved = f.read()
    bug = BY_NAME["leaf_grad_overwritten"]
    with open(os.path.join(out, AUTOGRAD), "w", encoding="utf-8") as f:
        f.write(solved.replace(bug.old, bug.new))
    return out


@pytest.fixture(scope="module")
def report(copy):
    return status.status_report(copy)


def test_rows_say_not_started_failing_passing(report):
    rows = {r["task"]: r for r in report["tasks"]}
    assert list(rows) == ["1.1", "1.2", "1.3", "3.1", "3.2", "3.3", "3.4"]
    assert rows["1.1"]["status"] == "passing"
    assert rows["1.1"]["points"] == 10 and rows["1.1"]["passed"] == rows["1.1"]["total"] > 0
    assert rows["1.3"]["status"] == "passing"
    assert rows["3.3"]["status"] == "not started" and rows["3.3"]["points"] == 0
    r = rows["1.2"]
    assert r["status"] == "failing" and 0 <= r["points"] < 15 and r["max_points"] == 15
    assert r["reason"].startswith("test_") and "\n" not in r["reason"]
    assert r["hint"] == hints.HINTS["1.2"][0]
    assert report["next"] == {"task": "1.2", "handout": "assignments/01_autograd.md#1.2"}
    assert report["max_score"] == 90


def test_the_table_shows_each_row_and_what_next(report):
    table = status.format_status(report).splitlines()
    assert any(line.startswith("1.1   passing") and "10/10" in line for line in table)
    assert any(line.startswith("3.3   not started") and "0/15" in line for line in table)
    line = next(line for line in table if line.startswith("1.2   failing"))
    assert "/15" in line and "test_" in line
    assert f"hint 1/3: {hints.HINTS['1.2'][0]}" in "\n".join(table)
    assert table[-1].startswith("next: task 1.2 — assignments/01_autograd.md#1.2")
    assert "lessons: not run yet" in "\n".join(table)


def test_hints_come_in_order_and_are_remembered(copy, capsys):
    # the failing task's first hint was shown by the status run, so --hint opens the second
    assert status.hints_opened(status.read_progress(copy))["1.2"] == 1
    for n in (2, 3, 3):
        assert main(["assignments", "status", "--repo", copy, "--hint", "1.2"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"task 1.2, hint {n}/3: {hints.HINTS['1.2'][n - 1]}")
    assert "that was the last hint" in out
    path = os.path.join(copy, "report.json")
    assert main(["assignments", "status", "--repo", copy, "--json", path]) == 0
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    assert {r["task"]: r["hints_opened"] for r in data["tasks"]}["1.2"] == 3
    assert data["hints_opened"] == 3


def test_a_failed_pytest_run_in_the_copy_ends_with_the_hint(copy):
    env = dict(os.environ, PYTHONPATH=copy)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "a1_2", "tests/test_autograd.py"], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout[-2000:]
    tail = done.stdout.split("hints")[-1]
    assert f"hint 1/3 for task 1.2: {hints.HINTS['1.2'][0]}" in tail
    assert "more help: tinygrad-lm assignments status --hint X.Y" in tail


def test_hint_of_an_unknown_task_is_a_clear_error(copy, capsys):
    assert main(["assignments", "status", "--repo", copy, "--hint", "9.9"]) == 2
    assert "no task 9.9" in capsys.readouterr().err


def test_not_a_copy_is_a_clear_error(tmp_path, capsys):
    assert main(["assignments", "status", "--repo", str(tmp_path)]) == 2
    assert "is not a copy of the coursework" in capsys.readouterr().err


def test_every_task_has_two_or_three_tiers_gentlest_first():
    assert set(hints.HINTS) == {t.id for t in TASKS}
    for task, tiers in hints.HINTS.items():
        assert 2 <= len(tiers) <= 3 and all(t.strip() for t in tiers)
        assert tiers[1] == BY_ID[task].hint  # the idea is the grader's hint
        assert "def " not in "".join(tiers) and "np." not in tiers[0]  # no code, no API
    with pytest.raises(ValueError, match="hints 1 to 3"):
        hints.hint("2.3", 4)


def test_blame_in_another_task_points_at_its_owner():
    record = {"collect_errors": [], "tests": [
        {"nodeid": "tests/test_nn.py::test_block_gradcheck[True-pre]", "tasks": ["4.3"],
         "check": "c", "weight": 1.0, "outcome": "failed",
         "message": "GradcheckError: gradcheck(fn) failed\n  first wrong op: Softmax.backward "
                    "(ops/neural.py) called at nn/attention.py:88 — input 0 (4, 8, 8): max "
                    "rel err 0.73"},
        {"nodeid": "tests/test_nn.py::test_block_wiring", "tasks": ["4.3"], "check": "d",
         "weight": 1.0, "outcome": "passed", "message": ""}]}
    row = status.task_row(BY_ID["4.3"], True, record, 0)
    assert row["status"] == "failing" and row["points"] == 5.0
    assert row["blame"] == ("gradient blame: Softmax.backward (called at nn/attention.py:88) "
                            "is wrong, and that is task 3.2's code: fix 3.2 first")
    assert row["reason"] == "test_block_gradcheck[True-pre]: GradcheckError: gradcheck(fn) failed"


def test_a_task_waiting_for_another_says_which():
    record = {"collect_errors": [], "tests": [
        {"nodeid": "tests/test_autograd.py::test_deep", "tasks": ["1.1"], "check": "a",
         "weight": 1.0, "outcome": "skipped",
         "message": "needs task 1.3 (assignments/01_autograd.md), which this copy asks you to "
                    "write"},
        {"nodeid": "tests/test_autograd.py::test_order", "tasks": ["1.1"], "check": "b",
         "weight": 1.0, "outcome": "passed", "message": ""}]}
    row = status.task_row(BY_ID["1.1"], True, record, 0)
    assert (row["status"], row["reason"], row["points"]) == (
        "waiting", "1 test(s) wait for task 1.3", 5.0)
    assert row["hint"] == ""


def test_lessons_that_ran_to_the_end(tmp_path):
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    (lessons / "00_fine.py").write_text(
        'print("Exercise 0.1: right.")\nprint("Exercise 0.2: not answered yet.")\n'
        'print("Lesson 0 done.")\n')
    (lessons / "01_broken.py").write_text(
        'print("start")\ne = ValueError("shapes differ")\ne.add_note("a note below it")\n'
        'raise e\n')
    record = run_lessons(str(tmp_path), timeout=60)
    runs = record["runs"]
    assert runs["00_fine.py"] == {"ran_to_end": True, "stopped": "",
                                  "exercises": {"0.1": "right", "0.2": "not answered yet"}}
    assert not runs["01_broken.py"]["ran_to_end"]
    assert runs["01_broken.py"]["stopped"] == "ValueError: shapes differ"
    report = {"tasks": [], "score": 0, "max_score": 0, "next": None, "lessons": record}
    text = status.format_status(report)
    assert "lessons: 1 of 2 ran to the end; stopped early: 01_broken.py" in text
    assert "    01_broken.py: ValueError: shapes differ" in text.splitlines()


def test_a_broken_progress_file_is_ignored_not_fatal(tmp_path):
    os.makedirs(tmp_path / ".tinygrad-lm")
    (tmp_path / status.PROGRESS).write_text("{not json")
    assert status.read_progress(str(tmp_path)) == {}
    shutil.rmtree(tmp_path / ".tinygrad-lm")
