"""Docs as tests: every Python example runs, every public name has a docstring, the site builds.

- Every ```python block of README.md and of each Markdown page of the site runs, the blocks of
  one file in order in one namespace (as a reader pastes them), in a scratch directory. A block
  that must not run is preceded by `<!-- no-run: the reason -->`; there are few.
- Every public module, function, class and method has a docstring, except those listed in
  tests/undocumented_names.txt (names that had none when this check was added). A new name
  without a docstring fails; so does a listed name that has one now or no longer exists, so the
  list only shrinks.
- A lesson's page shows the outputs of its executed notebook, kept by tests/test_lessons.py,
  when the notebook was executed from the current sources, so CI runs each lesson once.
- `mkdocs build --strict` succeeds (broken links, missing references, a failing lesson or an
  unreadable formula stop it), and the built site loads nothing from the network.

The build needs the docs extra (`pip install -e ".[docs]"`); without it that one test skips,
except in CI, where it fails.
"""

import importlib.util
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOOKS = os.path.join(ROOT, "docs", "hooks")
GAPS_FILE = os.path.join(ROOT, "tests", "undocumented_names.txt")


def _hook_module(name):
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}",
                                                  os.path.join(HOOKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


sources = _hook_module("sources")
public_names = _hook_module("public_names")

MARKDOWN = ["README.md"] + sorted(sources.site_sources(ROOT))


def test_the_extractor_finds_blocks_and_no_run_marks():
    text = ("intro\n\n```python\nx = 1\n```\n\n<!-- no-run: needs a checkpoint -->\n"
            "```python\nload('ckpt')\n```\n\n```bash\nls\n```\n\n!!! note\n    ```py\n    y = 2\n"
            "    ```\n")
    blocks = sources.python_blocks(text)
    assert [b.code for b in blocks] == ["x = 1\n", "load('ckpt')\n", "y = 2\n"]
    assert [b.no_run for b in blocks] == ["", "needs a checkpoint", ""]
    assert blocks[0].line == 4


@pytest.mark.parametrize("path", MARKDOWN)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        blocks = sources.python_blocks(f.read())
    monkeypatch.chdir(tmp_path)  # examples that save files save them here
    monkeypatch.setattr(sys, "argv", [path])
    namespace = {"__name__": "__main__"}
    for block in blocks:
        if block.no_run:
            continue
        code = compile(block.code, f"{path}:{block.line}", "exec")
        try:
            exec(code, namespace)
        except Exception as e:
            pytest.fail(f"{path}, the ```python block at line {block.line} raised "
                        f"{type(e).__name__}: {e}\n(mark a block that is not meant to run with "
                        "`<!-- no-run: reason -->` on the line before it)")


def test_no_run_marks_are_rare():
    marked = total = 0
    for path in MARKDOWN:
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            blocks = sources.python_blocks(f.read())
        total += len(blocks)
        marked += sum(1 for b in blocks if b.no_run)
    assert total > 0
    assert marked <= max(2, total // 5), f"{marked} of {total} examples are marked no-run"


def test_a_lesson_page_shows_its_executed_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("jupytext")
    from tinygrad_lm.course.notebooks import to_notebook
    lessons_md = _hook_module("lessons_md")
    root = tmp_path
    (root / "lessons").mkdir()
    (root / "tinygrad_lm").mkdir()
    (root / "tinygrad_lm" / "__init__.py").write_text("x = 1\n")
    lesson = root / "lessons" / "07_demo.py"
    lesson.write_text('# %% [markdown]\n# # Lesson 7 — Demo\n\n# %%\nprint("hi")\n'
                      'show(fig, "07_demo.png")\n\n# %% tags=["solution"]\ndef f():\n'
                      '    return 1\n')
    assert lessons_md.from_executed(str(lesson), str(root)) is None  # not executed yet
    nb = to_notebook(str(lesson), "tinygrad_lm")
    nb.cells[2].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hi\n"),
        nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0K"},
                               metadata={"filename": "07_demo.png"})]
    lessons_md.save_executed(str(lesson), str(root), nb)
    result = lessons_md.from_executed(str(lesson), str(root))
    assert result["figures"] == {"07_demo.png": "iVBORw0K"}
    code, solution = result["cells"][1], result["cells"][2]
    assert code["text"] == ["hi\n"] and code["images"] == ["07_demo.png"]
    assert solution["source"] == "def f():\n    return 1"  # the lesson's cell, not the notebook's
    page = lessons_md.to_markdown(str(lesson), result, "07_demo")
    assert "executed as a notebook" in page and "![07_demo.png](07_demo/07_demo.png)" in page
    (root / "tinygrad_lm" / "__init__.py").write_text("x = 2\n")  # the package changed since
    assert lessons_md.from_executed(str(lesson), str(root)) is None


def _recorded_gaps() -> set[str]:
    with open(GAPS_FILE, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def test_public_names_have_docstrings():
    sys.path.insert(0, ROOT)
    missing = set(public_names.undocumented())
    recorded = _recorded_gaps()
    new = sorted(missing - recorded)
    stale = sorted(recorded - missing)
    assert not new, ("public names without a docstring (write one: a one-line summary, the "
                     "arguments with their shapes, what it returns, the math):\n  "
                     + "\n  ".join(new))
    assert not stale, (f"documented now, or gone: delete these lines from {GAPS_FILE}:\n  "
                       + "\n  ".join(stale))


def _mkdocs_available() -> bool:
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_site_builds_strict_and_offline(tmp_path):
    if not _mkdocs_available():
        if os.environ.get("CI"):
            pytest.fail('CI must build the site: pip install -e ".[docs]"')
        pytest.skip('the docs extra is not installed: pip install -e ".[docs]"')
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]
    pages = [os.path.join(d, f) for d, _, fs in os.walk(site) for f in fs if f.endswith(".html")]
    print(f"site: {len(pages)} pages in {elapsed:.1f} s")
    assert len(pages) > 20
    external = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//")
    for page in pages:
        with open(page, encoding="utf-8") as f:
            html = f.read()
        hit = external.search(html)
        assert hit is None, f"{os.path.relpath(page, site)} loads {hit.group(0)!r} from the network"
        assert "fonts.googleapis" not in html
