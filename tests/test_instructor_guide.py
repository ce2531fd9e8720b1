"""The instructor guide's commands run: every ```bash block of assignments/INSTRUCTOR.md, in
order, as one shell script, from a copy of this repository in a scratch folder (the guide's
`../term/`, `../student` and `../ag` land beside the copy). `tinygrad-lm` is this Python's
`python -m tinygrad_lm`. `validate` is narrowed to one planted bug without the starter and
solution runs: CI runs the whole of it on its own (.ci/run), and it takes minutes."""

import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(ROOT, "assignments", "INSTRUCTOR.md")
SKIP = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "*.egg-info", "site",
                              "runs", ".ruff_cache", "*.nbi", "*.nbc")
NARROW = {"tinygrad-lm assignments validate": "--bugs-only --bug top_k_keeps_one_more"}


def bash_blocks(text: str) -> list[str]:
    """The ```bash blocks of a Markdown text, continuation lines joined, comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_extractor_joins_continuations_and_drops_comments():
    text = "x\n```bash\na --b \\\n    c   # why\n# only a comment\nd\n```\n```python\ne\n```\n"
    assert bash_blocks(text) == ["a --b      c", "d"]


def test_every_command_of_the_instructor_guide_runs(tmp_path):
    with open(GUIDE, encoding="utf-8") as f:
        commands = bash_blocks(f.read())
    assert any("grade-class" in c for c in commands) and len(commands) >= 12
    repo = tmp_path / "reference"
    shutil.copytree(ROOT, repo, ignore=SKIP)
    script = ["set -euo pipefail", f'tinygrad-lm() {{ "{sys.executable}" -m tinygrad_lm "$@"; }}']
    for c in commands:
        for prefix, extra in NARROW.items():
            if c.startswith(prefix):
                c += " " + extra
        script += [f"echo '$ {c}'", c]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(repo)
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    results = tmp_path / "term" / "results"
    with open(results / "gradebook.csv") as f:
        rows = f.read().splitlines()
    assert rows[0].startswith("student,status,reason,5.1 (10)")
    assert rows[1].startswith("dry-run,partial,") and ",0,40," in rows[1]
    for name in ("canvas.csv", "similarity.html", "summary.png", "students/dry-run/feedback.md"):
        assert (results / name).is_file()
    assert "0 to grade" not in done.stdout.split("--force")[-1]  # --force regraded everyone
