"""Timing helpers shared by the benchmark scripts.

Every implementation of one case is timed in the same process, in interleaved rounds after a
warm-up, so that frequency changes, other load and cache state affect them alike; the median
over rounds is reported. Results go to a printed table and to JSON under benchmarks/results/.
Memory is the exception: a peak belongs to a whole process, so each case runs in a fresh one
(run_python, peak_in_child) that reads its own peak (own_peak_rss_mb).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"


def optional_torch():
    """The torch module, or None when it is not installed (benchmarks then skip its column)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def run_python(code: str, label: str = "child process") -> tuple[str | None, str | None]:
    """Run `code` in a fresh process of this interpreter, with benchmarks/ on sys.path.
    Returns (the last line it printed, None), or (None, the tail of its stderr) when it fails,
    after printing that tail under `label`."""
    # appended, not first: benchmarks/kernels.py must not shadow Hugging Face's `kernels`
    prelude = f"import sys; sys.path.append({str(BENCHMARKS_DIR)!r})\n"
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode or not lines:
        tail = out.stderr[-1500:] or f"exit status {out.returncode}, nothing printed"
        print(f"{label} failed:\n{tail}", file=sys.stderr)
        return None, tail[-300:]
    return lines[-1], None


def own_peak_rss_mb() -> float:
    """This process's peak resident set in MB.

    Read from VmHWM in /proc/self/status: unlike getrusage's ru_maxrss, which Linux carries
    over from the parent through fork and exec, it belongs to the process's own address space."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_in_child(code: str, label: str = "child process") -> float:
    """Peak resident MB of a fresh process that runs `code` (NaN when it fails)."""
    line, _ = run_python(code + "\nimport _common; print(_common.own_peak_rss_mb())", label)
    return float("nan") if line is None else float(line)


def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    """How many calls of fn take about target_s (at least 1)."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= target_s or n >= 1 << 20:
            return max(1, int(n * target_s / max(dt, 1e-9)))
        n *= 4 if dt < target_s / 8 else 2


def time_interleaved(fns: dict[str, Callable[[], object]], rounds: int = 9, warmup: int = 2,
                     target_s: float = 0.02, settle_s: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each fn. Each round times every fn once (a batch of calls
    sized to about target_s), rotating the order so that no fn always runs first.

    settle_s: pause before each batch. After a call, OpenBLAS's worker threads keep spinning
    for about 0.1 s (2^28 cycles) and slow whatever runs next on the other core; pausing lets
    them go to sleep, so that each library is timed on an idle machine.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    counts = {name: _calibrate(fn, target_s) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, n = fns[name], counts[name]
            if settle_s:
                time.sleep(settle_s)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def fmt_us(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.0f}"


def fmt_ratio(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(headers, widths))))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("AMD EPYC ..."), else platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    torch = optional_torch()
    info = {
        "cpu": cpu_model(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
    }
    try:
        import numba
        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    for var in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OMP_NUM_THREADS",
                "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def write_json(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    """Write payload plus machine info and a timestamp to <out_dir>/<name>.json."""
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    doc = {"benchmark": name, "argv": sys.argv[1:],
           "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": machine_info(), **payload}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def ours_train_step(model, opt, x, y):
    """One tinygrad_lm training step as the trainer takes it: forward in training mode,
    backward, gradient clipping at 1.0, the optimizer's update. Returns the loss tensor."""
    from tinygrad_lm.training import optim
    model.train()
    _, loss = model(x, y)
    opt.zero_grad()
    loss.backward()
    optim.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss

