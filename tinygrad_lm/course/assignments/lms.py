"""Grading where courses run it: a grading bundle, Gradescope's autograder.zip, a GitHub
Classroom workflow.

A bundle is the teacher's grading suite on its own: the reference package, every test (the
hidden ones too), the packaging files to install it, and the manifest of the student copy it
grades (so the tasks and points come from the teacher, not from the submission).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile

from .build import BuildError, build_student_copy, package_files
from .catalog import TASKS
from .manifest import MANIFEST, read_manifest

BUNDLE_TOP = ("tinygrad_lm/", "tests/")
BUNDLE_FILES = ("setup.cfg", "pyproject.toml", "README.md")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image: install the reference
# package (the grading suite) and its test tools.
set -euo pipefail
apt-get install -y python3 python3-pip python3-venv >/dev/null
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet "/autograder/source[test]"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade the student's code between the markers with
# the suite in source/ and write results.json. Arguments (for a dry run on your machine):
#   run_autograder [SUBMISSION_DIR] [RESULTS_JSON]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -d "$here/tinygrad_lm" ]; then source="$here"; else source=/autograder/source; fi
submission="${{1:-/autograder/submission}}"
results="${{2:-/autograder/results/results.json}}"
mkdir -p "$(dirname "$results")"
# relative paths are the caller's: make them absolute before leaving the caller's directory
case "$submission" in /*) ;; *) submission="$PWD/$submission" ;; esac
case "$results" in /*) ;; *) results="$PWD/$results" ;; esac
cd "$source"
PYTHONPATH="$source" python3 -m tinygrad_lm assignments grade "$submission" --suite "$source" \\
    --gradescope "$results" --timeout {timeout:g} --jobs {jobs}
code=$?
# 0: graded; anything else means the grader itself could not run: say so in results.json
if [ ! -s "$results" ]; then
    msg="The autograder could not grade this submission (exit code $code); ask your instructor."
    printf '{{"score": 0, "output": "%s", "tests": []}}\\n' "$msg" > "$results"
fi
exit 0
"""


def build_bundle(repo: str, out: str, only: set[int] | None = None) -> dict:
    """Write the grading suite for copies built with `only` to `out`; returns its manifest."""
    repo, out = os.path.abspath(repo), os.path.abspath(out)
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise BuildError(f"output directory {out} is not empty")
    with tempfile.TemporaryDirectory() as tmp:
        build_student_copy(repo, os.path.join(tmp, "copy"), only)  # the copy it will grade
        manifest_path = os.path.join(tmp, "copy", MANIFEST)
        manifest = read_manifest(manifest_path)
        os.makedirs(out, exist_ok=True)
        shutil.copy2(manifest_path, os.path.join(out, MANIFEST))
    for rel in package_files(repo):
        if rel.startswith(BUNDLE_TOP) or rel in BUNDLE_FILES:
            os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
            shutil.copy2(os.path.join(repo, rel), os.path.join(out, rel))
    return manifest


def _add_executable(z: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    z.writestr(info, text)


def build_autograder(repo: str, out_zip: str, only: set[int] | None = None,
                     timeout: float = 60.0, jobs: int = 1) -> dict:
    """Gradescope's autograder.zip: setup.sh and run_autograder at the root, the bundle beside
    them (Gradescope unpacks it to /autograder/source)."""
    if os.path.exists(out_zip):
        raise BuildError(f"{out_zip} exists; choose a new name (nothing was changed)")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = os.path.join(tmp, "bundle")
        manifest = build_bundle(repo, bundle, only)
        with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as z:
            _add_executable(z, "setup.sh", SETUP_SH)
            _add_executable(z, "run_autograder", RUN_AUTOGRADER.format(timeout=timeout,
                                                                       jobs=jobs))
            for dirpath, _, filenames in os.walk(bundle):
                for name in sorted(filenames):
                    path = os.path.join(dirpath, name)
                    z.write(path, os.path.relpath(path, bundle))
    return manifest


def _step_id(task_id: str) -> str:
    return "task-" + task_id.replace(".", "-")


def classroom_workflow(only: set[int] | None = None, timeout: float = 60.0) -> str:
    """A GitHub Actions workflow for GitHub Classroom: one command-grader step per task, worth
    the task's points when all its tests pass, and the reporter that sends the total."""
    tasks = [t for t in TASKS if only is None or t.assignment in only]
    minutes = max(1, int(timeout // 60) + 2)
    lines = [
        "# Written by `tinygrad-lm assignments classroom`. The grading suite (the reference",
        "# repository with its hidden tests) is checked out from a private repository named",
        "# by the GRADING_REPO variable, with the GRADING_TOKEN secret; see",
        "# assignments/INSTRUCTOR.md.",
        "name: Autograding Tests",
        "'on': [push, workflow_dispatch, repository_dispatch]",
        "permissions:", "  checks: write", "  actions: read", "  contents: read",
        "jobs:", "  run-autograding-tests:", "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout the submission", "      uses: actions/checkout@v4",
        "    - name: Checkout the grading suite", "      uses: actions/checkout@v4",
        "      with:", "        repository: ${{ vars.GRADING_REPO }}",
        "        token: ${{ secrets.GRADING_TOKEN }}", "        path: .grading-suite",
        "    - uses: actions/setup-python@v5", "      with:", "        python-version: '3.11'",
        "    - name: Install the grading suite",
        "      run: python -m pip install --quiet \"./.grading-suite[test]\"",
    ]
    for t in tasks:
        command = (f"tinygrad-lm assignments grade . --suite .grading-suite --task {t.id} "
                   f"--timeout {timeout:g} --pass-mark {t.points}")
        lines += [f"    - name: {json.dumps(f'{t.id} {t.description}')}",  # a YAML string
                  f"      id: {_step_id(t.id)}",
                  "      uses: classroom-resources/autograding-command-grader@v1",
                  "      with:",
                  f"        test-name: \"{t.id}\"",
                  "        setup-command: ''",
                  f"        command: {command}",
                  f"        timeout: {minutes}",
                  f"        max-score: {t.points}"]
    lines += ["    - name: Autograding Reporter",
              "      uses: classroom-resources/autograding-grading-reporter@v1",
              "      env:"]
    lines += [f"        {_step_id(t.id).upper()}_RESULTS: "
              f"\"${{{{steps.{_step_id(t.id)}.outputs.result}}}}\"" for t in tasks]
    lines += ["      with:", f"        runners: {','.join(_step_id(t.id) for t in tasks)}"]
    return "\n".join(lines) + "\n"


def write_classroom(out: str, only: set[int] | None = None, timeout: float = 60.0) -> str:
    """Write a GitHub Classroom workflow into the copy `out`, refusing to replace one that
    exists; returns its path.
    """
    path = os.path.join(out, ".github", "workflows", "classroom.yml")
    if os.path.exists(path):
        raise BuildError(f"{path} exists; nothing was changed")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(classroom_workflow(only, timeout))
    return path

