"""Coursework: student copies, the leak check, and the markers."""

import json
import os
import subprocess
import sys

import pytest

from tinygrad_lm.course.assignments import BuildError, build_student_copy, find_regions
from tinygrad_lm.course.assignments.build import collect_regions, package_files, read_lines
from tinygrad_lm.course.assignments.catalog import ASSIGNMENTS, BY_ID
from tinygrad_lm.course.assignments.manifest import read_manifest, sha256_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_every_task_has_a_region_and_every_region_a_known_task():
    regions = collect_regions(REPO)
    ids = {r.task_id for rs in regions.values() for r in rs}
    assert ids == set(BY_ID)


def test_build_cuts_regions_keeps_markers_and_imports(tmp_path):
    out = tmp_path / "student"
    cut = build_student_copy(REPO, str(out))
    assert cut == sorted(BY_ID, key=lambda t: [int(x) for x in t.split(".")])
    text = _read(out / "tinygrad_lm" / "ops" / "linalg.py")
    assert '        raise NotImplementedError("Assignment 2.5: ' in text
    assert "# BEGIN ASSIGNMENT 2.5" in text and "# END ASSIGNMENT 2.5" in text
    assert "k.matmul(g, b2, trans_b=True)" not in text
    assert os.path.exists(out / "tests" / "test_autograd.py")
    assert not os.path.exists(out / "tests" / "hidden")
    assert not os.path.exists(out / "tinygrad_lm" / "course" / "assignments" / "bugs.py")
    done = subprocess.run([sys.executable, "-c", "import tinygrad_lm, tinygrad_lm.cli"],
                          cwd=out, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(out)))
    assert done.returncode == 0, done.stderr


def test_manifest_records_tasks_points_regions_and_starter_hashes(tmp_path):
    out = tmp_path / "student"
    build_student_copy(REPO, str(out), only={2})
    manifest = read_manifest(str(out / "assignments.json"))
    assert [t["id"] for t in manifest["tasks"]] == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6"]
    assert manifest["total_points"] == sum(BY_ID[t["id"]].points for t in manifest["tasks"])
    assert {r["path"] for r in manifest["tasks"][4]["regions"]} == {
        "tinygrad_lm/ops/linalg.py", "tinygrad_lm/kernels/reference.py"}
    for rel, digest in manifest["starter_sha256"].items():
        assert sha256_file(str(out / rel)) == digest
    assert "tests/test_autograd.py" in manifest["files_sha256"]


def _nonregion_lines(repo):
    """Every stripped line of the reference outside the regions: shared code, not a leak."""
    lines = set()
    regions = collect_regions(repo)
    for rel in package_files(repo):
        if not rel.endswith(".py"):
            continue
        text = read_lines(os.path.join(repo, rel))
        inside = set()
        for r in regions.get(rel, []):
            inside |= set(range(r.begin + 1, r.end))
        lines |= {x.strip() for i, x in enumerate(text) if i not in inside}
    return lines


def _copy_lines(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith((".py", ".md")):
                path = os.path.join(dirpath, name)
                for x in _read(path).splitlines():
                    found.setdefault(x.strip(), os.path.relpath(path, root))
    return found


@pytest.mark.parametrize("only", [None, 1, 2, 3, 4, 5])
def test_no_solution_line_of_a_cut_task_is_anywhere_in_the_copy(tmp_path, only):
    from tinygrad_lm.course.assignments.build import solution_lines
    out = tmp_path / "student"
    cut = build_student_copy(REPO, str(out), None if only is None else {only})
    shared = _nonregion_lines(REPO)
    copy = _copy_lines(out)
    for task, lines in solution_lines(REPO, set(cut)).items():
        leaked = {x: copy[x] for x in lines - shared if x in copy}
        assert not leaked, f"task {task}: solution lines in the copy: {leaked}"


def test_build_copies_only_tracked_files(tmp_path):
    repo = tmp_path / "repo"
    (repo / "tinygrad_lm").mkdir(parents=True)
    region = "def f():\n    # BEGIN ASSIGNMENT 1.1\n    return 1\n    # END ASSIGNMENT 1.1\n"
    (repo / "tinygrad_lm" / "a.py").write_text(region)
    (repo / "tinygrad_lm" / "scratch.py").write_text("x = 1\n")
    (repo / "out").mkdir()
    (repo / "out" / "ckpt.npz").write_bytes(b"\0" * 1000)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "tinygrad_lm/a.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "a"], check=True)
    build_student_copy(str(repo), str(tmp_path / "copy"))
    found = sorted(os.path.relpath(os.path.join(d, f), tmp_path / "copy")
                   for d, _, fs in os.walk(tmp_path / "copy") for f in fs)
    assert found == ["assignments.json", os.path.join("tinygrad_lm", "a.py")]
    assert "raise NotImplementedError" in _read(tmp_path / "copy" / "tinygrad_lm" / "a.py")


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


def test_build_refuses_a_full_output_dir_and_unknown_assignments(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BuildError, match="not empty"):
        build_student_copy(REPO, str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    with pytest.raises(BuildError, match="unknown assignment"):
        build_student_copy(REPO, str(tmp_path / "x"), only={9})


def test_markers_registered_for_every_task_and_hidden():
    cfg = _read(os.path.join(REPO, "setup.cfg"))
    for task in BY_ID.values():
        assert f"    {task.marker}: coursework task {task.id}" in cfg
    assert "    hidden:" in cfg
    assert set(ASSIGNMENTS) == {t.assignment for t in BY_ID.values()}


def test_every_task_has_a_hint():
    assert all(len(t.hint) > 20 for t in BY_ID.values())


def test_manifest_errors_are_clear(tmp_path):
    from tinygrad_lm.course.assignments.manifest import ManifestError
    path = tmp_path / "assignments.json"
    path.write_text("{not json")
    with pytest.raises(ManifestError, match="cannot be read as JSON"):
        read_manifest(str(path))
    path.write_text(json.dumps({"format": 1, "tasks": [{"id": "7.7"}]}))
    with pytest.raises(ManifestError, match="known task ids"):
        read_manifest(str(path))


@pytest.mark.parametrize("only, fused", [({4}, False), ({2}, True)])
def test_a_copy_of_assignment_4_runs_the_spelled_out_attention(tmp_path, only, fused):
    """With assignment 4 cut, GPTConfig.fused and CausalSelfAttention's fused default are off in
    the copy, so a GPT trains on the student's 4.2 code; other copies keep the fast default."""
    from tinygrad_lm.course.assignments.build import collect_copy_lines
    from tinygrad_lm.course.assignments.markers import reference_form, reference_outside
    from tinygrad_lm.course.assignments.sources import _outside
    out = tmp_path / "student"
    build_student_copy(REPO, str(out), only)
    probe = ("from tinygrad_lm.nn.gpt import GPTConfig\n"
             "from tinygrad_lm.nn.attention import CausalSelfAttention\n"
             "print(GPTConfig(vocab_size=8, block_size=4, n_layer=1, n_head=1, n_embd=4).fused,"
             " CausalSelfAttention(4, 1).fused)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=out, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(out)))
    assert done.stdout.split() == [str(fused)] * 2, done.stderr
    for rel, marks in collect_copy_lines(REPO).items():  # the grader reads them as the reference
        mine, ref = read_lines(out / rel), read_lines(os.path.join(REPO, rel))
        assert reference_form(marks, _outside(mine, find_regions(rel, mine)), ref) == \
            reference_outside(_outside(ref, find_regions(rel, ref))), rel


def test_a_copy_with_unwritten_tasks_still_trains(tmp_path):
    """Assignments 3 and 5 cut, nothing written: `train` runs on the stand-ins and says which,
    while the copy's own test of an unwritten task still fails on its starter. (Which lessons
    run in which copy: the matrix in assignments/INSTRUCTOR.md.)"""
    out = tmp_path / "student"
    build_student_copy(REPO, str(out), {3, 5})
    env = dict(os.environ, PYTHONPATH=str(out))
    train = subprocess.run([sys.executable, "-m", "tinygrad_lm", "train", "--preset", "tiny",
                            "--max_iters=4", "--eval-samples", "4", "--out_dir",
                            str(tmp_path / "run")], cwd=out, env=env, capture_output=True,
                           text=True, timeout=900)
    assert train.returncode == 0, train.stderr[-3000:]
    for task in ("3.3", "3.4", "5.2", "5.5"):
        assert f"task {task} is not written yet" in train.stderr, task
    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-m", "a3_3", "tests/test_kernels.py"], cwd=out, env=env,
                         capture_output=True, text=True, timeout=900)
    assert own.returncode == 1 and "Assignment 3.3: " in own.stdout, own.stdout[-3000:]


# ---- what the source declares: starters inside the regions, the lines a copy changes --------
SOURCE = """import os
# STUDENT COPY 5: from .helpers import stand_in
# STUDENT COPY 4 INSTEAD: FAST = False  # the copy's
FAST = True  # the reference's
# STUDENT COPY: EVERY_COPY = True


def lr(step):
    # BEGIN ASSIGNMENT 5.2
    # STARTER: return stand_in("5.2", "a constant rate",
    # STARTER:                 lambda: 0.1)
    return 0.1 * step
    # END ASSIGNMENT 5.2


def top_k(x):
    # BEGIN ASSIGNMENT 5.3
    return x
    # END ASSIGNMENT 5.3
"""


@pytest.mark.parametrize("only", [None, {4}, {5}])
def test_starters_and_copy_lines_are_read_from_the_source(only):
    from tinygrad_lm.course.assignments.markers import copy_of, find_copy_lines
    lines = SOURCE.splitlines(keepends=True)
    regions = find_regions("m.py", lines)
    text = "".join(copy_of(lines, regions, find_copy_lines("m.py", lines, regions), only))
    assert "STUDENT COPY" not in text
    assert ("# STARTER:" in text) == (only == {4})  # a region left uncut is the reference's
    assert ("from .helpers import stand_in\n" in text) == (only != {4})
    assert ("FAST = False  # the copy's\n" in text) == (only != {5})
    assert ("FAST = True" in text) == (only == {5}) and "EVERY_COPY = True\n" in text
    cut_5 = only != {4}
    assert ('    return stand_in("5.2", "a constant rate",\n                    lambda: 0.1)\n'
            in text) == cut_5
    assert ("    return 0.1 * step\n" in text) != cut_5
    assert ('    raise NotImplementedError("Assignment 5.3: top-k' in text) == cut_5
    compile(text, "m.py", "exec")


@pytest.mark.parametrize("text, match", [
    ("# STARTER: return 1\n", "belongs inside a region"),
    ("# BEGIN ASSIGNMENT 1.1\n# STUDENT COPY: x = 1\n# END ASSIGNMENT 1.1\n", "inside a region"),
    ("# STUDENT COPY 9: x = 1\n", "unknown assignment"),
    ("# STUDENT COPY INSTEAD: x = 1\n", "needs the code line it replaces"),
    ("# STUDENT COPY INSTEAD: x = 1\n\nx = 2\n", "needs the code line it replaces"),
])
def test_bad_copy_lines_fail_with_file_and_line(text, match):
    from tinygrad_lm.course.assignments.markers import find_copy_lines
    lines = text.splitlines(keepends=True)
    with pytest.raises(BuildError, match=match) as info:
        find_copy_lines("pkg/mod.py", lines, find_regions("pkg/mod.py", lines))
    assert "pkg/mod.py:" in str(info.value)


def test_no_engine_module_names_the_stand_ins_in_the_reference_or_in_a_copy(tmp_path):
    """The engine's modules never name the course's stand-ins, not even in a starter: a
    starter with a stand-in calls the engine's own hook (kernels.unfinished). Only the package
    root's one STUDENT COPY line imports them, to install their policy. So a copy that cuts
    every assignment keeps the reference's setup.cfg, and `lint-imports` passes in it."""
    above_the_engine = ("tinygrad_lm/course/", "tinygrad_lm/cli.py", "tinygrad_lm/doctor.py")
    out = tmp_path / "student"
    build_student_copy(REPO, str(out), None)
    for tree in (REPO, str(out)):
        for rel in package_files(tree):
            if (rel.startswith("tinygrad_lm/") and rel.endswith(".py")
                    and not rel.startswith(above_the_engine)):
                text = _read(os.path.join(tree, rel))
                if rel == "tinygrad_lm/__init__.py":
                    text = text.replace("from .course import stand_ins as _stand_ins", "")
                assert "stand_in" not in text, f"{tree}: {rel} names the course's stand-ins"
    assert _read(out / "setup.cfg") == _read(os.path.join(REPO, "setup.cfg"))
    assert "\nfrom .course import stand_ins as _stand_ins" in _read(
        out / "tinygrad_lm" / "__init__.py")  # which installs the stand-ins' policy
    assert "return unfinished(NotImplementedError(\"Assignment 5.2: " in _read(
        out / "tinygrad_lm" / "training" / "optim.py")  # STARTER_ERROR written out
    pytest.importorskip("importlinter.cli", reason="pip install import-linter (the test extra)")
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                           "lint_imports; sys.exit(lint_imports(config_filename='setup.cfg'))"],
                          cwd=out, env=dict(os.environ, PYTHONPATH=str(out)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
