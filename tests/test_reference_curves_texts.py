"""Reference curves of runs on a text file, matched by the text's content, and the bands in the
lessons' loss figures."""

import os
import runpy
import sys

import numpy as np
import pytest

from tinygrad_lm.data import builtin_dataset
from tinygrad_lm.training import reference_curves as rc
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# lesson 12's quick run, as the lesson writes it (its fallback text when it finds no Shakespeare)
LESSON_12_QUICK = ["--n_layer=1", "--n_embd=32", "--n_head=2", "--batch_size=4",
                   "--block_size=32", "--max_iters=20", "--lr_decay_iters=20", "--lr=5e-3",
                   "--min_lr=5e-4", "--warmup_iters=20", "--eval_interval=4", "--eval_iters=2"]


def _grammar_file(path, n=3000, edit=False):
    text = builtin_dataset("grammar", n_examples=n)
    if edit:  # one sentence's word changed: another text, the same vocabulary
        text = text.replace("the cat", "the dog", 1)
    path.write_text(text, encoding="utf-8")
    return str(path)


def _reference(path, extra=()):
    cfg = make_config("shakespeare-char", LESSON_12_QUICK + [f"--data={path}", *extra])
    return Trainer(cfg).reference  # the trainer sets the vocabulary, then looks


def test_a_text_matches_by_content_not_by_path(tmp_path):
    for where in ("12_grammar.txt", "elsewhere/any name.txt"):
        (tmp_path / where).parent.mkdir(exist_ok=True)
        curve = _reference(_grammar_file(tmp_path / where))
        assert curve is not None and curve.preset == "lesson12-quick-grammar"


def test_a_different_text_does_not_match(tmp_path):
    edited = _grammar_file(tmp_path / "12_grammar.txt", edit=True)
    assert _reference(edited) is None
    assert _reference(_grammar_file(tmp_path / "longer.txt", n=3001)) is None
    cfg = Trainer(make_config("shakespeare-char", LESSON_12_QUICK + [f"--data={edited}"])).cfg
    note = rc.other_text_note(cfg)  # why no band: the reference runs read another text
    assert note.startswith("note: no reference band for this text") and "3,000 sentences" in note


def test_changed_settings_on_the_same_text_have_no_reference_and_no_note(tmp_path):
    path = _grammar_file(tmp_path / "12_grammar.txt")
    assert _reference(path, ["--lr=1e-2"]) is None
    cfg = Trainer(make_config("shakespeare-char", LESSON_12_QUICK + [f"--data={path}",
                                                                     "--lr=1e-2"])).cfg
    assert rc.other_text_note(cfg) is None


@pytest.mark.slow
@pytest.mark.parametrize("lesson, curve, label", [
    ("09_gpt.py", "lesson9-quick", "lesson 9 quick"),
    ("12_training_on_real_text.py", "lesson12-quick-grammar", "lesson 12 quick, grammar text")])
def test_a_lesson_draws_its_band(tmp_path, monkeypatch, capsys, lesson, curve, label):
    """The lesson run as a student runs it (quick; lesson 12 finds no Shakespeare beside it):
    its loss figure shades the band of its own settings and text, and its run stays inside."""
    pytest.importorskip("matplotlib")
    path = os.path.join(ROOT, "lessons", lesson)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LESSONS_QUICK", "1")
    monkeypatch.setenv("LESSONS_OUT", str(tmp_path / "figures"))
    monkeypatch.setattr(sys, "argv", [path])  # not pytest's arguments
    run = runpy.run_path(path, run_name="__main__")
    reference = run["reference"]
    assert reference is not None and reference.preset == curve
    ax = run["ax"]  # the loss figure's axes (the figure itself is saved and closed)
    band = ax.collections[0].get_paths()[0].vertices  # the shaded polygon's corners
    for step in reference.steps:
        lo, hi = reference.band(step)
        edge = band[np.isclose(band[:, 0], step), 1]
        assert np.isclose(edge.min(), lo) and np.isclose(edge.max(), hi)
    assert ax.get_legend_handles_labels()[1][0] == f"val of correct runs ({label}, 3 seeds)"
    out = capsys.readouterr().out
    assert "inside the band of 3 reference runs" in out and "validation loss" not in out
