"""Regenerate the reference loss curves shipped in tinygrad_lm/training/reference_curves/.

    python benchmarks/reference_curves.py                 # every recipe below, its seeds
    python benchmarks/reference_curves.py tiny grammar    # only these
    python benchmarks/reference_curves.py grammar --until 1000 --jobs 3
    python benchmarks/reference_curves.py lesson12-full-shakespeare --shakespeare input.txt
    python benchmarks/reference_curves.py lesson05-quick lesson05-full   # a lesson's own loop

Each recipe trains once per seed with the reference implementation (this repository, not a
student copy) and its own settings; the evaluations go to <recipe>.json with the seeds and the
settings (`signature`) a run must share to be checked against it. A recipe is a preset, the
flags a lesson adds to it, and its text: the preset's built-in data, Tiny Shakespeare (the
shared copy, ../shared/data/tinyshakespeare.txt from the repository, or --shakespeare PATH),
or lesson 12's fallback, the built-in grammar text saved as a file. A text file enters the
signature by the digest of its bytes, so a lesson that writes the same text elsewhere meets
the same curve. Why here, beside the benchmarks: like them it measures the reference code,
costs CPU minutes, and is rerun by hand when the code changes what a run computes (a new
initialisation, a new schedule). A curve is not a timing: it reads the same on any machine, up
to float rounding.

Lessons 5, 6, 7, 8, 11, 13, 14, 15 and 17 train in loops of their own, not through the
Trainer: their recipes (`lesson05-quick`, `lesson05-full`, ...) run the lesson's file once per
seed (LESSONS_SEED), and each run the lesson checks with
`tinygrad_lm.course.lesson_curves.check_run` becomes a curve file of its own, named by the
lesson (lesson05-mlp-k3-quick.json, ...).

--until STEP stops each run at STEP, with the recipe's own schedule (max_iters is not part of
what a run is compared on): a shorter curve, checked up to that step only, for when CPU time
is short. --jobs N trains N seeds at once, in separate processes, the cores shared between them
(--threads sets each one's engine threads).
"""

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tinygrad_lm.course.stand_ins import STAND_INS  # noqa: E402
from tinygrad_lm.data import builtin_dataset  # noqa: E402
from tinygrad_lm.kernels import set_num_threads  # noqa: E402
from tinygrad_lm.training.config import make_config  # noqa: E402
from tinygrad_lm.training.reference_curves import (  # noqa: E402
    CURVE_DIR,
    ReferenceCurve,
    record_run,
    write_curve,
)
from tinygrad_lm.training.trainer import Trainer  # noqa: E402

SHAKESPEARE = os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")


@dataclasses.dataclass
class Recipe:
    """How one curve file is made. `text`: "" for the preset's built-in data, "shakespeare",
    or "grammar:N" (N sentences of the built-in grammar, seed 0, saved as a file: lesson 12's
    text when it finds no Shakespeare)."""
    preset: str
    seeds: list[int]
    overrides: list[str] = dataclasses.field(default_factory=list)
    text: str = ""
    title: str = ""
    pretrained: bool = False  # fine-tunes the directory given as --init-from


def lesson12(quick: bool) -> list[str]:
    """Lesson 12's flags on top of shakespeare-char, as the lesson's Step 4 writes them."""
    steps = 20 if quick else 600
    size = (["--n_layer=1", "--n_embd=32", "--n_head=2", "--batch_size=4", "--block_size=32"]
            if quick else ["--n_layer=2", "--n_embd=64", "--n_head=4", "--batch_size=12",
                           "--block_size=64"])
    return size + [f"--max_iters={steps}", f"--lr_decay_iters={steps}", "--lr=5e-3",
                   "--min_lr=5e-4", "--warmup_iters=20", f"--eval_interval={steps // 5}",
                   f"--eval_iters={2 if quick else 10}"]


def lesson9(quick: bool) -> list[str]:
    """Lesson 9's hand-written loop, told to the Trainer: its model, text, batch and schedule
    (the grammar preset's weight decay, betas and clipping are the loop's), evaluated where the
    loop evaluates, every steps // 7."""
    steps = 40 if quick else 700
    return [f"--n_examples={3000 if quick else 20000}", "--n_layer=2", "--n_head=4",
            f"--n_embd={32 if quick else 64}", "--block_size=64", "--batch_size=16",
            f"--max_iters={steps}", "--lr=3e-3", "--min_lr=3e-4", "--warmup_iters=30",
            f"--lr_decay_iters={steps}", f"--eval_interval={steps // 7}", "--eval_iters=10"]


# recipe -> how. The short ones first: `tiny` (20 steps) takes seconds, the lessons' quick runs
# too, `addition` and `grammar` minutes per seed on two cores. `shakespeare-char` evaluates
# every 50 steps (eval_interval only says when a run is measured, never what it computes), so a
# run checked at the preset's own 250, or a test of 50 steps, finds a reference point.
# `finetune` starts from a pretrained directory (--init-from DIR, Hugging Face's gpt2 for the
# shipped curve) that this repository does not hold; a run meets the curve when its directory
# has the same files (by content: pretrained_digest), wherever it lies.
RECIPES = {
    "tiny": Recipe("tiny", [0, 1, 2, 3, 4]),
    "grammar": Recipe("grammar", [0, 1, 2]),
    "llama": Recipe("llama", [0, 1, 2]),
    "finetune": Recipe("finetune", [0, 1, 2], [], "shakespeare", pretrained=True),
    "addition": Recipe("addition", [0, 1, 2]),
    "shakespeare-char": Recipe("shakespeare-char", [0, 1, 2], ["--eval_interval=50"],
                               "shakespeare", "shakespeare-char, Tiny Shakespeare"),
    "lesson9-quick": Recipe("grammar", [0, 1, 2], lesson9(True), title="lesson 9 quick"),
    "lesson9-full": Recipe("grammar", [0, 1, 2], lesson9(False), title="lesson 9"),
    "lesson12-quick-grammar": Recipe("shakespeare-char", [0, 1, 2], lesson12(True),
                                     "grammar:3000", "lesson 12 quick, grammar text"),
    "lesson12-full-grammar": Recipe("shakespeare-char", [0, 1, 2], lesson12(False),
                                    "grammar:20000", "lesson 12, grammar text"),
    "lesson12-quick-shakespeare": Recipe("shakespeare-char", [0, 1, 2], lesson12(True),
                                         "shakespeare", "lesson 12 quick, Tiny Shakespeare"),
    "lesson12-full-shakespeare": Recipe("shakespeare-char", [0, 1, 2], lesson12(False),
                                        "shakespeare", "lesson 12, Tiny Shakespeare"),
}


# Lessons that train in loops of their own: each recipe runs the lesson's file once per seed
# (LESSONS_SEED), in quick or full mode, and every run the lesson checks with
# tinygrad_lm.course.lesson_curves.check_run becomes a curve file named after that run.
LESSON_FILES = {"lesson05": "05_mlp_language_model.py",
                "lesson06": "06_recurrent_language_model.py",
                "lesson07": "07_causal_self_attention.py", "lesson08": "08_transformer_block.py",
                "lesson11": "11_generation.py", "lesson13": "13_overfitting.py",
                "lesson14": "14_pretraining_and_finetuning.py", "lesson15": "15_looking_inside.py",
                "lesson17": "17_modern_decoder.py"}
LESSON_SEEDS = [0, 1, 2]
LESSON_RECIPES = {f"{lesson}-{mode}": (file, mode == "quick") for lesson, file in
                  LESSON_FILES.items() for mode in ("quick", "full")}


def text_file(spec: str, scratch: str, shakespeare: str) -> tuple[str, str]:
    """(path, name) of a recipe's text: "" for the built-in data."""
    if not spec:
        return "", ""
    if spec == "shakespeare":
        if not os.path.isfile(shakespeare):
            raise FileNotFoundError(f"no Tiny Shakespeare at {shakespeare}; pass --shakespeare")
        return shakespeare, "tinyshakespeare.txt"
    kind, _, n = spec.partition(":")
    assert kind == "grammar", spec
    path = os.path.join(scratch, f"grammar_{n}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(builtin_dataset("grammar", n_examples=int(n)))
    return path, f"the built-in grammar text, {int(n):,} sentences (seed 0) in a file"

def train(cfg):
    trainer = Trainer(cfg, log=lambda text: None)
    trainer.train()
    return trainer.evals, trainer.cfg


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recipes", nargs="*",
                   help=f"default: {' '.join(RECIPES)} {' '.join(LESSON_RECIPES)}")
    p.add_argument("--until", type=int, help="stop every run at this step")
    p.add_argument("--jobs", type=int, default=1, help="seeds trained at once")
    p.add_argument("--threads", type=int,
                   help="the engine's threads in each job (default: the cores shared by the jobs)")
    p.add_argument("--shakespeare", default=SHAKESPEARE, help="Tiny Shakespeare's file")
    p.add_argument("--init-from", default="",
                   help="the pretrained directory `finetune` starts from (Hugging Face's gpt2: "
                        "config.json, model.safetensors, vocab.json, merges.txt)")
    p.add_argument("--out", default=CURVE_DIR, help="where the curve files go")
    args = p.parse_args(argv)
    if STAND_INS:
        sys.exit("this is a student copy: reference curves come from the reference code only")
    # asked for nothing in particular: every recipe, `finetune` only with its --init-from
    names = args.recipes or [n for n, r in RECIPES.items() if args.init_from or not r.pretrained
                             ] + list(LESSON_RECIPES)
    unknown = [n for n in names if n not in RECIPES and n not in LESSON_RECIPES]
    if unknown:
        sys.exit(f"no curve recipe for {unknown[0]!r}; recipes: "
                 f"{', '.join(list(RECIPES) + list(LESSON_RECIPES))}")
    for name in names:
        with tempfile.TemporaryDirectory(prefix="tinygrad-lm-text-") as scratch:
            if name in LESSON_RECIPES:
                write_lesson_curves(name, *LESSON_RECIPES[name], args, scratch)
            else:
                write_recipe(name, RECIPES[name], args, scratch)


def write_recipe(name: str, recipe: Recipe, args, scratch: str) -> None:
    """Train the recipe's seeds (args.jobs at once) and write <name>.json."""
    path, text = text_file(recipe.text, scratch, args.shakespeare)
    overrides = recipe.overrides + ([f"--data={path}"] if path else [])
    title = recipe.title
    if recipe.pretrained:
        if not os.path.isfile(os.path.join(args.init_from, "config.json")):
            where = f"; {args.init_from!r} has no config.json" if args.init_from else ""
            sys.exit(f"{name}: the curve fine-tunes a pretrained model: pass --init-from DIR, a "
                     "Hugging Face gpt2 directory (config.json, model.safetensors, vocab.json, "
                     f"merges.txt){where}")
        overrides.append(f"--init_from={args.init_from}")
        title = (f"{name}, {os.path.basename(os.path.normpath(args.init_from))} on {text}"
                 if text else name)
    cfg = make_config(recipe.preset, overrides)
    if args.until:
        cfg = dataclasses.replace(cfg, max_iters=min(args.until, cfg.max_iters))
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.jobs))
        parts = list(pool.map(_one_seed, [(name, cfg, s, threads) for s in recipe.seeds]))
    curve = parts[0]
    for part in parts[1:]:
        if part.steps != curve.steps or part.signature != curve.signature:
            sys.exit(f"{name}: the seeds' runs disagree on steps or settings")
        curve.seeds += part.seeds
        curve.val += part.val
        curve.train += part.train
    curve.title, curve.text = title, text
    _write(curve, args.out)


def _run_lesson(job) -> str:
    """Run one lesson file with one seed; its runs' evaluations go to `parts`. Returns the
    error output of a failed run ("" when it ran to the end)."""
    file, quick, seed, parts, threads = job
    env = dict(os.environ, LESSONS_SEED=str(seed), LESSONS_RECORD_CURVES=parts,
               LESSONS_QUICK="1" if quick else "0", MPLBACKEND="Agg",
               LESSONS_OUT=os.path.join(parts, f"figures-{seed}"),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "lessons", file)], env=env,
                          cwd=parts, capture_output=True, text=True)
    return "" if done.returncode == 0 else (done.stdout + done.stderr)[-3000:]


def write_lesson_curves(name: str, file: str, quick: bool, args, scratch: str) -> None:
    """Run the lesson once per seed and write one curve file per run it checked."""
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        errors = list(pool.map(_run_lesson, [(file, quick, seed, scratch, threads)
                                             for seed in LESSON_SEEDS]))
    for seed, error in zip(LESSON_SEEDS, errors):
        if error:
            sys.exit(f"{name}: lessons/{file} failed with seed {seed}:\n{error}")
    runs: dict[str, list[dict]] = {}
    for part_name in sorted(os.listdir(scratch)):
        if part_name.endswith(".json"):
            with open(os.path.join(scratch, part_name), encoding="utf-8") as f:
                part = json.load(f)
            runs.setdefault(part["run"], []).append(part)
    if not runs:
        sys.exit(f"{name}: lessons/{file} checked no run (no check_run call)")
    for run, parts in runs.items():
        parts.sort(key=lambda p: p["seed"])
        if [p["seed"] for p in parts] != LESSON_SEEDS or any(
                p["steps"] != parts[0]["steps"] or p["signature"] != parts[0]["signature"]
                for p in parts):
            sys.exit(f"{name}: the seeds' runs of {run} disagree on steps or settings")
        train = [p["train_loss"] for p in parts if "train_loss" in p]
        curve = ReferenceCurve(run, LESSON_SEEDS, parts[0]["steps"],
                               [p["val_loss"] for p in parts],
                               train if len(train) == len(parts) else [],
                               parts[0]["signature"], parts[0]["title"])
        _write(curve, args.out)


def _write(curve: ReferenceCurve, folder: str) -> None:
    """Write <folder>/<curve name>.json and say what its seeds ended at."""
    out = os.path.join(folder, f"{curve.preset}.json")
    write_curve(curve, out)
    print(f"wrote {out}: seeds {curve.seeds}, val loss at step {curve.steps[-1]} "
          f"{min(r[-1] for r in curve.val):.4f}-{max(r[-1] for r in curve.val):.4f}",
          flush=True)


def _one_seed(job):
    name, cfg, seed, threads = job
    set_num_threads(threads)
    return record_run(name, cfg, [seed], train)


if __name__ == "__main__":
    main(sys.argv[1:])
