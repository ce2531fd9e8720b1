"""Reference curves of runs on a text file, matched by the text's content; the bands in the
lessons' loss figures; the shakespeare-char preset's band on Tiny Shakespeare, checked live."""

import dataclasses
import os
import runpy
import sys

import numpy as np
import pytest

from tinygrad_lm.data import builtin_dataset
from tinygrad_lm.kernels import active_backend
from tinygrad_lm.training import reference_curves as rc
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAKESPEARE = next((p for p in (os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"),
                                "/work/shared/data/tinyshakespeare.txt")
                    if os.path.isfile(p)), None)
needs_shakespeare = pytest.mark.skipif(SHAKESPEARE is None, reason="no tinyshakespeare.txt")
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


# ---- shakespeare-char on Tiny Shakespeare: 50 steps, checked at the curve's first point ------
def _shakespeare_run(tmp_path, seed=1337):
    cfg = make_config("shakespeare-char", [f"--data={SHAKESPEARE}", "--max_iters=50",
                                           "--progress=false", "--plots=false"])
    cfg = dataclasses.replace(cfg, seed=seed, out_dir=str(tmp_path / f"run{seed}"))
    messages = []
    trainer = Trainer(cfg, log=messages.append)
    trainer.train()
    return trainer, [m for m in messages if m.startswith("warning: ")]


@needs_shakespeare
def test_shakespeare_char_on_tiny_shakespeare_has_its_band_and_a_correct_run_stays_in(tmp_path):
    trainer, warnings = _shakespeare_run(tmp_path)
    assert trainer.reference is not None and trainer.reference.preset == "shakespeare-char"
    assert trainer.evals[-1][0] == 50 and trainer.reference.band(50) is not None
    assert warnings == []


def _ascending(real):
    """The optimizer's step with the gradient's sign flipped: gradient ascent."""
    def update(params, grads, *args, **kwargs):
        return real(params, [-g for g in grads], *args, **kwargs)
    return update


@needs_shakespeare
@pytest.mark.parametrize("bug", ["flipped sign", "1000x learning rate"])
def test_shakespeare_char_warns_about_a_planted_bug(tmp_path, monkeypatch, bug):
    if bug == "flipped sign":
        backend = active_backend()
        monkeypatch.setattr(backend, "adamw_update_many_",
                            _ascending(backend.adamw_update_many_))
    else:  # a schedule off by a factor: at step 50 the steps take 0.5 instead of 5e-4 (a
        # mere 100x still learns, to 3.13 against the seeds' 2.91-2.93, and warns too)
        real = Trainer.lr_at
        monkeypatch.setattr(Trainer, "lr_at", lambda self, step: 1000 * real(self, step))
    trainer, warnings = _shakespeare_run(tmp_path)
    assert len(warnings) == 1, bug
    assert warnings[0].startswith(
        "warning: validation loss") and "runs with these settings (shakespeare-char, Tiny " \
        "Shakespeare; 3 seeds of the reference code)" in warnings[0]
    assert "check your learning rate or your backward" in warnings[0]


@needs_shakespeare
def test_shakespeare_char_on_another_text_says_why_there_is_no_band(tmp_path):
    with open(SHAKESPEARE, encoding="utf-8") as f:
        mine = tmp_path / "mine.txt"
        mine.write_text(f.read(20_000), encoding="utf-8")  # a part of it: another text
    cfg = make_config("shakespeare-char", [f"--data={mine}", "--max_iters=1", "--progress=false",
                                           "--plots=false", f"--out_dir={tmp_path / 'run'}"])
    messages = []
    trainer = Trainer(cfg, log=messages.append)
    trainer.train()
    assert trainer.reference is None
    notes = [m for m in messages if m.startswith("note: ")]
    assert len(notes) == 1 and "tinyshakespeare.txt" in notes[0]


def test_lesson_12s_full_settings_find_their_curve(tmp_path):
    """Lesson 12's full run is too long for a test, and its flags are written in the lesson and
    in the curve's recipe: the lesson's own lines, run with QUICK off, must still find the
    full-mode curve (so an edit to one of the two cannot silently drop the band)."""
    with open(os.path.join(ROOT, "lessons", "12_training_on_real_text.py"),
              encoding="utf-8") as f:
        source = f.read()
    start = source.index("steps = 20 if QUICK else 600")
    lines = source[start:source.index("data_flag =", start)]
    scope = {"QUICK": False, "os": os, "out_dir": lambda: str(tmp_path)}
    exec(lines, scope)  # the lesson's own assignments of steps, run, size and overrides
    text = _grammar_file(tmp_path / "12_grammar.txt", n=20000)  # its text without Shakespeare
    cfg = make_config("shakespeare-char", scope["overrides"] + [f"--data={text}",
                                                                f"--out_dir={tmp_path / 'run'}"])
    curve = Trainer(cfg).reference
    assert curve is not None and curve.preset == "lesson12-full-grammar"
