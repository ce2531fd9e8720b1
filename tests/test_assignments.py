"""Coursework: building student copies and grading them with the test suite."""

import os
import shutil

import pytest

from tinygrad_lm.assignments import BuildError, build_student_copy, find_regions
from tinygrad_lm.assignments.build import collect_regions
from tinygrad_lm.assignments.catalog import BY_ID
from tinygrad_lm.assignments.grade import grade

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["-k", "not numba"]  # grade on the NumPy backend: no kernel compilation in the copy


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_every_region_names_a_known_task_and_pairs_up():
    regions = collect_regions(REPO)
    ids = {r.task_id for rs in regions.values() for r in rs}
    assert ids == set(BY_ID)


def test_build_cuts_regions_keeps_indentation_and_imports(tmp_path):
    out = tmp_path / "student"
    cut = build_student_copy(REPO, str(out))
    assert "1.1" in cut and "2.5" in cut
    text = _read(out / "tinygrad_lm" / "ops" / "linalg.py")
    assert ('        raise NotImplementedError("Assignment 2.5: ' in text)
    assert "k.matmul(g, b2, trans_b=True)" not in text
    assert os.path.exists(out / "tests" / "test_autograd.py")
    assert os.path.exists(out / "README.md")
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", "import tinygrad_lm, tinygrad_lm.cli"],
                          cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_build_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_student_copy(REPO, str(a), only={2})
    build_student_copy(REPO, str(b), only={2})
    for dirpath, _, files in os.walk(a):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), a)
            assert _read(a / rel) == _read(b / rel), rel


@pytest.mark.parametrize("text, match", [
    ("# BEGIN ASSIGNMENT 1.1\nx = 1\n", "never closed"),
    ("x = 1\n# END ASSIGNMENT 1.1\n", "without a matching BEGIN"),
    ("# BEGIN ASSIGNMENT 1.1\n# BEGIN ASSIGNMENT 1.2\n", "inside the region"),
    ("# BEGIN ASSIGNMENT 9.9\n# END ASSIGNMENT 9.9\n", "unknown assignment task 9.9"),
])
def test_bad_markers_fail_with_file_and_line(text, match):
    with pytest.raises(BuildError, match=match) as info:
        find_regions("pkg/mod.py", text.splitlines(keepends=True))
    assert "pkg/mod.py:" in str(info.value)


@pytest.mark.slow
def test_grader_on_student_copy_solution_and_one_restored_task(tmp_path):
    student = tmp_path / "student"
    build_student_copy(REPO, str(student), only={2})
    rows = {r["task"]: r for r in grade(str(student), only={2}, pytest_args=FAST)}
    assert all(r["points"] == 0 and r["reason"] == "not implemented" for r in rows.values())
    assert all(r["total"] > 0 for r in rows.values())

    solution = {r["task"]: r for r in grade(REPO, only={2}, pytest_args=FAST)}
    assert all(r["points"] == r["max_points"] for r in solution.values()), solution

    # restore task 2.5 (matmul backward) only: exactly that task passes
    shutil.copy(os.path.join(REPO, "tinygrad_lm", "ops", "linalg.py"),
                student / "tinygrad_lm" / "ops" / "linalg.py")
    rows = {r["task"]: r for r in grade(str(student), only={2}, pytest_args=FAST)}
    assert rows["2.5"]["points"] == rows["2.5"]["max_points"]
    assert all(r["points"] == 0 for t, r in rows.items() if t != "2.5")
