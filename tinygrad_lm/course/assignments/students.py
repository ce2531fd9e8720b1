"""The students of a class: who they are (a folder of submissions, or a roster CSV), where their
submissions are (a folder, a git clone or a zip each), and their results on disk.

A result is one JSON file per student, `RESULTS/students/<id>/report.json`, replaced atomically
(written beside it, then renamed) the moment that student is graded, so an interrupted run keeps
every finished student and never leaves half a file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field

from ...formats.checkpoint import write_atomic as write_bytes_atomic
from .grade import GradeError

MAX_ZIP_BYTES = 200 << 20     # what a zip may unpack to
MAX_ZIP_FILES = 20000
ROSTER_COLUMNS = ("student", "submission", "name", "canvas_id", "sis_user_id", "sis_login_id",
                  "section")
MAX_ROSTER_BYTES = 10 << 20


@dataclass
class Student:
    """One student: the id the gradebook shows, the submission (a folder or zip, None when
    missing), and the roster's other columns (name, LMS ids, section)."""
    id: str
    path: str | None
    roster: dict = field(default_factory=dict)

    @property
    def safe_id(self) -> str:
        """The id as a file name: other characters become _, with a short hash when that
        changed anything (so two ids never share a folder)."""
        safe = re.sub(r"[^A-Za-z0-9._@-]", "_", self.id).lstrip(".") or "_"
        if safe != self.id:
            safe += "-" + hashlib.sha256(self.id.encode()).hexdigest()[:8]
        return safe


def _submissions(folder: str, skip: str) -> dict[str, str]:
    """name -> path of each submission in `folder`: its subfolders and .zip files (hidden
    entries, symbolic links and the results folder are left out)."""
    found: dict[str, str] = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(".") or os.path.islink(path) or \
                os.path.abspath(path) == skip or name == "__MACOSX":
            continue
        if os.path.isdir(path):
            key = name
        elif name.lower().endswith(".zip") and os.path.isfile(path):
            key = name[:-4]
        else:
            continue
        if key in found:
            raise GradeError(f"{folder}: both {os.path.basename(found[key])} and {name} are "
                             f"submissions of {key}; keep one")
        found[key] = path
    return found


def read_roster(path: str) -> list[dict]:
    """The roster's rows: a CSV with a header naming at least `student` (the id the gradebook
    shows); `submission` names the student's folder or zip when it differs from the id; `name`,
    `canvas_id`, `sis_user_id`, `sis_login_id` and `section` go to the LMS export."""
    if os.path.getsize(path) > MAX_ROSTER_BYTES:
        raise GradeError(f"roster {path} is larger than {MAX_ROSTER_BYTES >> 20} MB")
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "student" not in rows[0]:
        raise GradeError(f"roster {path}: needs a header row with a `student` column (and "
                         f"optionally {', '.join(ROSTER_COLUMNS[1:])})")
    seen, out = set(), []
    for i, row in enumerate(rows, start=2):
        sid = (row.get("student") or "").strip()
        if not sid:
            raise GradeError(f"roster {path}, line {i}: the student column is empty")
        if sid in seen:
            raise GradeError(f"roster {path}, line {i}: student {sid} is listed twice")
        seen.add(sid)
        out.append({k: (row.get(k) or "").strip() for k in ROSTER_COLUMNS})
    return out


def discover_students(folder: str, roster: str | None, results: str) -> list[Student]:
    """The class: one Student per submission in `folder`, or per roster row (a row without a
    submission is a missing one; a submission not on the roster is still graded, under its
    folder's name, and flagged in its roster columns)."""
    subs = _submissions(folder, os.path.abspath(results))
    if roster is None:
        return [Student(name, path) for name, path in subs.items()]
    students, used = [], set()
    for row in read_roster(roster):
        key = row["submission"] or row["student"]
        used.add(key)
        students.append(Student(row["student"], subs.get(key), row))
    taken = {s.id for s in students}
    for name, path in subs.items():
        if name not in used:
            if name in taken:
                raise GradeError(f"submission {name} is not on the roster under that name, "
                                 "but a roster student has that id; fix the roster")
            students.append(Student(name, path, {"note": "not on the roster"}))
    return students


def unpack_zip(path: str, dest: str) -> str:
    """Unpack a student's zip into `dest` and return it. Refuses (ValueError) an archive that
    is not a zip, unpacks past MAX_ZIP_BYTES or MAX_ZIP_FILES, or names a path outside `dest`;
    symbolic links in it are skipped."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_FILES:
                raise ValueError(f"{os.path.basename(path)} holds more than {MAX_ZIP_FILES} "
                                 "files")
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise ValueError(f"{os.path.basename(path)} unpacks to more than "
                                 f"{MAX_ZIP_BYTES >> 20} MB")
            root = os.path.realpath(dest)
            for info in infos:
                target = os.path.realpath(os.path.join(root, info.filename))
                if not target.startswith(root + os.sep) and target != root:
                    raise ValueError(f"{os.path.basename(path)}: {info.filename!r} points "
                                     "outside the submission")
                if stat.S_ISLNK(info.external_attr >> 16) or \
                        info.filename.startswith("__MACOSX/"):
                    continue
                if info.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(info) as src, open(target, "wb") as dst:
                    left = info.file_size + 1  # a lying header cannot write more than it said
                    while left > 0:
                        block = src.read(min(1 << 20, left))
                        if not block:
                            break
                        dst.write(block)
                        left -= len(block)
                    if left <= 0:
                        raise ValueError(f"{os.path.basename(path)}: {info.filename} is "
                                         "larger than its header says")
    except (zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"{os.path.basename(path)} is not a readable zip ({e})") from None
    os.makedirs(dest, exist_ok=True)
    return dest


def student_dir(results: str, student: Student) -> str:
    """The folder of one student's report and feedback."""
    return os.path.join(results, "students", student.safe_id)


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that a reader (or a run killed half-way) sees the old file or
    the new one, never a part (formats.checkpoint.write_atomic, as UTF-8)."""
    write_bytes_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_record(results: str, student: Student, record: dict) -> None:
    """Save a student's record (status, scores, hashes, the full report) atomically."""
    write_atomic(os.path.join(student_dir(results, student), "report.json"),
                 json.dumps(record, indent=2) + "\n")


def read_record(results: str, student: Student) -> dict | None:
    """A student's saved record, or None when there is none or it is unreadable (then the
    student is graded again)."""
    path = os.path.join(student_dir(results, student), "report.json")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("student") == student.id else None
