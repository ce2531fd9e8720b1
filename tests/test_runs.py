"""A run is never lost: refused second runs, --overwrite, best vs last, resuming from the
checkpoint's own config, output fit for a pipe, Ctrl-C early, and failing saves."""

import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_lm.cli import main
from tinygrad_lm.formats.checkpoint import load_checkpoint
from tinygrad_lm.training import trainer as train_module
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.evaluation import overfitting_warning
from tinygrad_lm.training.run_dir import RunExistsError
from tinygrad_lm.training.trainer import SaveError, Trainer

from .waiting import read_until


def quiet(*args, **kwargs):
    pass


def snapshot(directory):
    return {os.path.relpath(os.path.join(d, f), directory): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(directory) for f in files}


def test_second_run_is_refused_and_overwrite_moves_the_old_run_aside(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", "--preset", "tiny", f"--out_dir={out}", "--eval-samples=2"]) == 0
    before = snapshot(out)
    assert main(["train", "--preset", "tiny", f"--out_dir={out}", "--max_iters=3"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run (step 20 of 20" in err and "--resume" in err
    assert "--overwrite" in err and "--out_dir" in err and err.count("\n") == 1
    assert snapshot(out) == before  # byte-identical
    with pytest.raises(RunExistsError):
        Trainer(make_config("tiny", [f"--out_dir={out}"]), log=quiet).train()
    assert snapshot(out) == before

    assert main(["train", "--preset", "tiny", f"--out_dir={out}", "--max_iters=3",
                 "--overwrite", "--eval-samples=2"]) == 0
    (stamp,) = os.listdir(os.path.join(out, "previous"))
    kept = snapshot(os.path.join(out, "previous", stamp))
    assert kept == before
    assert load_checkpoint(os.path.join(out, "ckpt.npz"))["step"] == 3
    steps = [json.loads(line)["step"] for line in open(os.path.join(out, "log.jsonl"))]
    assert max(steps) == 3  # the new log is one run


def test_best_and_last_overfitting_warning_and_early_stop(tmp_path, monkeypatch):
    # evaluations at steps 2, 4, 6, 8: val falls, then rises while train keeps falling
    scripted = iter([(2.0, 2.1), (1.5, 1.6), (1.2, 1.7), (1.0, 1.8), (0.8, 1.9)])
    monkeypatch.setattr(train_module, "estimate_loss",
                        lambda *a: dict(zip(("train", "val"), next(scripted))))
    messages = []
    trainer = Trainer(make_config("tiny", [f"--out_dir={tmp_path}", "--eval_interval=2",
                                           "--checkpoint_interval=100", "--max_iters=10",
                                           "--early_stop_patience=2"]), log=messages.append)
    result = trainer.train()
    assert result["early_stopped"] and result["step"] == 8
    assert (result["best_step"], result["best_val"]) == (4, 1.6)
    assert load_checkpoint(str(tmp_path / "best.npz"))["step"] == 4
    assert load_checkpoint(str(tmp_path / "ckpt.npz"))["step"] == 8
    warning = next(m for m in messages if "overfitting" in m)
    assert "1.6000 -> 1.8000" in warning and "--dropout" in warning and "best.npz" in warning
    assert any("early stop" in m for m in messages)


def test_resume_with_no_flags_is_bit_exact(tmp_path):
    straight = Trainer(make_config("tiny", [f"--out_dir={tmp_path / 'a'}", "--dropout=0.1",
                                            "--max_iters=12"]), log=quiet)
    straight.train()
    run = tmp_path / "b"
    interrupted = Trainer(make_config("tiny", [f"--out_dir={run}", "--dropout=0.1",
                                               "--max_iters=12"]), log=quiet)
    step = interrupted.train_step

    def stop_at_7():  # as if Ctrl-C came after step 7
        record = step()
        interrupted._interrupted = interrupted.step == 7
        return record
    interrupted.train_step = stop_at_7
    assert interrupted.train()["step"] == 7
    assert main(["train", "--resume", str(run), "--eval-samples=2"]) == 0
    a, b = load_checkpoint(str(tmp_path / "a" / "ckpt.npz")), load_checkpoint(str(run / "ckpt.npz"))
    assert b["step"] == 12 and b["train_config"] == a["train_config"] | {"out_dir": str(run)}
    for name in a["model"]:
        np.testing.assert_array_equal(a["model"][name], b["model"][name], err_msg=name)
    log = lambda d: [(r["step"], r["loss"]) for r in map(json.loads, open(d / "log.jsonl"))  # noqa
                     if "loss" in r]
    assert log(tmp_path / "a") == log(run)  # one series, no repeated steps
    assert (tmp_path / "a" / "samples.txt").read_text() == (run / "samples.txt").read_text()


def test_resume_refuses_flags_that_change_the_run(tmp_path, capsys):
    Trainer(make_config("tiny", [f"--out_dir={tmp_path}", "--max_iters=2"]), log=quiet).train()
    assert main(["train", "--resume", str(tmp_path), "--lr=0.5", "--n_layer=2"]) == 2
    err = capsys.readouterr().err
    assert "--lr=0.5 (the run has 0.01)" in err and "--n_layer=2 (the run has 1)" in err
    assert "max_iters" in err  # what may change


def test_output_to_a_pipe_is_plain_lines(tmp_path, capsys):
    assert main(["train", "--preset", "tiny", f"--out_dir={tmp_path}", "--progress=true",
                 "--eval-samples=2"]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    assert "step 1/20: loss" in captured.out and "ETA" in captured.out


@pytest.mark.parametrize("error, words", [
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (PermissionError(errno.EROFS, "Read-only file system"), "Read-only file system"),
])
def test_a_failing_save_is_a_clear_error_and_keeps_the_previous_checkpoint(
        tmp_path, monkeypatch, capsys, error, words):
    Trainer(make_config("tiny", [f"--out_dir={tmp_path}", "--max_iters=10"]), log=quiet).train()
    before = open(tmp_path / "ckpt.npz", "rb").read()

    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr("tempfile.mkstemp", fail)
    assert main(["train", "--resume", str(tmp_path), "--max_iters=20"]) == 2
    err = capsys.readouterr().err
    assert words in err and "previous checkpoint there is intact" in err
    assert err.count("\n") == 1
    assert open(tmp_path / "ckpt.npz", "rb").read() == before
    with pytest.raises(SaveError, match="step 10 to"):
        Trainer.resume_from(str(tmp_path), log=quiet).save()


@pytest.mark.slow
def test_ctrl_c_before_the_first_eval_saves_says_so_and_never_says_inf(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tinygrad_lm", "train", "--preset", "tiny",
                             "--max_iters=100000", "--eval_interval=100000", "--progress=true",
                             "--checkpoint_interval=100000", f"--out_dir={out}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the first step's progress line is printed inside the loop, after Ctrl-C is caught
    first = read_until(proc, lambda line: line.startswith("step 1/"))
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stdout = "".join(first) + stdout
    assert proc.returncode == 0, stderr
    assert "interrupted: checkpoint saved" in stdout and "--resume" in stdout
    assert "before the first evaluation" in stdout and " inf" not in stdout
    assert "\r" not in stdout + stderr
    assert load_checkpoint(str(out / "ckpt.npz"))["step"] > 0


def test_a_large_train_val_gap_is_called_overfitting(tmp_path):
    trainer = Trainer(make_config("tiny", [f"--out_dir={tmp_path}"]), log=quiet)
    patience = trainer.cfg.overfit_patience
    assert "8.4x train loss" in overfitting_warning([[100, 0.09, 0.76]], patience, 100, 0.76)
    assert overfitting_warning([[100, 0.9, 1.0]], patience, 100, 1.0) is None


def test_resuming_drops_what_was_written_after_the_checkpoint(tmp_path):
    from tinygrad_lm.training.run_dir import trim_log, trim_samples
    log, samples = tmp_path / "log.jsonl", tmp_path / "samples.txt"
    log.write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in (1, 10, 20)))
    samples.write_text("--- step 10 ---\nthe dog.\n--- step 20 ---\nthe cat.\n")
    assert trim_log(str(log), 10) == 1
    trim_samples(str(samples), 10)
    assert [json.loads(line)["step"] for line in log.open()] == [1, 10]
    assert samples.read_text() == "--- step 10 ---\nthe dog.\n"
