"""A/B benchmark of two source trees: the same training step timed alternately in each.

Two versions of the package cannot share a process, so each tree gets one long-lived worker
process (PYTHONPATH set to that tree) that builds configs A and B once and then times training
steps on request. The parent asks the workers in turn, round after round, in an order rotated
every round, so that both trees see the same machine load (the machine is shared: medians and
the spread of per-round medians are reported, and the new/old ratio per round). Only one worker
computes at a time. A tree whose GPTConfig has `fused` is also timed with fused=False (the
spelled-out path). Both wall time and the process's CPU time (all its threads) are recorded:
on a machine shared with other jobs the wall time measures the load as much as the code, and
the CPU time, which a waiting process does not accumulate, is the steadier figure.

    git worktree add /tmp/old <commit>
    python benchmarks/ab_commits.py --old /tmp/old --new . [--configs A,B,A0,L8] [--rounds 8]
    python benchmarks/ab_commits.py --old /tmp/old --configs G4x64 --fused-only

(A0 is config A's graph at toy widths, to compare the per-op overhead of two trees; L8 is
lesson 8's model, small enough that no kernel splits its work; G4x64 and G8x256 are GPT-2
small's training step at batch 4 x 64 and 8 x 256. --fused-only skips the fused=False runs.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = {
    "A": dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch=16),
    "B": dict(vocab_size=65, block_size=128, n_layer=6, n_head=6, n_embd=192, batch=32),
    # A's graph at toy widths: its step is almost all per-op overhead (see overhead.py)
    "A0": dict(vocab_size=65, block_size=4, n_layer=4, n_head=4, n_embd=8, batch=1),
    # lesson 8's GPTs: a small model none of whose kernels splits its work
    "L8": dict(vocab_size=32, block_size=32, n_layer=4, n_head=4, n_embd=32, batch=16),
    # GPT-2 small (issue 17), at block_size = T: the step's shapes are those of T tokens
    "G4x64": dict(vocab_size=50257, block_size=64, n_layer=12, n_head=12, n_embd=768, batch=4),
    "G8x256": dict(vocab_size=50257, block_size=256, n_layer=12, n_head=12, n_embd=768, batch=8),
}

WORKER = r'''
import contextlib, json, sys, time
import numpy as np
import tinygrad_lm as tg
from tinygrad_lm import optim
tuning = contextlib.ExitStack()  # for the whole worker, as `tinygrad-lm train` runs
if hasattr(tg, "tuned_for_training"):
    tuning.enter_context(tg.tuned_for_training())
elif hasattr(tg.kernels, "keep_freed_memory"):
    tg.kernels.keep_freed_memory()  # older trees: the trainer switched it on for good
# (older still switched it on when the backend loaded)
configs = json.loads(sys.argv[1])
has_fused = "fused" in tg.GPTConfig.__dataclass_fields__
spelled_out_too = sys.argv[2] == "1"
steps = {}
for name, c in configs.items():
    for fused in ([True, False] if has_fused and spelled_out_too else [True] if has_fused
                  else [None]):
        fields = {k: v for k, v in c.items() if k != "batch"}
        if fused is not None:
            fields["fused"] = fused
        model = tg.GPT(tg.GPTConfig(**fields), seed=0)
        opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                          betas=(0.9, 0.99))
        rng = np.random.default_rng(0)
        x = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))
        y = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))
        def step(model=model, opt=opt, x=x, y=y):
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            optim.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        for _ in range(3):
            step()
        steps[f"{name}/{'fused' if fused in (True, None) else 'spelled-out'}"] = step
print(json.dumps(sorted(steps)), flush=True)
for line in sys.stdin:
    key, n = line.split()
    steps[key]()  # untimed: absorbs the switch from the other worker
    wall, cpu = [], []
    for _ in range(int(n)):
        t0, c0 = time.perf_counter(), time.process_time()
        steps[key]()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps([wall, cpu]), flush=True)
'''


def start(tree: str, configs: dict, spelled_out: bool) -> tuple[subprocess.Popen, list[str]]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    proc = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(configs),
                             str(int(spelled_out))], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=os.path.abspath(tree))
    return proc, json.loads(proc.stdout.readline())


def ask(proc: subprocess.Popen, key: str, n: int) -> list[float]:
    proc.stdin.write(f"{key} {n}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="the tree to compare against")
    ap.add_argument("--new", default=os.path.dirname(HERE))
    ap.add_argument("--configs", default="A,B")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--block", type=int, default=3, help="timed steps per turn")
    ap.add_argument("--fused-only", action="store_true",
                    help="leave out the spelled-out path (GPT-2 small's is slow and large)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "ab_commits.json"))
    args = ap.parse_args(argv)
    configs = {k: CONFIGS[k] for k in args.configs.split(",")}
    workers = {}
    for side, tree in (("old", args.old), ("new", args.new)):
        workers[side] = start(tree, configs, not args.fused_only)
    jobs = [(side, key) for side, (_, keys) in workers.items() for key in keys]
    per_round = {(job, clock): [] for job in jobs for clock in ("wall", "cpu")}
    for r in range(args.rounds):
        for side, key in jobs[r % len(jobs):] + jobs[:r % len(jobs)]:
            wall, cpu = ask(workers[side][0], key, args.block)
            per_round[((side, key), "wall")].append(statistics.median(wall))
            per_round[((side, key), "cpu")].append(statistics.median(cpu))
    for proc, _ in workers.values():
        proc.stdin.close()
        proc.wait()
    result = {"rounds": args.rounds, "block": args.block, "old": args.old, "new": args.new,
              "ms": {}, "ratio_new_over_old": {}}
    print(f"{'tree':<5}{'step':<17}{'clock':<6}{'median':>9}{'min':>9}{'max':>9}   "
          "(ms per step, over rounds)")
    for ((side, key), clock), meds in per_round.items():
        ms = [1e3 * m for m in meds]
        result["ms"][f"{side} {key} {clock}"] = {"median": statistics.median(ms),
                                                 "min": min(ms), "max": max(ms)}
        print(f"{side:<5}{key:<17}{clock:<6}{statistics.median(ms):>9.1f}{min(ms):>9.1f}"
              f"{max(ms):>9.1f}")
    for key in workers["new"][1]:
        old_key = key.split("/")[0] + "/fused"
        if ("old", old_key) not in jobs:
            continue
        for clock in ("cpu", "wall"):
            new, old = per_round[(("new", key), clock)], per_round[(("old", old_key), clock)]
            ratios = [n / o for n, o in zip(new, old)]
            result["ratio_new_over_old"][f"{key} {clock}"] = {
                "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                "of_minima": min(new) / min(old)}
            print(f"new {key} / old {old_key} ({clock}): per-round median "
                  f"{statistics.median(ratios):.3f} (rounds {min(ratios):.3f}..{max(ratios):.3f})"
                  f", ratio of the minima {min(new) / min(old):.3f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
