"""tinygrad_lm.load: one way back to (model, tokenizer) from a run, a checkpoint or weights."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.io.loader import load_any, run_checkpoint
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.previews import addition_sample, clip_to_boundary
from tinygrad_lm.training.trainer import Trainer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    trainer = Trainer(make_config("tiny", [f"--out_dir={out}", "--max_iters=10",
                                           "--eval_interval=5"]), log=lambda *a: None)
    trainer.train()
    return out, trainer


def logits(model):
    return model(np.array([[1, 2, 3, 4]]))[0].data


def test_load_a_run_directory_gives_its_best_model_and_tokenizer(run):
    out, trainer = run
    model, tok = tg.load(str(out))
    assert isinstance(model, tg.GPT) and not model.training
    assert tok == trainer.tokenizer and tok.decode(tok.encode("the cat")) == "the cat"
    assert run_checkpoint(str(out)).endswith("best.npz")
    assert load_any(str(out)).step == trainer.best_step
    last, _ = tg.load(str(out / "ckpt.npz"))
    np.testing.assert_array_equal(logits(last), logits(trainer.model))


def test_load_a_weights_file_has_no_tokenizer_and_from_file_points_to_load(run, tmp_path):
    out, trainer = run
    trainer.model.save(str(tmp_path / "w.npz"))
    model, tok = tg.load(str(tmp_path / "w.npz"))
    assert tok is None
    np.testing.assert_array_equal(logits(model), logits(trainer.model))
    with pytest.raises(ValueError, match=r"trainer checkpoint.*tinygrad_lm.load\(path\)"):
        tg.GPT.from_file(str(out / "ckpt.npz"))


def test_load_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tg.load(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no best.npz or ckpt.npz"):
        run_checkpoint(str(tmp_path))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="none of the things"):
        tg.load(str(tmp_path / "notes.txt"))


def test_samples_end_at_a_boundary():
    assert clip_to_boundary("the dog runs. the cat si") == "the dog runs."
    assert clip_to_boundary("a line with no end but a spa") == "a line with no end but a"
    assert clip_to_boundary("short") == "short"


def test_addition_samples_are_marked(tmp_path):
    trainer = Trainer(make_config("tiny", ["--dataset=addition", f"--out_dir={tmp_path}"]),
                      log=lambda *a: None)
    lines = addition_sample(trainer.model, trainer.data, n=3).splitlines()
    assert len(lines) == 3
    for line, (a, b) in zip(lines, trainer.data.heldout):
        assert line.startswith(f"{a}+{b}=") and ("✓" in line or f"✗ (should be {a + b})" in line)
