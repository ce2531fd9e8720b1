"""How a training step's time and memory grow with the context T, the width n_embd and the depth
n_layer, ours against PyTorch eager, with the fitted exponent of each.

    python benchmarks/scaling.py             # 4 points per axis around config B, 3 rounds
    python benchmarks/scaling.py --rounds 5 --axes T,n_layer

Around config B (vocab 65, block 128, 6 layers, 6 heads, n_embd 192, batch 32) one setting
varies at a time: T (block_size) 64..512, n_embd 96..384 (6 heads throughout), n_layer 3..24.

- time: for each point, our step and PyTorch's (benchmarks/torch_gpt.py, the same math) are
  timed interleaved in this one process, rounds rotated, medians (the machine is shared: the
  load average is recorded, and the ratio is the figure to read);
- memory: peak resident set (VmHWM) of a fresh process that runs two steps of the point, less
  that of a fresh process that only imports the library and builds nothing (so the fit sees
  what the step costs, not the interpreter);
- exponent: least-squares slope of log(y) against log(x) over the points of an axis, so time
  proportional to T^p has exponent p.

Writes benchmarks/results/scaling.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import optional_torch, print_table, write_json  # noqa: E402

BASE = dict(vocab_size=65, block_size=128, n_layer=6, n_head=6, n_embd=192, batch=32)
AXES = {"T": ("block_size", [64, 128, 256, 512]),
        "n_embd": ("n_embd", [96, 192, 288, 384]),
        "n_layer": ("n_layer", [3, 6, 12, 24])}


def build(kind: str, c: dict):
    """A training step (forward, backward, clipping, AdamW) of config c, as a callable."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))
    y = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))
    fields = {k: v for k, v in c.items() if k != "batch"}
    if kind == "torch":
        import torch
        from torch_gpt import TorchGPT, as_torch, make_optimizer, train_step
        torch.manual_seed(0)
        model = TorchGPT(**fields)
        opt = make_optimizer(model)
        xt, yt = as_torch(x), as_torch(y)
        return lambda: train_step(model, opt, xt, yt)
    import tinygrad_lm as tg
    from tinygrad_lm import optim
    model = tg.GPT(tg.GPTConfig(**fields), seed=0)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                      betas=(0.9, 0.99))

    def step():
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def time_point(c: dict, kinds: list[str], rounds: int) -> dict[str, float]:
    """Median seconds per step of each kind, interleaved: each round runs every kind once
    untimed (it absorbs the other library's threads, still spinning from its last call) and
    then once timed, in an order rotated round by round."""
    import time
    steps = {k: build(k, c) for k in kinds}
    for fn in steps.values():
        fn()  # warm-up: compilation, first-touch allocations
    samples = {k: [] for k in kinds}
    for r in range(rounds):
        for k in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
            steps[k]()
            t0 = time.perf_counter()
            steps[k]()
            samples[k].append(time.perf_counter() - t0)
    del steps
    gc.collect()
    return {k: float(np.median(v)) for k, v in samples.items()}


CHILD = r'''
import json, sys
sys.path.insert(0, {here!r})
{setup}
import scaling
c = json.loads({config!r})
if c:
    step = scaling.build({kind!r}, c)
    step(); step()
with open("/proc/self/status") as f:
    print(next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:")))
'''
SETUP = {"ours": "import tinygrad_lm; tinygrad_lm.kernels.active_backend(); "
                 "tinygrad_lm.kernels.keep_freed_memory()",
         "torch": "import os, torch; torch.set_num_threads(os.cpu_count() or 1)"}


def peak_mb(kind: str, c: dict | None) -> float:
    """VmHWM (MB) of a fresh process that builds c and runs two steps (c None: import only)."""
    code = CHILD.format(here=HERE, setup=SETUP[kind], kind=kind, config=json.dumps(c or {}))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        print(out.stderr[-1500:], file=sys.stderr)
        return float("nan")
    return float(out.stdout.split()[-1])


def exponent(xs, ys) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if not np.all(np.isfinite(ly)):
        return float("nan")
    return float(np.polyfit(lx, ly, 1)[0])


def run_axis(axis: str, kinds, rounds, baseline, memory: bool) -> dict:
    field, values = AXES[axis]
    points = []
    for v in values:
        c = dict(BASE, **{field: v})
        t = time_point(c, kinds, rounds)
        m = {k: peak_mb(k, c) for k in kinds} if memory else {}
        points.append(dict(value=v, time_s=t, peak_mb=m))
        print(f"{axis}={v}: time {t}, peak MB {m}", flush=True)
    fit = {}
    for k in kinds:
        fit[f"time_{k}"] = exponent(values, [p["time_s"][k] for p in points])
        if memory:
            fit[f"memory_{k}"] = exponent(values, [p["peak_mb"][k] - baseline[k]
                                                   for p in points])
    return dict(field=field, points=points, exponent=fit)


def table(axis: str, res: dict, kinds, baseline, memory: bool) -> None:
    headers = [axis, "ours ms"] + (["torch ms", "torch/ours"] if "torch" in kinds else [])
    if memory:
        headers += ["ours MB"] + (["torch MB"] if "torch" in kinds else [])
    rows = []
    for p in res["points"]:
        t, m = p["time_s"], p["peak_mb"]
        row = [str(p["value"]), f"{t['ours'] * 1e3:,.0f}"]
        if "torch" in kinds:
            row += [f"{t['torch'] * 1e3:,.0f}", f"{t['torch'] / t['ours']:.2f}"]
        if memory:
            row += [f"{m['ours']:,.0f}"] + ([f"{m['torch']:,.0f}"] if "torch" in kinds else [])
        rows.append(row)
    e = res["exponent"]
    fit = ["exponent", f"{e['time_ours']:.2f}"]
    if "torch" in kinds:
        fit += [f"{e['time_torch']:.2f}", ""]
    if memory:
        fit += [f"{e['memory_ours']:.2f}"] + ([f"{e['memory_torch']:.2f}"]
                                              if "torch" in kinds else [])
    rows.append(fit)
    others = ", ".join(f"{k}={v}" for k, v in BASE.items() if k != res["field"])
    print_table(f"step time and peak memory against {axis} ({others})", headers, rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--axes", default=",".join(AXES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-memory", action="store_true", help="time only")
    args = ap.parse_args(argv)
    torch = optional_torch()
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
    kinds = ["ours"] + (["torch"] if torch is not None else [])
    memory = not args.no_memory
    load_before = os.getloadavg()
    baseline = {k: peak_mb(k, None) for k in kinds} if memory else {}
    results = {}
    for axis in args.axes.split(","):
        results[axis] = run_axis(axis, kinds, args.rounds, baseline, memory)
    load_after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}; memory "
          f"exponents fit peak minus the import-only peak {baseline} MB")
    for axis, res in results.items():
        table(axis, res, kinds, baseline, memory)
    path = write_json("scaling", {"base": BASE, "rounds": args.rounds, "import_only_mb": baseline,
                                  "load_average": {"before": load_before, "after": load_after},
                                  "axes": results})
    print(f"\nwrote {path}")
    return 0 if all(math.isfinite(v) for r in results.values() for v in r["exponent"].values()) \
        else 1


if __name__ == "__main__":
    sys.exit(main())
