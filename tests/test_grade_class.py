"""Grading a whole class: a synthetic class of thirteen submissions built from the handout and
the planted-bug corpus (the starter, the solution, half done, a syntax error, an endless loop, a
memory hog, os._exit at import, a tamperer, two planted bugs, two near-copies with renamed
names, an honest independent solution) plus a roster student who submitted nothing, graded on
tasks 5.2 and 5.3 with two jobs. Every status and score is checked, the near-copies must be the
top similarity pair and the honest one unflagged, and a second run regrades nobody."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tinygrad_lm.course.assignments.bugs import BY_NAME
from tinygrad_lm.course.assignments.build import build_student_copy, find_regions, read_lines
from tinygrad_lm.course.assignments.class_cli import class_outputs
from tinygrad_lm.course.assignments.class_grading import grade_class
from tinygrad_lm.course.assignments.lms import build_bundle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIM = "tinygrad_lm/training/optim.py"
SAMPLING = "tinygrad_lm/generation/sampling.py"
FILE = {"5.2": OPTIM, "5.3": SAMPLING}
TIMEOUT = 45.0  # far above a task's few seconds, even on a loaded machine
MEMORY_MB = 1536

# one student's own way of writing both tasks; two others hand it in with new names and comments
VARIANT = {"5.2": """
if step >= warmup_iters:
    if lr_decay_iters <= warmup_iters or step > lr_decay_iters:
        return min_lr
    progress = (step - warmup_iters) / float(lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_lr + coeff * (lr - min_lr)
return lr * (step + 1) / (warmup_iters + 1)
""", "5.3": """
x = _as_logits(logits, "top_k_filter")
k = check_top_k(k)
out = x.copy()
if k < x.shape[-1]:
    ranks = np.argsort(np.argsort(-x, axis=-1, kind="stable"), axis=-1, kind="stable")
    out[ranks >= k] = -np.inf
return out
"""}
RENAMES = [("progress", "frac"), ("coeff", "c"), ("ranks", "position"), ("out", "filtered")]
HONEST = {"5.2": """
if step < warmup_iters:
    w = (step + 1) / (warmup_iters + 1)
    return w * lr
elif step <= lr_decay_iters and lr_decay_iters > warmup_iters:
    t = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + (lr - min_lr) * (1 + math.cos(t * math.pi)) / 2
else:
    return min_lr
""", "5.3": """
values = _as_logits(logits, "top_k_filter")
k = check_top_k(k)
rows = values.reshape(-1, values.shape[-1]).copy()
for row in rows:
    keep = np.argsort(-row, kind="stable")[:k]
    drop = np.ones(row.shape, dtype=bool)
    drop[keep] = False
    row[drop] = -np.inf
return rows.reshape(values.shape)
"""}
HOG = """
hog = [b"x" * (1 << 26) for _ in range(64)]  # 4 GiB at most: past the limit, MemoryError
"""
TAMPER = """
import os as _os
with open(_os.path.join("tests", "conftest.py"), "a") as _f:
    _f.write("\\n# every test passes now\\n")
with open(_os.path.join(_os.path.dirname(__file__), "..", "course", "assignments",
                        "pytest_plugin.py"), "a") as _f:
    _f.write("\\n# forged\\n")
with open(_os.path.join("..", "result.json"), "w") as _f:
    _f.write('{"tests": [], "collect_errors": [], "imported": {}}')
"""


def set_region(root, task, body, indent="    "):
    """Replace the body of `task`'s region in the submission `root` (dedented `body`)."""
    rel = FILE[task]
    path = os.path.join(root, rel)
    lines = read_lines(path)
    (r,) = [r for r in find_regions(rel, lines) if r.task_id == task]
    new = [indent + x + "\n" if x.strip() else "\n"
           for x in textwrap.dedent(body).strip("\n").splitlines()]
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(lines[:r.begin + 1] + new + lines[r.end:]))


def reference_body(task):
    rel = FILE[task]
    lines = read_lines(os.path.join(ROOT, rel))
    (r,) = [r for r in find_regions(rel, lines) if r.task_id == task]
    return textwrap.dedent("".join(lines[r.begin + 1:r.end]))


def apply_bug(root, name):
    bug = BY_NAME[name]
    path = os.path.join(root, bug.path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text.count(bug.old) == 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(bug.old, bug.new))


def build_class(tmp):
    """The class folder (one submission a zip) and its roster; returns them."""
    starter = os.path.join(tmp, "starter")
    build_student_copy(ROOT, starter, only={5})
    subs = os.path.join(tmp, "class")
    os.makedirs(subs)

    def student(name, **bodies):
        root = os.path.join(subs, name)
        shutil.copytree(starter, root)
        for task, body in bodies.items():
            set_region(root, task[1:].replace("_", "."), body)
        return root
    sol = {"t5_2": reference_body("5.2"), "t5_3": reference_body("5.3")}
    student("starter")
    student("solution", **sol)
    student("half", t5_2=sol["t5_2"])
    student("syntax", t5_2="if step <\n    return lr", t5_3=sol["t5_3"])
    student("loop", t5_2=sol["t5_2"], t5_3="while True:\n    pass")
    student("hog", t5_2=HOG + sol["t5_2"], t5_3=sol["t5_3"])
    exiting = student("exits", t5_2=sol["t5_2"])
    set_region(exiting, "5.3", "    return logits\nimport os\nos._exit(0)", indent="")
    tamper = student("tamper", t5_2=TAMPER + sol["t5_2"], t5_3=sol["t5_3"])
    for rel in ("tests/conftest.py", "tinygrad_lm/course/assignments/pytest_plugin.py"):
        with open(os.path.join(tamper, rel), "w") as f:
            f.write("import pytest\npytest.exit('everything passed', returncode=0)\n")
    with open(os.path.join(tamper, "results.json"), "w") as f:
        f.write('{"score": 1000}')
    apply_bug(student("bug_5_2", **sol), "warmup_off_by_one")
    apply_bug(student("bug_5_3", **sol), "top_k_keeps_one_more")
    for name, renames in (("copy_a", RENAMES[:2]), ("copy_b", RENAMES)):
        bodies = dict(VARIANT)
        for old, new in renames:
            bodies = {t: b.replace(old, new) for t, b in bodies.items()}
        bodies["5.2"] = f"# my schedule ({name})\n" + bodies["5.2"]
        student(name, t5_2=bodies["5.2"], t5_3=bodies["5.3"])
    honest = student("honest", t5_2=HONEST["5.2"], t5_3=HONEST["5.3"])
    shutil.make_archive(honest, "zip", honest)
    shutil.rmtree(honest)
    roster = os.path.join(tmp, "roster.csv")
    names = sorted(os.listdir(subs))
    with open(roster, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "submission", "name", "sis_login_id"])
        for n in names:
            key = n[:-4] if n.endswith(".zip") else n
            w.writerow([f"s-{key}", key, key.title(), f"{key}@uni"])
        w.writerow(["s-absent", "", "Absent", "absent@uni"])
    return subs, roster


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("class"))
    subs, roster = build_class(tmp)
    suite = os.path.join(tmp, "suite")  # the bundle a teacher grades with, as the guide says
    build_bundle(ROOT, suite, {5})
    out = os.path.join(tmp, "results")
    log = []
    cls = grade_class(subs, suite, out, tasks=["5.2", "5.3"], timeout=TIMEOUT,
                      memory_mb=MEMORY_MB, jobs=2, roster=roster, progress=log.append)
    outputs = class_outputs(cls, out, plot=True)
    return {"cls": cls, "out": out, "subs": subs, "roster": roster, "log": log, "suite": suite,
            "sim": outputs["similarity"],
            "by": {r["student"][2:]: r for r in cls["students"]}}


EXPECTED = {  # student: (status, 5.2 points, 5.3 points); None: fewer than full, more than 0
    "starter": ("partial", 0, 0), "solution": ("graded", 5, 5), "half": ("partial", 5, 0),
    "syntax": ("import-error", 0, 5), "loop": ("timeout", 5, 0), "hog": ("memory", 0, 5),
    "exits": ("crashed", 5, 0), "tamper": ("crashed", 0, 5), "bug_5_2": ("graded", None, 5),
    "bug_5_3": ("graded", 5, None), "copy_a": ("graded", 5, 5), "copy_b": ("graded", 5, 5),
    "honest": ("graded", 5, 5), "absent": ("missing", 0, 0)}


def test_every_student_gets_their_own_status_and_score(graded):
    by = graded["by"]
    assert sorted(by) == sorted(EXPECTED)
    for name, (status, p52, p53) in EXPECTED.items():
        rec = by[name]
        got = (rec["status"], rec["points"]["5.2"], rec["points"]["5.3"])
        for want, have in zip((status, p52, p53), got):
            if want is None:
                assert 0 <= have < 5, (name, got, rec["reason"])
            else:
                assert have == want, (name, got, rec["reason"])
        assert rec["score"] == rec["points"]["5.2"] + rec["points"]["5.3"]
    assert "not on the roster" not in json.dumps([r["roster"] for r in by.values()])
    assert "timed out" in by["loop"]["reason"] and "MemoryError" in by["hog"]["reason"]
    assert "grading tree changed" in by["tamper"]["reason"]
    tampered = by["tamper"]["report"]["ignored_files"]
    assert "tests/conftest.py (edited)" in tampered


def test_gradebook_feedback_and_canvas_export(graded):
    out = graded["out"]
    with open(os.path.join(out, "gradebook.csv"), newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["s-solution"]["total"] == "10" and rows["s-solution"]["max"] == "10"
    assert rows["s-half"]["5.2 (5)"] == "5" and rows["s-half"]["status"] == "partial"
    assert rows["s-absent"]["status"] == "missing"
    with open(os.path.join(out, "canvas.csv"), newline="") as f:
        canvas = list(csv.reader(f))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Coursework"]
    assert canvas[1][0] == "Points Possible" and canvas[1][-1] == "10"
    assert ["Solution", "", "", "solution@uni", "", "10"] in canvas
    assert ["Absent", "", "", "absent@uni", "", ""] in canvas  # blank: Canvas keeps the cell
    fb = open(os.path.join(out, "students", "s-bug_5_3", "feedback.md")).read()
    assert "## Task 5.3" in fb and "Hint:" in fb and "Passed." in fb
    ref = reference_body("5.3").strip().splitlines()
    assert not any(line.strip() in fb for line in ref if len(line.strip()) > 20)
    for name in ("summary.html", "summary.png", "similarity.html", "similarity.csv"):
        assert os.path.getsize(os.path.join(out, name)) > 500


def test_the_near_copies_are_the_top_pair_and_the_honest_one_is_not_flagged(graded):
    pairs = graded["sim"]["pairs"]
    top = pairs[0]
    assert {top["a"], top["b"]} == {"s-copy_a", "s-copy_b"} and top["flagged"], pairs[:3]
    assert top["score"] > 0.9
    assert not any(p["flagged"] and "s-honest" in (p["a"], p["b"]) for p in pairs)
    assert sum(p["flagged"] for p in pairs) == 1, [p for p in pairs if p["flagged"]]
    page = open(os.path.join(graded["out"], "similarity.html")).read()
    assert 'class="hit"' in page and "not a verdict" in page


def test_a_second_run_regrades_nobody_and_one_student_on_request(graded):
    log = []
    cls = grade_class(graded["subs"], graded["suite"], graded["out"], tasks=["5.2", "5.3"],
                      timeout=TIMEOUT, memory_mb=MEMORY_MB, jobs=2, roster=graded["roster"],
                      progress=log.append)
    assert cls["graded_now"] == [] and "0 to grade" in log[0]
    assert [r["score"] for r in cls["students"]] == \
        [r["score"] for r in graded["cls"]["students"]]
    half = os.path.join(graded["subs"], "half")
    set_region(half, "5.3", reference_body("5.3"))
    cls = grade_class(graded["subs"], graded["suite"], graded["out"], tasks=["5.2", "5.3"],
                      timeout=TIMEOUT, memory_mb=MEMORY_MB, jobs=2, roster=graded["roster"],
                      students=["s-solution"], progress=log.append)
    assert cls["graded_now"] == ["s-solution"]  # --student: that one only, changed or not
    cls = grade_class(graded["subs"], graded["suite"], graded["out"], tasks=["5.2", "5.3"],
                      timeout=TIMEOUT, memory_mb=MEMORY_MB, jobs=2, roster=graded["roster"],
                      progress=log.append)
    assert cls["graded_now"] == ["s-half"]  # its submission changed
    assert {r["student"]: r for r in cls["students"]}["s-half"]["score"] == 10


def test_grade_class_cli_answers_for_a_bad_folder(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tinygrad_lm", "assignments", "grade-class",
                        str(tmp_path / "nope"), "--out", str(tmp_path / "res"), "--suite", ROOT],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "is not a directory" in r.stderr


def test_ctrl_c_keeps_every_finished_student_and_stops_the_workers(tmp_path):
    starter = tmp_path / "starter"
    build_student_copy(ROOT, str(starter), only={5})
    subs = tmp_path / "class"
    for name in ("a_first", "b_second"):
        shutil.copytree(starter, subs / name)
    shutil.copytree(starter, subs / "c_loops")
    set_region(str(subs / "c_loops"), "5.3", "while True:\n    pass")
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "tinygrad_lm", "assignments", "grade-class", str(subs),
           "--out", str(out), "--suite", ROOT, "--task", "5.3", "--timeout", "300"]
    # SIGINT as a terminal has it (a shell's background job starts with it ignored)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    work = out / ".work" / "c_loops"
    for _ in range(600):  # until the endless loop's worker runs
        if (work / "worker.log").exists() and (out / "students" / "b_second").exists():
            break
        time.sleep(0.1)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "keeps their result" in stderr, (stdout, stderr)
    done = sorted(os.listdir(out / "students"))
    assert done == ["a_first", "b_second"]  # the interrupted student has no result
    assert not work.exists()  # its worker was stopped and its folder removed
    for name in done:
        with open(out / "students" / name / "report.json") as f:
            assert json.load(f)["status"] == "partial"
    # nothing of the endless loop is left running: no process works in the class's folders
    time.sleep(1)
    left = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(tmp_path)):
                left.append(pid)
        except OSError:
            pass
    assert not left
