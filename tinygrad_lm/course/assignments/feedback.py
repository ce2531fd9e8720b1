"""A student's feedback file (Markdown): per task the points, passed or the checks that lost
points, the hint, and why a task could not run. It names checks, never their assertion text,
so no expected value (the reference's answer) reaches the student; hidden checks are counted,
not named.
"""

from __future__ import annotations

import os

from .results import lost_by_check, shown
from .students import Student, student_dir, write_atomic

MAX_ERROR_LINES = 6


def _error_lines(message: str) -> list[str]:
    lines = [x.rstrip() for x in message.splitlines() if x.strip()]
    return lines[:MAX_ERROR_LINES] + (["..."] if len(lines) > MAX_ERROR_LINES else [])


def feedback_markdown(record: dict, tasks) -> str:
    """The feedback page of one student's record (class_grading.py)."""
    out = [f"# Feedback: {record['student']}", "",
           f"**Score: {shown(record['score'])} / {shown(record['max_score'])}** "
           f"(status: {record['status']})", ""]
    if record["status"] == "missing":
        return "\n".join(out + ["No submission was found.", ""])
    report = record.get("report")
    if report is None:
        return "\n".join(out + [f"Your submission could not be graded: {record['reason']}",
                                "", "Every task scores 0; ask your teacher to look at it.", ""])
    described = {t.id: t.description for t in tasks}
    for row in report["tasks"]:
        out.append(f"## Task {row['task']}: {described.get(row['task'], row['description'])}")
        out.append("")
        out.append(f"{shown(row['points'])} / {row['max_points']} points; "
                   f"{row['passed']} of {row['total']} tests passed "
                   f"({row['hidden_total']} of them hidden).")
        out.append("")
        if row["status"] == "passed":
            out += ["Passed.", ""]
            continue
        if row["status"] == "not attempted":
            out += ["Not attempted: the starter code is still in the region.", ""]
        elif row["status"] == "error":
            out += ["Could not be graded:", "", "```text", *_error_lines(row["message"]),
                    "```", ""]
        else:
            out += [f"- {line}" for line in lost_by_check(row)] + [""]
        if row["hint"]:
            out += [f"Hint: {row['hint']}", ""]
        out += [f"Note: {n}" for n in row["notes"]] + ([""] if row["notes"] else [])
    if report.get("ignored_files"):
        out += ["Only the code between the `BEGIN/END ASSIGNMENT` markers is graded; these "
                "files were not used: " + ", ".join(report["ignored_files"][:20]), ""]
    return "\n".join(out)


def write_feedback(results: str, student: Student, record: dict, tasks) -> str:
    """Write `students/<id>/feedback.md` atomically and return its path."""
    path = os.path.join(student_dir(results, student), "feedback.md")
    write_atomic(path, feedback_markdown(record, tasks))
    return path
