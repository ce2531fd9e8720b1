"""A run's directory: which files belong to a run, and never losing one.

    out/ckpt.npz      the last state (resume from it)       out/log.jsonl    one JSON record a line
    out/best.npz      the state with the lowest val loss    out/samples.txt  samples at each eval
    out/loss.png, health.png, attention.png                 the figures

A new run refuses to start in a directory that holds another run; `overwrite` moves the old
run's files into out/previous/<date-time>/ (nothing is deleted). A resumed run drops the log
records and samples written after the checkpoint it resumes from (a crash between a log line
and the next save), so the log and the plots show one series.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil

from ..formats.checkpoint import CheckpointError, load_checkpoint, write_atomic

RUN_FILES = ("ckpt.npz", "best.npz", "log.jsonl", "samples.txt", "loss.png", "health.png",
             "attention.png")
# The files that make a directory hold a run (figures alone do not).
MARKERS = ("ckpt.npz", "best.npz", "log.jsonl")


class RunExistsError(RuntimeError):
    """The output directory already holds another run."""


def run_files(out_dir: str) -> list[str]:
    """The RUN_FILES present in out_dir."""
    return [name for name in RUN_FILES if os.path.exists(os.path.join(out_dir, name))]


def holds_run(out_dir: str) -> bool:
    """True when out_dir has a checkpoint or a log (figures alone do not count)."""
    return any(os.path.exists(os.path.join(out_dir, name)) for name in MARKERS)


def describe_run(out_dir: str) -> str:
    """'step 3000 of 3000, saved 2026-12-01 19:50, 3 layers x 96 on grammar' (what is known)."""
    ckpt = os.path.join(out_dir, "ckpt.npz")
    path = ckpt if os.path.exists(ckpt) else os.path.join(out_dir, MARKERS[-1])
    when = datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime("%Y-%m-%d %H:%M")
    if not os.path.exists(ckpt):
        return f"a run without a checkpoint, last written {when}"
    try:
        state = load_checkpoint(ckpt)
        cfg, model = state["train_config"], state["model_config"]
        data = cfg.get("data") or cfg.get("dataset")
        return (f"step {state['step']} of {cfg.get('max_iters')}, saved {when}, "
                f"n_layer={model['n_layer']}, n_embd={model['n_embd']}, data {data!r}")
    except (CheckpointError, KeyError, TypeError):
        return f"an unreadable checkpoint written {when}"


def refuse_existing(out_dir: str) -> None:
    """Raise RunExistsError, naming the run and the three ways on, if out_dir holds one."""
    if holds_run(out_dir):
        raise RunExistsError(
            f"{out_dir}/ already holds a run ({describe_run(out_dir)}). Continue it with "
            f"--resume {out_dir}, train into another directory with --out_dir=NEW, or pass "
            f"--overwrite to move the old run into {out_dir}/previous/ and start again (in "
            "Python: Trainer.resume_from(out_dir) or Trainer(config, overwrite=True))")


def move_aside(out_dir: str) -> str | None:
    """Move the run's files into out_dir/previous/<date-time>/; return that folder."""
    names = run_files(out_dir)
    if not names:
        return None
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = os.path.join(out_dir, "previous", stamp)
    n = 1
    while os.path.exists(target):
        n += 1
        target = os.path.join(out_dir, "previous", f"{stamp}-{n}")
    os.makedirs(target)
    for name in names:
        shutil.move(os.path.join(out_dir, name), os.path.join(target, name))
    return target


def trim_log(log_path: str, step: int) -> int:
    """Drop the records after `step` from a JSON-lines log; return how many were dropped."""
    if not os.path.exists(log_path):
        return 0
    with open(log_path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        write_atomic(log_path, lambda f: f.write("".join(kept).encode("utf-8")))
    return len(lines) - len(kept)


def trim_samples(samples_path: str, step: int) -> None:
    """Drop the samples.txt blocks ('--- step N ---' and the text after it) after `step`."""
    if not os.path.exists(samples_path):
        return
    with open(samples_path, encoding="utf-8") as f:
        text = f.read()
    blocks = re.split(r"(?m)^(?=--- step \d+ ---$)", text)
    kept = [b for b in blocks if not b.startswith("--- step ")
            or int(b.split()[2]) <= step]
    if len(kept) != len(blocks):
        write_atomic(samples_path, lambda f: f.write("".join(kept).encode("utf-8")))
