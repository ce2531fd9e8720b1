"""The lessons, tested as a student meets them.

Every `lessons/NN_*.py` is found by its name (a new lesson needs no edit here) and
- has the format of lessons/README.md: a title, "What you will learn", at least two exercises
  (starter cell, hidden solution cell, check cell), a Summary pointing at an assignment, and
  600-1500 words of prose;
- is exported to a notebook and executed in quick mode by a real Jupyter kernel, in a temporary
  working directory: every exercise's check cell prints a verdict, every figure shown displays
  inline, and the last line printed says "done".
Each lesson runs once, as a notebook; a script run (`python lessons/NN_*.py`) runs the same
cells. The executed notebook is kept under `.cache/lessons/notebooks/` (docs/hooks/lessons_md.py),
and the site's build shows its outputs instead of running the lesson again. At the end the
module prints a table of words, exercises and notebook seconds.
"""

import importlib.util
import os
import re
import sys
import time

import pytest

from tinygrad_lm.cli import main
from tinygrad_lm.course.notebooks import (
    find_lessons,
    install_cell_source,
    lesson_outline,
    outline_problems,
    to_notebook,
)
from tinygrad_lm.course.stand_ins import STAND_INS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSONS = os.path.join(ROOT, "lessons")
ASSIGNMENTS = os.path.join(ROOT, "assignments")
NAMES = [os.path.basename(p) for p in find_lessons(LESSONS)]

OUTSIDE = re.compile(r"validation loss \S+ at step \d+; runs (with these settings|of the)")
VERDICT = re.compile(r"^Exercise (\d+\.\d+): (not answered yet|right\.|not right yet)", re.M)
REPORT: dict[str, dict] = {}


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """Print each lesson's prose words, exercises and notebook seconds after the module."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if not REPORT or reporter is None or capture is None:
        return
    rows = ["", f"{'lesson':32} {'words':>6} {'exercises':>9} {'notebook s':>10}"]
    for name in NAMES:
        row = REPORT.get(name, {})
        seconds = row.get("seconds")
        rows.append(f"{name:32} {row.get('words', ''):>6} {row.get('exercises', ''):>9} "
                    f"{'' if seconds is None else f'{seconds:.1f}':>10}")
    total = sum(r["seconds"] for r in REPORT.values() if "seconds" in r)
    rows.append(f"notebook execution, all lessons: {total:.1f} s")
    with capture.global_and_fixture_disabled():  # past pytest's output capture
        for row in rows:
            reporter.write_line(row)


def test_lessons_are_found_and_listed_in_the_readme():
    with open(os.path.join(LESSONS, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert len(NAMES) >= 2
    numbers = [name[:2] for name in NAMES]
    assert len(set(numbers)) == len(numbers), f"two lessons share a number: {NAMES}"
    for name in NAMES:
        assert name in readme, f"lessons/README.md does not list {name}"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_has_the_format(name):
    outline = lesson_outline(os.path.join(LESSONS, name))
    REPORT.setdefault(name, {}).update(words=outline.words, exercises=len(outline.exercises))
    problems = outline_problems(outline, ASSIGNMENTS)
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", NAMES)
def test_lesson_runs_from_anywhere(name):
    """No `__file__`, no sibling helper, no private module: the file works once moved."""
    with open(os.path.join(LESSONS, name), encoding="utf-8") as f:
        source = f.read()
    assert "__file__" not in source, f"{name} uses __file__, which a notebook does not have"
    assert not re.search(r"^\s*(from|import) _common\b", source, re.M), name
    private = re.findall(r"^\s*(?:from|import) (tinygrad_lm(?:\.\w+)*\._\w+)", source, re.M)
    assert not private, f"{name} imports private modules {private}: use the public API"


def test_outline_finds_each_part_of_an_exercise(tmp_path):
    lesson = tmp_path / "07_demo.py"
    head = ('# %% [markdown]\n# # Lesson 7 — Demo\n\n# %% [markdown]\n# ## What you will learn\n'
            '# ' + "word " * 600 + "\n\n")
    exercise = ('# %% [markdown]\n# ### Exercise 7.{k} — Do it\n\n# %%\ndef f():\n'
                '    # YOUR CODE HERE\n    raise NotImplementedError\n\n\n'
                '# %% tags=["solution"] jupyter={{"source_hidden": true}}\ndef g():\n'
                '    return 1\n\n\n# %%\ncheck("7.{k}", f, g, test=lambda h: h() == 1)\n\n')
    summary = "# %% [markdown]\n# ## Summary\n# Next: assignment 4, task 4.1.\n"
    lesson.write_text(head + exercise.format(k=1) + exercise.format(k=2) + summary)
    outline = lesson_outline(str(lesson))
    assert [e.number for e in outline.exercises] == ["7.1", "7.2"]
    assert outline_problems(outline, ASSIGNMENTS) == []
    # the same lesson without a solution tag, a check and a summary pointer is caught
    broken = lesson.read_text().replace('tags=["solution"] ', "", 1)
    broken = broken.replace('check("7.2"', 'print("7.2"').replace("assignment 4", "more")
    lesson.write_text(broken)
    problems = " ".join(outline_problems(lesson_outline(str(lesson)), ASSIGNMENTS))
    assert "exercise 7.1 lacks" in problems and "solution" in problems
    assert 'check("7.2"' in problems and "points at no assignment" in problems
    nb = to_notebook(str(lesson), "tinygrad_lm")
    assert "%pip install" in nb.cells[0].source
    assert nb.cells[-3].metadata["jupyter"]["source_hidden"] is True
    assert nb.cells[-3].metadata["cellView"] == "form"


def test_export_writes_notebooks_and_never_overwrites(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat")
    out = tmp_path / "nb"
    assert main(["lessons", "export", "--out", str(out), "--pip", "git+https://x/y"]) == 0
    written = sorted(os.listdir(out))
    assert written == [n[:-3] + ".ipynb" for n in NAMES]
    nb = nbformat.read(out / written[0], as_version=4)
    assert nb.cells[0].source == install_cell_source("git+https://x/y")
    assert "%pip install" in nb.cells[0].source and nb.metadata.kernelspec.name == "python3"
    assert main(["lessons", "export", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["lessons", "export", "--out", str(out), "--force"]) == 0


def test_solution_cells_are_hidden_in_the_notebook():
    for name in NAMES:
        nb = to_notebook(os.path.join(LESSONS, name), "tinygrad_lm")
        hidden = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert len(hidden) >= 2, name
        for cell in hidden:
            assert cell.metadata["jupyter"]["source_hidden"] is True
            assert cell.metadata["cellView"] == "form"  # Colab's way to fold a cell


def _lessons_md():
    """docs/hooks/lessons_md.py, which turns an executed notebook into the lesson's site page."""
    name = "docs_hooks_lessons_md"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, "docs", "hooks", "lessons_md.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def _outputs_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_lesson_runs_as_a_notebook(name, tmp_path, monkeypatch, skip_if_unwritten):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("LESSONS_QUICK", "1")          # the kernel inherits the environment
    monkeypatch.setenv("LESSONS_OUT", str(tmp_path / "figures"))
    nb = to_notebook(os.path.join(LESSONS, name), "tinygrad_lm")
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(err))  # without the traceback's colours
        skip_if_unwritten(plain)  # a student copy: the lesson needs a task still to write
        pytest.fail(f"{name} failed as a notebook:\n{plain[-3000:]}")
    REPORT.setdefault(name, {})["seconds"] = time.perf_counter() - start

    code = [c for c in nb.cells if c.cell_type == "code"]
    call = r"""^(?:\w+ = )?check\(\s*["'](\d+\.\d+)"""
    checks = [c for c in code if re.search(call, c.source, re.M)]
    for cell in checks:
        asked = re.findall(call, cell.source, re.M)
        said = [m.group(1) for m in VERDICT.finditer(_outputs_text(cell))]
        assert said == asked, f"{name}: check cell for {asked} printed {_outputs_text(cell)!r}"
    for cell in code:
        if re.search(r"^\s*(\w+ = )?show\(", cell.source, re.M):
            shown = [o for o in cell.outputs if o.output_type == "display_data"
                     and "image/png" in o.data]
            assert shown, f"{name}: a cell calling show() displayed no figure inline"
    images = [o for c in code for o in c.outputs if o.output_type == "display_data"
              and "image/png" in o.data]
    if re.search(r"\bshow\(", "".join(c.source for c in code)):
        assert images, f"{name} shows figures, but none displayed inline"
    printed = [line for c in code for line in _outputs_text(c).splitlines() if line.strip()]
    assert printed and "done" in printed[-1], f"{name}: last line printed {printed[-1:]}"
    if not STAND_INS:  # the reference code: every run a lesson checks has a band, and is in it
        off = [line for line in printed if "no reference curve" in line or OUTSIDE.search(line)]
        assert not off, f"{name}: {off}"
    _lessons_md().save_executed(os.path.join(LESSONS, name), ROOT, nb)  # for the site's build


def test_check_gives_each_verdict(capsys):
    from tinygrad_lm.course.lessons import check

    def stub():
        raise NotImplementedError

    right, wrong = (lambda: 2), (lambda: 3)
    assert check("9.1", stub, right, test=lambda f: f() == 2, hint="add") is False
    assert check("9.1", right, right, test=lambda f: f() == 2) is True
    assert check("9.1", wrong, right, test=lambda f: f() == 2, hint="add") is False
    said = capsys.readouterr().out.splitlines()
    assert said == ["Exercise 9.1: not answered yet. add", "Exercise 9.1: right.",
                    "Exercise 9.1: not right yet. add"]
    with pytest.raises(AssertionError, match="solution does not pass"):
        check("9.1", right, wrong, test=lambda f: f() == 2)


@pytest.mark.slow
def test_a_lesson_runs_as_a_script_from_another_folder(tmp_path):
    """`python lessons/NN.py --quick` elsewhere: figures go to ./lessons_out, last line 'done'."""
    import subprocess
    name = NAMES[0]
    env = {k: v for k, v in os.environ.items() if k not in ("LESSONS_OUT", "LESSONS_QUICK")}
    done = subprocess.run([sys.executable, os.path.join(LESSONS, name), "--quick"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "done" in done.stdout.splitlines()[-1]
    with open(os.path.join(LESSONS, name), encoding="utf-8") as f:
        shows = re.findall(r"""show\([^,]+,\s*["']([^"']+\.png)""", f.read())
    assert shows, f"{name} shows no figure by name"
    for figure in shows:
        assert (tmp_path / "lessons_out" / figure).exists(), figure


def test_in_notebook_knows_a_kernel_from_a_terminal(monkeypatch):
    import types

    from tinygrad_lm.course.lessons import in_notebook

    def fake_ipython(shell):
        module = types.ModuleType("IPython")
        module.get_ipython = lambda: shell
        monkeypatch.setitem(sys.modules, "IPython", module)

    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert in_notebook() is False                       # plain python
    fake_ipython(types.SimpleNamespace(config={}))      # terminal IPython: no kernel
    assert in_notebook() is False
    fake_ipython(types.SimpleNamespace(config={"IPKernelApp": {}}))   # Jupyter
    assert in_notebook() is True
    fake_ipython(types.SimpleNamespace(config={}, kernel=object()))   # Colab's shell
    assert in_notebook() is True
