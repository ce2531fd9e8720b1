"""What the reference source declares about a student copy, in comment lines beside the code.

A task's solution lives between region markers; the copy replaces the lines between them by the
region's starter. The starter is written inside the region, as `# STARTER:` lines the copy
un-comments (the text after `# STARTER: ` goes at the comment's indentation):

    # BEGIN ASSIGNMENT 5.2
    # STARTER: from ..kernels import unfinished
    # STARTER: return unfinished(STARTER_ERROR, "a constant learning rate", lambda: lr)
    ...solution lines...
    # END ASSIGNMENT 5.2

In starter lines STARTER_ERROR becomes the task's `NotImplementedError("Assignment X.Y: ...")`,
which a region without `# STARTER:` lines raises.

A line outside the regions that a copy changes carries its copy's text on a comment line:

    # STUDENT COPY 4 INSTEAD: fused: bool = False  # your spelled-out code runs
    fused: bool = True  # ...

    # STUDENT COPY: from .course import stand_ins as _stand_ins

`INSTEAD` replaces the next line; without it the comment line itself becomes the code. The
numbers (`3`, `4,5`) are the assignments whose copies make the change (none: every copy); a
copy drops every `STUDENT COPY` comment, applied or not. The grader reads a submission's lines
outside the regions back in the reference's form, so these are never reported as edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .catalog import BY_ID, starter_message

MARKER = re.compile(r"^(?P<indent>\s*)# (?P<kind>BEGIN|END) ASSIGNMENT (?P<id>\d+\.\d+)\s*$")
STARTER_LINE = re.compile(r"^(?P<indent>\s*)# STARTER:(?: (?P<code>.*?))?\s*$")
COPY_LINE = re.compile(r"^(?P<indent>\s*)# STUDENT COPY(?: (?P<scope>\d+(?:,\d+)*))?"
                       r"(?P<instead> INSTEAD)?: (?P<code>.*?)\s*$")


class BuildError(ValueError):
    """Markers that do not pair up, nest, or name an unknown task; a bad output directory."""


@dataclass
class Region:
    """One region to cut: task `task_id`, in `path`, between the 0-based line indexes of its BEGIN
    and END markers, at the markers' indentation.
    """
    task_id: str
    path: str
    begin: int  # 0-based line index of the BEGIN marker
    end: int    # 0-based line index of the END marker
    indent: str


def find_regions(path: str, lines: list[str]) -> list[Region]:
    """Every `# BEGIN ASSIGNMENT X.Y` ... `# END ASSIGNMENT X.Y` region of a file's `lines`; a
    marker that does not pair up, nests or names an unknown task is a BuildError at `path:line`.
    """
    regions, open_region = [], None
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        where = f"{path}:{i + 1}"
        if m["id"] not in BY_ID:
            raise BuildError(f"{where}: unknown assignment task {m['id']}")
        if m["kind"] == "BEGIN":
            if open_region is not None:
                raise BuildError(f"{where}: BEGIN ASSIGNMENT {m['id']} inside the region of "
                                 f"{open_region.task_id} opened at line {open_region.begin + 1}")
            open_region = Region(m["id"], path, i, -1, m["indent"])
        else:
            if open_region is None or open_region.task_id != m["id"]:
                raise BuildError(f"{where}: END ASSIGNMENT {m['id']} without a matching BEGIN")
            open_region.end = i
            regions.append(open_region)
            open_region = None
    if open_region is not None:
        raise BuildError(f"{path}:{open_region.begin + 1}: BEGIN ASSIGNMENT "
                         f"{open_region.task_id} is never closed by an END line")
    return regions


def starter_error(task_id: str) -> str:
    """The NotImplementedError every starter of the task raises, as code."""
    return f'NotImplementedError("{starter_message(task_id)}")'


# In `# STARTER:` lines, this name stands for starter_error(task): a starter with a stand-in
# hands it to the engine's `kernels.unfinished`, which raises it unless the stand-in may run.
STARTER_ERROR = "STARTER_ERROR"


def default_starter(task_id: str, indent: str) -> str:
    """The starter of a region without `# STARTER:` lines: raise the task's message."""
    return f"{indent}raise {starter_error(task_id)}\n"


def starter_lines(region: Region, lines: list[str]) -> list[str]:
    """The body a student copy puts in `region` of a reference file's `lines`: its `# STARTER:`
    lines un-commented (STARTER_ERROR written out as the task's error), else the default
    raise."""
    found = [STARTER_LINE.match(x) for x in lines[region.begin + 1:region.end]]
    code = [f"{m['indent']}{m['code'] or ''}".rstrip().replace(
        STARTER_ERROR, starter_error(region.task_id)) + "\n" for m in found if m]
    return code or [default_starter(region.task_id, region.indent)]


def is_starter(task_id: str, body: list[str]) -> bool:
    """Whether a region body of a file whose reference is not at hand (a suite that may be a
    student copy) is a starter: the default raise, or code handing the task's starter error to
    the engine's `unfinished` (a starter with a stand-in)."""
    code = [x.strip() for x in body if x.strip() and not x.strip().startswith("#")]
    return code == [default_starter(task_id, "").strip()] or \
        any(f"unfinished({starter_error(task_id)}" in x for x in code)


@dataclass(frozen=True)
class CopyLine:
    """A `# STUDENT COPY` comment at 0-based line `line` of `path`: in a copy that cuts one of
    the assignments in `scope` (None: any copy), `code` stands at the comment's place, or, with
    `instead`, in place of the next line."""
    path: str
    line: int
    scope: frozenset[int] | None
    instead: bool
    indent: str
    code: str

    def applies(self, only: set[int] | None) -> bool:
        """Whether a copy cutting assignments `only` (None: all) makes this change."""
        return self.scope is None or only is None or bool(self.scope & only)


def find_copy_lines(path: str, lines: list[str], regions: list[Region]) -> list[CopyLine]:
    """Every `# STUDENT COPY` comment of a file's `lines`. One inside a region, naming an
    unknown assignment, or with INSTEAD and no code line after it is a BuildError at
    `path:line`; so is a `# STARTER:` line outside the regions."""
    inside = {i for r in regions for i in range(r.begin, r.end + 1)}
    known = {t.assignment for t in BY_ID.values()}
    found = []
    for i, text in enumerate(lines):
        where = f"{path}:{i + 1}"
        if STARTER_LINE.match(text) and i not in inside:
            raise BuildError(f"{where}: a # STARTER: line belongs inside a region's markers")
        m = COPY_LINE.match(text)
        if not m:
            continue
        if i in inside:
            raise BuildError(f"{where}: a # STUDENT COPY line inside a region (the region's "
                             "starter is written as # STARTER: lines)")
        scope = None if m["scope"] is None else frozenset(int(n) for n in m["scope"].split(","))
        if scope is not None and not scope <= known:
            raise BuildError(f"{where}: # STUDENT COPY names unknown assignment(s) "
                             f"{sorted(scope - known)}")
        if m["instead"] and (i + 1 >= len(lines) or not lines[i + 1].strip() or
                             COPY_LINE.match(lines[i + 1]) or i + 1 in inside):
            raise BuildError(f"{where}: # STUDENT COPY ... INSTEAD needs the code line it "
                             "replaces right below it")
        found.append(CopyLine(path, i, scope, bool(m["instead"]), m["indent"], m["code"]))
    return found


def copy_of(lines: list[str], regions: list[Region], marks: list[CopyLine],
            only: set[int] | None) -> list[str]:
    """A reference file's `lines` as a student copy cutting assignments `only` (None: all) has
    them: the regions of those assignments hold their starters (markers kept), the applicable
    STUDENT COPY lines are code and every STUDENT COPY comment is gone."""
    cut = {r.begin: r for r in regions if only is None or BY_ID[r.task_id].assignment in only}
    by_line = {m.line: m for m in marks}
    out, i = [], 0
    while i < len(lines):
        if i in cut:
            r = cut[i]
            out.append(lines[i])
            out.extend(starter_lines(r, lines))
            i = r.end
            continue
        m = by_line.get(i)
        if m is None:
            out.append(lines[i])
        elif m.applies(only):
            out.append(f"{m.indent}{m.code}\n")
            i += m.instead  # the replaced line
        i += 1
    return out


def reference_form(marks: list[CopyLine], lines: list[str], reference: list[str]) -> list[str]:
    """Stripped `lines` of a copy (outside the regions) read back as the reference has them:
    a STUDENT COPY line's code becomes the line it replaced, or goes. `reference` is the
    reference file, whose own STUDENT COPY comments `reference_outside` drops."""
    inserted = {m.code.strip() for m in marks if not m.instead}
    instead = {m.code.strip(): reference[m.line + 1].strip() for m in marks if m.instead}
    return [instead.get(x.strip(), x.strip()) for x in lines if x.strip() not in inserted]


def reference_outside(lines: list[str]) -> list[str]:
    """Stripped reference lines (outside the regions) without their STUDENT COPY comments."""
    return [x.strip() for x in lines if not COPY_LINE.match(x)]
