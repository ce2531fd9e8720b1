"""The grader: the teacher's tests on the student's regions only, whatever else the submission
holds; per-task errors and time limits; the LMS outputs; the planted-bug corpus."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest

from tinygrad_lm.course.assignments import GradeError, build_student_copy, grade_submission
from tinygrad_lm.course.assignments.build import find_regions, read_lines
from tinygrad_lm.course.assignments.results import gradescope_results, junit_xml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ELEMENTWISE = os.path.join("tinygrad_lm", "ops", "elementwise.py")


def solve(student, rel, task_id):
    """Put the reference solution of one task into the student's file, as a student would."""
    ref = read_lines(os.path.join(REPO, rel))
    mine = read_lines(os.path.join(student, rel))
    body = {r.task_id: ref[r.begin + 1:r.end] for r in find_regions(rel, ref)}
    for r in reversed(find_regions(rel, mine)):
        if r.task_id == task_id:
            mine[r.begin + 1:r.end] = body[task_id]
    with open(os.path.join(student, rel), "w", encoding="utf-8") as f:
        f.writelines(mine)


def edit_region(student, rel, task_id, lines):
    mine = read_lines(os.path.join(student, rel))
    r = next(r for r in find_regions(rel, mine) if r.task_id == task_id)
    mine[r.begin + 1:r.end] = lines
    with open(os.path.join(student, rel), "w", encoding="utf-8") as f:
        f.writelines(mine)


def by_task(report):
    return {r["task"]: r for r in report["tasks"]}


def scores(report):
    return {r["task"]: (r["points"], r["status"], r["passed"], r["total"], r["graded_files"])
            for r in report["tasks"]}


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A full copy (every task cut) with 2.1 solved: graded while 1.2, which every backward
    needs, is still cut."""
    out = str(tmp_path_factory.mktemp("copy") / "student")
    build_student_copy(REPO, out)
    solve(out, ELEMENTWISE, "2.1")
    return out


@pytest.fixture(scope="module")
def untampered(student):
    return grade_submission(student, REPO, tasks=["2.1", "2.2", "1.2"])


def test_a_task_is_graded_with_the_reference_standing_in_for_other_cut_tasks(untampered):
    rows = by_task(untampered)
    assert rows["2.1"]["points"] == 5 and rows["2.1"]["status"] == "passed"
    assert rows["2.1"]["hidden_total"] >= 1
    assert rows["2.2"]["points"] == 0 and rows["2.2"]["status"] == "not attempted"
    assert rows["1.2"]["points"] == 0 and "hint" in rows["1.2"] and rows["1.2"]["hint"]
    assert untampered["score"] == 5 and untampered["max_score"] == 25
    assert list(rows["2.1"]["graded_files"]) == ["tinygrad_lm/ops/elementwise.py"]


def test_tampered_tests_plugin_and_conftest_change_nothing(student, untampered, tmp_path):
    tampered = str(tmp_path / "tampered")
    shutil.copytree(student, tampered)
    with open(os.path.join(tampered, "tests", "test_ops_gradcheck.py"), "a") as f:
        f.write("\n\ndef test_gradcheck(*a, **k):\n    pass\n")
    os.unlink(os.path.join(tampered, "tests", "test_autograd.py"))
    with open(os.path.join(tampered, "tests", "conftest.py"), "a") as f:
        f.write("\nimport pytest\n\n@pytest.hookimpl(tryfirst=True)\n"
                "def pytest_runtest_call(item):\n    return True\n")
    plugin = os.path.join(tampered, "tinygrad_lm", "course", "assignments", "pytest_plugin.py")
    with open(plugin, "w") as f:
        f.write("raise SystemExit('tampered')\n")
    report = grade_submission(tampered, REPO, tasks=["2.1", "2.2", "1.2"])
    assert scores(report) == scores(untampered)
    assert report["score"] == untampered["score"]
    ignored = " ".join(report["ignored_files"])
    assert "tests/test_autograd.py (deleted)" in ignored
    assert "tests/test_ops_gradcheck.py (edited)" in ignored
    assert "tinygrad_lm/course/assignments/pytest_plugin.py (edited)" in ignored


def test_syntax_error_costs_only_its_task_and_says_where(student, tmp_path):
    broken = str(tmp_path / "broken")
    shutil.copytree(student, broken)
    edit_region(broken, ELEMENTWISE, "2.2", ["        return (g /\n"])
    report = grade_submission(broken, REPO, tasks=["2.1", "2.2"])
    rows = by_task(report)
    assert rows["2.2"]["points"] == 0 and rows["2.2"]["status"] == "error"
    assert "tinygrad_lm/ops/elementwise.py: line" in rows["2.2"]["message"]
    assert "syntax error" in rows["2.2"]["message"]
    assert rows["2.1"]["points"] == 5  # the same file, another task: unaffected


def test_endless_loop_times_out_with_zero_for_that_task(student, tmp_path):
    looping = str(tmp_path / "looping")
    shutil.copytree(student, looping)
    edit_region(looping, ELEMENTWISE, "2.2", ["        while True:\n", "            pass\n"])
    row = by_task(grade_submission(looping, REPO, tasks=["2.2"], timeout=4))["2.2"]
    assert row["points"] == 0 and row["message"].startswith("timed out after 4 s")


def test_missing_file_missing_markers_and_bad_paths(student, tmp_path):
    partial = str(tmp_path / "partial")
    shutil.copytree(student, partial)
    os.unlink(os.path.join(partial, "tinygrad_lm", "ops", "linalg.py"))
    text = open(os.path.join(partial, "tinygrad_lm", "ops", "movement.py")).read()
    with open(os.path.join(partial, "tinygrad_lm", "ops", "movement.py"), "w") as f:
        f.write(text.replace("# BEGIN ASSIGNMENT 2.6", "# begin"))
    rows = by_task(grade_submission(partial, REPO, tasks=["2.5", "2.6"]))
    assert rows["2.5"]["message"] == "tinygrad_lm/ops/linalg.py is missing from the submission"
    assert "broken markers" in rows["2.6"]["message"] and rows["2.6"]["points"] == 0
    with pytest.raises(GradeError, match="is not a directory"):
        grade_submission(os.path.join(partial, "README.md"), REPO)
    with pytest.raises(GradeError, match="is a student copy"):
        grade_submission(partial, student)


def test_the_run_proves_it_imported_the_graded_code(untampered):
    row = by_task(untampered)["2.1"]
    assert len(row["graded_files"]["tinygrad_lm/ops/elementwise.py"]) == 64


def task_scores(results):
    """Gradescope's test entries summed per task (numbers are "2.1.3", or "2.1" for a task that
    did not run)."""
    got = {}
    for x in results["tests"]:
        task = ".".join(x["number"].split(".")[:2])
        score, best = got.get(task, (0.0, 0.0))
        got[task] = (score + x["score"], best + x["max_score"])
    return {t: (round(s, 9), round(b, 9)) for t, (s, b) in got.items()}


def test_gradescope_and_junit_outputs(untampered):
    results = gradescope_results(untampered, pass_mark=20)
    assert results["score"] == 5 and isinstance(results["execution_time"], int)
    assert "not reached" in results["output"]
    assert task_scores(results) == {"1.2": (0, 15), "2.1": (5, 5), "2.2": (0, 5)}
    t = {x["number"]: x for x in results["tests"]}
    assert t["2.1.1"]["status"] == "passed" and t["2.1.1"]["name"].startswith("2.1 test_")
    assert t["1.2"]["status"] == "failed" and "Hint:" in t["1.2"]["output"]
    assert all(x["visibility"] == "visible" and set(x) >= {"name", "score", "max_score",
                                                           "output"}
               for x in results["tests"])
    assert any(x["name"].startswith("2.1 hidden test") for x in results["tests"])
    root = ET.fromstring(junit_xml(untampered))
    assert [s.get("name") for s in root] == ["task 1.2", "task 2.1", "task 2.2"]
    hidden = [c.get("name") for c in root[1].iter("testcase") if c.get("name").startswith("hid")]
    assert hidden  # hidden tests appear by number only


def test_cli_exit_codes_and_pass_mark(student, tmp_path):
    from tinygrad_lm.cli import main
    out = tmp_path / "r.json"
    assert main(["assignments", "grade", student, "--suite", REPO, "--task", "2.1",
                 "--gradescope", str(out), "--pass-mark", "5"]) == 0
    assert json.loads(out.read_text())["score"] == 5
    assert main(["assignments", "grade", student, "--suite", REPO, "--task", "2.2",
                 "--pass-mark", "1"]) == 1
    assert main(["assignments", "grade", str(tmp_path / "nowhere"), "--suite", REPO]) == 2


def test_autograder_zip_runs_on_a_gradescope_layout(tmp_path):
    from tinygrad_lm.course.assignments.lms import build_autograder
    zip_path = tmp_path / "autograder.zip"
    manifest = build_autograder(REPO, str(zip_path), only={1}, timeout=60)
    assert [t["id"] for t in manifest["tasks"]] == ["1.1", "1.2", "1.3"]
    source = tmp_path / "autograder" / "source"
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "assignments.json"} <= set(names)
        assert "tests/hidden/test_hidden_tasks.py" in names
        z.extractall(source)
    os.chmod(source / "run_autograder", 0o755)
    submission = tmp_path / "autograder" / "submission"
    build_student_copy(REPO, str(submission), only={1})
    solve(str(submission), os.path.join("tinygrad_lm", "autograd.py"), "1.3")
    results = tmp_path / "autograder" / "results" / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(source / "run_autograder"), str(submission), str(results)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(results.read_text())
    assert data["tests"], data
    t = task_scores(data)
    assert t["1.3"] == (10, 10) and t["1.1"] == (0, 10) and data["score"] == 10
    assert "not attempted" in {x["number"]: x for x in data["tests"]}["1.2"]["output"]


def test_classroom_workflow_grades_each_task_with_its_points(tmp_path):
    from tinygrad_lm.course.assignments.lms import write_classroom
    path = write_classroom(str(tmp_path), only={5})
    text = open(path).read()
    assert text.count("classroom-resources/autograding-command-grader@v1") == 5
    assert "--task 5.4 --timeout 60 --pass-mark 10" in text and "max-score: 10" in text
    assert "runners: task-5-1,task-5-2,task-5-3,task-5-4,task-5-5" in text
    yaml = pytest.importorskip("yaml")
    steps = yaml.safe_load(text)["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if s.get("uses", "").startswith(
        "classroom-resources/autograding-command-grader")]
    assert [s["with"]["test-name"] for s in graders] == ["5.1", "5.2", "5.3", "5.4", "5.5"]
    assert graders[3]["name"] == "5.4 top-p (nucleus) filtering of logits"
    assert all(isinstance(s["name"], str) for s in steps if "name" in s)


@pytest.mark.parametrize("bug", ["div_sign", "warmup_off_by_one"])
def test_validate_catches_a_planted_bug_in_its_task_only(bug):
    from tinygrad_lm.course.assignments.validate import validate
    result = validate(REPO, jobs=1, names=[bug], ends=False)
    row = result["bugs"][0]
    assert row["ok"] and row["points_lost"] > 0 and row["others_unchanged"]


def test_every_planted_bug_applies_once_inside_its_task(tmp_path):
    from tinygrad_lm.course.assignments.bugs import BUGS, Bug
    from tinygrad_lm.course.assignments.build import collect_regions
    from tinygrad_lm.course.assignments.grade import suite_files
    from tinygrad_lm.course.assignments.validate import BugError, apply_bug
    regions = collect_regions(REPO, suite_files(REPO))
    assert len(BUGS) >= 25 and len({b.name for b in BUGS}) == len(BUGS)
    for b in BUGS:
        apply_bug(REPO, regions, b, str(tmp_path / b.name))
    moved = Bug("moved", "2.1", ELEMENTWISE.replace(os.sep, "/"), "no such line\n", "", "")
    with pytest.raises(BugError, match="occurs 0 times"):
        apply_bug(REPO, regions, moved, str(tmp_path / "moved"))
    outside = Bug("outside", "2.1", ELEMENTWISE.replace(os.sep, "/"),
                  "                -g * a / (b * b) if ctx.needs_input_grad[1] else None)\n",
                  "", "")
    with pytest.raises(BugError, match="not inside a region of task 2.1"):
        apply_bug(REPO, regions, outside, str(tmp_path / "outside"))


def test_grading_never_uses_a_stand_in(student, tmp_path):
    """The copy's stand-ins keep it running, never earn marks: a starter left in place scores 0
    even graded as attempted, and a region that switches the stand-ins back on (past the
    conftest's ban too) to borrow the fused attention op, or that installs an unfinished-code
    policy of its own, fails every test where it ran."""
    attention = os.path.join("tinygrad_lm", "nn", "attention.py")
    gamed = str(tmp_path / "gamed")
    shutil.copytree(student, gamed)
    borrow = ["            y = stand_ins.stand_in('4.2', 'the fused op',\n",
              "                lambda: F.causal_attention(self.c_attn(x), nh))\n"]
    switch_on = ["            from tinygrad_lm.course import stand_ins\n",
                 "            stand_ins.set_stand_ins(True)\n"]
    edit_region(gamed, attention, "4.2", switch_on + borrow)
    rows = by_task(grade_submission(gamed, REPO, tasks=["4.2", "5.2"], skip_unattempted=False))
    assert rows["4.2"]["points"] == 0 and rows["4.2"]["passed"] == 0  # the conftest's ban
    edit_region(gamed, attention, "4.2", switch_on + [
        "            stand_ins._forbidden = frozenset()\n"] + borrow)
    row = by_task(grade_submission(gamed, REPO, tasks=["4.2"]))["4.2"]
    assert row["points"] == 0 and row["passed"] == 0  # the plugin's check
    assert any("a stand-in ran in place of unwritten code" in t["message"] for t in row["tests"])
    own_policy = ["            from tinygrad_lm.kernels import set_unfinished_policy, unfinished\n",
                  "            set_unfinished_policy(lambda error, where: True)\n",
                  "            y = unfinished(NotImplementedError('4.2'), 'the fused op',\n",
                  "                lambda: F.causal_attention(self.c_attn(x), nh))\n"]
    edit_region(gamed, attention, "4.2", own_policy)
    row = by_task(grade_submission(gamed, REPO, tasks=["4.2"]))["4.2"]
    assert row["points"] == 0 and row["passed"] == 0  # a policy of its own: the engine counts
    assert any("a stand-in ran in place of unwritten code" in t["message"] for t in row["tests"])
    assert rows["5.2"]["points"] == 0 and rows["5.2"]["passed"] == 0
    assert any("Assignment 5.2: " in t["message"] and "not written yet" in t["message"]
               for t in rows["5.2"]["tests"])


def test_a_copy_zipped_with_its_folder_is_graded_from_inside_it(student, tmp_path):
    """Gradescope unpacks a zip as it is: a copy zipped as its folder (with macOS's __MACOSX
    beside it) is found one level down."""
    outer = tmp_path / "submission"
    shutil.copytree(student, outer / "my-copy")
    (outer / "__MACOSX").mkdir()
    report = grade_submission(str(outer), REPO, tasks=["2.1"])
    assert report["submission"] == str(outer / "my-copy")
    assert by_task(report)["2.1"]["points"] == 5


def test_in_a_copy_other_work_waiting_for_an_unwritten_task_skips_naming_it(student):
    """A full copy: 1.3's test stops at 1.2's starter and skips, naming 1.2 and its handout;
    1.2's own test fails (it is the task to write); in the reference both run."""
    tests = ["tests/test_autograd.py::test_broadcast_backward_shapes",
             "tests/test_autograd.py::test_chain_rule_scalar"]
    env = dict(os.environ, PYTHONPATH=student)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                           *tests], cwd=student, env=env, capture_output=True, text=True,
                          timeout=300)
    out = done.stdout
    assert "1 failed, 1 skipped" in out, out[-3000:]
    assert ("needs task 1.2 (assignments/01_autograd.md), which this copy asks you to write"
            in out)
    assert "FAILED tests/test_autograd.py::test_chain_rule_scalar" in out


def test_grading_never_honours_a_skip(student, tmp_path):
    """A 2.1 region that switches the copy's stand-ins on and raises another task's starter
    would skip in a copy; graded, its tests fail (the conftest converts nothing under the
    grader's plugin, and a skip scores 0 anyway)."""
    gamed = str(tmp_path / "gamed")
    shutil.copytree(student, gamed)
    edit_region(gamed, ELEMENTWISE, "2.1", [
        "        from tinygrad_lm.course import stand_ins\n",
        "        stand_ins.set_stand_ins(True)\n",
        "        raise NotImplementedError('Assignment 1.2: the backward loop; not written yet, "
        "see assignments/01_autograd.md')\n"])
    row = by_task(grade_submission(gamed, REPO, tasks=["2.1"]))["2.1"]
    assert row["points"] == 0 and row["passed"] == 0
    assert {t["outcome"] for t in row["tests"]} == {"failed"}
