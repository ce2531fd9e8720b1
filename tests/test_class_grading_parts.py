"""The parts of class grading, each on its own and fast: the similarity normaliser and
winnowing, the roster and the zips, atomic results, the gradebook's cells, the statuses, the
memory limit, and the teacher's commands' help and errors."""

import csv
import os
import subprocess
import sys
import zipfile

import pytest

from tinygrad_lm.course.assignments import similarity as sim
from tinygrad_lm.course.assignments.class_grading import class_status, task_problem
from tinygrad_lm.course.assignments.grade import GradeError, pytest_command
from tinygrad_lm.course.assignments.gradebook import _cell
from tinygrad_lm.course.assignments.students import (
    Student,
    discover_students,
    read_roster,
    unpack_zip,
    write_atomic,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CODE = ["    total = 0  # running sum\n", "    for item in values:\n",
        "        total += item * 2.5\n", "    return total / len(values)\n"]
RENAMED = ["    s = 0\n", "    # add them up\n", "    for v in xs:\n", "        s += v * 7\n",
           "    return s / len(xs)\n"]


def test_normalising_ignores_names_literals_comments_and_spacing():
    a = [t for t, _ in sim.normalise(CODE)]
    b = [t for t, _ in sim.normalise(RENAMED)]
    assert a == b == ["V", "=", "N", "for", "V", "in", "V", ":", "V", "+=", "V", "*", "N",
                      "return", "V", "/", "len", "(", "V", ")"]
    # attribute names and builtins stay: they cannot be renamed
    assert [t for t, _ in sim.normalise(["x = np.argsort(y)\n"])] == \
        ["V", "=", "V", ".", "argsort", "(", "V", ")"]
    # a syntax error keeps the tokens before it; lines are kept for the side-by-side view
    broken = sim.normalise(["if x <\n", "    return (\n"])
    assert [t for t, _ in broken][:3] == ["if", "V", "<"] and broken[0][1] == 0


def test_winnowing_finds_every_shared_run_of_w_plus_k_minus_1_tokens():
    import random
    rng = random.Random(0)
    vocab = [f"t{i}" for i in range(30)]
    for _ in range(50):
        shared = [rng.choice(vocab) for _ in range(sim.W + sim.K - 1)]
        a = [rng.choice(vocab) for _ in range(rng.randrange(40))] + shared + ["x"] * 3
        b = ["y"] * rng.randrange(5) + shared + [rng.choice(vocab) for _ in range(30)]
        assert set(sim.fingerprints(a)) & set(sim.fingerprints(b))
    assert sim.fingerprints(["a"] * (sim.K - 1)) == {}  # shorter than one k-gram: nothing
    assert len(sim.fingerprints(["a", "b"] * sim.K)) >= 1


def test_the_roster_maps_submissions_and_lists_the_missing(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "bob_folder").mkdir()
    (subs / "stray").mkdir()
    (subs / ".hidden").mkdir()
    roster = tmp_path / "roster.csv"
    roster.write_text("student,submission,name\nalice,,Alice\nbob,bob_folder,Bob\ncarol,,C\n")
    got = {s.id: s for s in discover_students(str(subs), str(roster), str(tmp_path / "out"))}
    assert sorted(got) == ["alice", "bob", "carol", "stray"]
    assert got["carol"].path is None and got["bob"].path.endswith("bob_folder")
    assert got["stray"].roster == {"note": "not on the roster"}
    roster.write_text("student\nalice\nalice\n")
    with pytest.raises(GradeError, match="listed twice"):
        read_roster(str(roster))
    roster.write_text("who\nalice\n")
    with pytest.raises(GradeError, match="`student` column"):
        read_roster(str(roster))
    (subs / "alice.zip").write_bytes(b"")
    with pytest.raises(GradeError, match="keep one"):
        discover_students(str(subs), None, str(tmp_path / "out"))


def test_a_student_id_becomes_a_safe_distinct_folder_name():
    assert Student("alice", None).safe_id == "alice"
    odd = Student("../../etc/passwd", None).safe_id
    assert "/" not in odd and not odd.startswith(".")
    assert Student("a b", None).safe_id != Student("a_b", None).safe_id


def test_a_zip_cannot_write_outside_its_folder_nor_unpack_unbounded(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../outside.py", "x = 1\n")
    with pytest.raises(ValueError, match="outside the submission"):
        unpack_zip(str(evil), str(tmp_path / "dest"))
    assert not (tmp_path / "outside.py").exists()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.bin", b"\0" * (201 << 20))
    with pytest.raises(ValueError, match="unpacks to more than"):
        unpack_zip(str(bomb), str(tmp_path / "dest2"))
    (tmp_path / "notzip.zip").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a readable zip"):
        unpack_zip(str(tmp_path / "notzip.zip"), str(tmp_path / "dest3"))
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("copy/tinygrad_lm/x.py", "x = 1\n")
        link = zipfile.ZipInfo("copy/link")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "/etc/passwd")
    dest = unpack_zip(str(good), str(tmp_path / "dest4"))
    assert os.path.isfile(os.path.join(dest, "copy/tinygrad_lm/x.py"))
    assert not os.path.lexists(os.path.join(dest, "copy/link"))


def test_a_result_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    path = tmp_path / "r" / "report.json"
    write_atomic(str(path), "old")

    def interrupted(fd):  # Ctrl-C after the new text is written, before the rename
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["report.json"]  # no temporary left behind


def test_gradebook_cells_are_never_spreadsheet_formulas():
    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _cell("@cmd") == "'@cmd" and _cell("-1") == "-1" and _cell(2.5) == "2.5"
    assert _cell("line one\nline two") == "line one line two"


def _row(task, status, message="", tests=()):
    return {"task": task, "status": status, "message": message, "tests": list(tests)}


def test_a_students_status_is_the_worst_problem_of_their_tasks():
    assert task_problem(_row("1.1", "error", "timed out after 60 s")) == "timeout"
    assert task_problem(_row("1.1", "failed", "", [{"message": "MemoryError"}])) == "memory"
    assert task_problem(_row("1.1", "error", "the tests could not import the code:")) == \
        "import-error"
    assert task_problem(_row("1.1", "error", "the test process crashed (exit code 0)")) == \
        "crashed"
    assert task_problem(_row("1.1", "error", "something new")) == "crashed"
    assert task_problem(_row("1.1", "failed", "2 of 3 tests failed")) == ""
    report = {"tasks": [_row("1.1", "passed"), _row("1.2", "not attempted", "not attempted"),
                        _row("1.3", "error", "timed out after 60 s (an endless loop?)")]}
    status, reason = class_status(report)
    assert status == "timeout" and "1.3" in reason
    assert class_status({"tasks": report["tasks"][:2]}) == ("partial", "not attempted: 1.2")
    assert class_status({"tasks": report["tasks"][:1]}) == ("graded", "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux's")
def test_the_memory_limit_turns_a_hog_into_a_memory_error(tmp_path):
    (tmp_path / "test_hog.py").write_text("def test_hog():\n    b = b'x' * (3 << 30)\n")
    cmd = pytest_command(512) + ["-q", "-p", "no:cacheprovider", str(tmp_path / "test_hog.py")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "MemoryError" in done.stdout
    assert pytest_command(None)[1:] == ["-m", "pytest"]


def _cli(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "tinygrad_lm", "assignments", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_every_option_of_every_assignments_command_says_what_it_does():
    import argparse

    from tinygrad_lm.course.assignments.cli import add_parser
    top = argparse.ArgumentParser()
    add_parser(top.add_subparsers())
    actions = top._subparsers._group_actions[0].choices["assignments"]._subparsers
    commands = actions._group_actions[0].choices
    assert {"build", "grade", "grade-class", "bundle", "validate"} <= set(commands)
    for name, parser in commands.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"assignments {name} {action.option_strings or action.dest}"


def test_build_outside_a_clone_says_no_repository_was_found(tmp_path):
    done = _cli("build", "--out", str(tmp_path / "copy"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no repository found in the current directory" in done.stderr
    assert "--repo PATH" in done.stderr and "must be outside" not in done.stderr
    assert not (tmp_path / "copy").exists()


def test_the_gradebook_csv_reads_back(tmp_path):
    from tinygrad_lm.course.assignments.catalog import BY_ID
    from tinygrad_lm.course.assignments.gradebook import write_gradebook
    recs = [{"student": "=evil", "status": "graded", "reason": "", "points": {"5.3": 2.5},
             "score": 2.5, "max_score": 5, "seconds": 1.0, "roster": {}},
            {"student": "gone", "status": "missing", "reason": "no submission found",
             "points": {"5.3": 0.0}, "score": 0.0, "max_score": 5, "roster": {}}]
    write_gradebook({"tasks": [BY_ID["5.3"]], "students": recs}, str(tmp_path))
    with open(tmp_path / "gradebook.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["student"] == "'=evil" and rows[0]["5.3 (5)"] == "2.5"
    with open(tmp_path / "canvas.csv", newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[2][3] == "'=evil" and canvas[3][-1] == ""
