"""Generation speed with and without the KV cache, side by side.

    python benchmarks/generate.py            # 256 new tokens, shakespeare-char model shape
    python benchmarks/generate.py --quick    # 64 new tokens, fewer rounds

The model has the `shakespeare-char` preset's shape (vocab 65, block 256, 6 layers, 6 heads,
n_embd 384) with random weights: speed does not depend on what the weights are. Decoding is
greedy from a 1-token prompt, so with 256 new tokens and block 256 the window never slides and
the cache stays valid throughout.

Without the cache, step t runs the model on all t tokens so far, O(T^2) work for T tokens; with
it, step t runs one token against t cached keys and values. Rounds alternate cached and uncached
runs so that both see the same machine state (thermal, other processes), and the table reports
the median over rounds. Results go to benchmarks/results/generate.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
from _common import machine_info

import tinygrad_lm as tg
from tinygrad_lm.generation.generate import generate
from tinygrad_lm.nn.gpt import GPT, GPTConfig

SHAKESPEARE_CHAR = dict(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384,
                        dropout=0.0)


def time_run(model, n_new: int, use_cache: bool) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    ids = generate(model, [0], n_new, greedy=True, use_cache=use_cache)
    return time.perf_counter() - start, ids


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 new tokens, 2 rounds")
    parser.add_argument("--new-tokens", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--backend", default=None, choices=tg.kernels.available_backends())
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "results", "generate.json"))
    args = parser.parse_args(argv)
    n_new = args.new_tokens or (64 if args.quick else 256)
    rounds = args.rounds or (2 if args.quick else 3)
    if args.backend:
        tg.set_backend(args.backend)

    model = GPT(GPTConfig(**SHAKESPEARE_CHAR), seed=0)
    time_run(model, 8, True)                   # warm-up: compiles kernels, touches memory
    time_run(model, 8, False)
    times = {"cached": [], "uncached": []}
    for _ in range(rounds):
        for name in times:
            seconds, ids = time_run(model, n_new, use_cache=name == "cached")
            times[name].append(seconds)
            if name == "cached":
                reference = ids
            elif not np.array_equal(ids, reference):
                raise AssertionError("cached and uncached greedy decoding disagree")

    result = {
        "benchmark": "generate", "model": SHAKESPEARE_CHAR, "batch": 1, "prompt_tokens": 1,
        "new_tokens": n_new, "rounds": rounds, "backend": tg.get_backend(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
        "results": {name: {"seconds": t, "median_seconds": statistics.median(t),
                           "tokens_per_s": n_new / statistics.median(t)}
                    for name, t in times.items()},
    }
    result["speedup"] = (result["results"]["uncached"]["median_seconds"]
                         / result["results"]["cached"]["median_seconds"])
    result.update(argv=sys.argv[1:], machine=machine_info(),  # as _common.write_json records
                  time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    print_table(result)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")
    return result


def print_table(result: dict) -> None:
    print(f"generate: {result['new_tokens']} new tokens, batch 1, block "
          f"{result['model']['block_size']}, backend {result['backend']}, "
          f"{result['cpus']} CPUs, median of {result['rounds']} rounds")
    print(f"{'path':<10}{'median s':>10}{'tokens/s':>10}")
    for name, r in result["results"].items():
        print(f"{name:<10}{r['median_seconds']:>10.2f}{r['tokens_per_s']:>10.1f}")
    print(f"KV cache speedup: {result['speedup']:.1f}x")


if __name__ == "__main__":
    with tg.tuned_for_training():  # as `tinygrad-lm train` runs: kernels/tuning.py
        main()
