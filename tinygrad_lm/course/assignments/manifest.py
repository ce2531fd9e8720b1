"""`assignments.json`: what a student copy had cut, written by `build`, read by the grader.

    {"format": 1, "only": [2] or null,
     "tasks": [{"id": "2.5", "points": 10, "description": "...",
                "regions": [{"path": "tinygrad_lm/ops/linalg.py", "line": 45}, ...]}, ...],
     "starter_sha256": {"tinygrad_lm/ops/linalg.py": "...", ...},   # files holding regions
     "files_sha256": {"README.md": "...", ...}}                       # every file of the copy

A manifest inside a submission is the student's to edit, so the grader uses it only to choose
which tasks to score when the teacher gave no other choice (a bundle's own manifest or --only);
points always come from the catalogue, and a malformed manifest is an error, never credit.
"""

from __future__ import annotations

import hashlib
import json
import os

from .catalog import BY_ID

MANIFEST = "assignments.json"
MAX_MANIFEST_BYTES = 4 << 20


class ManifestError(ValueError):
    """A manifest that cannot be read or does not describe known tasks."""


def sha256_file(path: str) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    """The SHA-256 of `text` encoded as UTF-8, as hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(out: str, task_ids, regions: dict, only, files_sha256: dict) -> str:
    """Write the student copy's manifest: each task with its points and where its regions are,
    and the SHA-256 of every file as handed out; returns its path.
    """
    tasks = []
    for tid in task_ids:
        task = BY_ID[tid]
        where = [{"path": rel, "line": r.begin + 1}
                 for rel, rs in sorted(regions.items()) for r in rs if r.task_id == tid]
        tasks.append({"id": tid, "points": task.points, "description": task.description,
                      "regions": where})
    owned = sorted(rel for rel, rs in regions.items() if rs)
    data = {"format": 1, "only": None if only is None else sorted(only), "tasks": tasks,
            "total_points": sum(t["points"] for t in tasks),
            "starter_sha256": {rel: files_sha256[rel] for rel in owned},
            "files_sha256": files_sha256}
    path = os.path.join(out, MANIFEST)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    return path


def read_manifest(path: str) -> dict:
    """The manifest at `path`, checked: known task ids, string-to-hex maps. Raises
    ManifestError with the reason."""
    try:
        if os.path.getsize(path) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path}: cannot be read as JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != 1:
        raise ManifestError(f"{path}: not an assignments manifest (format 1)")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and t.get("id") in BY_ID
                                              for t in tasks):
        raise ManifestError(f"{path}: 'tasks' must list known task ids "
                            f"({', '.join(sorted(BY_ID))})")
    for key in ("starter_sha256", "files_sha256"):
        table = data.get(key, {})
        if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in table.items()):
            raise ManifestError(f"{path}: '{key}' must map paths to sha256 strings")
    return data


def manifest_task_ids(data: dict) -> list[str]:
    """The task ids a manifest lists, in order."""
    return [t["id"] for t in data["tasks"]]
