"""Every lesson runs top to bottom in quick mode, exits 0 and writes its figures."""

import os
import subprocess
import sys

import pytest

LESSONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lessons")
SCRIPTS = sorted(f for f in os.listdir(LESSONS) if f[:2].isdigit() and f.endswith(".py"))
FIGURES = {"00": ["00_bigram.png"], "01": ["01_graph.png"], "03": ["03_eps.png"],
           "04": ["04_softmax_times.png"], "05": ["05_mlp_loss.png"], "07": ["07_attention.png"],
           "08": ["08_pre_post_ln.png"], "09": ["09_loss.png"], "11": ["11_kv_cache.png"]}


def test_every_lesson_is_listed_in_the_readme():
    with open(os.path.join(LESSONS, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert len(SCRIPTS) == 11
    for script in SCRIPTS:
        assert script in readme


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_lesson_runs_in_quick_mode(script):
    out = os.path.join(LESSONS, "out")
    for name in FIGURES.get(script[:2], []):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    done = subprocess.run([sys.executable, os.path.join(LESSONS, script), "--quick"],
                          cwd=LESSONS, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "LESSONS_OUT": out})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "done" in done.stdout.splitlines()[-1]
    for name in FIGURES.get(script[:2], []):
        assert os.path.exists(os.path.join(out, name)), name
