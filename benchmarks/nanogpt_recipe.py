"""nanoGPT's own CPU recipe for Shakespeare characters against `tinygrad-lm train --preset
shakespeare-char`, end to end: wall time to step 2000 and the validation loss there.

nanoGPT (github.com/karpathy/nanoGPT, MIT) is not a dependency and is never copied into this
repository: the script runs the clone that --nanogpt-dir or NANOGPT_DIR names, else ../nanoGPT
beside the repository (where tests/test_nanogpt.py looks too). Without one it says why and
exits 0; without PyTorch it runs our side alone. The text is a file you give (--text, else the
shared copy of Tiny Shakespeare); nothing is downloaded. Each round, in a fresh temporary
directory (the caller's directory is never written):

- nanoGPT: `data/shakespeare_char/prepare.py` on our copy of the text as its input.txt
  (prepare.py downloads only when input.txt is missing), then the README's CPU command,
  `train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
  --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
  --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`. train.py sets no thread count, so a
  short launcher calls torch.set_num_threads(n) and runs train.py with runpy, n being the
  threads ours uses (one per core this process may run on).
- ours: `python -m tinygrad_lm train --preset shakespeare-char --data input.txt --out_dir=...`
  from this source tree.

The two run one after the other, never at once; with --rounds N the order alternates. Timed
from this process, by the moment each line of the child's output arrives:

- wall: from launch to the line of the evaluation at the last step (`step 2000: train loss X,
  val loss Y`, the same words on both sides), plus, for nanoGPT, prepare.py's run (ours
  prepares its data inside `train`). What comes after that line (nanoGPT's one more step; our
  figures, sample and task metric) is left out, but kept in the JSON as `process_s`.
- training: from the last line each prints before its loop (ours: "training a ...-parameter
  GPT", nanoGPT: "using fused AdamW") to that evaluation line: the steps and evaluations,
  without imports, data preparation and model construction.

The targets printed against: our wall <= nanoGPT's / 1.3, and our val loss at the last step
<= nanoGPT's + 0.01. A 20-batch estimate is noisy, so after the first round both final models
are evaluated again by our evaluation code on the same --final-eval-iters validation batches
(nanoGPT's ckpt.pt read with torch's weights-only loader, as a GELU-exact model of ours), which
measures the difference with a standard error and the noise of one 20-batch estimate.

Both trainers are deterministic, so more rounds only time them again; with --vary-seed round
r trains both with seed 1337 + r (nanoGPT's through the launcher, since train.py seeds torch
itself) and re-evaluates each round's pair, because the val loss moves from seed to seed by
about as much as the 0.01 target.

The settings of both are compared (nanoGPT's read from its train.py and config file as
literals, never executed); KNOWN_DIFFERENCES lists what a setting cannot show.

    python benchmarks/nanogpt_recipe.py [--nanogpt-dir DIR] [--text FILE] [--rounds N]
        [--vary-seed] [--max-iters N] [--final-eval-iters N] [--results-dir DIR]

--max-iters 50 is a quick check of the plumbing (its evaluation comes at the last step).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _common import print_table, write_json  # noqa: E402
from _nanogpt import (  # noqa: E402
    KNOWN_DIFFERENCES,
    compare_settings,
    eval_line,
    final_models_on_same_batches,
    nanogpt_location,
    parse_output,
)

from tinygrad_lm.kernels import threads  # noqa: E402

TEXTS = [os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")),
         "/work/shared/data/tinyshakespeare.txt"]
RECIPE_STEPS, EVAL_INTERVAL, SEED = 2000, 250, 1337
WALL_TARGET, LOSS_TARGET = 1.3, 0.01

# train.py leaves torch's threads at its default; the launcher fixes them first. train.py
# imports model.py from its own folder, which runpy does not put on sys.path.
LAUNCH_TRAIN = """import runpy, sys
import torch
torch.set_num_threads({threads})
{reseed}sys.path.insert(0, {clone!r})
sys.argv = [{train!r}, *{args!r}]
runpy.run_path({train!r}, run_name="__main__")
"""
# --vary-seed: train.py seeds torch with 1337 itself (torch.manual_seed(1337 + seed_offset))
RESEED = """_manual_seed = torch.manual_seed
torch.manual_seed = lambda seed: _manual_seed(seed + {offset})
"""
# prepare.py imports requests at the top, but uses it only when input.txt is missing
LAUNCH_PREPARE = """import runpy, sys, types
try:
    import requests  # noqa: F401
except ImportError:
    sys.modules["requests"] = types.ModuleType("requests")
runpy.run_path({prepare!r}, run_name="__main__")
"""


def recipe_flags(steps: int) -> list[str]:
    """The README's flags, for `steps` steps (the schedule decays over all of them). A run
    shorter than the recipe's evaluates once, at its end: nanoGPT evaluates only at multiples
    of eval_interval, ours at those and at the last step."""
    interval = EVAL_INTERVAL if steps % EVAL_INTERVAL == 0 else steps
    flags = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1",
             "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128",
             f"--max_iters={steps}", f"--lr_decay_iters={steps}", "--dropout=0.0"]
    return flags + ([f"--eval_interval={interval}"] if interval != EVAL_INTERVAL else [])


def our_flags(steps: int) -> list[str]:
    """What ours needs on top of its preset to run `steps` steps as recipe_flags(steps) does."""
    if steps == RECIPE_STEPS:
        return []
    interval = EVAL_INTERVAL if steps % EVAL_INTERVAL == 0 else steps
    return [f"--max_iters={steps}", f"--lr_decay_iters={steps}", f"--eval_interval={interval}",
            f"--checkpoint_interval={interval}"]


def run_child(cmd: list[str], cwd: str, env: dict, label: str, setup_line: str) -> dict:
    """Run `cmd`, timestamping each line of its output as it arrives; return the timings and
    the evaluations it printed (see parse_output). Raises RuntimeError with the end of its
    stderr when it fails."""
    lines = []
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"},
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                encoding="utf-8", errors="replace")
        for line in proc.stdout:
            lines.append((time.perf_counter() - t0, line.rstrip("\n")))
            got = eval_line(lines[-1][1])
            if got is not None:
                print(f"  {label:<8} step {got[0]}: val loss {got[2]:.4f} "
                      f"({lines[-1][0]:.0f} s)", flush=True)
        proc.wait()
        total = time.perf_counter() - t0
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{label} failed (exit status {proc.returncode}):\n"
                               + err.read()[-1500:])
    run = parse_output(lines, setup_line)
    if not run["evals"]:
        raise RuntimeError(f"{label} printed no evaluation (`step N: train loss X, val loss Y`)")
    run["process_s"] = total
    return run


def run_nanogpt(clone: str, work: str, text: str, steps: int, n_threads: int,
                offset: int = 0) -> dict:
    """prepare.py on the text, then train.py with the recipe's flags (torch seeded with 1337 +
    offset), in `work`; returns run_child's record with `prepare_s` and `wall_s` (prepare +
    launch to the last eval)."""
    data = os.path.join(work, "data", "shakespeare_char")
    os.makedirs(data)
    shutil.copyfile(text, os.path.join(data, "input.txt"))
    shutil.copyfile(os.path.join(clone, "data", "shakespeare_char", "prepare.py"),
                    os.path.join(data, "prepare.py"))
    # train.py execs configurator.py from its working directory, which also holds data/
    shutil.copyfile(os.path.join(clone, "configurator.py"),
                    os.path.join(work, "configurator.py"))
    env = dict(os.environ)
    t0 = time.perf_counter()
    prep = subprocess.run([sys.executable, "-c", LAUNCH_PREPARE.format(
        prepare=os.path.join(data, "prepare.py"))], cwd=work, env=env, capture_output=True,
        text=True)
    prepare_s = time.perf_counter() - t0
    if prep.returncode != 0:
        raise RuntimeError(f"nanoGPT's prepare.py failed:\n{prep.stderr[-1500:]}")
    args = [os.path.join(clone, "config", "train_shakespeare_char.py"), *recipe_flags(steps)]
    code = LAUNCH_TRAIN.format(threads=n_threads, clone=clone,
                               reseed=RESEED.format(offset=offset) if offset else "",
                               train=os.path.join(clone, "train.py"), args=args)
    run = run_child([sys.executable, "-c", code], work, env, "nanoGPT", "using fused AdamW")
    run["prepare_s"] = prepare_s
    run["wall_s"] = prepare_s + run["to_last_eval_s"]
    run["ckpt"] = os.path.join(work, "out-shakespeare-char", "ckpt.pt")
    return run


def run_ours(work: str, text: str, steps: int, offset: int = 0, extra: tuple = ()) -> dict:
    """`tinygrad-lm train --preset shakespeare-char` from this tree (seed 1337 + offset), into
    work/out, with `extra` flags after the recipe's."""
    out = os.path.join(work, "out")
    cmd = [sys.executable, "-m", "tinygrad_lm", "train", "--preset", "shakespeare-char",
           "--data", text, f"--out_dir={out}", *our_flags(steps), *extra]
    cmd += [f"--seed={SEED + offset}"] if offset else []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    run = run_child(cmd, work, env, "ours", "training a ")
    run["wall_s"] = run["to_last_eval_s"]
    run["ckpt"] = os.path.join(out, "ckpt.npz")
    return run


def one_round(index: int, clone: str, text: str, args, n_threads: int, with_torch: bool):
    """Both sides, ours first in even rounds, then the paired re-evaluation of both final
    models (before their temporary directory goes): in the first round, or in each when the
    seed varies by round."""
    offset = index if args.vary_seed else 0
    with tempfile.TemporaryDirectory(prefix="nanogpt_recipe_") as tmp:
        ours_dir, theirs_dir = os.path.join(tmp, "ours"), os.path.join(tmp, "nanogpt")
        os.makedirs(ours_dir)
        order = ["ours", "nanogpt"] if index % 2 == 0 else ["nanogpt", "ours"]
        runs = {}
        for side in order:
            if side == "ours":
                runs["ours"] = run_ours(ours_dir, text, args.max_iters, offset,
                                       args.ours_flag)
            elif with_torch:
                runs["nanogpt"] = run_nanogpt(clone, theirs_dir, text, args.max_iters,
                                              n_threads, offset)
        final = None
        if with_torch and args.final_eval_iters and (index == 0 or args.vary_seed):
            final = final_models_on_same_batches(runs["ours"]["ckpt"], runs["nanogpt"]["ckpt"],
                                                 args.max_iters, args.final_eval_iters)
        for run in runs.values():
            run.pop("ckpt")
        return runs, final


def summarise(rounds: list[dict], steps: int) -> dict:
    """Medians over rounds of each side's times; the mean over rounds of the val loss at the
    last step (the same in every round unless the seed varies)."""
    out = {}
    for side in ("ours", "nanogpt"):
        got = [r[side] for r in rounds if side in r]
        if not got:
            continue
        last = got[0]["evals"][-1]
        if last[0] != steps:
            raise RuntimeError(f"{side}: no evaluation at step {steps} (last at {last[0]})")
        out[side] = {k: statistics.median(r[k] for r in got)
                     for k in ("wall_s", "training_s", "process_s")}
        out[side]["val_losses_by_round"] = [r["evals"][-1][2] for r in got]
        out[side]["val_loss"] = statistics.mean(out[side]["val_losses_by_round"])
    return out


def report(summary: dict, rounds: list[dict], steps: int, finals: list[dict]) -> dict:
    """Print the tables and the targets; return which targets were met."""
    ours, theirs = summary["ours"], summary.get("nanogpt")
    rows, met = [], {}
    for key, label in (("wall_s", f"wall s, launch to step {steps}'s evaluation"),
                       ("training_s", "training s (steps and evaluations)")):
        ratio = theirs[key] / ours[key] if theirs else None
        row = [label, f"{ours[key]:.1f}", f"{theirs[key]:.1f}" if theirs else "-",
               f"{ratio:.2f}" if ratio else "-"]
        if key == "wall_s":
            met["wall"] = ratio >= WALL_TARGET if ratio else None
            row += [f">= {WALL_TARGET}", {True: "met", False: "missed", None: "-"}[met["wall"]]]
        rows.append(row + ([] if key == "wall_s" else ["", ""]))
    print_table(f"time, median of {len(rounds)} round(s)",
                ["", "ours", "nanoGPT", "nanoGPT/ours", "target", ""], rows)
    curves = {s: {e[0]: e[2] for e in rounds[0][s]["evals"]} for s in rounds[0]}
    steps_seen = sorted(set().union(*(c.keys() for c in curves.values())))
    rows = []
    for s in steps_seen:
        o, t = curves["ours"].get(s), curves.get("nanogpt", {}).get(s)
        rows.append([str(s), "-" if o is None else f"{o:.4f}", "-" if t is None else f"{t:.4f}",
                     f"{o - t:+.4f}" if o is not None and t is not None else "-"])
    print_table("val loss at each evaluation (eval_iters=20; first round)",
                ["step", "ours", "nanoGPT", "ours - nanoGPT"], rows)
    if theirs:
        diff = ours["val_loss"] - theirs["val_loss"]
        met["val_loss"] = diff <= LOSS_TARGET
        varied = any(len(set(x["val_losses_by_round"])) > 1 for x in (ours, theirs))
        print(f"target: our val loss at step {steps} <= nanoGPT's + {LOSS_TARGET}"
              f"{' (means over rounds)' if varied else ''}: "
              f"{ours['val_loss']:.4f} vs {theirs['val_loss']:.4f} ({diff:+.4f}), "
              f"{'met' if met['val_loss'] else 'missed'}")
    for final in finals:
        print(final["summary"])
    if len(finals) > 1:  # one difference per seed: their spread is the seed-to-seed noise
        diffs = [f["difference"] for f in finals]
        print(f"over {len(diffs)} seeds, re-evaluated: ours - nanoGPT {statistics.mean(diffs):+.4f}"
              f" +- {statistics.stdev(diffs) / len(diffs) ** 0.5:.4f}")
    return met


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nanogpt-dir", default=None,
                        help="a nanoGPT clone (else NANOGPT_DIR, else ../nanoGPT)")
    parser.add_argument("--text", default=None,
                        help="the text to train on (default: the shared tinyshakespeare.txt)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each side, alternating")
    parser.add_argument("--max-iters", type=int, default=RECIPE_STEPS,
                        help=f"steps (default the recipe's {RECIPE_STEPS}; 50 for a quick check)")
    parser.add_argument("--vary-seed", action="store_true",
                        help=f"round r trains with seed {SEED} + r on both sides, to see the "
                             "val loss's seed-to-seed spread")
    parser.add_argument("--final-eval-iters", type=int, default=200,
                        help="validation batches of the paired re-evaluation (0: none)")
    parser.add_argument("--ours-flag", action="append", default=[], metavar="FLAG",
                        help="a `tinygrad-lm train` flag for our side on top of the recipe's "
                             "(repeatable), e.g. --ours-flag=--activation=gelu to test where a "
                             "val loss difference comes from")
    parser.add_argument("--results-dir", default=None,
                        help="where the JSON goes (default benchmarks/results/)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.max_iters < 1 or args.final_eval_iters < 0:
        parser.error("--rounds and --max-iters must be at least 1, --final-eval-iters >= 0")
    if args.text is not None and not os.path.isfile(args.text):
        parser.error(f"--text {args.text}: no such file")
    clone, why = nanogpt_location(args.nanogpt_dir)
    text = args.text or next((p for p in TEXTS if os.path.isfile(p)), None)
    if clone is None or text is None:
        why = why or "no text to train on: pass --text FILE (Tiny Shakespeare's input.txt)"
        print(f"nanogpt_recipe.py skipped: {why}")
        return 0
    text = os.path.abspath(text)  # both trainers run in directories of their own
    with_torch = importlib.util.find_spec("torch") is not None
    n_threads = threads.num_threads()
    print(f"nanoGPT from {clone}, text {text}, {args.max_iters} steps, {n_threads} threads "
          f"each, load average {[round(v, 2) for v in os.getloadavg()]}")
    if not with_torch:
        print("nanoGPT's side skipped: PyTorch is not installed (pip install torch); ours alone")
    try:
        settings = compare_settings(clone, recipe_flags(args.max_iters),
                                    our_flags(args.max_iters) + args.ours_flag)
    except (ValueError, SystemExit) as e:
        parser.error(f"--ours-flag {' '.join(args.ours_flag)}: {e}")
    for line in settings["lines"]:
        print(line)
    rounds, finals = [], []
    for index in range(args.rounds):
        print(f"round {index + 1} of {args.rounds}")
        try:
            runs, got = one_round(index, clone, text, args, n_threads, with_torch)
        except RuntimeError as e:
            print(f"nanogpt_recipe.py: {e}", file=sys.stderr)
            return 1
        rounds.append(runs)
        finals += [got] if got else []
    summary = summarise(rounds, args.max_iters)
    met = report(summary, rounds, args.max_iters, finals)
    path = write_json("nanogpt_recipe", {
        "commit": git_commit(ROOT), "nanogpt_dir": clone, "nanogpt_commit": git_commit(clone),
        "text": os.path.abspath(text), "max_iters": args.max_iters, "threads": n_threads,
        "recipe_flags": recipe_flags(args.max_iters),
        "our_flags": our_flags(args.max_iters) + args.ours_flag,
        "settings": settings["compared"], "setting_differences": settings["differences"],
        "known_differences": KNOWN_DIFFERENCES, "summary": summary, "targets_met": met,
        "vary_seed": args.vary_seed, "final_evals": finals, "rounds": rounds}, args.results_dir)
    print(f"wrote {path}")
    return 0


def git_commit(where: str) -> str | None:
    """The short commit of a git work tree (None for a copy without .git: a parent folder's
    repository would answer instead)."""
    if not os.path.exists(os.path.join(where, ".git")):
        return None
    out = subprocess.run(["git", "-C", where, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return (out.stdout.strip() or None) if out.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())
