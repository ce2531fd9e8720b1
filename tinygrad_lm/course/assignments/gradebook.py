"""The class's gradebook: `gradebook.csv` (one row per student: status, reason, a column of points
per task, total, max, seconds) and `canvas.csv`, the columns Canvas's Gradebook import takes.

Canvas (Grades > Import) reads a CSV whose first columns are `Student`, `ID`, `SIS User ID`,
`SIS Login ID` and `Section`; it matches each row to a student by ID, SIS User ID or SIS Login
ID, and every further column is an assignment: a header naming an existing assignment as
Canvas exports it (`Coursework (1234)`) updates it, any other header creates a new one. A
`Points Possible` row right after the header sets a new assignment's points. The ids come from
the roster (`--roster`, columns canvas_id, sis_user_id, sis_login_id, section, name); without
one the student id goes to SIS Login ID, which is what a class whose folders are named by
login gets from Canvas's own submission download.
"""

from __future__ import annotations

import csv
import io
import os

from .results import shown
from .students import write_atomic

CANVAS_HEAD = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: one starting with =, +, -, @ (a formula
    to Excel and LibreOffice; reasons quote the student's own code) gets a leading '."""
    text = value if isinstance(value, str) else shown(value) if isinstance(value, float) \
        else str(value)
    text = " ".join(text.split())
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in rows:
        w.writerow([_cell(x) for x in row])
    return buf.getvalue()


def gradebook_rows(cls: dict) -> list[list]:
    """The gradebook as rows, the header first: student, status, reason, `X.Y (points)` per
    task, total, max, seconds."""
    tasks = cls["tasks"]
    head = ["student", "status", "reason"] + [f"{t.id} ({t.points})" for t in tasks] + \
        ["total", "max", "seconds"]
    rows = [head]
    for rec in cls["students"]:
        rows.append([rec["student"], rec["status"], rec["reason"]]
                    + [float(rec["points"].get(t.id, 0.0)) for t in tasks]
                    + [float(rec["score"]), float(rec["max_score"]),
                       float(rec.get("seconds", 0.0))])
    return rows


def canvas_rows(cls: dict, title: str) -> list[list]:
    """Canvas's import columns: the five identity columns, then one assignment column named
    `title` with each student's total (blank for a missing submission, so Canvas leaves the
    cell as it is rather than entering a 0), after a Points Possible row."""
    best = sum(t.points for t in cls["tasks"])
    rows = [CANVAS_HEAD + [title], ["Points Possible", "", "", "", "", float(best)]]
    for rec in cls["students"]:
        r = rec.get("roster") or {}
        login = r.get("sis_login_id") or ("" if r.get("canvas_id") or r.get("sis_user_id")
                                          else rec["student"])
        score = "" if rec["status"] == "missing" else float(rec["score"])
        rows.append([r.get("name") or rec["student"], r.get("canvas_id", ""),
                     r.get("sis_user_id", ""), login, r.get("section", ""), score])
    return rows


def write_gradebook(cls: dict, out: str, title: str = "Coursework") -> list[str]:
    """Write gradebook.csv and canvas.csv to `out` (atomically); returns their paths."""
    paths = [os.path.join(out, "gradebook.csv"), os.path.join(out, "canvas.csv")]
    write_atomic(paths[0], _csv(gradebook_rows(cls)))
    write_atomic(paths[1], _csv(canvas_rows(cls, title)))
    return paths
