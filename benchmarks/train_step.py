"""Training-step benchmark: tinygrad_lm against PyTorch eager and torch.compile, side by side.

For config A (vocab 65, block 64, 4 layers, 4 heads, n_embd 128, batch 16), config B
(vocab 65, block 128, 6 layers, 6 heads, n_embd 192, batch 32) and, when asked, GPT-2 small
(vocab 50257, 12 layers, 12 heads, n_embd 768, block 1024) at batch 4 x T 64 (G4x64) and
batch 8 x T 256 (G8x256): a full training step (forward, backward, clip, AdamW) and a forward
pass, float32, in one process, interleaved in blocks of steps after warm-up (see time_rounds),
medians. "speedup" is the throughput ratio ours/PyTorch (PyTorch's ms over ours), against
eager and against torch.compile (default mode; skipped, with the reason printed, when it
cannot compile: it needs a C compiler). "bound ms" is the matmul bound: the step's matmul FLOPs
at the best BLAS rate measured in the same run (NumPy's own 2048^3 float32 matmul on all its
threads), the time a step would take if it were nothing but matmuls at that rate; "x bound" is
ours over it (1.0 would be no time outside the matmuls and matmuls at full speed).
Also: tokens/s, the share of time per op class (tinygrad_lm's profiler), peak resident memory
of each (VmHWM of a fresh subprocess), and cold/warm start of `tinygrad-lm train` to its first
step. PyTorch runs with one thread per core (torch.set_num_threads), as tinygrad_lm does.

    python benchmarks/train_step.py [--quick] [--configs A,B,G4x64,G8x256] [--no-compile]

--quick (what `tinygrad-lm bench --quick` runs) times config A only, in fewer rounds, without the
memory and start-time measurements, in under a minute; it ends by estimating how long the full
run would take on this machine from the step time it has just measured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import ours_train_step, peak_in_child, run_python, write_json  # noqa: E402

CONFIGS = {
    "A": dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, batch=16),
    "B": dict(vocab_size=65, block_size=128, n_layer=6, n_head=6, n_embd=192, batch=32),
    # GPT-2 small (124M parameters) on sequences of `seq` tokens of its 1024-token context
    "G4x64": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                  batch=4, seq=64),
    "G8x256": dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768,
                   batch=8, seq=256),
}
# GPT-2 small's steps take seconds: fewer rounds there
ROUNDS = {"G4x64": (3, 1, 2), "G8x256": (3, 1, 1)}  # (rounds, warm-up calls, block)


def seq_len(c: dict) -> int:
    """Tokens per sequence: the whole context unless the config names a shorter `seq`."""
    return c.get("seq", c["block_size"])


def model_fields(c: dict) -> dict:
    return {k: v for k, v in c.items() if k not in ("batch", "seq")}


def matmul_flops(c: dict) -> float:
    """FLOPs of the matmuls in one forward pass (2 per multiply-add); backward is twice this."""
    B, T, C, L, V = c["batch"], seq_len(c), c["n_embd"], c["n_layer"], c["vocab_size"]
    per_layer = 2 * B * T * (C * 3 * C + C * C + C * 4 * C * 2) + 2 * 2 * B * T * T * C
    return L * per_layer + 2 * B * T * C * V


def build_ours(c: dict, seed=0):
    import tinygrad_lm as tg
    from tinygrad_lm.training import optim
    cfg = tg.GPTConfig(**model_fields(c))
    model = tg.GPT(cfg, seed=seed)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                      betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    x = rng.integers(0, c["vocab_size"], (c["batch"], seq_len(c)))
    y = rng.integers(0, c["vocab_size"], (c["batch"], seq_len(c)))

    def step():
        return ours_train_step(model, opt, x, y)

    def forward():
        with tg.no_grad():
            return model(x, y)

    return step, forward


def build_torch(c: dict, compiled: bool = False):
    """PyTorch's step and forward; with `compiled`, the model wrapped in torch.compile (default
    mode), which compiles on the first call of each (the warm-up)."""
    import torch
    from torch_gpt import TorchGPT, as_torch, make_optimizer, train_step
    torch.manual_seed(0)
    model = TorchGPT(c["vocab_size"], c["block_size"], c["n_layer"], c["n_head"], c["n_embd"])
    opt = make_optimizer(model)
    if compiled:
        model = torch.compile(model)
    rng = np.random.default_rng(0)
    x = as_torch(rng.integers(0, c["vocab_size"], (c["batch"], seq_len(c))))
    y = as_torch(rng.integers(0, c["vocab_size"], (c["batch"], seq_len(c))))

    def forward():
        with torch.no_grad():
            return model(x, y)

    return (lambda: train_step(model, opt, x, y)), forward


def build_compiled(c: dict):
    """build_torch(c, compiled=True) after compiling both functions once, or (None, reason)
    when torch.compile cannot run here (no C compiler, an unsupported platform, ...)."""
    import shutil
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        return None, "no C compiler on PATH"
    try:
        step, forward = build_torch(c, compiled=True)
        step()
        forward()
    except Exception as e:  # compilation errors come in many types; any of them skips it
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]
    return (step, forward), None


def time_rounds(fns: dict, rounds: int, warmup: int, block: int = 3,
                samples_out: dict | None = None) -> dict[str, float]:
    """Median seconds per call of each fn, measured interleaved in this one process.

    Each round runs every fn for one untimed call and then `block` timed ones, in an order
    rotated round by round. The untimed call absorbs the other framework's threads: each leaves
    its pool busy for a moment after its last call (PyTorch's OpenMP threads keep spinning), and
    whatever runs next pays for it. Measured on config A: our step took 49.5 ms right after a
    PyTorch step against 43-45 ms after one of ours, and PyTorch's 50.2 ms right after ours
    against 48.2 ms after its own. Both sides get the same treatment.

    samples_out, when given, receives every timed call's seconds per fn (for the spread)."""
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
    if samples_out is not None:
        samples_out.update(samples)
    return {k: statistics.median(v) for k, v in samples.items()}


def profile_ours(c: dict, steps: int = 3) -> tuple[dict[str, float], dict]:
    """(share of the step per op class, the profiler's idle core time in split kernels)."""
    import tinygrad_lm as tg
    step, _ = build_ours(c)
    step()
    with tg.profile() as prof:
        for _ in range(steps):
            step()
    idle = prof.idle()
    idle["per_step_s"] = idle["idle_s"] / steps
    idle["calls_per_step"] = idle["split_calls"] / steps
    return {k: v / prof.wall for k, v in prof.by_class().items()}, idle


def peak_memory(kind: str, config: str, steps: int = 3) -> float:
    """Peak resident set (MB) of a fresh process running a few training steps."""
    return peak_in_child(f"import train_step as b\nwith b.tuned({kind!r}):\n"
                         f"    s, _ = b.build_{kind}(b.CONFIGS[{config!r}]); "
                         f"[s() for _ in range({steps})]", f"peak memory of {kind} {config}")


def tuned(kind: str):
    """The process-wide settings `tinygrad-lm train` runs with (kernels/tuning.py), for ours."""
    import tinygrad_lm as tg
    return tg.tuned_for_training() if kind == "ours" else contextlib.nullcontext()


def numpy_blas_gflops() -> float:
    """GFLOP/s of NumPy's float32 matmul as it ships (BLAS's own threads), on 2048^3, measured
    in a fresh process: the yardstick of the 'matmul at >= 50% of the BLAS rate' target."""
    code = ("import time, numpy as np; a = np.ones((2048, 2048), np.float32); a @ a; "
            "t = []\nfor _ in range(7):\n t0 = time.perf_counter(); a @ a; "
            "t.append(time.perf_counter() - t0)\n"
            "print(2 * 2048 ** 3 / sorted(t)[3] / 1e9)")
    line, _ = run_python(code, "NumPy's BLAS rate")
    return float("nan") if line is None else float(line)


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
                "from tinygrad_lm.training.config import make_config; "
                "from tinygrad_lm.training.trainer import Trainer; "
                "from tinygrad_lm import tuned_for_training\n"
                "with tuned_for_training():  # as `tinygrad-lm train` runs\n"
                f"    t = Trainer(make_config('tiny', ['--out_dir={tmp}/out'])); "
                "t.train_step(); print(time.perf_counter() - t0)")
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env)
        total = time.perf_counter() - t0
    return total if out.returncode == 0 else float("nan")


HEADER = (f"{'cfg':<7}{'what':<5}{'ours ms':>9}{'eager ms':>10}{'vs eager':>9}"
          f"{'compile ms':>11}{'vs compile':>11}{'ours tok/s':>11}{'GFLOP/s':>9}"
          f"{'bound ms':>10}{'x bound':>9}")


def time_config(name: str, torch, compile_too: bool, quick: bool, blas: float) -> dict:
    """Time one config's step and forward (ours, PyTorch eager, torch.compile), print its two
    table rows and return its results."""
    c = CONFIGS[name]
    rounds, warmup, block = (2, 1, 3) if quick else ROUNDS.get(name, (5, 2, 3))
    ours_step, ours_fwd = build_ours(c)
    fns = {"ours_step": ours_step, "ours_fwd": ours_fwd}
    row = {"compile_skipped": None}
    if torch:
        fns["eager_step"], fns["eager_fwd"] = build_torch(c)
        if compile_too:
            compiled, row["compile_skipped"] = build_compiled(c)
            if compiled:
                fns["compile_step"], fns["compile_fwd"] = compiled
    samples: dict = {}
    times = time_rounds(fns, rounds, warmup, block, samples_out=samples)
    tokens = c["batch"] * seq_len(c)
    row.update(times_s=times, samples_s=samples, tokens_per_step=tokens, model=c)
    for what, flops in (("step", 3 * matmul_flops(c)), ("fwd", matmul_flops(c))):
        ours = times[f"ours_{what}"]
        eager, compiled = times.get(f"eager_{what}"), times.get(f"compile_{what}")
        cells = [f"{name:<7}{what:<5}{ours * 1e3:>9.1f}"]
        for theirs in (eager, compiled):  # throughput ratio ours/theirs: their ms over ours
            cells.append(f"{theirs * 1e3:>10.1f}{theirs / ours:>8.2f}x" if theirs
                         else f"{'-':>10}{'-':>9}")
        gflops = flops / ours / 1e9
        bound = flops / (blas * 1e9)  # the matmuls alone at the best BLAS rate
        print(f"{cells[0]}{cells[1]} {cells[2]}{tokens / ours:>11.0f}{gflops:>9.1f}"
              f"{bound * 1e3:>10.1f}{ours / bound:>8.2f}x")
        row[f"{what}_bound_s"] = bound
        row[f"{what}_over_bound"] = ours / bound
        row[f"{what}_speedup_vs_torch"] = eager / ours if eager else None
        row[f"{what}_speedup_vs_compile"] = compiled / ours if compiled else None
        row[f"{what}_gflops"] = gflops
        row[f"{what}_blas_share"] = gflops / blas
        row[f"{what}_torch_blas_share"] = flops / eager / 1e9 / blas if eager else None
    row["profile_share"], row["split_idle"] = profile_ours(c)
    if not quick:
        row["peak_rss_mb"] = {"ours": peak_memory("ours", name)}
        if torch:
            row["peak_rss_mb"]["torch"] = peak_memory("torch", name)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--configs", default=None,
                        help=f"comma-separated, of {','.join(CONFIGS)}; default: A,B "
                             "(A with --quick)")
    parser.add_argument("--no-compile", action="store_true",
                        help="leave out torch.compile (always left out with --quick: compiling "
                             "takes a minute or more)")
    args = parser.parse_args(argv)
    names = (args.configs or ("A" if args.quick else "A,B")).split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    started = time.perf_counter()
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
    except ImportError:
        torch = None
    from tinygrad_lm.kernels import threads
    blas = numpy_blas_gflops()
    results = {"commit": git_commit(), "load_average_start": os.getloadavg(),
               "torch": torch.__version__ if torch else None,
               "threads": threads.num_threads(), "numpy_blas_gflops": blas, "configs": {}}
    print(f"NumPy's BLAS: {blas:.0f} GFLOP/s (2048^3 float32, its own threads)")
    print(HEADER)
    print("-" * len(HEADER))
    for name in names:
        results["configs"][name] = time_config(name, torch, not (args.quick or args.no_compile),
                                               args.quick, blas)
    report(results)
    if not args.quick:
        results["start_s"] = {"cold": start_time(True), "warm": start_time(False)}
        print(f"\nstart to first step: cold {results['start_s']['cold']:.1f} s, "
              f"warm {results['start_s']['warm']:.1f} s")
    path = write_json("train_step", results)  # with the machine, the time and the arguments
    print(f"\nwrote {path}")
    if args.quick:
        took = time.perf_counter() - started
        full = estimate_full_run_s(results, torch is not None)
        print(f"this quick run took {took:.0f} s; the full run (python benchmarks/train_step.py "
              f"or tinygrad-lm bench: configs A and B, 5 rounds, memory and start time) would "
              f"take about {full / 60:.0f} min on this machine (estimated from config A's step)"
              + (", plus a few minutes for torch.compile to compile (--no-compile leaves it "
                 "out)" if torch else ""))
    return 0


def report(results: dict) -> None:
    """Print, per config, why torch.compile was skipped (if it was), the time per op class and
    peak memory, then the BLAS shares."""
    for name, row in results["configs"].items():
        if row["compile_skipped"]:
            print(f"\nconfig {name}: torch.compile skipped ({row['compile_skipped']})")
        print(f"\nconfig {name}: time per op class (training step, tinygrad_lm profiler)")
        for k, v in row["profile_share"].items():
            print(f"  {k:<40}{v:>7.1%}")
        idle = row.get("split_idle")
        if idle and idle["split_calls"]:
            print(f"  cores idle in split kernels: {idle['share_of_cores']:.1%} of the cores' "
                  f"time, {idle['per_step_s'] * 1e3:.1f} core-ms a step over "
                  f"{idle['calls_per_step']:.0f} split calls (workers waking up "
                  f"{idle['worker_wait_s'] / idle['idle_s']:.0%}, shares done before the "
                  f"others {idle['uneven_ends_s'] / idle['idle_s']:.0%})")
        if "peak_rss_mb" in row:
            print("  peak RSS MB: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                 row["peak_rss_mb"].items()))
    blas = results["numpy_blas_gflops"]
    for name, row in results["configs"].items():
        eager = row["times_s"].get("eager_step")
        print(f"config {name}: matmul {row['step_gflops']:.0f} GFLOP/s over the training step = "
              f"{row['step_blas_share']:.0%} of NumPy's BLAS rate ({blas:.0f} GFLOP/s, "
              f"2048^3 float32); step {row['step_over_bound']:.2f}x its matmul bound of "
              f"{row['step_bound_s'] * 1e3:.1f} ms"
              + (f" (PyTorch eager {eager / row['step_bound_s']:.2f}x)" if eager else ""))


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
        per_framework += times.get("eager_step", 0) + times.get("eager_fwd", 0)
    scale_b = matmul_flops(CONFIGS["B"]) / matmul_flops(CONFIGS["A"])
    subprocesses = 2 * (2 if with_torch else 1) * 5.0 + 2 * 10.0  # memory runs, start times
    return calls * per_framework * (1 + scale_b) + subprocesses


if __name__ == "__main__":
    with tuned("ours"):  # as `tinygrad-lm train` runs: kernels/tuning.py
        status = main()
    sys.exit(status)
