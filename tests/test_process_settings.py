"""Nothing changes the process unless asked: importing the package, building and running a
Trainer, and the kernels leave glibc's allocator and BLAS's thread counts as they found them;
`tuned_for_training()` changes both for its block only.

The allocator cannot be asked for its settings, so it is probed by what they do: a 160 MB
array allocated, touched, freed and allocated again faults its pages in afresh with glibc's
defaults (it is mapped and unmapped), and not at all while freed memory is kept. Each probe runs
in a fresh process, where nothing else has touched either setting."""

import contextlib
import json
import os
import subprocess
import sys

import pytest

import tinygrad_lm as tg
from tinygrad_lm import cli
from tinygrad_lm.kernels import tuning
from tinygrad_lm.kernels.allocator import _mallopt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRELUDE = r"""
import json, resource, sys
import numpy as np
from threadpoolctl import ThreadpoolController
import tinygrad_lm as tg

BLAS = ThreadpoolController().select(user_api="blas").lib_controllers
for lib in BLAS:
    lib.set_num_threads(3)  # a user's own setting: neither one thread nor the default
tg.kernels.set_num_threads(2)  # the engine splits (and holds BLAS) even on a one-core machine
report = {}

def blas():
    return [lib.num_threads for lib in BLAS]

def faults_of_second_allocation(mb=160):
    a = np.ones(mb << 18, dtype=np.float32)  # touched
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(mb << 18, dtype=np.float32)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del b
    return faults
"""

TRAIN = PRELUDE + r"""
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.trainer import Trainer
trainer = Trainer(make_config("tiny", [f"--out_dir={sys.argv[1]}", "--max_iters=3",
                                       "--eval_interval=2", "--checkpoint_interval=2"]),
                  log=lambda text: None)
report["during"] = []
step = trainer.train_step
trainer.train_step = lambda *a, **k: (report["during"].append(blas()), step(*a, **k))[1]
trainer.train()
report["steps"] = trainer.step
report["after"] = blas()
report["faults"] = faults_of_second_allocation()
print(json.dumps(report))
"""

TUNED = PRELUDE + r"""
with tg.tuned_for_training():
    with tg.tuned_for_training():  # nested: the inner block's end restores nothing
        pass
    report["inside"] = blas()
    report["faults_inside"] = faults_of_second_allocation()
report["after"] = blas()
report["faults_after"] = faults_of_second_allocation()
print(json.dumps(report))
"""


def run(code: str, *args: str) -> dict:
    pytest.importorskip("threadpoolctl")
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report.get("after") == []:
        pytest.skip("no BLAS library that threadpoolctl can see")
    return report


def test_training_from_python_leaves_the_allocator_and_blas_alone(tmp_path):
    report = run(TRAIN, str(tmp_path / "out"))
    assert report["steps"] == 3
    # between kernel calls (each step starts outside any kernel) BLAS runs as the user set it
    assert report["during"] and all(counts == [3] * len(counts) for counts in report["during"])
    assert set(report["after"]) == {3}, f"BLAS thread counts changed to {report['after']}"
    if _mallopt() is not None:
        assert report["faults"] >= 16, \
            "a freed 160 MB block came back without page faults: the allocator was tuned"


def test_tuned_for_training_switches_both_on_and_restores_them():
    report = run(TUNED)
    assert set(report["inside"]) == {1}  # held for the whole block
    assert set(report["after"]) == {3}  # the user's own count, not the library's default
    if _mallopt() is not None:
        assert report["faults_inside"] < 16, report  # freed memory kept, even after nesting
        assert report["faults_after"] >= 16, report  # glibc's defaults back: handed back


def test_importing_registers_no_fork_hook_and_the_first_pool_does():
    code = r"""
import os
calls = []  # the package's own hooks (the standard library's logging registers one too)
register = os.register_at_fork
os.register_at_fork = lambda **hooks: (register(**hooks), calls.extend(
    f for f in hooks.values() if f.__module__.startswith("tinygrad_lm")))
import tinygrad_lm as tg
from tinygrad_lm.kernels import threads
tg.kernels.active_backend()
at_import = len(calls)
with threads.use_threads(2):
    threads.run_chunks(lambda lo, hi: None, [(0, 1), (1, 2)])
    threads.run_chunks(lambda lo, hi: None, [(0, 1), (1, 2)])
print(at_import, len(calls), threads._pool is not None)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    at_import, total, pooled = done.stdout.split()
    assert at_import == "0", "importing the package registered a fork hook"
    assert total == ("1" if pooled == "True" else "0")  # once, with the pool


def test_quick_mode_is_read_when_a_lesson_asks(monkeypatch):
    from tinygrad_lm.course import lessons
    monkeypatch.setattr(sys, "argv", ["lesson.py"])
    monkeypatch.delenv("LESSONS_QUICK", raising=False)
    assert lessons.QUICK is False
    monkeypatch.setenv("LESSONS_QUICK", "1")
    from tinygrad_lm.course.lessons import QUICK
    assert QUICK is True
    monkeypatch.setenv("LESSONS_QUICK", "0")
    monkeypatch.setattr(sys, "argv", ["lesson.py", "--quick"])
    assert lessons.QUICK is True


@pytest.fixture
def allocator_calls(monkeypatch):
    """keep_freed_memory's calls from tuned_for_training, recorded instead of made (so this test
    process's allocator is left alone)."""
    calls = []
    monkeypatch.setattr(tuning, "keep_freed_memory", lambda enabled=True: calls.append(enabled))
    return calls


def test_cli_train_runs_tuned_and_bench_leaves_sys_argv_alone(monkeypatch, allocator_calls):
    depths = []
    monkeypatch.setattr(cli, "_train", lambda args, extra: depths.append(tuning._depth) or 0)
    assert cli.cmd_train(None, []) == 0
    assert depths == [1] and tuning._depth == 0 and allocator_calls == [True, False]

    launched = []
    monkeypatch.setattr(cli.subprocess, "run", lambda argv: launched.append(argv) or
                        subprocess.CompletedProcess(argv, 3))
    argv = list(sys.argv)
    assert cli.main(["bench", "--quick"]) == 3  # the benchmark's exit status
    assert sys.argv == argv
    assert launched[0][0] == sys.executable and launched[0][2:] == ["--quick"]
    assert launched[0][1].endswith(os.path.join("benchmarks", "train_step.py"))


def test_tuned_blocks_nest_and_end_even_on_an_error(allocator_calls):
    with contextlib.suppress(KeyError), tg.tuned_for_training():
        with tg.tuned_for_training():
            assert tuning._depth == 2
        assert tuning._depth == 1 and allocator_calls == [True]  # the outer block's only
        raise KeyError("inside")
    assert tuning._depth == 0 and allocator_calls == [True, False]
