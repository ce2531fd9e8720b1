"""Is my loss normal, in the lessons that train in loops of their own: the shipped curves of
each run, what `check_run` prints, and how the reference runs are recorded."""

import json
import os
import re

import pytest

from tests.test_reference_curves import _generator
from tinygrad_lm.course import lesson_curves as lc
from tinygrad_lm.training import reference_curves as rc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON_RUNS = sorted(n for n in rc.shipped_curves()
                     if "lesson_run" in rc.read_curve(rc.shipped_curves()[n]).signature)


def _curve(name):
    return rc.read_curve(rc.shipped_curves()[name])


def _settings(curve):
    return {k: v for k, v in curve.signature.items() if k != "lesson_run"}


@pytest.fixture(autouse=True)
def _not_recording(monkeypatch):
    monkeypatch.delenv(lc.SEED_VARIABLE, raising=False)
    monkeypatch.delenv(lc.RECORD_VARIABLE, raising=False)


def test_every_lesson_with_its_own_loop_ships_quick_and_full_curves():
    """Each lesson the generator runs checks its runs, and every run has a curve in both
    modes, recorded from the generator's seeds."""
    gen = _generator()
    assert set(gen.LESSON_FILES) == {"lesson05", "lesson06", "lesson07", "lesson08", "lesson11",
                                     "lesson13", "lesson14", "lesson15", "lesson17"}
    for lesson, file in gen.LESSON_FILES.items():
        with open(os.path.join(ROOT, "lessons", file), encoding="utf-8") as f:
            assert "check_run(" in f.read(), file
        quick = {n[:-len("-quick")] for n in LESSON_RUNS
                 if n.startswith(lesson + "-") and n.endswith("-quick")}
        full = {n[:-len("-full")] for n in LESSON_RUNS
                if n.startswith(lesson + "-") and n.endswith("-full")}
        assert quick and quick == full, (lesson, quick, full)


@pytest.mark.parametrize("name", LESSON_RUNS)
def test_each_lesson_curve_is_whole(name):
    curve = _curve(name)
    assert curve.preset == name and curve.signature["lesson_run"] == name
    assert curve.seeds == _generator().LESSON_SEEDS and curve.title.startswith("lesson ")
    assert curve.steps == sorted(curve.steps) and curve.steps
    for j, step in enumerate(curve.steps):
        lo, hi = curve.band(step)
        assert all(lo < run[j] < hi for run in curve.val)


def test_check_run_inside_outside_and_without_a_curve():
    curve = _curve("lesson05-mlp-k3-quick")
    settings, step = _settings(curve), curve.steps[-1]
    inside = lc.check_run(curve.preset, curve.title, settings, [(step, curve.val[0][-1])])
    assert inside.startswith(f"{curve.title}: val loss {curve.val[0][-1]:.4f} at step {step}, "
                             "inside the band of 3 reference runs")
    high = curve.band(step)[1] + 0.3  # a broken backward or optimizer step
    warning = lc.check_run(curve.preset, curve.title, settings, [(step, high)])
    assert warning.startswith(f"warning: {curve.title}: validation loss {high:.3g} at step "
                              f"{step}; runs with these settings ({curve.title}; 3 seeds of "
                              "the reference code) are at ")
    assert "check your learning rate or your backward" in warning
    low = lc.check_run(curve.preset, curve.title, settings, [(step, 0.1)])
    assert "lower than any reference run" in low and "causal mask" in low
    changed = dict(settings, lr=1e-2)
    assert lc.check_run(curve.preset, curve.title, changed, [(step, high)]) == (
        f"{curve.preset}: no reference curve for these settings (a changed setting has none)")
    assert lc.find_run_curve("lesson99-nothing-quick", settings) is None
    elsewhere = lc.check_run(curve.preset, curve.title, settings, [(step + 1, high)])
    assert elsewhere.startswith(f"{curve.preset}: the reference curve has no evaluation")


def test_the_first_evaluation_outside_the_band_is_the_one_reported():
    curve = _curve("lesson13-plain-quick")
    evals = [(s, run) for s, run in zip(curve.steps, curve.val[1])]
    assert "inside the band" in lc.check_run(curve.preset, curve.title, _settings(curve), evals)
    bad = list(evals)
    bad[2] = (bad[2][0], bad[2][1] + 1.0)
    out = lc.check_run(curve.preset, curve.title, _settings(curve), bad)
    assert out.startswith("warning:") and f"at step {bad[2][0]};" in out


def test_recording_writes_one_part_per_run_and_seed(tmp_path, monkeypatch):
    monkeypatch.setenv(lc.RECORD_VARIABLE, str(tmp_path))
    monkeypatch.setenv(lc.SEED_VARIABLE, "2")
    assert lc.lesson_seed(0) == 2
    lc.check_run("lesson99-demo-quick", "lesson 99, a demo", {"steps": 3, "t": (1, 2)},
                 [(1, 2.5), (3, 2.0)], train=[2.4, 1.9])
    part = json.loads((tmp_path / "lesson99-demo-quick.seed2.json").read_text())
    assert part == {"run": "lesson99-demo-quick", "title": "lesson 99, a demo", "seed": 2,
                    "signature": {"lesson_run": "lesson99-demo-quick", "steps": 3, "t": [1, 2]},
                    "steps": [1, 3], "val_loss": [2.5, 2.0], "train_loss": [2.4, 1.9]}
    lc.check_run("lesson99-other-quick", "lesson 99", {}, [(3, 2.0)])  # no train estimates
    part = json.loads((tmp_path / "lesson99-other-quick.seed2.json").read_text())
    assert "train_loss" not in part and part["val_loss"] == [2.0]


def test_a_curve_without_train_estimates_has_a_val_band_only():
    curve = _curve("lesson05-mlp-k3-quick")  # the lesson estimates no train loss
    step = curve.steps[-1]
    assert curve.train == [] and "train_loss" not in curve.to_dict()
    assert curve.band(step) is not None and curve.band(step, "train") is None
    assert curve.seed_range(step, "train") is None
    assert _curve("lesson13-plain-quick").band(step, "train") is None  # 150 is not its step
    plain = _curve("lesson13-plain-quick")
    assert plain.band(plain.steps[-1], "train") is not None


def test_lesson_seed_is_the_lessons_own_unless_recording(monkeypatch):
    assert lc.lesson_seed(1337) == 1337
    monkeypatch.setenv(lc.SEED_VARIABLE, "x1")
    with pytest.raises(ValueError, match=re.escape("LESSONS_SEED='x1': the seed must be an")):
        lc.lesson_seed(0)


def test_a_lesson_with_a_broken_block_warns_and_the_correct_wiring_does_not(
        tmp_path, monkeypatch, capsys):
    """Lesson 8 (quick) with the pre-LN block's MLP residual dropped, a planted 4.3 bug: its
    pre-LN run leaves the band with the warning; the post-LN run, untouched, stays inside."""
    import runpy

    from tinygrad_lm.nn.gpt import Block

    def broken(self, x, kv_cache=None, layer=0, return_attention=False):
        if self.norm_position == "pre":
            x = x + self.attn(self.ln_1(x), kv_cache, layer, return_attention)
            return self.mlp(self.ln_2(x))  # the residual of the MLP is missing
        x = self.ln_1(x + self.attn(x, kv_cache, layer, return_attention))
        return self.ln_2(x + self.mlp(x))

    monkeypatch.setattr(Block, "forward", broken)
    monkeypatch.setenv("LESSONS_QUICK", "1")
    monkeypatch.setenv("LESSONS_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runpy.run_path(os.path.join(ROOT, "lessons", "08_transformer_block.py"), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    pre = [line for line in out if line.startswith(("warning: lesson 8 quick, pre-LN",
                                                    "lesson 8 quick, pre-LN"))]
    post = [line for line in out if line.startswith(("warning: lesson 8 quick, post-LN",
                                                     "lesson 8 quick, post-LN"))]
    assert len(pre) == 1 and pre[0].startswith("warning: lesson 8 quick, pre-LN: validation "
                                               "loss "), out
    assert "check your learning rate or your backward" in pre[0]
    assert len(post) == 1 and "inside the band of 3 reference runs" in post[0], out
