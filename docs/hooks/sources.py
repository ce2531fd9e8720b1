"""Which Markdown files of the repository the site is made of, and their Python examples.

The site's hand-written pages live in `docs/`; the rest of its prose is read from where it is
kept, so nobody edits a copy: `ARCHITECTURE.md`, `assignments/*.md` (with the instructor's
guide), `lessons/README.md`, and sections of README.md that deserve a page of their own
(`README_PAGES`, cut out by `readme_section`). `site_sources` maps each file to its page.
Their relative links point into the repository (`../tinygrad_lm/nn/gpt.py`, `01_autograd.md`);
`rewrite_links` points them at the matching page of the site, or leaves the path as code when
the site has no page for it.

`python_blocks` is the extractor the docs tests use to execute every ```python block of these
pages and of README.md. A block that is not meant to run (it needs a checkpoint a reader makes
first, or shows an error on purpose) is preceded by `<!-- no-run: the reason -->`, which no
renderer shows.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from dataclasses import dataclass

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
NO_RUN = re.compile(r"<!--\s*no-run:\s*(?P<reason>.*?)\s*-->")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")

# README.md sections shown as pages of their own: (the section's heading, page, title in the
# navigation). The README stays the one copy; the page is cut from it on every build. (None
# today: the GPT-2 page is docs/gpt2.md, and the README is a short front door.)
README_PAGES: list[tuple[str, str, str]] = []


def readme_section(root: str, heading: str) -> str | None:
    """The section of README.md that starts with the line `heading` (a prefix is enough), up to
    the next heading of its level, promoted to the page's title; None when there is none."""
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    level = heading.split(" ", 1)[0] + " "
    starts = [i for i, line in enumerate(lines) if line.startswith(heading)]
    if not starts:
        return None
    end = next((i for i in range(starts[0] + 1, len(lines)) if lines[i].startswith(level)),
               len(lines))
    body = lines[starts[0]:end]
    return "# " + body[0][len(level):] + "".join(body[1:])


def site_sources(root: str) -> dict[str, str]:
    """repository path -> page path in the site, for every Markdown file the site includes."""
    pages = {}
    for path in sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if not rel.startswith("docs/hooks/"):
            pages[rel] = rel[len("docs/"):]
    if os.path.exists(os.path.join(root, "ARCHITECTURE.md")):
        pages["ARCHITECTURE.md"] = "architecture.md"
    for path in sorted(glob.glob(os.path.join(root, "assignments", "*.md"))):
        name = os.path.basename(path)
        pages[f"assignments/{name}"] = ("assignments/index.md" if name == "README.md"
                                        else f"assignments/{name.lower()}")
    if os.path.exists(os.path.join(root, "INSTRUCTOR.md")):
        pages["INSTRUCTOR.md"] = "assignments/instructor.md"
    if os.path.exists(os.path.join(root, "lessons", "README.md")):
        pages["lessons/README.md"] = "lessons/index.md"
    return pages


def rewrite_links(markdown: str, repo_path: str, page: str, targets: dict[str, str]) -> str:
    """Point the relative links of `repo_path` (shown as `page`) at the site's pages.

    `targets` maps repository paths (files or folders, "/"-separated) to page paths. A link to
    a repository file with no page keeps its text and shows the path as code.
    """
    def replace(m: re.Match) -> str:
        text, target = m.group("text"), m.group("target")
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
        hit = targets.get(resolved) or targets.get(resolved.rstrip("/"))
        if hit is None:
            shown = f"`{resolved}`"
            return text if resolved in text else f"{text} ({shown})"
        rel = posixpath.relpath(hit, posixpath.dirname(page) or ".")
        return f"[{text}]({rel}{'#' + anchor if anchor else ''})"

    return _outside_code(markdown, lambda chunk: LINK.sub(replace, chunk))


def _outside_code(markdown: str, fn) -> str:
    """Apply `fn` to the parts of `markdown` that are not fenced code blocks."""
    out, chunk, fence = [], [], None
    for line in markdown.splitlines(keepends=True):
        m = FENCE.match(line.rstrip("\n"))
        if fence is None and m:
            out.append(fn("".join(chunk)))
            chunk, fence = [], m.group("ticks")
            out.append(line)
        elif fence is not None:
            out.append(line)
            if m and m.group("ticks").startswith(fence) and not m.group("info"):
                fence = None
        else:
            chunk.append(line)
    out.append(fn("".join(chunk)))
    return "".join(out)


@dataclass
class Block:
    """One fenced ```python block: where it starts, its code, and why not to run it (if so)."""

    line: int
    code: str
    no_run: str = ""


def python_blocks(markdown: str) -> list[Block]:
    """Every ```python (or ```py) block of `markdown`, dedented, in order."""
    blocks, lines, i = [], markdown.splitlines(), 0
    previous = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        indent, ticks, info = m.group("indent"), m.group("ticks"), m.group("info")
        start, body = i + 1, []
        i += 1
        while i < len(lines):
            end = FENCE.match(lines[i])
            if end and end.group("ticks").startswith(ticks) and not end.group("info"):
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        lang = info.split()[0].lstrip(".{").rstrip("}") if info else ""
        if lang in ("python", "py"):
            reason = NO_RUN.search(previous)
            blocks.append(Block(start + 1, "\n".join(body) + "\n",
                                reason.group("reason") if reason else ""))
        previous = ""
    return blocks
