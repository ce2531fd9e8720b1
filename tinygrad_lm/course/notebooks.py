"""The lessons as Jupyter notebooks: find them, read their structure, export them.

A lesson's source is a percent-format script, `lessons/NN_name.py` (cells start at `# %%`),
which runs as it is with `python`. `export_lessons` turns each one into an `.ipynb` with
jupytext, adding a first cell that installs tinygrad_lm when the kernel lacks it (Colab, a
fresh Jupyter) and marking every exercise's solution cell as hidden. `lesson_outline` reads a
lesson's structure (its goal, exercises and summary, its prose word count), and
`outline_problems` says what a lesson is missing from the format in `lessons/README.md`.

    tinygrad-lm lessons export --out notebooks/   # every lesson as a notebook
    tinygrad-lm lessons outline                  # words, exercises and problems per lesson

jupytext and nbformat come with the `lessons` extra: `pip install "tinygrad_lm[lessons]"`.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from dataclasses import dataclass, field

LESSON_GLOB = "[0-9][0-9]_*.py"
TITLE = re.compile(r"^# Lesson (\d+) — \S")
EXERCISE = re.compile(r"^### Exercise (\d+)\.(\d+) — \S", re.M)
CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
ASSIGNMENT = re.compile(r"[Aa]ssignment (\d+)(?:, task (\d+\.\d+))?")
STARTER_MARK = "YOUR CODE HERE"
MIN_WORDS, MAX_WORDS = 600, 1500


def _require(module: str):
    """Import an optional dependency, or say which extra brings it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is needed for the lesson notebooks: "
                          'pip install "tinygrad_lm[lessons]"') from None


def repo_root() -> str:
    """The checkout this package was installed from (the folder holding `lessons/`)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def find_lessons(folder: str | None = None) -> list[str]:
    """Every lesson source `NN_name.py` in `folder` (default: the checkout's `lessons/`)."""
    folder = folder or os.path.join(repo_root(), "lessons")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no lessons folder at {folder}: the lessons live in a checkout "
                                "of the repository; pass its lessons/ folder with --src")
    return sorted(glob.glob(os.path.join(folder, LESSON_GLOB)))


def read_lesson(path: str):
    """The lesson as an nbformat notebook (one cell per `# %%` block)."""
    jupytext = _require("jupytext")
    return jupytext.read(path, fmt="py:percent")


def prose_words(markdown: str) -> int:
    """Words of prose in a markdown cell: LaTeX and inline code do not count."""
    text = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`\n]*`", " ", text)
    return len(re.findall(r"[A-Za-z][A-Za-z'’-]*", text))


def _heading(cell) -> str:
    first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
    return first if cell.cell_type == "markdown" and first.startswith("#") else ""


def _is_solution(cell) -> bool:
    return (cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])
            and cell.metadata.get("jupyter", {}).get("source_hidden") is True)


@dataclass
class Exercise:
    """One exercise of a lesson, by number, and which of its three cells it has."""
    number: str                 # "7.1"
    has_starter: bool = False   # a code cell marked "# YOUR CODE HERE"
    has_solution: bool = False  # a code cell tagged "solution", source hidden
    has_check: bool = False     # a code cell calling check("7.1", ...) after the solution


@dataclass
class LessonOutline:
    """A lesson's structure as `lesson_outline` reads it: title number, headings, exercises,
    summary and prose word count.
    """
    path: str
    number: int | None          # N from "# Lesson N — Title" in the first cell
    headings: list[str] = field(default_factory=list)
    exercises: list[Exercise] = field(default_factory=list)
    summary: str = ""           # the markdown of the "## Summary" section
    words: int = 0              # prose words over all markdown cells

    @property
    def name(self) -> str:
        """The lesson's file name, such as 07_causal_self_attention.py."""
        return os.path.basename(self.path)


def lesson_outline(path: str) -> LessonOutline:
    """Read a lesson's title, headings, exercises (with their three cells) and summary."""
    nb = read_lesson(path)
    cells = nb.cells
    first = cells[0] if cells else None
    match = TITLE.match(first.source.lstrip()) if first and first.cell_type == "markdown" \
        else None
    outline = LessonOutline(path, int(match.group(1)) if match else None)
    current, in_summary = None, False
    for cell in cells:
        if cell.cell_type == "markdown":
            outline.words += prose_words(cell.source)
            heading = _heading(cell)
            if heading:
                outline.headings.append(heading)
                in_summary = heading.strip() == "## Summary"
                found = EXERCISE.match(heading)
                current = Exercise(f"{found.group(1)}.{found.group(2)}") if found else current
                if found:
                    outline.exercises.append(current)
                elif heading.startswith(("# ", "## ", "### ")):
                    current = None
            if in_summary:
                outline.summary += cell.source + "\n"
            continue
        if current is None:
            continue
        if _is_solution(cell):
            current.has_solution = current.has_starter
        elif current.has_solution and current.number in CHECK_CALL.findall(cell.source):
            current.has_check = True
        elif STARTER_MARK in cell.source and not current.has_solution:
            current.has_starter = True
    return outline


def _assignment_exists(assignments: str, number: str, task: str | None) -> bool:
    files = glob.glob(os.path.join(assignments, f"{int(number):02d}_*.md"))
    if not files:
        return False
    with open(files[0], encoding="utf-8") as f:
        text = f.read()
    return task is None or task in text


def outline_problems(outline: LessonOutline, assignments: str | None = None) -> list[str]:
    """What the lesson lacks from the format; an empty list when it has everything."""
    problems = []
    expected = int(outline.name[:2])
    if outline.number != expected:
        problems.append(f'the first cell must be the title "# Lesson {expected} — Title"')
    if "## What you will learn" not in (h.strip() for h in outline.headings):
        problems.append('no "## What you will learn" section')
    if len(outline.exercises) < 2:
        problems.append(f"{len(outline.exercises)} exercise(s); at least 2 are needed, each "
                        '"### Exercise N.k — ...", a starter cell, a solution cell, a check')
    for ex in outline.exercises:
        missing = [what for what, ok in (
            (f'a starter code cell with "# {STARTER_MARK}"', ex.has_starter),
            ('then a solution cell tagged ["solution"] with jupyter={"source_hidden": true}',
             ex.has_solution),
            (f'then a cell calling check("{ex.number}", ...)', ex.has_check)) if not ok]
        if not ex.number.startswith(f"{expected}."):
            missing.insert(0, f"the number {expected}.k")
        if missing:
            problems.append(f"exercise {ex.number} lacks " + "; ".join(missing))
    if not outline.summary:
        problems.append('no "## Summary" section')
    else:
        pointer = ASSIGNMENT.search(outline.summary)
        if pointer is None:
            problems.append('the summary points at no assignment ("Next: assignment 4, '
                            'task 4.2")')
        elif assignments and not _assignment_exists(assignments, *pointer.groups()):
            problems.append(f"the summary points at {pointer.group(0)!r}, which "
                            f"{assignments} does not have")
    if not MIN_WORDS <= outline.words <= MAX_WORDS:
        problems.append(f"{outline.words} words of prose; the format asks for "
                        f"{MIN_WORDS}-{MAX_WORDS}")
    return problems


def default_pip_spec(root: str | None = None) -> str:
    """What the install cell installs: the checkout's git remote when it has one, else its path.

    A path works in a Jupyter on the same machine; Colab needs a URL it can reach, so pass one
    (`--pip "git+https://github.com/you/tinygrad_lm"`) when the checkout has no remote.
    """
    root = root or repo_root()
    try:
        url = subprocess.run(["git", "-C", root, "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        url = ""
    if url.startswith("git@github.com:"):
        url = "https://github.com/" + url[len("git@github.com:"):]
    return f"git+{url}" if url else root


def install_cell_source(pip_spec: str) -> str:
    """A cell that installs tinygrad_lm only when the kernel cannot import it yet."""
    return ("# Colab or a fresh Jupyter: install tinygrad_lm into this kernel (skipped when it "
            "is already importable).\n"
            "import importlib.util\n\n"
            'if importlib.util.find_spec("tinygrad_lm") is None:\n'
            f'    %pip install --quiet "{pip_spec}"\n'
            "    importlib.invalidate_caches()  # so this kernel finds the new package")


def to_notebook(path: str, pip_spec: str):
    """The lesson at `path` as a notebook: an install cell first, solutions collapsed."""
    nbformat = _require("nbformat")
    nb = read_lesson(path)
    for cell in nb.cells:
        if _is_solution(cell):
            # Jupyter reads jupyter.source_hidden; Colab hides the code of a "form" cell
            cell.metadata["cellView"] = "form"
            if not cell.source.startswith("# @title"):
                cell.source = "# @title Solution (show the code to see it)\n" + cell.source
    install = nbformat.v4.new_code_cell(install_cell_source(pip_spec))
    install.metadata["tags"] = ["install"]
    nb.cells.insert(0, install)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def export_lessons(out: str, src: str | None = None, pip_spec: str | None = None,
                   force: bool = False) -> list[str]:
    """Write every lesson in `src` as `out/NN_name.ipynb`; returns the paths written.

    An existing notebook is replaced only with `force` (it may hold a student's work).
    """
    nbformat = _require("nbformat")
    lessons = find_lessons(src)
    if not lessons:
        raise FileNotFoundError(f"no lessons ({LESSON_GLOB}) in {src or 'lessons/'}")
    targets = [os.path.join(out, os.path.basename(p)[:-3] + ".ipynb") for p in lessons]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not force:
        raise FileExistsError(f"{len(existing)} notebook(s) already in {out} (for example "
                              f"{os.path.basename(existing[0])}), which may hold your work: "
                              "export to another folder, or pass --force to replace them")
    os.makedirs(out, exist_ok=True)
    spec = pip_spec or default_pip_spec()
    for lesson, target in zip(lessons, targets):
        nbformat.write(to_notebook(lesson, spec), target)
    return targets


def outline_table(src: str | None = None) -> str:
    """A markdown table: each lesson's prose words, exercises and format problems."""
    assignments = os.path.join(repo_root(), "assignments")
    rows = ["| lesson | words | exercises | problems |", "|---|---|---|---|"]
    for path in find_lessons(src):
        outline = lesson_outline(path)
        problems = outline_problems(outline, assignments)
        rows.append(f"| {outline.name} | {outline.words} | {len(outline.exercises)} | "
                    f"{'; '.join(problems) or 'none'} |")
    return "\n".join(rows)


def _export(args, extra) -> int:
    written = export_lessons(args.out, args.src, args.pip, args.force)
    print(f"wrote {len(written)} notebooks to {args.out}")
    return 0


def _outline(args, extra) -> int:
    print(outline_table(args.src))
    return 0


def add_parser(subparsers) -> None:
    """Add the `lessons` command (`export`, `outline`) to the CLI's sub-parsers."""
    p = subparsers.add_parser("lessons", help="export the lessons as notebooks, or outline them")
    sub = p.add_subparsers(dest="action", required=True)
    e = sub.add_parser("export", help="write every lesson as a Jupyter notebook")
    e.add_argument("--out", required=True, help="folder for the .ipynb files")
    e.add_argument("--src", help="the lessons folder (default: the checkout's lessons/)")
    e.add_argument("--pip", help="what the install cell installs (default: the checkout's git "
                                 "remote, else its path); Colab needs a URL")
    e.add_argument("--force", action="store_true", help="replace notebooks already in --out")
    e.set_defaults(handler=_export)
    o = sub.add_parser("outline", help="each lesson's words, exercises and format problems")
    o.add_argument("--src", help="the lessons folder (default: the checkout's lessons/)")
    o.set_defaults(handler=_outline)
