"""Regenerate the reference loss curves shipped in tinygrad_lm/training/reference_curves/.

    python benchmarks/reference_curves.py                 # every preset below, its seeds
    python benchmarks/reference_curves.py tiny grammar    # only these
    python benchmarks/reference_curves.py grammar --until 1000 --jobs 3

Each preset trains once per seed with the reference implementation (this repository, not a
student copy) and its own settings; the evaluations go to <preset>.json with the seeds and the
settings (`signature`) a run must share to be checked against it. Why here, beside the
benchmarks: like them it measures the reference code, costs CPU minutes, and is rerun by hand
when the code changes what a run computes (a new initialisation, a new schedule). A curve is
not a timing: it reads the same on any machine, up to float rounding.

--until STEP stops each run at STEP, with the preset's own schedule (max_iters is not part of
what a run is compared on): a shorter curve, checked up to that step only, for when CPU time
is short. --jobs N trains N seeds at once, in separate processes.
"""

import argparse
import dataclasses
import os
import sys
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tinygrad_lm.course.stand_ins import STAND_INS  # noqa: E402
from tinygrad_lm.training.config import make_config  # noqa: E402
from tinygrad_lm.training.reference_curves import CURVE_DIR, record_run, write_curve  # noqa: E402
from tinygrad_lm.training.trainer import Trainer  # noqa: E402

# preset -> seeds. The short presets first: `tiny` (20 steps) takes seconds, `addition` and
# `grammar` minutes per seed on two cores. `shakespeare-char` needs --data (a text file) and
# `finetune` a downloaded GPT-2, so they have no built-in curve.
SEEDS = {"tiny": [0, 1, 2, 3, 4], "grammar": [0, 1, 2], "addition": [0, 1, 2]}


def train(cfg):
    trainer = Trainer(cfg, log=lambda text: None)
    trainer.train()
    return trainer.evals, trainer.cfg


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("presets", nargs="*", help=f"default: {' '.join(SEEDS)}")
    p.add_argument("--until", type=int, help="stop every run at this step")
    p.add_argument("--jobs", type=int, default=1, help="seeds trained at once")
    args = p.parse_args(argv)
    if STAND_INS:
        sys.exit("this is a student copy: reference curves come from the reference code only")
    for name in args.presets or list(SEEDS):
        if name not in SEEDS:
            sys.exit(f"no curve recipe for {name!r}; recipes: {', '.join(SEEDS)}")
        cfg = make_config(name)
        if args.until:
            cfg = dataclasses.replace(cfg, max_iters=min(args.until, cfg.max_iters))
        with ProcessPoolExecutor(max(1, args.jobs)) as pool:
            parts = list(pool.map(_one_seed, [(name, cfg, s) for s in SEEDS[name]]))
        curve = parts[0]
        for part in parts[1:]:
            if part.steps != curve.steps or part.signature != curve.signature:
                sys.exit(f"{name}: the seeds' runs disagree on steps or settings")
            curve.seeds += part.seeds
            curve.val += part.val
            curve.train += part.train
        path = os.path.join(CURVE_DIR, f"{name}.json")
        write_curve(curve, path)
        print(f"wrote {path}: seeds {curve.seeds}, val loss at step {curve.steps[-1]} "
              f"{min(r[-1] for r in curve.val):.4f}-{max(r[-1] for r in curve.val):.4f}")


def _one_seed(job):
    name, cfg, seed = job
    return record_run(name, cfg, [seed], train)


if __name__ == "__main__":
    main(sys.argv[1:])
