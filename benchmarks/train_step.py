"""Training-step benchmark: tinygrad_lm against PyTorch eager on the same CPU, side by side.

For config A (vocab 65, block 64, 4 layers, 4 heads, n_embd 128, batch 16) and config B
(vocab 65, block 128, 6 layers, 6 heads, n_embd 192, batch 32): a full training step (forward,
backward, clip, AdamW) and a forward pass, float32, in one process, interleaved in blocks of
steps after warm-up (see time_rounds), medians. "speedup" is the throughput ratio
ours/PyTorch (PyTorch's ms over ours). Also: tokens/s, matmul GFLOP/s against NumPy's own
BLAS rate, the share of time per op class (tinygrad_lm's profiler), peak resident memory of
each (VmHWM of a fresh subprocess), and cold/warm start of `tinygrad-lm train` to its first
step. PyTorch runs with one thread per core (torch.set_num_threads), as tinygrad_lm does.

    python benchmarks/train_step.py [--quick] [--configs A,B]

--quick (what `tinygrad-lm bench --quick` runs) times config A only, in fewer rounds, without the
memory and start-time measurements, in under a minute; it ends by estimating how long the full
run would take on this machine from the step time it has just measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CONFIGS = {
    "A": dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch=16),
    "B": dict(vocab_size=65, block_size=128, n_layer=6, n_head=6, n_embd=192, batch=32),
}


def matmul_flops(c: dict) -> float:
    """FLOPs of the matmuls in one forward pass (2 per multiply-add); backward is twice this."""
    B, T, C, L, V = c["batch"], c["block_size"], c["n_embd"], c["n_layer"], c["vocab_size"]
    per_layer = 2 * B * T * (C * 3 * C + C * C + C * 4 * C * 2) + 2 * 2 * B * T * T * C
    return L * per_layer + 2 * B * T * C * V


def build_ours(c: dict, seed=0):
    import tinygrad_lm as tg
    from tinygrad_lm import optim
    tg.kernels.keep_freed_memory()  # as the trainer does
    cfg = tg.GPTConfig(**{k: v for k, v in c.items() if k != "batch"})
    model = tg.GPT(cfg, seed=seed)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                      betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    x = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))
    y = rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"]))

    def step():
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    def forward():
        with tg.no_grad():
            return model(x, y)

    return step, forward


def build_torch(c: dict):
    import torch
    from torch_gpt import TorchGPT, as_torch, make_optimizer, train_step
    torch.manual_seed(0)
    model = TorchGPT(c["vocab_size"], c["block_size"], c["n_layer"], c["n_head"], c["n_embd"])
    opt = make_optimizer(model)
    rng = np.random.default_rng(0)
    x = as_torch(rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"])))
    y = as_torch(rng.integers(0, c["vocab_size"], (c["batch"], c["block_size"])))

    def forward():
        with torch.no_grad():
            return model(x, y)

    return (lambda: train_step(model, opt, x, y)), forward


def time_rounds(fns: dict, rounds: int, warmup: int, block: int = 3) -> dict[str, float]:
    """Median seconds per call of each fn, measured interleaved in this one process.

    Each round runs every fn for one untimed call and then `block` timed ones, in an order
    rotated round by round. The untimed call absorbs the other framework's threads: each leaves
    its pool busy for a moment after its last call (PyTorch's OpenMP threads keep spinning), and
    whatever runs next pays for it. Measured on config A: our step took 49.5 ms right after a
    PyTorch step against 43-45 ms after one of ours, and PyTorch's 50.2 ms right after ours
    against 48.2 ms after its own. Both sides get the same treatment."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fns[name]()  # untimed: the switch from the other framework
            for _ in range(block):
                t0 = time.perf_counter()
                fns[name]()
                samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def profile_ours(c: dict, steps: int = 3) -> dict[str, float]:
    import tinygrad_lm as tg
    step, _ = build_ours(c)
    step()
    with tg.profile() as prof:
        for _ in range(steps):
            step()
    return {k: v / prof.wall for k, v in prof.by_class().items()}


def peak_memory(kind: str, config: str, steps: int = 3) -> float:
    """Peak resident set (MB) of a fresh process running a few training steps.

    Read from VmHWM in /proc/self/status: unlike getrusage's ru_maxrss, which Linux carries
    over from the parent through fork and exec, it belongs to the child's own address space."""
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import train_step as b; "
            f"s, _ = b.build_{kind}(b.CONFIGS[{config!r}]); [s() for _ in range({steps})]; "
            "print(b.own_peak_rss_mb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else float("nan")


def own_peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def numpy_blas_gflops() -> float:
    """GFLOP/s of NumPy's float32 matmul as it ships (BLAS's own threads), on 2048^3, measured
    in a fresh process: the yardstick of the 'matmul at >= 50% of the BLAS rate' target."""
    code = ("import time, numpy as np; a = np.ones((2048, 2048), np.float32); a @ a; "
            "t = []\nfor _ in range(7):\n t0 = time.perf_counter(); a @ a; "
            "t.append(time.perf_counter() - t0)\n"
            "print(2 * 2048 ** 3 / sorted(t)[3] / 1e9)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else float("nan")


def git_commit() -> str | None:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=HERE)
    return out.stdout.strip() if out.returncode == 0 else None


def start_time(cold: bool) -> float:
    """Seconds from launching `tinygrad-lm train` to the end of its first training step."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        if cold:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba-cache")
        code = ("import time, sys; t0 = time.perf_counter(); "
                "from tinygrad_lm.config import make_config; from tinygrad_lm.train import "
                f"Trainer; t = Trainer(make_config('tiny', ['--out_dir={tmp}/out'])); "
                "t.train_step(); print(time.perf_counter() - t0)")
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env)
        total = time.perf_counter() - t0
    return total if out.returncode == 0 else float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", default=None, help="default: A,B (A with --quick)")
    args = parser.parse_args(argv)
    args.configs = args.configs or ("A" if args.quick else "A,B")
    started = time.perf_counter()
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        torch = None
    rounds, warmup = (2, 1) if args.quick else (5, 2)
    from tinygrad_lm.kernels import threads
    results = {"commit": git_commit(), "torch": torch.__version__ if torch else None,
               "threads": threads.num_threads(), "numpy_blas_gflops": numpy_blas_gflops(),
               "configs": {}}
    header = (f"{'cfg':<4}{'what':<9}{'ours ms':>9}{'torch ms':>10}{'speedup':>9}"
              f"{'ours tok/s':>12}{'torch tok/s':>12}{'GFLOP/s':>9}")
    print(header)
    print("-" * len(header))
    for name in args.configs.split(","):
        c = CONFIGS[name]
        ours_step, ours_fwd = build_ours(c)
        fns = {"ours_step": ours_step, "ours_fwd": ours_fwd}
        if torch:
            t_step, t_fwd = build_torch(c)
            fns.update(torch_step=t_step, torch_fwd=t_fwd)
        times = time_rounds(fns, rounds, warmup)
        tokens = c["batch"] * c["block_size"]
        row = {"times_s": times, "tokens_per_step": tokens}
        for what, flops in (("step", 3 * matmul_flops(c)), ("fwd", matmul_flops(c))):
            ours, theirs = times[f"ours_{what}"], times.get(f"torch_{what}")
            ratio = f"{theirs / ours:.2f}x" if theirs else "-"  # throughput, ours/torch
            print(f"{name:<4}{what:<9}{ours * 1e3:>9.1f}"
                  f"{(theirs or float('nan')) * 1e3:>10.1f}{ratio:>9}{tokens / ours:>12.0f}"
                  f"{(tokens / theirs if theirs else float('nan')):>12.0f}"
                  f"{flops / ours / 1e9:>9.1f}")
            row[f"{what}_speedup_vs_torch"] = theirs / ours if theirs else None
            row[f"{what}_gflops"] = flops / ours / 1e9
        row["profile_share"] = profile_ours(c)
        if not args.quick:
            row["peak_rss_mb"] = {"ours": peak_memory("ours", name)}
            if torch:
                row["peak_rss_mb"]["torch"] = peak_memory("torch", name)
        results["configs"][name] = row
    for name, row in results["configs"].items():
        print(f"\nconfig {name}: time per op class (training step, tinygrad_lm profiler)")
        for k, v in row["profile_share"].items():
            print(f"  {k:<40}{v:>7.1%}")
        if "peak_rss_mb" in row:
            print("  peak RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                 row["peak_rss_mb"].items()))
    blas = results["numpy_blas_gflops"]
    for name, row in results["configs"].items():
        print(f"config {name}: matmul {row['step_gflops']:.0f} GFLOP/s over the training step = "
              f"{row['step_gflops'] / blas:.0%} of NumPy's BLAS rate ({blas:.0f} GFLOP/s, "
              "2048^3 float32)")
    if not args.quick:
        results["start_s"] = {"cold": start_time(True), "warm": start_time(False)}
        print(f"\nstart to first step: cold {results['start_s']['cold']:.1f} s, "
              f"warm {results['start_s']['warm']:.1f} s")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "train_step.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {path}")
    if args.quick:
        took = time.perf_counter() - started
        full = estimate_full_run_s(results, torch is not None)
        print(f"this quick run took {took:.0f} s; the full run (python benchmarks/train_step.py "
              f"or tinygrad-lm bench: configs A and B, 5 rounds, memory and start time) would "
              f"take about {full / 60:.0f} min on this machine (estimated from config A's step)")
    return 0


def estimate_full_run_s(results: dict, with_torch: bool) -> float:
    """Seconds the full run would take, from the measured config-A times: each config runs
    warmup + rounds * (1 + block) calls of a step and of a forward per framework; config B's
    step is taken to scale with its matmul FLOPs; plus an allowance for the subprocesses
    (about 5 s per memory run, 10 s per start-time run: mostly imports and loading Numba's
    cache), which makes this a rough figure."""
    times = results["configs"]["A"]["times_s"]
    calls = 2 + 5 * (1 + 3) + 4  # warm-up, rounds of (untimed + block), the profiled steps
    per_framework = times["ours_step"] + times["ours_fwd"]
    if with_torch:
        per_framework += times.get("torch_step", 0) + times.get("torch_fwd", 0)
    scale_b = matmul_flops(CONFIGS["B"]) / matmul_flops(CONFIGS["A"])
    subprocesses = 2 * (2 if with_torch else 1) * 5.0 + 2 * 10.0  # memory runs, start times
    return calls * per_framework * (1 + scale_b) + subprocesses


if __name__ == "__main__":
    sys.exit(main())
