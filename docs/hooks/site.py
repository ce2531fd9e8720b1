"""The MkDocs hook that assembles the site from the repository at build time.

On every build it adds, as generated pages (nothing is written into docs/):
- the lessons, each run in quick mode with its outputs and figures (lessons_md.py);
- the prose kept elsewhere in the repository (ARCHITECTURE.md, assignments/*.md, the
  instructor's guide, lessons/README.md, README.md's GPT-2 section), with links pointed at the
  site's pages (sources.py);
- the command-line reference, read from the argument parser and TrainConfig (cli_md.py);
- the API reference, one page per public module (api_md.py);
and it builds the navigation from those files, so a new lesson, assignment or module appears
without an edit to mkdocs.yml. After rendering, TeX math ($...$, $$...$$) becomes MathML, which
browsers draw themselves: the site needs no script from the network to show an equation.

`TINYGRAD_LM_DOCS_RUN_LESSONS=0` skips running the lessons (pages show code and prose only),
for a fast `mkdocs serve` while writing.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import api_md  # noqa: E402
import cli_md  # noqa: E402
import lessons_md  # noqa: E402
import public_names  # noqa: E402
import sources  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402

log = logging.getLogger("mkdocs.hooks.site")
MATH = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<tex>.*?)</(?P=tag)>', re.S)
_state: dict = {}


def _root(config) -> str:
    return os.path.dirname(os.path.abspath(config.config_file_path))


def _add(files, config, src_uri: str, content=None, abs_src_path=None) -> None:
    existing = files.get_file_from_path(src_uri)
    if existing is not None:
        files.remove(existing)
    files.append(File.generated(config, src_uri, content=content, abs_src_path=abs_src_path))


def _lesson_pages(files, config, root: str) -> list:
    run = os.environ.get("TINYGRAD_LM_DOCS_RUN_LESSONS", "1") != "0"
    nav = [{"Overview": "lessons/index.md"}] if os.path.exists(
        os.path.join(root, "lessons", "README.md")) else []
    paths = lessons_md.find_lessons(root)
    if run:  # two at a time: each is its own process, and the machine has two cores
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda p: lessons_md.run_lesson(p, root), paths))
    else:
        results = [{"cells": _unexecuted_cells(p), "figures": {}} for p in paths]
    for path, result in zip(paths, results):
        stem = os.path.basename(path)[:-3]
        _add(files, config, f"lessons/{stem}.md",
             content=lessons_md.to_markdown(path, result, stem, executed=run))
        for name, data in result["figures"].items():
            _add(files, config, f"lessons/{stem}/{name}", content=base64.b64decode(data))
        _add(files, config, f"lessons/{stem}.py", abs_src_path=path)
        nav.append({lessons_md.lesson_title(path): f"lessons/{stem}.md"})
    return nav


def _unexecuted_cells(path: str) -> list[dict]:
    import jupytext
    nb = jupytext.read(path, fmt="py:percent")
    return [{"type": c.cell_type, "source": c.source, "tags": list(c.metadata.get("tags", [])),
             "text": [], "images": []} for c in nb.cells]


def _link_targets(root: str, pages: dict[str, str]) -> dict[str, str]:
    """Repository paths a link may name -> the page that shows them."""
    targets = dict(pages)
    for path in lessons_md.find_lessons(root):
        stem = os.path.basename(path)[:-3]
        targets[f"lessons/{stem}.py"] = f"lessons/{stem}.md"
    if "lessons/README.md" in pages:
        targets["lessons"] = "lessons/index.md"
    if "assignments/README.md" in pages:
        targets["assignments"] = "assignments/index.md"
    for module in api_md.public_modules():
        rel = module.replace(".", "/")
        page = api_md.page_path(module)
        targets[rel + ".py"] = page
        if module == api_md.PACKAGE or os.path.isdir(os.path.join(root, rel)):
            targets[rel] = page
            targets[rel + "/__init__.py"] = page
    targets["README.md"] = "index.md"
    return targets


def on_files(files, config):
    root = _root(config)
    pages = sources.site_sources(root)
    _state["included"] = {page: repo for repo, page in pages.items()
                          if not repo.startswith("docs/")}
    _state["targets"] = _link_targets(root, pages)
    for page, repo in _state["included"].items():
        _add(files, config, page, abs_src_path=os.path.join(root, repo))
    for heading, page, _ in sources.README_PAGES:
        section = sources.readme_section(root, heading)
        if section is None:
            log.warning(f"README.md has no section {heading!r} for the page {page}")
            continue
        _add(files, config, page, content=section)
        _state["included"][page] = "README.md"  # its links are the README's
    lessons_nav = _lesson_pages(files, config, root)
    _add(files, config, "cli.md", content=cli_md.cli_markdown())
    _add(files, config, "api/index.md", content=api_md.index_page())
    for module in api_md.public_modules():
        _add(files, config, api_md.page_path(module), content=api_md.module_page(module))
    config.nav = _navigation(root, pages, lessons_nav)
    _warn_undocumented(root)
    return files


def _warn_undocumented(root: str) -> None:
    """A public name with no docstring (and not among the recorded older gaps) is a warning,
    so `mkdocs build --strict` fails on it, as tests/test_docs.py does."""
    recorded_path = os.path.join(root, "tests", "undocumented_names.txt")
    recorded = set()
    if os.path.exists(recorded_path):
        with open(recorded_path, encoding="utf-8") as f:
            recorded = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    for name in public_names.undocumented():
        if name not in recorded:
            log.warning(f"{name} has no docstring (the API reference would show it bare)")


def _navigation(root: str, pages: dict[str, str], lessons_nav: list) -> list:
    nav: list = [{"Home": "index.md"}]
    if "getting-started.md" in pages.values():
        nav.append({"Getting started": "getting-started.md"})
    if "architecture.md" in pages.values():
        nav.append({"Architecture": "architecture.md"})
    nav.append({"Lessons": lessons_nav})
    assignments = [{"Overview" if page.endswith("index.md") else _heading(root, repo): page}
                   for repo, page in sorted(pages.items(), key=lambda kv: (
                       not kv[1].endswith("index.md"), kv[1]))
                   if page.startswith("assignments/") and "instructor" not in page]
    assignments += [{"Instructor guide": page} for page in pages.values()
                    if page.startswith("assignments/instructor")]
    nav.append({"Assignments": assignments})
    nav.append({"Command line": "cli.md"})
    if "gpt2.md" in pages.values():
        nav.append({"GPT-2 and beyond": "gpt2.md"})
    nav += [{title: page} for _, page, title in sources.README_PAGES]
    nav.append({"API reference": api_md.nav_entries()})
    listed = {page for page in _pages_in(nav)}
    extra = sorted(p for p in pages.values() if p not in listed)
    nav += [{_title(p): p} for p in extra]  # any other hand-written page, at the end
    return nav


def _pages_in(nav):
    for item in nav:
        for value in item.values():
            if isinstance(value, list):
                yield from _pages_in(value)
            else:
                yield value


def _heading(root: str, repo_path: str) -> str:
    """A Markdown file's first heading, for its entry in the navigation."""
    with open(os.path.join(root, repo_path), encoding="utf-8") as f:
        for line in f:
            if line.startswith("# "):
                return line[2:].strip()
    return _title(repo_path)


def _title(path: str) -> str:
    name = os.path.basename(path)[:-3]
    return re.sub(r"^\d+_", "", name).replace("_", " ").replace("-", " ").capitalize()


def on_page_markdown(markdown, page, config, files):
    repo = _state.get("included", {}).get(page.file.src_uri)
    if repo is None:
        return markdown
    markdown = sources.rewrite_links(markdown, repo, page.file.src_uri, _state["targets"])
    if page.file.src_uri == "lessons/index.md":  # the lessons' own index gets their pages
        root = _root(config)
        markdown += "\n## The lessons on this site\n\n" + "".join(
            f"- [{lessons_md.lesson_title(p)}]({os.path.basename(p)[:-3]}.md)\n"
            for p in lessons_md.find_lessons(root))
    return markdown


# TeX in a heading: the page shows it as MathML, but the table of contents and the page's
# title are plain text, so there it becomes the characters it stands for.
TITLE_MATH = re.compile(r"\\\((.+?)\\\)|\$(.+?)\$")
TEX_CHARACTERS = {
    "sqrt": "\u221a", "cdot": "\u00b7", "times": "\u00d7", "le": "\u2264", "leq": "\u2264",
    "ge": "\u2265", "geq": "\u2265", "ne": "\u2260", "to": "\u2192", "infty": "\u221e",
    "sum": "\u2211", "partial": "\u2202", "nabla": "\u2207", "approx": "\u2248",
    "alpha": "\u03b1", "beta": "\u03b2", "gamma": "\u03b3", "delta": "\u03b4",
    "epsilon": "\u03b5", "eta": "\u03b7", "theta": "\u03b8", "lambda": "\u03bb",
    "mu": "\u03bc", "pi": "\u03c0", "sigma": "\u03c3", "tau": "\u03c4", "phi": "\u03c6",
    "top": "\u1d40", "log": "log", "exp": "exp", "max": "max", "min": "min",
}


def plain_math(title: str) -> str:
    """`title` with its TeX as plain characters: "why divide by \\(\\sqrt{hs}\\)" -> "why
    divide by \u221ahs". A command not in TEX_CHARACTERS stays as written, and the site test
    that looks for raw markup in headings names it."""
    def text(m: re.Match) -> str:
        tex = m.group(1) or m.group(2)
        tex = re.sub(r"\\([A-Za-z]+) ?", lambda c: TEX_CHARACTERS.get(c.group(1), c.group(0)),
                     tex)
        return tex.replace("{", "").replace("}", "")
    return TITLE_MATH.sub(text, title)


def _plain_toc(items) -> None:
    for item in items:
        item.title = plain_math(item.title)
        _plain_toc(item.children)


def on_page_content(html_text, page, config, files):
    """TeX (as pymdownx.arithmatex leaves it) to MathML; in the table of contents and the
    page's title, to plain characters."""
    from latex2mathml.converter import convert

    _plain_toc(page.toc)
    if page.title:
        page.title = plain_math(page.title)

    def replace(m: re.Match) -> str:
        tex = html.unescape(m.group("tex")).strip()
        block = m.group("tag") == "div"
        for left, right in (("\\[", "\\]"), ("\\(", "\\)"), ("$$", "$$"), ("$", "$")):
            if tex.startswith(left) and tex.endswith(right):
                tex = tex[len(left):len(tex) - len(right)]
                break
        try:
            return convert(tex.strip(), display="block" if block else "inline")
        except Exception as e:  # a formula the converter cannot read: say where it is
            log.warning(f"{page.file.src_uri}: cannot convert the formula {tex!r} to MathML "
                        f"({type(e).__name__}: {e})")
            return m.group(0)

    return MATH.sub(replace, html_text)
