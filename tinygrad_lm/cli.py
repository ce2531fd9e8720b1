"""The `tinygrad-lm` command (also `python -m tinygrad_lm`).

    tinygrad-lm train [--preset NAME] [--dataset grammar|addition] [--data FILE] [--key=value ...]
    tinygrad-lm train --resume [DIR] [--max_iters=N ...]   # DIR's own config; default out/
    tinygrad-lm train --overwrite ...                      # move the run in out_dir aside
    tinygrad-lm sample --ckpt DIR --prompt "the dog" --max-new-tokens 200 --temperature 0.8
    tinygrad-lm sample --pretrained gpt2/ --prompt "The meaning of life is" --top-k 50
    tinygrad-lm sample --ckpt DIR --greedy --quantize int8   # int8 weights, for speed
    tinygrad-lm export --format hf|nanogpt [--ckpt DIR | --pretrained DIR] OUT
    tinygrad-lm eval --ckpt DIR [--quantize int8]
    tinygrad-lm bench [--quick]
    tinygrad-lm assignments build|grade|bundle|autograder|classroom|validate ...
    tinygrad-lm lessons export --out DIR [--pip SPEC] | outline

`sample` and `eval` read a run's best.npz (lowest val loss) unless told `--last`. Each
subcommand is a pair of functions, add_<name>(subparsers) and cmd_<name>(args, extra), listed
in SUBCOMMANDS. Every error a user can cause prints one line and exits with a non-zero status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from . import doctor
from .course import notebooks
from .course.assignments import cli as assignments_cli
from .data import prepare_data
from .formats.checkpoint import load_checkpoint
from .generation.generate import generate
from .io.export import export_hf, export_nanogpt
from .io.loader import load_any, run_checkpoint
from .kernels import tuned_for_training
from .nn.quantized import QUANTIZATIONS
from .training import optim, run_dir
from .training.config import (
    ConfigError,
    TrainConfig,
    help_table,
    parse_overrides,
    preset_config,
)
from .training.evaluation import estimate_loss
from .training.previews import training_sample
from .training.task_metrics import evaluate_task
from .training.trainer import Trainer

USER_ERRORS = (ValueError, TypeError, IndexError, KeyError, FileNotFoundError,
               PermissionError, IsADirectoryError, FileExistsError, RuntimeError, ImportError)


def _no_extra(command: str, extra: list[str]) -> None:
    if extra:
        raise ValueError(f"unknown arguments for {command}: {' '.join(extra)}; see "
                         f"tinygrad-lm {command} --help")


# ---- train ------------------------------------------------------------------------------------
def add_train(sub) -> None:
    """`train`: its own options, and every config key in the epilog."""
    t = sub.add_parser(
        "train", help="train a GPT (default: the built-in grammar data)", allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (--key=value or --key value; defaults of plain `train`, the "
               "grammar preset):\n" + help_table())
    t.add_argument("--preset", help="grammar, addition, shakespeare-char, finetune (the "
                   "default with --init-from DIR) or tiny")
    t.add_argument("--dataset", help="built-in dataset: grammar or addition (picks its preset)")
    t.add_argument("--resume", nargs="?", const="", metavar="DIR",
                   help="continue the run in DIR (default: --out_dir, else out) from its own "
                        "config; only length and reporting keys may change")
    t.add_argument("--overwrite", action="store_true",
                   help="when out_dir holds a run, move it to out_dir/previous/ and start anew")
    t.add_argument("--eval-samples", type=int, default=None,
                   help="samples for the final task metric (default 200)")
    t.set_defaults(handler=cmd_train)


def _trainer_for(args, extra: list[str]):
    """A new run's Trainer, or a resumed one; the config flags in `extra` are parsed once."""
    updates = parse_overrides(extra)
    if args.resume is None:
        if args.dataset:
            updates["dataset"] = args.dataset
        preset = args.preset or (args.dataset if args.dataset in ("grammar", "addition")
                                 else None)
        if preset is None and updates.get("init_from"):
            preset = "finetune"
        cfg = preset_config(preset, updates)
        if not args.overwrite:  # before preparing any data: refuse at once
            run_dir.refuse_existing(cfg.out_dir)
        return Trainer(cfg, overwrite=args.overwrite)
    for flag, given in (("--preset", args.preset), ("--dataset", args.dataset),
                        ("--overwrite", args.overwrite)):
        if given:
            raise ConfigError(f"{flag} does not go with --resume: a resumed run keeps its own "
                              "config (start a new run with --out_dir=NEW to change it)")
    return Trainer.resume_from(args.resume or updates.get("out_dir", "out"), updates)


def cmd_train(args, extra: list[str]) -> int:
    """Train (or resume), then sample from best.npz and report the task metric, with the
    process tuned for training (freed memory kept, BLAS on one thread; kernels/tuning.py)."""
    with tuned_for_training():
        return _train(args, extra)


def _train(args, extra: list[str]) -> int:
    start = time.perf_counter()
    trainer = _trainer_for(args, extra)
    cfg = trainer.cfg
    what = f"resuming at step {trainer.step} of" if trainer.resumed else "for"
    print(f"training a {trainer.model.num_parameters() / 1e3:.1f}k-parameter GPT on "
          f"{cfg.data or cfg.dataset!r} ({trainer.tokenizer.vocab_size} tokens in vocab) "
          f"{what} {cfg.max_iters} steps; writing to {cfg.out_dir}/", flush=True)
    if trainer.resumed and trainer.step >= cfg.max_iters:
        print(f"the run already reached max_iters={cfg.max_iters}; to train longer pass a "
              f"larger --max_iters (and --lr_decay_iters) with --resume")
    result = trainer.train()
    elapsed = time.perf_counter() - start
    if result["best_step"] is None:
        print(f"stopped at step {result['step']} after {elapsed:.1f} s, before the first "
              f"evaluation (every {cfg.eval_interval} steps), so there is no val loss yet; "
              f"last state: {trainer.ckpt_path}")
    else:
        print(f"done: step {result['step']} in {elapsed:.1f} s; best val loss "
              f"{result['best_val']:.4f} at step {result['best_step']} ({trainer.best_path}); "
              f"last state: {trainer.ckpt_path}")
    if result["interrupted"]:
        return 0
    best = load_any(cfg.out_dir)  # best.npz: sampling and the task metric use the best model
    print(f"sample ({os.path.basename(best.path)}, step {best.step}):\n"
          + _sample_with(best.model, trainer, cfg.seed))
    report = evaluate_task(best.model, trainer.data, seed=cfg.seed,
                           n=200 if args.eval_samples is None else args.eval_samples)
    if report:
        print(report["summary"])
    return 0


def _sample_with(model, trainer, seed: int) -> str:
    return training_sample(model, trainer.data, trainer.cfg.sample_tokens, seed)


# ---- sample -----------------------------------------------------------------------------------
def add_sample(sub) -> None:
    """`sample`: text from a run, a checkpoint or a weights file."""
    s = sub.add_parser("sample", help="generate text from a run, checkpoint or weights file",
                       allow_abbrev=False)
    s.add_argument("--ckpt", default="out",
                   help="a run directory (its best.npz), a checkpoint or a weights file")
    s.add_argument("--last", action="store_true", help="a run's last state (ckpt.npz)")
    s.add_argument("--prompt", default="")
    s.add_argument("--max-new-tokens", type=int, default=200)
    s.add_argument("--temperature", type=float, default=1.0, help="> 0; see --greedy")
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--top-p", type=float, default=None)
    s.add_argument("--greedy", action="store_true", help="always the most likely token")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--num-samples", type=int, default=1)
    s.add_argument("--pretrained", metavar="DIR", help="a Hugging Face GPT-2 directory (the "
                   "same as --ckpt DIR)")
    s.add_argument("--allow-special", action="store_true",
                   help="encode special tokens such as <|endoftext|> in the prompt as their ids")
    _add_quantize(s)
    s.set_defaults(handler=cmd_sample)


def _add_quantize(parser) -> None:
    parser.add_argument("--quantize", default="none", metavar="{none,int8}", type=_scheme,
                        help="none (float32, the default) or int8: Linear weights as int8 with "
                             "a scale per output channel, a quarter of the bytes to read per "
                             "token (GPT.quantize)")


def _scheme(value: str) -> str:
    """--quantize's value, checked when the command line is read (before any model loads)."""
    if value != "none" and value not in QUANTIZATIONS:
        raise argparse.ArgumentTypeError(f"unknown quantization {value!r}: choose none "
                                         f"(float32, the default) or {' or '.join(QUANTIZATIONS)}")
    return value


def _quantized(model, scheme: str):
    """The model, quantized as --quantize asks (GPT.quantize checks the scheme)."""
    return model if scheme == "none" else model.quantize(scheme)


def _load_for_cli(args):
    path = getattr(args, "pretrained", None) or args.ckpt
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "ckpt.npz")):
        path = run_checkpoint(path, "last" if args.last else "best")
    loaded = load_any(path)
    step = "" if loaded.step is None else f", step {loaded.step}"
    print(f"[{loaded.path}{step}]", file=sys.stderr)
    return loaded


def cmd_sample(args, extra: list[str]) -> int:
    """Print --num-samples continuations of --prompt."""
    import numpy as np


    _no_extra("sample", extra)
    if not args.greedy and not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}; for the most "
                         "likely token at every step use --greedy")
    loaded = _load_for_cli(args)
    model, tok = _quantized(loaded.model, args.quantize), loaded.tokenizer
    if tok is None:
        raise ValueError(f"{loaded.path} holds no tokenizer, so a prompt cannot be encoded; "
                         "sample from a trainer checkpoint or run directory")
    prompt = _encode_prompt(tok, args.prompt, args.allow_special)
    for i in range(args.num_samples):
        ids = generate(model, np.array([prompt]), args.max_new_tokens,
                       temperature=args.temperature if not args.greedy else 1.0,
                       top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                       seed=None if args.seed is None else args.seed + i)
        print(tok.decode(ids[0].tolist()))
        if args.num_samples > 1:
            print("---")
    return 0


def _encode_prompt(tok, text: str, allow_special: bool) -> list[int]:
    """The prompt's ids. Empty: GPT-2's <|endoftext|> (how its documents start), else the
    newline token. Special tokens spelled in the prompt need --allow-special."""
    special = getattr(tok, "special_tokens", {})
    if not text:
        return [special["<|endoftext|>"]] if "<|endoftext|>" in special else \
            tok.encode("\n")[:1] or [0]
    if not special:
        return tok.encode(text)
    try:
        return tok.encode(text, allowed_special="all" if allow_special else set())
    except ValueError as e:
        raise ValueError(f"{e}. On the command line: --allow-special") from None


# ---- export -----------------------------------------------------------------------------------
def add_export(sub) -> None:
    """`tinygrad-lm export --format hf|nanogpt [--ckpt DIR | --pretrained DIR] OUT`."""
    x = sub.add_parser("export", help="write a run, checkpoint or Hugging Face directory as a "
                       "Hugging Face directory or a nanoGPT ckpt.pt", allow_abbrev=False)
    x.add_argument("out", help="output directory (hf), or directory or .pt file (nanogpt)")
    x.add_argument("--format", choices=["hf", "nanogpt"], required=True)
    x.add_argument("--ckpt", default="out", help="a run directory (its best.npz), a checkpoint "
                   "or a Hugging Face directory")
    x.add_argument("--last", action="store_true", help="a run's last state (ckpt.npz)")
    x.add_argument("--pretrained", metavar="DIR", help="a Hugging Face directory (the same as "
                   "--ckpt DIR)")
    x.set_defaults(handler=cmd_export)


def cmd_export(args, extra: list[str]) -> int:
    """Write the model (and tokenizer) that --ckpt or --pretrained names in the chosen format;
    nanoGPT's ckpt.pt gets the checkpoint's step, best val loss, config and AdamW moments."""
    _no_extra("export", extra)
    loaded = _load_for_cli(args)
    if args.format == "hf":
        written = export_hf(loaded.model, loaded.tokenizer, args.out)
        print(f"wrote {args.out}/: " + ", ".join(os.path.basename(p) for p in written))
        print(f"in transformers: GPT2LMHeadModel.from_pretrained({args.out!r}), "
              f"AutoTokenizer.from_pretrained({args.out!r})")
        return 0
    path = args.out if args.out.endswith(".pt") else os.path.join(args.out, "ckpt.pt")
    state = load_checkpoint(loaded.path) if loaded.step is not None else {}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    export_nanogpt(loaded.model, path, iter_num=state.get("step", 0),
                   best_val_loss=state.get("best_val", 1e9), config=state.get("train_config"),
                   adam_moments=None if state.get("optimizer") is None else
                   optim.moments_by_name(loaded.model, state["optimizer"]))
    if loaded.model.config.activation == "gelu_tanh":
        print("note: nanoGPT's MLP uses the exact (erf) GELU, this model the tanh form, so its "
              "logits there differ slightly (as for nanoGPT's own GPT-2 import)")
    print(f"wrote {path}; continue in nanoGPT: python train.py --init_from=resume "
          f"--out_dir={os.path.dirname(os.path.abspath(path))} (docs/gpt2.md: nanoGPT)")
    return 0


# ---- eval -------------------------------------------------------------------------------------
def add_eval(sub) -> None:
    """`eval`: a run's losses and task metric."""
    e = sub.add_parser("eval", help="validation loss, perplexity and task accuracy",
                       allow_abbrev=False)
    e.add_argument("--ckpt", default="out", help="a run directory (its best.npz) or checkpoint")
    e.add_argument("--last", action="store_true", help="a run's last state (ckpt.npz)")
    e.add_argument("--eval-samples", type=int, default=200)
    _add_quantize(e)
    e.set_defaults(handler=cmd_eval)


def cmd_eval(args, extra: list[str]) -> int:
    """Train/val loss, val perplexity and the task metric of a run's best (or last) state."""
    import math


    _no_extra("eval", extra)
    loaded = _load_for_cli(args)
    if loaded.train_config is None:
        raise ValueError(f"{loaded.path} is not a trainer checkpoint: eval rebuilds the data "
                         "from the run's config; pass a run directory or its .npz checkpoint")
    cfg = TrainConfig.from_dict(loaded.train_config)
    data = prepare_data(cfg, tokenizer_state=loaded.tokenizer.to_dict())
    model = _quantized(loaded.model, args.quantize)
    losses = estimate_loss(model, data, cfg, loaded.step)
    print(f"step {loaded.step}: train loss {losses['train']:.4f}, val loss "
          f"{losses['val']:.4f}, val perplexity {math.exp(losses['val']):.3f}")
    report = evaluate_task(model, data, n=args.eval_samples, seed=cfg.seed)
    if report:
        print(report["summary"])
    return 0


# ---- bench ------------------------------------------------------------------------------------
def add_bench(sub) -> None:
    """`bench [--quick]`: the training-step benchmark."""
    b = sub.add_parser("bench", help="time a training step against PyTorch (if installed)")
    b.add_argument("--quick", action="store_true", help="config A only, under a minute")
    b.set_defaults(handler=cmd_bench)


def cmd_bench(args, extra: list[str]) -> int:
    """Run benchmarks/train_step.py of the repository this package was installed from, in a
    process of its own (its exit status is this command's)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "benchmarks", "train_step.py")
    if not os.path.exists(script):
        raise FileNotFoundError("tinygrad-lm bench needs a repository checkout (benchmarks/ "
                                f"next to the package); {script} does not exist")
    argv = [sys.executable, script] + (["--quick"] if args.quick else []) + list(extra)
    return subprocess.run(argv).returncode


def add_assignments(sub) -> None:
    """`assignments build|grade`: student copies and grading."""
    assignments_cli.add_parser(sub)


def add_lessons(sub) -> None:
    """`lessons export|outline`: the lessons as notebooks."""
    notebooks.add_parser(sub)


def add_doctor(sub) -> None:
    """`doctor`: this machine's Python, NumPy, Numba, CPU and threads, with verdicts."""
    d = sub.add_parser("doctor", help="check this machine (Numba, its cache, BLAS, threads, "
                       "the kernels) and print one block to paste when asking for help")
    d.set_defaults(handler=cmd_doctor)


def cmd_doctor(args, extra: list[str]) -> int:
    """Print the machine's report (doctor.py); 1 when something is broken."""
    _no_extra("doctor", extra)
    return doctor.main()


SUBCOMMANDS = [add_train, add_sample, add_eval, add_export, add_bench, add_assignments,
               add_lessons, add_doctor]


def build_parser() -> argparse.ArgumentParser:
    """The `tinygrad-lm` parser: one subparser per SUBCOMMANDS entry."""
    parser = argparse.ArgumentParser(prog="tinygrad-lm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's error prints one line and returns 2."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        return args.handler(args, extra)
    except KeyboardInterrupt:
        print("tinygrad-lm: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"tinygrad-lm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
