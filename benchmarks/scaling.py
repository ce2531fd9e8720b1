"""How a training step's time and memory grow with the context T, the width n_embd and the depth
n_layer, ours against PyTorch eager, with the fitted exponent of each.

    python benchmarks/scaling.py             # 4 points per axis around config B
    python benchmarks/scaling.py --steps 3 --axes T,n_layer
    python benchmarks/scaling.py --axes T --out scaling_T     # one axis, its own JSON

Around config B (vocab 65, block 128, 6 layers, 6 heads, n_embd 192, batch 32) one setting
varies at a time: T (block_size) 64..512, n_embd 96..384 (6 heads throughout), n_layer 3..24.

Each point runs in a fresh process per implementation (ours; PyTorch eager, the same math in
benchmarks/torch_gpt.py), the two alternating in order point by point: one untimed warm-up
step, then --steps timed training steps (forward, backward, clipping, AdamW), median wall and
CPU time, then the process's peak resident set (VmHWM).

- time: wall and CPU seconds per step. On a machine shared with other jobs wall time measures
  the load as much as the code; CPU time (all of a process's threads) is the steadier figure,
  though it also counts the time a library's threads spin while waiting for work;
- memory: VmHWM less that of a fresh process that only imports the library (so the fit sees
  what the step costs, not the interpreter);
- exponent: least-squares slope of log(y) against log(x) over the points of an axis, so time
  proportional to T^p has exponent p.

Writes benchmarks/results/scaling.json; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import optional_torch, ours_train_step, print_table, run_python, write_json  # noqa: E402

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
    from tinygrad_lm.training import optim
    model = tg.GPT(tg.GPTConfig(**fields), seed=0)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                      betas=(0.9, 0.99))

    return lambda: ours_train_step(model, opt, x, y)


CHILD = r'''
import contextlib, json, statistics, time
{setup}
import _common, scaling
c, steps = json.loads({config!r}), {steps}
walls, cpus = [], []
with {tuning}:
    if c:
        step = scaling.build({kind!r}, c)
        step()  # warm-up: compilation, first-touch allocations
        for _ in range(steps):
            w0, c0 = time.perf_counter(), time.process_time()
            step()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
print(json.dumps(dict(peak_mb=_common.own_peak_rss_mb(),
                      wall_s=statistics.median(walls) if walls else None,
                      cpu_s=statistics.median(cpus) if cpus else None)))
'''
SETUP = {"ours": "import tinygrad_lm; tinygrad_lm.kernels.active_backend()",
         "torch": "import os, torch; torch.set_num_threads(os.cpu_count() or 1)"}
TUNING = {"ours": "tinygrad_lm.tuned_for_training()",  # as `tinygrad-lm train` runs
          "torch": "contextlib.nullcontext()"}


def run_point(kind: str, c: dict | None, steps: int) -> dict:
    """{peak_mb, wall_s, cpu_s} of a fresh process that builds c and times `steps` steps after
    a warm-up (c None: it only imports the library)."""
    code = CHILD.format(setup=SETUP[kind], tuning=TUNING[kind], kind=kind,
                        config=json.dumps(c or {}), steps=steps)
    line, _ = run_python(code, f"{kind} {c}")
    if line is None:
        return dict(peak_mb=float("nan"), wall_s=float("nan"), cpu_s=float("nan"))
    return json.loads(line)


def exponent(xs, ys) -> float:
    """Least-squares slope of log y against log x."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if not np.all(np.isfinite(ly)):
        return float("nan")
    return float(np.polyfit(lx, ly, 1)[0])


def run_axis(axis: str, kinds, steps, baseline) -> dict:
    field, values = AXES[axis]
    points = []
    for i, v in enumerate(values):
        c = dict(BASE, **{field: v})
        order = kinds if i % 2 == 0 else kinds[::-1]
        r = {k: run_point(k, c, steps) for k in order}
        points.append(dict(value=v, **{k: r[k] for k in kinds}))
        print(f"{axis}={v}: {r}", flush=True)
    fit = {}
    for k in kinds:
        for what in ("wall_s", "cpu_s"):
            fit[f"{what}_{k}"] = exponent(values, [p[k][what] for p in points])
        fit[f"memory_{k}"] = exponent(values, [p[k]["peak_mb"] - baseline[k] for p in points])
    return dict(field=field, points=points, exponent=fit)


def table(axis: str, res: dict, kinds) -> None:
    cols = [("wall_s", "wall ms", 1e3), ("cpu_s", "CPU ms", 1e3), ("peak_mb", "peak MB", 1)]
    headers = [axis] + [f"{k} {label}" for _, label, _ in cols for k in kinds]
    if "torch" in kinds:
        headers += ["torch/ours CPU"]
    rows = []
    for p in res["points"]:
        row = [str(p["value"])] + [f"{p[k][key] * unit:,.0f}" for key, _, unit in cols
                                   for k in kinds]
        if "torch" in kinds:
            row.append(f"{p['torch']['cpu_s'] / p['ours']['cpu_s']:.2f}")
        rows.append(row)
    e = res["exponent"]
    names = {"wall_s": "wall_s", "cpu_s": "cpu_s", "peak_mb": "memory"}
    rows.append(["exponent"] + [f"{e[f'{names[key]}_{k}']:.2f}" for key, _, _ in cols
                                for k in kinds] + ([""] if "torch" in kinds else []))
    others = ", ".join(f"{k}={v}" for k, v in BASE.items() if k != res["field"])
    print_table(f"step time and peak memory against {axis} ({others})", headers, rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--axes", default=",".join(AXES))
    ap.add_argument("--steps", type=int, default=1, help="timed steps per point")
    ap.add_argument("--out", default="scaling", help="results/<out>.json (one per parallel run)")
    args = ap.parse_args(argv)
    kinds = ["ours"] + (["torch"] if optional_torch() is not None else [])
    load_before = os.getloadavg()
    baseline = {k: run_point(k, None, 0)["peak_mb"] for k in kinds}
    results = {axis: run_axis(axis, kinds, args.steps, baseline)
               for axis in args.axes.split(",")}
    load_after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before {load_before}, after {load_after}; memory "
          f"exponents fit peak minus the import-only peak {baseline} MB")
    for axis, res in results.items():
        table(axis, res, kinds)
    path = write_json(args.out, {"base": BASE, "steps": args.steps, "import_only_mb": baseline,
                                  "load_average": {"before": load_before, "after": load_after},
                                  "axes": results})
    print(f"\nwrote {path}")
    return 0 if all(math.isfinite(v) for r in results.values() for v in r["exponent"].values()) \
        else 1


if __name__ == "__main__":
    sys.exit(main())
