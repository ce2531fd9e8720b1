"""GPT-2 small (124M) training at long context: peak memory and step time at T = 256, 512, 1024.

    python benchmarks/long_context.py                  # batch 8, T 256 512 1024, one timed step
    python benchmarks/long_context.py --batch 2 --T 1024 --steps 2
    python benchmarks/long_context.py --warmup 0    # one step each: the peak, not the time

Each case runs in a fresh process (so its peak resident set, VmHWM, is its own): build the
model, --warmup untimed steps, then --steps timed training steps (forward, backward, clipping,
AdamW), reporting the median wall and CPU time per step. With --warmup 0 the optimizer's
state is allocated first instead (one update from zero gradients), so that a single step
reaches the peak of a steady run, in half the time; its step time then includes the first
call's costs (compilation, first-touch page faults). Three implementations:

- ours: the default fused path, whose attention is memory-linear from
  CausalAttention.TILED_FROM on (only the output and a log-sum-exp per query are kept);
- ours, weights kept: the same with TILED_FROM out of reach, so every layer keeps its
  (B, nh, T, T) attention weights for backward, as before the memory-linear kernels;
- PyTorch eager: benchmarks/torch_gpt.py's GPT (the same math, an explicit causal mask), when
  torch is importable.

Cases run one after another, never two at once, since each can take several GB. Writes
benchmarks/results/long_context.json. The machine is shared: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import optional_torch, print_table, run_python, write_json  # noqa: E402

GPT2_SMALL = dict(vocab_size=50257, n_layer=12, n_head=12, n_embd=768)

CHILD = r'''
import contextlib, json, os, statistics, time
import numpy as np
tuning = contextlib.ExitStack()  # the process-wide settings of the timed library, to the end
kind, B, T, steps, warmup = {kind!r}, {B}, {T}, {steps}, {warmup}
cfg = dict({cfg!r}, block_size=T)
rng = np.random.default_rng(0)
x = rng.integers(0, cfg["vocab_size"], (B, T))
y = rng.integers(0, cfg["vocab_size"], (B, T))
if kind == "torch":
    import torch
    import torch_gpt
    torch.set_num_threads(os.cpu_count() or 1)
    model = torch_gpt.TorchGPT(**cfg)
    opt = torch_gpt.make_optimizer(model, lr=1e-4)
    xt, yt = torch_gpt.as_torch(x), torch_gpt.as_torch(y)
    def step():
        return float(torch_gpt.train_step(model, opt, xt, yt))
    def allocate_state():
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        opt.zero_grad(set_to_none=True)
else:
    import tinygrad_lm as tg
    from tinygrad_lm import optim
    from tinygrad_lm.ops.fused import CausalAttention
    import _common
    tuning.enter_context(tg.tuned_for_training())  # as `tinygrad-lm train` runs
    if kind == "ours_weights_kept":
        CausalAttention.TILED_FROM = 1 << 62
    model = tg.GPT(tg.GPTConfig(**cfg), seed=0)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-4)
    def step():
        return float(_common.ours_train_step(model, opt, x, y).data)
    def allocate_state():
        for p in model.parameters():
            p.grad = np.zeros_like(p.data)
        opt.step()
        opt.zero_grad()
for _ in range(warmup):  # compilation, first-touch allocations
    step()
if not warmup:
    allocate_state()
walls, cpus = [], []
for _ in range(steps):
    w0, c0 = time.perf_counter(), time.process_time()
    loss = step()
    walls.append(time.perf_counter() - w0)
    cpus.append(time.process_time() - c0)
import _common
print(json.dumps(dict(peak_mb=_common.own_peak_rss_mb(), step_s=statistics.median(walls),
                      cpu_s=statistics.median(cpus), loss=loss)))
tuning.close()
'''

KINDS = ["ours", "torch", "ours_weights_kept"]
LABELS = {"ours": "ours", "ours_weights_kept": "ours, weights kept", "torch": "PyTorch eager"}


def run_case(kind: str, B: int, T: int, steps: int, warmup: int) -> dict:
    code = CHILD.format(kind=kind, B=B, T=T, steps=steps, warmup=warmup, cfg=GPT2_SMALL)
    line, error = run_python(code, f"{kind} B={B} T={T}")
    return {"error": error} if line is None else json.loads(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--T", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--steps", type=int, default=1, help="timed steps after the warm-up")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (0: see above)")
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k != "torch" or optional_torch() is not None]
    load = os.getloadavg()
    results = {}
    for T in args.T:
        for kind in kinds:
            results[f"{kind}@{T}"] = r = run_case(kind, args.batch, T, args.steps, args.warmup)
            print(f"{LABELS[kind]:>20}  B={args.batch} T={T}: {r}", flush=True)
    rows = []
    for T in args.T:
        for kind in kinds:
            r = results[f"{kind}@{T}"]
            if "error" in r:
                rows.append([f"{args.batch} x {T}", LABELS[kind], "failed", "-", "-"])
                continue
            rows.append([f"{args.batch} x {T}", LABELS[kind], f"{r['peak_mb'] / 1024:.2f}",
                         f"{r['step_s']:.1f}", f"{r['cpu_s']:.1f}"])
    print_table(f"GPT-2 small training, peak memory (VmHWM of a fresh process), {args.steps} "
                f"timed step(s) after {args.warmup} warm-up step(s); load average "
                f"{load[0]:.1f}",
                ["B x T", "implementation", "peak GB", "step s (wall)", "step s (CPU)"], rows)
    path = write_json("long_context", {"batch": args.batch, "steps": args.steps,
                                       "warmup": args.warmup,
                                       "load_average": load, "results": results})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
