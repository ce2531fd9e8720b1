"""What benchmarks/nanogpt_recipe.py needs besides running the two trainers: finding the clone,
reading the trainers' output, comparing their settings, and evaluating both final models on the
same batches."""

from __future__ import annotations

import ast
import math
import os
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# where tests/test_nanogpt.py looks for a clone when NANOGPT_DIR is not set
BESIDE = os.path.join(os.path.dirname(HERE), "..", "nanoGPT")
CLONE_FILES = ("train.py", "model.py", "configurator.py", "config/train_shakespeare_char.py",
               "data/shakespeare_char/prepare.py")
GET_CLONE = "git clone https://github.com/karpathy/nanoGPT"

# Both trainers print an evaluation as `step 2000: train loss 1.6543, val loss 1.8123`; ours
# adds a note after it, and its progress lines (`step 100/2000: loss ...`) do not match.
EVAL_LINE = re.compile(r"^step (\d+): train loss ([0-9.]+), val loss ([0-9.]+)")

# nanoGPT's name -> ours, for the settings both have
SAME_SETTINGS = {"eval_interval": "eval_interval", "eval_iters": "eval_iters",
                 "log_interval": "log_interval", "batch_size": "batch_size",
                 "block_size": "block_size", "n_layer": "n_layer", "n_head": "n_head",
                 "n_embd": "n_embd", "dropout": "dropout", "bias": "bias",
                 "learning_rate": "lr", "max_iters": "max_iters",
                 "lr_decay_iters": "lr_decay_iters", "min_lr": "min_lr",
                 "warmup_iters": "warmup_iters", "weight_decay": "weight_decay",
                 "beta1": "beta1", "beta2": "beta2", "grad_clip": "grad_clip"}
# nanoGPT's settings that ours has no flag for, with the one value ours always runs with
OURS_FIXED = {"gradient_accumulation_steps": 1, "decay_lr": True}

# What the settings cannot show. Each matters to the val loss only a little, but they are why
# the two curves are not the same curve.
KNOWN_DIFFERENCES = [
    "random streams: both seed 1337, but nanoGPT draws its weights and batches from torch's "
    "generator, ours from numpy's; nanoGPT's evaluation batches come from its training stream, "
    "ours from a generator of (seed, step, split), so the two evaluate on different batches",
    "evaluations: nanoGPT evaluates at step 0 too, and takes one more step after its last "
    "evaluation (the loop ends past max_iters); both evaluate after exactly 2000 updates",
    "work around the steps: ours writes a sample of 200 characters at each evaluation, "
    "ckpt.npz every 250 steps, best.npz when the val loss improves and per-layer statistics "
    "every 50 steps; nanoGPT writes ckpt.pt when the val loss improves and prints every step",
]


def nanogpt_location(given: str | None) -> tuple[str | None, str | None]:
    """(the clone, None) or (None, why not). --nanogpt-dir, else NANOGPT_DIR, else ../nanoGPT
    beside the repository; a directory named explicitly that is no clone is reported as such,
    not passed over for the next place."""
    named = given or os.environ.get("NANOGPT_DIR")
    where = named or BESIDE
    missing = [f for f in CLONE_FILES if not os.path.isfile(os.path.join(where, f))]
    if not missing:
        return os.path.abspath(where), None
    if named:
        return None, f"{named} is not a nanoGPT clone (no {', '.join(missing)})"
    return None, ("no nanoGPT clone: set NANOGPT_DIR or pass --nanogpt-dir DIR, or put one at "
                  f"../nanoGPT beside this repository ({GET_CLONE})")


def eval_line(line: str) -> tuple[int, float, float] | None:
    """(step, train loss, val loss) of an evaluation line, else None."""
    m = EVAL_LINE.match(line)
    return None if m is None else (int(m[1]), float(m[2]), float(m[3]))


def parse_output(lines: list[tuple[float, str]], setup_line: str) -> dict:
    """From (seconds since launch, line) pairs: the evaluations [step, train, val, seconds];
    `setup_s`, when the line starting with `setup_line` (the last before the loop) came;
    `to_last_eval_s`, when the last evaluation came; `training_s`, the time between."""
    evals, setup = [], None
    for at, line in lines:
        got = eval_line(line)
        if got is not None:
            evals.append([*got, at])
        elif setup is None and line.startswith(setup_line):
            setup = at
    last = evals[-1][3] if evals else None
    return {"evals": evals, "setup_s": setup, "to_last_eval_s": last,
            "training_s": last - setup if last is not None and setup is not None else None}


# ---- settings ---------------------------------------------------------------------------------
def literal_assignments(path: str, stop_at: str | None = None) -> dict:
    """The module-level `name = literal` assignments of a Python file, read with ast (never
    executed), up to the assignment of `stop_at`."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name == stop_at:
            break
        try:
            found[name] = ast.literal_eval(node.value)
        except ValueError:
            pass  # computed (dtype from torch.cuda): not a setting we compare
    return found


def nanogpt_settings(clone: str, flags: list[str]) -> dict:
    """nanoGPT's configuration as configurator.py builds it: train.py's defaults, then the
    config file, then `--key=value` flags (a literal, else a string)."""
    settings = literal_assignments(os.path.join(clone, "train.py"), stop_at="config_keys")
    settings.update(literal_assignments(os.path.join(clone, "config",
                                                     "train_shakespeare_char.py")))
    for flag in flags:
        key, _, value = flag[2:].partition("=")
        try:
            settings[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            settings[key] = value
    return settings


def compare_settings(clone: str, recipe: list[str], ours_extra: list[str]) -> dict:
    """Each setting of SAME_SETTINGS and OURS_FIXED in nanoGPT (with the recipe's flags) and in
    our preset (with ours_extra): `compared` {name: [nanoGPT, ours]}, `differences` (names)
    and printable `lines`."""
    from tinygrad_lm.training.config import make_config
    theirs = nanogpt_settings(clone, recipe)
    cfg = make_config("shakespeare-char", ours_extra)
    ours = {**{k: getattr(cfg, k) for k in SAME_SETTINGS.values() if hasattr(cfg, k)},
            **{k: getattr(cfg.model, k) for k in SAME_SETTINGS.values()
               if hasattr(cfg.model, k)}}
    compared = {name: [theirs.get(name), ours[mine]] for name, mine in SAME_SETTINGS.items()}
    compared.update({name: [theirs.get(name), value] for name, value in OURS_FIXED.items()})
    compared["activation"] = ["gelu (exact, nn.GELU())", cfg.model.activation]
    # nanoGPT decays every 2-D parameter, the token embedding (tied to the head) and the
    # position embedding included; our presets decay the blocks' matrices only
    compared["decay_embeddings"] = [True, cfg.decay_embeddings]
    differences = [n for n, (a, b) in compared.items()
                   if not (a == b or n == "activation" and b == "gelu")]
    lines = [f"settings: {len(compared)} compared, "
             + ("all equal" if not differences else f"{len(differences)} differ:")]
    lines += [f"  {n}: nanoGPT {compared[n][0]!r}, ours {compared[n][1]!r}" for n in differences]
    lines += ["  and: " + KNOWN_DIFFERENCES[0]]
    return {"compared": compared, "differences": differences, "lines": lines}


# ---- the paired re-evaluation -----------------------------------------------------------------
def final_models_on_same_batches(ours_ckpt: str, nanogpt_ckpt: str, steps: int,
                                 n_batches: int) -> dict:
    """Both final models' val loss over the same `n_batches` batches, by our evaluation code:
    each mean with its standard error, the paired difference with its own (much smaller: the
    batch-to-batch variation is shared), and the standard error of one 20-batch estimate like
    the recipe's (the noise of the target comparison). nanoGPT writes ckpt.pt only when its
    val loss improves, so it may hold an earlier step; the summary says so."""
    from tinygrad_lm import no_grad
    from tinygrad_lm.data import prepare_data
    from tinygrad_lm.io.interop import read_nanogpt
    from tinygrad_lm.io.loader import load_any
    from tinygrad_lm.training.config import TrainConfig
    ours = load_any(ours_ckpt)
    cfg = TrainConfig.from_dict(ours.train_config)
    data = prepare_data(cfg, tokenizer_state=ours.tokenizer.to_dict())
    theirs, info = read_nanogpt(nanogpt_ckpt)
    theirs.eval()
    models = {"ours": ours.model, "nanogpt": theirs}
    rng = np.random.default_rng([cfg.seed, steps, 2])  # not a stream either trainer used
    losses = {name: [] for name in models}
    with no_grad():
        for _ in range(n_batches):
            x, y = data.get_batch("val", cfg.batch_size, cfg.model.block_size, rng)
            for name, model in models.items():
                losses[name].append(model(x, y)[1].item())
    out = {"batches": n_batches, "ours_step": ours.step, "nanogpt_step": info["iter_num"]}
    for name, values in losses.items():
        v = np.asarray(values)
        out[name] = {"val_loss": float(v.mean()), "se": float(v.std(ddof=1) / math.sqrt(len(v))),
                     "se_of_20_batches": float(v.std(ddof=1) / math.sqrt(20))}
    d = np.asarray(losses["ours"]) - np.asarray(losses["nanogpt"])
    out["difference"] = float(d.mean())
    out["difference_se"] = float(d.std(ddof=1) / math.sqrt(len(d)))
    note = "" if info["iter_num"] == steps else (
        f" (nanoGPT's ckpt.pt holds step {info['iter_num']}, its last improvement)")
    o, t = out["ours"], out["nanogpt"]
    out["summary"] = (
        f"re-evaluated on the same {n_batches} val batches{note}: ours {o['val_loss']:.4f} "
        f"+- {o['se']:.4f}, nanoGPT {t['val_loss']:.4f} +- {t['se']:.4f}, ours - nanoGPT "
        f"{out['difference']:+.4f} +- {out['difference_se']:.4f}; one 20-batch estimate has a "
        f"standard error of about {max(o['se_of_20_batches'], t['se_of_20_batches']):.4f}, "
        f"the difference of two such estimates (different batches) about "
        f"{math.hypot(o['se_of_20_batches'], t['se_of_20_batches']):.4f}")
    return out
