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
- No heading, navigation entry or table-of-contents entry of the built site shows raw markup
  (TeX, Markdown, HTML) as text, and headless Chromium, when installed, draws a few pages (the
  home page, a lesson, an API page) with the theme's colours and their text.
- The results tables of README.md and benchmarks/README.md are the ones generated from the
  kept results, benchmarks/results/latest/*.json.

The build needs the docs extra (`pip install -e ".[docs]"`); without it that one test skips,
except in CI, where it fails.
"""

import importlib.util
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser

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


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    """The site, built once for the tests below with `mkdocs build --strict`."""
    if not _mkdocs_available():
        if os.environ.get("CI"):
            pytest.fail('CI must build the site: pip install -e ".[docs]"')
        pytest.skip('the docs extra is not installed: pip install -e ".[docs]"')
    site = tmp_path_factory.mktemp("docs") / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]
    print(f"site built in {elapsed:.1f} s")
    return site


def _pages(site) -> list[str]:
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(site) for f in fs
                  if f.endswith(".html"))


@pytest.mark.slow
def test_site_builds_strict_and_offline(built_site):
    site = built_site
    pages = _pages(site)
    print(f"site: {len(pages)} pages")
    assert len(pages) > 20
    external = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//")
    for page in pages:
        with open(page, encoding="utf-8") as f:
            html = f.read()
        hit = external.search(html)
        assert hit is None, f"{os.path.relpath(page, site)} loads {hit.group(0)!r} from the network"
        assert "fonts.googleapis" not in html


class _Labels(HTMLParser):
    """The text a reader sees as labels: the page title, headings, navigation and table of
    contents entries, and the aria-labels of navigation blocks."""

    LABELS = {"title", "h1", "h2", "h3", "h4", "h5", "h6", "a", "label"}

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []
        self._math = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "math":  # MathML is drawn, not shown as its source
            self._math += 1
        if tag == "nav" and attrs.get("aria-label"):
            self.found.append(("nav aria-label", attrs["aria-label"]))
        labelled = tag in ("title", "h1", "h2", "h3", "h4", "h5", "h6") or (
            tag in ("a", "label") and "md-nav__link" in (attrs.get("class") or ""))
        if labelled:
            self._open.append((tag, []))

    def handle_endtag(self, tag):
        if tag == "math":
            self._math -= 1
        if self._open and self._open[-1][0] == tag:
            name, parts = self._open.pop()
            self.found.append((name, " ".join("".join(parts).split())))

    def handle_data(self, data):
        if self._open and not self._math:
            self._open[-1][1].append(data)


# TeX delimiters and commands, Markdown emphasis, code and links, HTML tags shown as text
RAW_MARKUP = re.compile(r"\\[()\[\]]|\\[A-Za-z]{2,}|\$[^$\s][^$]*\$|`|\*\*|__\w|\]\(|"
                        r"<\/?[a-z]+[ >]")


@pytest.mark.slow
def test_headings_and_navigation_show_no_raw_markup(built_site):
    bad = []
    for page in _pages(built_site):
        parser = _Labels()
        with open(page, encoding="utf-8") as f:
            parser.feed(f.read())
        for where, text in parser.found:
            if RAW_MARKUP.search(text):
                bad.append(f"{os.path.relpath(page, built_site)}: {where} {text!r}")
    assert not bad, "raw markup where a reader sees a label:\n  " + "\n  ".join(sorted(set(bad)))


def _chromium() -> str | None:
    import shutil
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


SCREENSHOT_PAGES = ["index.html", "lessons/07_causal_self_attention.html",
                    "api/tinygrad_lm.nn.gpt.html"]


@pytest.mark.slow
@pytest.mark.parametrize("page", SCREENSHOT_PAGES)
def test_screenshot_of_a_page_shows_it_drawn(built_site, page, tmp_path):
    """Headless Chromium draws the page from disk: a picture with the theme's header colour
    and a page's worth of text, not a blank or unstyled page. TINYGRAD_LM_SCREENSHOTS=DIR keeps
    the pictures for a person to look at."""
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    if not (built_site / page).exists():  # the page moved: show another of its kind
        kind = page.split("/")[0] if "/" in page else ""
        others = sorted((built_site / kind).glob("*.html")) if kind else []
        assert others, f"{page} is not in the site"
        page = str(others[min(len(others) - 1, 1)].relative_to(built_site))
    out = tmp_path / (page.replace("/", "_")[:-5] + ".png")
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--window-size=1280,900",
                           f"--screenshot={out}", (built_site / page).as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert out.exists(), done.stderr[-2000:]
    keep = os.environ.get("TINYGRAD_LM_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        import shutil
        shutil.copy(out, keep)
    import matplotlib.image
    pixels = matplotlib.image.imread(str(out))[..., :3]  # (H, W, 3) floats in [0, 1]
    assert pixels.shape[:2] == (900, 1280)
    header = pixels[:40].reshape(-1, 3).mean(axis=0)
    assert header[2] > header[0] + 0.15, f"{page}: no indigo header (mean colour {header})"
    body = pixels[100:, 300:1000]
    dark = (body.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.5, f"{page}: {dark:.1%} of the body is text-dark: blank or unstyled?"


def test_benchmark_tables_match_their_results():
    """The results tables in README.md and benchmarks/README.md are what
    `python -m benchmarks.report` makes of benchmarks/results/latest/*.json."""
    sys.path.insert(0, ROOT)
    from benchmarks import report
    stale = report.stale()
    assert not stale, ("tables that differ from the kept results (run `python -m "
                       "benchmarks.report --write`):\n  " + "\n  ".join(stale))
