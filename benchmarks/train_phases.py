"""Where the time of `tinygrad-lm train` goes: CPU and wall seconds per phase of one run.

Runs the command in this process (any `train` arguments; default: the README's first-hour
run) with each phase wrapped in a timer: the training steps, the evaluations (loss estimate,
sample, best.npz), checkpoint saves, the health statistics, the figures, and, after training,
the task metric. CPU time (`time.process_time`, every thread of the process) is the figure to
read on a shared machine: a process waiting for a core does not accumulate it.

    python benchmarks/train_phases.py                          # the grammar run, 3000 steps
    python benchmarks/train_phases.py --max_iters=600 --out_dir=/tmp/phases
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time

from tinygrad_lm import cli
from tinygrad_lm.training import trainer as train_module

HERE = os.path.dirname(os.path.abspath(__file__))

# (owner, attribute, label): what is timed, in the order the table explains it
PHASES = [
    (train_module.Trainer, "__init__", "setup (data, model, optimizer)"),
    (train_module.Trainer, "train_step", "training steps"),
    (train_module, "health_snapshot", "  of which: health statistics"),
    (train_module, "estimate_loss", "evaluation: loss estimate"),
    (train_module, "training_sample", "evaluation: sample"),
    (train_module.Trainer, "save", "checkpoint saves (ckpt.npz, best.npz)"),
    (train_module, "plot_loss", "figure: loss.png"),
    (train_module, "plot_health", "figure: health.png"),
    (train_module, "plot_attention", "figure: attention.png"),
    (cli, "load_any", "after training: load best.npz"),
    (cli, "_sample_with", "after training: sample"),
    (cli, "evaluate_task", "after training: task metric"),
]


def timed(owner, name: str, label: str, totals: dict) -> None:
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            row = totals.setdefault(label, {"cpu_s": 0.0, "wall_s": 0.0, "calls": 0})
            row["cpu_s"] += time.process_time() - cpu
            row["wall_s"] += time.perf_counter() - wall
            row["calls"] += 1
    setattr(owner, name, wrapper)


def main(argv: list[str]) -> dict:
    totals: dict = {}
    for owner, name, label in PHASES:
        timed(owner, name, label, totals)
    if not any(a.startswith("--out_dir") for a in argv):
        argv = [*argv, f"--out_dir={tempfile.mkdtemp(prefix='train_phases_')}"]
    cpu, wall = time.process_time(), time.perf_counter()
    cli.main(["train", *argv])
    total = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    print(f"\n{'phase':<40} {'cpu s':>8} {'share':>6} {'wall s':>8} {'calls':>6}")
    for _, _, label in PHASES:
        row = totals.get(label, {"cpu_s": 0.0, "wall_s": 0.0, "calls": 0})
        print(f"{label:<40} {row['cpu_s']:8.1f} {row['cpu_s'] / total['cpu_s']:6.1%} "
              f"{row['wall_s']:8.1f} {row['calls']:6d}")
    print(f"{'the whole command':<40} {total['cpu_s']:8.1f} {1:6.0%} {total['wall_s']:8.1f}")
    result = {"argv": argv, "phases": totals, "total": total, "date": time.strftime("%Y-%m-%d")}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "train_phases.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
