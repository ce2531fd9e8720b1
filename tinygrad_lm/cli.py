"""The `tinygrad-lm` command (also `python -m tinygrad_lm`).

    tinygrad-lm train [--preset NAME] [--dataset grammar|addition] [--data FILE] [--key=value ...]
    tinygrad-lm train --resume [--out_dir DIR]
    tinygrad-lm sample --ckpt DIR --prompt "the dog" --max-new-tokens 200 --temperature 0.8
    tinygrad-lm eval --ckpt DIR
    tinygrad-lm bench [--quick]
    tinygrad-lm assignments build --out DIR [--only 1,2] | grade [--repo DIR] [--json FILE]
    tinygrad-lm lessons export --out DIR [--pip SPEC] | outline

Every error a user can cause prints one line and exits with a non-zero status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

USER_ERRORS = (ValueError, TypeError, IndexError, KeyError, FileNotFoundError,
               PermissionError, IsADirectoryError, FileExistsError, RuntimeError, ImportError)


def _ckpt_file(path: str) -> str:
    return os.path.join(path, "ckpt.npz") if os.path.isdir(path) else path


def cmd_train(args, extra: list[str]) -> int:
    from .config import make_config
    from .task_metrics import evaluate_task
    from .train import Trainer

    overrides = list(extra)
    if args.data:
        overrides.append(f"--data={args.data}")
    if args.dataset:
        overrides.append(f"--dataset={args.dataset}")
    if args.tokenizer:
        overrides.append(f"--tokenizer={args.tokenizer}")
    preset = args.preset or (args.dataset if args.dataset in ("grammar", "addition") else None)
    cfg = make_config(preset, overrides)
    start = time.perf_counter()
    trainer = Trainer(cfg)
    print(f"training a {trainer.model.num_parameters() / 1e3:.1f}k-parameter GPT on "
          f"{cfg.data or cfg.dataset!r} ({trainer.tokenizer.vocab_size} tokens in vocab) "
          f"for {cfg.max_iters} steps; writing to {cfg.out_dir}/")
    if args.resume:
        trainer.resume()
    result = trainer.train()
    elapsed = time.perf_counter() - start
    print(f"done: step {result['step']}, best val loss {result['best_val']:.4f}, "
          f"{elapsed:.1f} s; checkpoint {trainer.ckpt_path}")
    if result["interrupted"]:
        return 0
    print("sample:\n" + trainer.sample(seed=cfg.seed))
    report = evaluate_task(trainer.model, trainer.data, n=200 if args.eval_samples is None
                           else args.eval_samples, seed=cfg.seed)
    if report:
        print(report["summary"])
    return 0


def _load_model(ckpt: str):
    from .checkpoint import load_checkpoint
    from .nn.gpt import GPT, GPTConfig
    from .tokenizers import tokenizer_from_dict

    state = load_checkpoint(_ckpt_file(ckpt))
    model = GPT(GPTConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, tokenizer_from_dict(state["tokenizer"]), state


def cmd_sample(args, extra) -> int:
    import numpy as np

    from .generate import generate

    if extra:
        raise ValueError(f"unknown arguments for sample: {' '.join(extra)}")
    model, tok, _ = _load_model(args.ckpt)
    prompt = tok.encode(args.prompt) if args.prompt else tok.encode("\n")[:1] or [0]
    for i in range(args.num_samples):
        ids = generate(model, np.array([prompt]), args.max_new_tokens,
                       temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                       greedy=args.greedy, seed=None if args.seed is None else args.seed + i)
        print(tok.decode(ids[0].tolist()))
        if args.num_samples > 1:
            print("---")
    return 0


def cmd_eval(args, extra) -> int:
    import math

    from .config import TrainConfig
    from .data import prepare_data
    from .task_metrics import evaluate_task
    from .train import estimate_loss

    if extra:
        raise ValueError(f"unknown arguments for eval: {' '.join(extra)}")
    model, _, state = _load_model(args.ckpt)
    cfg = TrainConfig.from_dict(state["train_config"])
    data = prepare_data(cfg, tokenizer_state=state["tokenizer"])
    losses = estimate_loss(model, data, cfg, state["step"])
    print(f"step {state['step']}: train loss {losses['train']:.4f}, val loss "
          f"{losses['val']:.4f}, val perplexity {math.exp(losses['val']):.3f}")
    report = evaluate_task(model, data, n=args.eval_samples, seed=cfg.seed)
    if report:
        print(report["summary"])
    return 0


def cmd_bench(args, extra) -> int:
    """Run benchmarks/train_step.py of the repository this package was installed from."""
    import runpy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "benchmarks", "train_step.py")
    if not os.path.exists(script):
        raise FileNotFoundError("tinygrad-lm bench needs a repository checkout (benchmarks/ "
                                f"next to the package); {script} does not exist")
    sys.argv = [script] + (["--quick"] if args.quick else []) + list(extra)
    runpy.run_path(script, run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-lm", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GPT (default: the built-in grammar data)",
                       epilog="Any TrainConfig field can be set with --key=value.")
    t.add_argument("--preset", help="grammar, addition, shakespeare-char or tiny")
    t.add_argument("--dataset", help="built-in dataset: grammar or addition")
    t.add_argument("--data", help="train on this UTF-8 text file instead")
    t.add_argument("--tokenizer", choices=["char", "bpe"])
    t.add_argument("--resume", action="store_true", help="continue from out_dir/ckpt.npz")
    t.add_argument("--eval-samples", type=int, default=None)
    s = sub.add_parser("sample", help="generate text from a checkpoint")
    s.add_argument("--ckpt", default="out", help="checkpoint file or its directory")
    s.add_argument("--prompt", default="")
    s.add_argument("--max-new-tokens", type=int, default=200)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--top-k", type=int, default=None)
    s.add_argument("--top-p", type=float, default=None)
    s.add_argument("--greedy", action="store_true")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--num-samples", type=int, default=1)
    e = sub.add_parser("eval", help="validation loss, perplexity and task accuracy")
    e.add_argument("--ckpt", default="out")
    e.add_argument("--eval-samples", type=int, default=200)
    b = sub.add_parser("bench", help="time a training step against PyTorch (if installed)")
    b.add_argument("--quick", action="store_true")
    from .assignments.cli import add_parser as add_assignments
    add_assignments(sub)
    from .notebooks import add_parser as add_lessons
    add_lessons(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    handlers = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "bench": cmd_bench}
    try:
        if args.command in ("assignments", "lessons"):
            return args.handler(args, extra)
        return handlers[args.command](args, extra)
    except KeyboardInterrupt:
        print("tinygrad-lm: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        print(f"tinygrad-lm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
