"""Reference loss curves: the shipped files, the band, and the warning a run prints."""

import dataclasses
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.kernels import reference as ref_kernels
from tinygrad_lm.training import reference_curves as rc
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.plots import draw_band
from tinygrad_lm.training.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _no_vocab(sig):
    sig = json.loads(json.dumps(sig))
    sig["model"].pop("vocab_size", None)
    return sig


def _generator():
    """benchmarks/reference_curves.py, the script that writes the curves, and its recipes."""
    name = "benchmarks_reference_curves"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, "benchmarks", "reference_curves.py"))
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


TRAINER_CURVES = sorted(n for n in rc.shipped_curves()
                        if "lesson_run" not in rc.read_curve(rc.shipped_curves()[n]).signature)


@pytest.mark.parametrize("name", TRAINER_CURVES)
def test_each_shipped_curve_is_its_recipe(name, tmp_path):
    """Every file of a Trainer run has a recipe in the generator, and the settings that recipe
    trains today (the lessons' own loops: tests/test_lesson_curves.py)."""
    gen = _generator()
    curve = rc.read_curve(rc.shipped_curves()[name])
    assert curve.preset == name and name in gen.RECIPES and len(curve.seeds) >= 3
    assert curve.steps == sorted(curve.steps) and curve.steps
    recipe = gen.RECIPES[name]
    assert curve.seeds == recipe.seeds
    assert curve.title.startswith(f"{name}, ") if recipe.pretrained else (
        curve.title == recipe.title)
    try:
        path, text = gen.text_file(recipe.text, str(tmp_path), gen.SHAKESPEARE)
    except FileNotFoundError:
        pytest.skip("no Tiny Shakespeare here (../shared/data/tinyshakespeare.txt)")
    assert curve.text == text
    cfg = make_config(recipe.preset, recipe.overrides + ([f"--data={path}"] if path else []))
    mine, theirs = _no_vocab(rc.signature(cfg)), _no_vocab(curve.signature)
    if recipe.pretrained:  # the model and its digest are the pretrained directory's
        assert theirs.pop("init_from").startswith("sha256:")
        for sig in (mine, theirs):
            sig.pop("model")
        mine.pop("init_from")
    assert theirs == mine
    for j, step in enumerate(curve.steps):
        lo, hi = curve.band(step)
        assert all(lo < run[j] < hi for run in curve.val)


def test_every_preset_but_finetune_and_lesson_12_have_curves():
    """`finetune` starts from downloaded GPT-2 files, which the package cannot hold; its
    recipe is tested on a small directory below."""
    from tinygrad_lm.training.config import PRESETS
    assert set(PRESETS) - {"finetune"} | {"lesson12-quick-grammar", "lesson12-full-grammar"} \
        <= set(rc.shipped_curves())


def _run(tmp_path, seed, **changes):
    cfg = dataclasses.replace(make_config("tiny"), out_dir=str(tmp_path / f"run{seed}"),
                              seed=seed, **changes)
    messages = []
    trainer = Trainer(cfg, log=messages.append)
    trainer.train()
    return trainer, [m for m in messages if m.startswith("warning: ")]


@pytest.mark.parametrize("seed", [1337, 7])  # the default seed, and one the curve never saw
def test_a_correct_run_never_warns(tmp_path, seed):
    trainer, warnings = _run(tmp_path, seed)
    assert trainer.reference is not None and trainer.reference.preset == "tiny"
    assert warnings == []


def _adam_ascending(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
    """AdamW with the update's sign flipped (p += ...): gradient ascent."""
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    p += lr * (m / (1.0 - beta1 ** step)) / (np.sqrt(v / (1.0 - beta2 ** step)) + eps)


def _many(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps, weight_decay, step):
    for i, p in enumerate(params):
        _adam_ascending(p, grads[i], exp_avgs[i], exp_avg_sqs[i], lr=lr[i], beta1=beta1[i],
                        beta2=beta2[i], eps=eps[i], weight_decay=weight_decay[i], step=step[i])


def test_a_planted_optimizer_bug_warns(tmp_path, monkeypatch):
    monkeypatch.setattr(ref_kernels, "adamw_update_", _adam_ascending)
    monkeypatch.setattr(ref_kernels, "adamw_update_many_", _many)
    with tg.use_backend("numpy"):
        trainer, warnings = _run(tmp_path, 1337)
    assert len(warnings) == 1  # once per run
    lo, hi = trainer.reference.seed_range(10)
    val = trainer.evals[0][2]
    assert warnings[0] == (
        f"warning: validation loss {val:.3g} at step 10; runs of the tiny preset (5 seeds of "
        f"the reference code) are at {lo:.3g}–{hi:.3g} there: check your learning rate or "
        "your backward (a gradient check of each op, tinygrad_lm.gradcheck, names the first "
        "wrong one) and the optimizer step")


def test_changed_settings_have_no_reference():
    cfg = make_config("tiny", ["--lr=0.5"])
    assert rc.find_curve(cfg) is None


def test_too_low_a_loss_points_at_the_mask():
    curve = rc.ReferenceCurve("grammar", [0, 1, 2], [400], [[2.0], [2.1], [2.2]],
                              [[2.0], [2.1], [2.2]], {})
    assert rc.band_warning(curve, 400, 2.1) is None
    assert rc.band_warning(curve, 300, 9.0) is None  # no reference evaluation at that step
    low = rc.band_warning(curve, 400, 0.3)
    assert low.startswith("validation loss 0.3 at step 400; runs of the grammar preset (3 "
                          "seeds of the reference code) are at 2–2.2 there: lower than any")
    assert "causal mask" in low
    assert "check your learning rate" in rc.band_warning(curve, 400, 3.1)


@pytest.mark.parametrize("content", ["{", "[]", '{"format": 1, "steps": [1], "seeds": [0], '
                                     '"val_loss": [["x"]], "train_loss": [[1]], '
                                     '"signature": {}}'])
def test_a_malformed_curve_file_is_refused(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(rc.CurveError):
        rc.read_curve(str(path))


def test_the_band_is_drawn():
    plt = pytest.importorskip("matplotlib.pyplot")
    curve = rc.read_curve(rc.shipped_curves()["tiny"])
    fig, ax = plt.subplots()
    draw_band(ax, curve)
    assert len(ax.collections) == 1
    assert ax.get_legend_handles_labels()[1] == ["val of correct runs (tiny, 5 seeds)"]
    plt.close(fig)


def _pretrained_dir(path, block_size=256):
    """A small Hugging Face GPT-2 directory written by our own export."""
    from tinygrad_lm.io.export import export_hf
    from tinygrad_lm.tokenizers import BPETokenizer
    text = "the cat sat on the mat. the dog sat on the log! " * 30
    tok = BPETokenizer(BPETokenizer.train(text, 300).merges,
                       special_tokens={"<|endoftext|>": 300})
    model = tg.GPT(tg.GPTConfig(vocab_size=301, block_size=block_size, n_layer=1, n_head=2,
                                n_embd=16), seed=3)
    export_hf(model, tok, str(path))
    return text


def test_a_pretrained_directory_counts_by_its_files_not_its_path(tmp_path):
    import shutil
    _pretrained_dir(tmp_path / "gpt2")
    shutil.copytree(tmp_path / "gpt2", tmp_path / "elsewhere" / "my-gpt2")
    (tmp_path / "elsewhere" / "my-gpt2" / "tf_model.h5").write_bytes(b"not read")
    here = rc.pretrained_digest(str(tmp_path / "gpt2"))
    assert here.startswith("sha256:")
    assert rc.pretrained_digest(str(tmp_path / "elsewhere" / "my-gpt2")) == here
    cfgs = [make_config("finetune", [f"--init_from={d}"]) for d in
            (tmp_path / "gpt2", tmp_path / "elsewhere" / "my-gpt2")]
    assert rc.signature(cfgs[0]) == rc.signature(cfgs[1])
    assert rc.signature(cfgs[0])["init_from"] == here
    weights = tmp_path / "elsewhere" / "my-gpt2" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight: fine-tuned, not the same start
    weights.write_bytes(bytes(data))
    assert rc.pretrained_digest(str(tmp_path / "elsewhere" / "my-gpt2")) != here
    missing = make_config("finetune", [f"--init_from={tmp_path / 'nowhere'}"])
    assert rc.signature(missing)["init_from"] == str(tmp_path / "nowhere")


def test_the_finetune_curve_is_recorded_from_a_given_directory(tmp_path, capsys):
    """The generator's `finetune` recipe on a small pretrained directory: three seeds, a curve
    that a run from a copy of the directory, on a copy of the text, finds."""
    import shutil
    gen = _generator()
    text = _pretrained_dir(tmp_path / "gpt2")
    shakespeare = tmp_path / "input.txt"
    shakespeare.write_text(text * 20, encoding="utf-8")
    with pytest.raises(SystemExit, match="pass --init-from DIR, a Hugging Face gpt2 directory"):
        gen.main(["finetune", "--out", str(tmp_path / "curves")])
    gen.main(["finetune", "--init-from", str(tmp_path / "gpt2"), "--until", "2",
              "--shakespeare", str(shakespeare), "--out", str(tmp_path / "curves")])
    assert "wrote" in capsys.readouterr().out
    curve = rc.read_curve(str(tmp_path / "curves" / "finetune.json"))
    assert curve.seeds == [0, 1, 2] and curve.steps == [2]
    assert curve.title == "finetune, gpt2 on tinyshakespeare.txt"
    shutil.copytree(tmp_path / "gpt2", tmp_path / "copy")
    shutil.copy(shakespeare, tmp_path / "mine.txt")
    cfg = make_config("finetune", [f"--init_from={tmp_path / 'copy'}",
                                   f"--data={tmp_path / 'mine.txt'}"])
    trainer = Trainer(dataclasses.replace(cfg, out_dir=str(tmp_path / "run"), progress=False,
                                          plots=False), log=lambda _: None)
    assert json.loads(json.dumps(rc.signature(trainer.cfg))) == curve.signature
