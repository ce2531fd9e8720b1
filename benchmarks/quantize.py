"""int8 weights (GPT.quantize) against float32: bytes read per token, decoding speed, logits,
and the validation perplexity of a trained run.

    python benchmarks/quantize.py                    # GPT-2 small shape, random weights
    python benchmarks/quantize.py --quick            # fewer tokens and rounds
    python benchmarks/quantize.py --ckpt out         # also a run's val perplexity, both ways
    python benchmarks/quantize.py --threads 1        # one core for ours and for BLAS

- bytes per token: the weights one decoding step at batch 1 reads, each once: every Linear's
  weight and bias (int8: q, its scales and the bias), the norms, and one row of each
  embedding; a tied float32 head reads the whole token embedding. The KV cache, which grows
  with the position, is left out.
- greedy decoding at batch 1, a 16-token prompt, float32 and int8 copies of one random GPT-2
  small in interleaved rounds (train_step.time_rounds), medians; how many leading tokens agree.
- logits: max |float32 - int8| over one forward of 64 random tokens, and the largest |logit|.
- --ckpt DIR: the run's val loss and perplexity (training.evaluation.estimate_loss, the
  batches `tinygrad-lm eval` uses) for its float32 weights and for the same weights in int8.

Writes benchmarks/results/quantize.json. The machine is shared: read ratios, not times.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import print_table, write_json  # noqa: E402
from train_step import time_rounds  # noqa: E402

import tinygrad_lm as tg  # noqa: E402
from tinygrad_lm.nn import Embedding, LayerNorm, Linear, QuantizedLinear, RMSNorm  # noqa: E402

GPT2_SMALL = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)


def bytes_per_token(model) -> int:
    """Bytes of weights one batch-1 decoding step reads (see the module docstring)."""
    total = 0
    for _, m in model.named_modules():
        if isinstance(m, Linear):
            total += m.weight.data.nbytes + (0 if m.bias is None else m.bias.data.nbytes)
        elif isinstance(m, QuantizedLinear):
            total += m.nbytes
        elif isinstance(m, Embedding):
            total += m.weight.data.nbytes // m.num_embeddings  # one row
        elif isinstance(m, (LayerNorm, RMSNorm)):
            total += sum(p.data.nbytes for p in m.parameters())
    if model.lm_head is None:  # tied float32 head: logits = h wte^T reads the whole table
        total += model.transformer.wte.weight.data.nbytes
    return total


def bench_decoding(float_model, int8_model, n_new: int, rounds: int, results) -> list:
    prompt = np.random.default_rng(1).integers(0, float_model.config.vocab_size, 16)
    fns = {"float32": lambda: tg.generate(float_model, prompt, n_new, greedy=True),
           "int8": lambda: tg.generate(int8_model, prompt, n_new, greedy=True)}
    t = time_rounds(fns, rounds=rounds, warmup=1, block=1)
    differ = np.flatnonzero(fns["float32"]() != fns["int8"]())
    same = int(differ[0] if differ.size else len(prompt) + n_new) - len(prompt)
    results["decoding"] = {"seconds": t, "new_tokens": n_new, "tokens_before_difference": same}
    return [["greedy decoding, tokens/s", f"{n_new / t['float32']:.1f}",
             f"{n_new / t['int8']:.1f}", f"{t['float32'] / t['int8']:.2f}x",
             f"first {same} of {n_new} tokens agree"]]


def logit_difference(float_model, int8_model, results) -> list:
    x = np.random.default_rng(2).integers(0, float_model.config.vocab_size, (1, 64))
    with tg.no_grad():
        a, b = float_model(x)[0].data, int8_model(x)[0].data
    diff, top = float(np.abs(a - b).max()), float(np.abs(a).max())
    same = float(np.mean(a.argmax(-1) == b.argmax(-1)))
    results["logits"] = {"max_abs_difference": diff, "max_abs_logit": top,
                         "argmax_agreement": same}
    return [["max |logit difference| (64 tokens)", "-", f"{diff:.2e}", "-",
             f"largest |logit| {top:.2f}; argmax agrees at {same:.0%} of positions"]]


def run_perplexity(path: str, results) -> list:
    """The run's val loss for its float32 weights and for the same weights in int8, on the
    batches `tinygrad-lm eval --ckpt DIR [--quantize int8]` uses."""
    from tinygrad_lm.data import prepare_data
    from tinygrad_lm.io.loader import load_any, run_checkpoint
    from tinygrad_lm.training.config import TrainConfig
    from tinygrad_lm.training.evaluation import estimate_loss
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "ckpt.npz")):
        path = run_checkpoint(path, "best")
    loaded = load_any(path)
    if loaded.train_config is None:
        raise SystemExit(f"{path} is not a trainer checkpoint: --ckpt needs a run directory")
    cfg = TrainConfig.from_dict(loaded.train_config)
    data = prepare_data(cfg, tokenizer_state=loaded.tokenizer.to_dict())
    losses = {"float32": estimate_loss(loaded.model, data, cfg, loaded.step)}
    losses["int8"] = estimate_loss(loaded.model.quantize("int8"), data, cfg, loaded.step)
    results["perplexity"] = {"ckpt": path, "step": loaded.step, **losses}
    ppl = {k: math.exp(v["val"]) for k, v in losses.items()}
    return [[f"val perplexity ({cfg.eval_iters} batches of {cfg.batch_size})",
             f"{ppl['float32']:.4f}", f"{ppl['int8']:.4f}",
             f"{ppl['int8'] / ppl['float32'] - 1:+.3%}",
             f"val loss {losses['float32']['val']:.5f} -> {losses['int8']['val']:.5f} "
             f"(standard error {losses['float32']['val_se']:.4f})"]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 new tokens, 2 rounds")
    parser.add_argument("--ckpt", help="a run directory: its val perplexity, float32 and int8")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for our kernels and for BLAS (default: one per core); 1 "
                             "compares the two paths on one core, when the machine is busy")
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits
        tg.kernels.set_num_threads(args.threads)
        threadpool_limits(args.threads)  # BLAS too (the float32 path's one-row products)
    results = {"config": GPT2_SMALL, "threads": tg.kernels.num_threads()}
    n_new, rounds = (16, 2) if args.quick else (64, 3)
    float_model = tg.GPT(tg.GPTConfig(**GPT2_SMALL), seed=0).eval()
    # the same weights: a second model from the same seed, then quantized
    int8_model = tg.GPT(tg.GPTConfig(**GPT2_SMALL), seed=0).quantize("int8")
    sizes = {k: bytes_per_token(m) for k, m in (("float32", float_model), ("int8", int8_model))}
    results["bytes_per_token"] = sizes
    rows = [["weight bytes read per token (MB)", f"{sizes['float32'] / 1e6:.1f}",
             f"{sizes['int8'] / 1e6:.1f}", f"{sizes['float32'] / sizes['int8']:.2f}x fewer",
             "int8 head: its own copy; the embedding stays float32 for the lookup"]]
    rows += logit_difference(float_model, int8_model, results)
    rows += bench_decoding(float_model, int8_model, n_new, rounds, results)
    del float_model, int8_model
    if args.ckpt:
        rows += run_perplexity(args.ckpt, results)
    print_table("int8 weights against float32: GPT-2 small shape, random weights (and --ckpt)",
                ["what", "float32", "int8", "ratio", "note"], rows)
    print("written:", write_json("quantize", results))
    return 0


if __name__ == "__main__":
    with tg.tuned_for_training():  # as the other benchmarks run
        sys.exit(main())
