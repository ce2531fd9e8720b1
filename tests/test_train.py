"""The trainer and the CLI: learning, bit-exact resume, divergence, interrupts, errors."""

import os

import numpy as np
import pytest

from tinygrad_lm.cli import main
from tinygrad_lm.formats.checkpoint import CheckpointError, load_checkpoint
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.trainer import Trainer, TrainingDiverged


def tiny(tmp_path, *extra):
    return make_config("tiny", [f"--out_dir={tmp_path}", *extra])


def quiet(*args, **kwargs):
    pass


def test_overfits_one_batch(tmp_path):
    trainer = Trainer(tiny(tmp_path, "--lr=0.01", "--min_lr=0.01", "--dropout=0.0"), log=quiet)
    x, y = trainer.data.get_batch("train", 4, 16, np.random.default_rng(0))
    trainer.data.get_batch = lambda *a: (x, y)
    first = trainer.train_step()["loss"]
    for _ in range(150):
        last = trainer.train_step()["loss"]
    assert last < 0.1 < first


@pytest.mark.parametrize("dropout", ["0.0", "0.2"])
def test_resume_is_bit_exact(tmp_path, dropout):
    straight = Trainer(tiny(tmp_path / "a", "--max_iters=12", f"--dropout={dropout}",
                            "--checkpoint_interval=6"), log=quiet)
    straight.train()
    first = Trainer(tiny(tmp_path / "b", "--max_iters=6", f"--dropout={dropout}"), log=quiet)
    first.train()
    second = Trainer(tiny(tmp_path / "b", "--max_iters=12", f"--dropout={dropout}"), log=quiet)
    second.resume()
    assert second.step == 6
    second.train()
    for (name, p), (_, q) in zip(straight.model.named_parameters(),
                                 second.model.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)
    losses = lambda t: [r["loss"] for r in t.history if "loss" in r and r["step"] > 6]  # noqa
    assert losses(straight) == losses(second)


def test_same_seed_same_run_different_seed_different_run(tmp_path):
    runs = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        t = Trainer(tiny(tmp_path / name, "--max_iters=3", f"--seed={seed}"), log=quiet)
        t.train()
        runs.append(t.model.state_dict()["transformer.wte.weight"].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_nan_loss_stops_and_keeps_last_checkpoint(tmp_path):
    trainer = Trainer(tiny(tmp_path, "--max_iters=30", "--checkpoint_interval=5"), log=quiet)
    for _ in range(5):
        trainer.train_step()
    trainer.save()
    before = open(trainer.ckpt_path, "rb").read()
    trainer.model.transformer.wte.weight.data[0, 0] = np.nan
    with pytest.raises(TrainingDiverged, match=r"step 5: loss is nan.*untouched"):
        trainer.train()
    assert open(trainer.ckpt_path, "rb").read() == before


def test_anomaly_detection_names_the_op(tmp_path):
    trainer = Trainer(tiny(tmp_path, "--detect_anomaly=true"), log=quiet)
    trainer.model.transformer.h[0].ln_1.weight.data[0] = np.inf
    with pytest.raises(TrainingDiverged, match="anomaly detection: LayerNorm.forward"):
        trainer.train_step()


def test_resume_with_other_model_config_names_fields(tmp_path):
    Trainer(tiny(tmp_path, "--max_iters=2"), log=quiet).train()
    other = Trainer(tiny(tmp_path, "--n_embd=32"), log=quiet)
    with pytest.raises(CheckpointError, match="n_embd: checkpoint 16 vs requested 32"):
        other.resume()


def test_checkpoint_contents_and_outputs(tmp_path):
    Trainer(tiny(tmp_path, "--max_iters=10", "--health_interval=5", "--plots=true"),
            log=quiet).train()
    state = load_checkpoint(str(tmp_path / "ckpt.npz"))
    assert state["step"] == 10 and "model" in state and "optimizer" in state
    assert {"batch"} <= set(state["rng"]) and state["tokenizer"]["type"] == "char"
    for name in ("loss.png", "health.png", "attention.png", "log.jsonl", "samples.txt",
                 "best.npz"):
        assert os.path.exists(tmp_path / name), name


def test_cli_train_sample_eval(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--preset", "tiny", f"--out_dir={out}", "--eval-samples=5"]) == 0
    assert main(["sample", "--ckpt", out, "--prompt", "the ", "--max-new-tokens", "10",
                 "--seed", "0", "--top-k", "5"]) == 0
    text = capsys.readouterr().out
    assert "grammatical sentences" in text and "the " in text
    assert main(["eval", "--ckpt", out, "--eval-samples", "5"]) == 0
    assert "val perplexity" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "--data", "/nonexistent/file.txt"], "does not exist"),
    (["train", "--preset", "tiny", "--bogus=1"], "unknown option --bogus"),
    (["train", "--preset", "tiny", "--n_layer=two"], "expected int"),
    (["train", "--preset", "tiny", "--n_embd=abc"], "--n_embd: expected int, got 'abc'"),
    (["train", "--preset", "huge"], "unknown preset"),
    (["sample", "--ckpt", "/nonexistent/ckpt"], "does not exist"),
])
def test_cli_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_cli_rejects_a_corrupt_checkpoint(tmp_path, capsys):
    (tmp_path / "ckpt.npz").write_bytes(b"garbage")
    assert main(["eval", "--ckpt", str(tmp_path)]) == 2
    assert "ckpt.npz" in capsys.readouterr().err


def test_data_file_too_short(tmp_path, capsys):
    (tmp_path / "short.txt").write_text("hello world")
    assert main(["train", "--preset", "tiny", f"--data={tmp_path / 'short.txt'}",
                 f"--out_dir={tmp_path}"]) == 2
    assert "lower --block_size" in capsys.readouterr().err


@pytest.mark.parametrize("decay", [False, True])
def test_decay_embeddings_puts_the_embeddings_in_the_decayed_group(tmp_path, decay):
    trainer = Trainer(tiny(tmp_path, f"--decay_embeddings={str(decay).lower()}"), log=quiet)
    decayed, kept = trainer.optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and kept["weight_decay"] == 0.0
    t = trainer.model.transformer
    embeddings = {id(t.wte.weight), id(t.wpe.weight)}
    assert embeddings <= {id(p) for p in (decayed if decay else kept)["params"]}
    assert not embeddings & {id(p) for p in (kept if decay else decayed)["params"]}
