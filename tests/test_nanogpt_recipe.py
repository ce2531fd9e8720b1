"""benchmarks/nanogpt_recipe.py: it skips cleanly without a nanoGPT clone, reads both trainers'
output and nanoGPT's settings, and, when a clone, PyTorch and the text are at hand, runs both
sides for 20 steps (the plumbing only: speed is never asserted)."""

import importlib.util
import json
import os
import sys

import pytest

from tests.test_nanogpt import nanogpt_dir

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
# benchmarks/ only while the script imports: left on sys.path, its kernels.py would hide any
# package named `kernels` that a later test's library imports
_path = list(sys.path)
sys.path.insert(0, BENCHMARKS)
import _nanogpt  # noqa: E402
import nanogpt_recipe  # noqa: E402

sys.path[:] = _path


def test_skips_without_a_clone(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("NANOGPT_DIR", raising=False)
    monkeypatch.setattr(_nanogpt, "BESIDE", str(tmp_path / "nowhere"))
    assert nanogpt_recipe.main([]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0  # one line: the reason and how to get a clone
    assert "skipped: no nanoGPT clone: set NANOGPT_DIR" in out and "git clone" in out
    monkeypatch.setenv("NANOGPT_DIR", str(tmp_path))  # named, but not a clone: no fallback
    assert nanogpt_recipe.main([]) == 0
    assert f"{tmp_path} is not a nanoGPT clone (no train.py" in capsys.readouterr().out


def test_reads_both_trainers_output():
    lines = [(0.5, "training a 804.1k-parameter GPT on 'input.txt' (65 tokens in vocab)"),
             (1.0, "step 100/2000: loss 2.5000, 9,000 tokens/s, ETA 1m00s"),
             (9.0, "step 250: train loss 2.0000, val loss 2.1000 (best so far: best.npz)"),
             (20.0, "step 500: train loss 1.8000, val loss 1.9500")]
    run = _nanogpt.parse_output(lines, "training a ")
    assert run["evals"] == [[250, 2.0, 2.1, 9.0], [500, 1.8, 1.95, 20.0]]
    assert run["setup_s"] == 0.5 and run["to_last_eval_s"] == 20.0
    assert run["training_s"] == 19.5
    assert _nanogpt.parse_output(lines[:2], "training a ")["training_s"] is None


def test_recipe_flags_evaluate_at_the_last_step():
    assert "--max_iters=2000" in nanogpt_recipe.recipe_flags(2000)
    assert not any(f.startswith("--eval_interval") for f in nanogpt_recipe.recipe_flags(2000))
    assert nanogpt_recipe.our_flags(2000) == []
    assert "--eval_interval=20" in nanogpt_recipe.recipe_flags(20)
    assert "--eval_interval=20" in nanogpt_recipe.our_flags(20)


def test_the_launcher_reseeds_only_when_asked():
    args = dict(threads=2, clone="/c", train="/c/train.py", args=["--device=cpu"])
    plain = nanogpt_recipe.LAUNCH_TRAIN.format(reseed="", **args)
    reseeded = nanogpt_recipe.LAUNCH_TRAIN.format(
        reseed=nanogpt_recipe.RESEED.format(offset=3), **args)
    for code in (plain, reseeded):
        compile(code, "launcher", "exec")
    assert "manual_seed" not in plain and "_manual_seed(seed + 3)" in reseeded


def test_nanogpt_settings_are_read_not_run(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "train.py").write_text("import os\nlearning_rate = 6e-4\nbias = False\n"
                                       "dtype = 'a' if os.sep else 'b'\nconfig_keys = []\n"
                                       "learning_rate = 1.0\n")
    (tmp_path / "config" / "train_shakespeare_char.py").write_text(
        "learning_rate = 1e-3\nraise SystemExit('executed')\n")
    got = _nanogpt.nanogpt_settings(str(tmp_path), ["--device=cpu", "--max_iters=20"])
    assert got == {"learning_rate": 1e-3, "bias": False, "device": "cpu", "max_iters": 20}


def missing_for_a_run() -> str | None:
    """Why the two trainers cannot run here, or None."""
    if nanogpt_dir() is None:
        return "no nanoGPT clone (NANOGPT_DIR, or ../nanoGPT beside the repository)"
    if importlib.util.find_spec("torch") is None:
        return "nanoGPT needs torch"
    if not any(os.path.isfile(p) for p in nanogpt_recipe.TEXTS):
        return "no shared tinyshakespeare.txt"
    return None


MISSING = missing_for_a_run()


@pytest.mark.slow
@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_twenty_steps_of_both(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NANOGPT_DIR", nanogpt_dir())
    assert nanogpt_recipe.main(["--max-iters", "20", "--final-eval-iters", "4",
                                "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "settings: " in out and "target: our val loss at step 20" in out
    doc = json.loads((tmp_path / "nanogpt_recipe.json").read_text())
    for side in ("ours", "nanogpt"):
        got = doc["summary"][side]
        assert 2.5 < got["val_loss"] < 4.2  # from ln(65) = 4.17, after 20 steps
        assert 0 < got["training_s"] < got["wall_s"]
    final = doc["final_evals"][0]
    assert final["batches"] == 4 and final["nanogpt_step"] == 20
