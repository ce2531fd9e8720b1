"""A simple op profiler: where does the time of a training step go?

    with tg.profile() as prof:
        loss = model(x, y)[1]; loss.backward(); optimizer.step()
    print(prof.table())

Each op's forward and backward are timed; ops are grouped into classes (matmul, softmax,
layernorm, elementwise, ...). Whatever wall time is not inside an op is "other": Python and
autograd bookkeeping, plus anything outside the engine's ops (an optimizer step, say).

Kernels split over threads (kernels/threads.py) leave cores idle for part of each call: a pool
worker starts its share only once woken, and a share that ends first waits for the others.
The profiler adds that idle core time up too (`idle()`, the last lines of `table()`): time the
split kernels lose against their arithmetic, however fast that arithmetic is.
"""

from __future__ import annotations

import time
from collections import defaultdict

from . import autograd
from .kernels import threads

OP_CLASSES = {
    "MatMul": "matmul", "Linear": "matmul", "LinearGelu": "matmul (+ fused GELU)",
    "Int8Linear": "matmul",
    "CausalAttention": "attention (matmuls + softmax)",
    "Softmax": "softmax", "LogSoftmax": "softmax", "CrossEntropy": "cross-entropy",
    "LayerNorm": "layernorm", "Embedding": "embedding", "Dropout": "dropout", "Gelu": "gelu",
    "Reshape": "movement", "Permute": "movement", "Expand": "movement", "GetItem": "movement",
    "Concatenate": "movement", "Stack": "movement",
}


class Profiler:
    """Seconds and calls per (op, phase), and the wall time of the `with` block.

    Made by `profile()`; while the block runs, every op's forward and backward go through
    `timed`. `by_class()` and `table()` summarise afterwards.
    """
    def __init__(self):
        self.times = defaultdict(float)   # (op, phase) -> seconds
        self.calls = defaultdict(int)
        self.wall = 0.0
        self._start = 0.0
        self.split_calls = 0  # kernel calls whose tasks ran on the pool
        self.worker_wait = 0.0  # core seconds: workers waking up to start their shares
        self.uneven_ends = 0.0  # core seconds: shares finished, waiting for the last one
        self.threads = 1  # the kernels' thread count while profiling
        self._previous_recorder = None

    def timed(self, op: str, phase: str, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)`, adding its time to (`op`, `phase`); returns its result."""
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.times[(op, phase)] += time.perf_counter() - t0
            self.calls[(op, phase)] += 1

    def _split_call(self, began: float, worker_starts: list, worker_ends: list,
                    caller_end: float, ended: float) -> None:
        """threads.set_split_recorder's callback. Only workers wait to start (the caller is
        busy until its own share starts); every thread that ends before the last one waits."""
        self.split_calls += 1
        self.worker_wait += sum(t - began for t in worker_starts)
        ends = [*worker_ends, caller_end]
        last = max(ends)
        self.uneven_ends += sum(last - t for t in ends)

    def idle(self) -> dict[str, float]:
        """Core seconds idle inside split kernels (`worker_wait` + `uneven_ends`), the calls
        they come from, and their share of the cores' time (wall x threads)."""
        total = self.worker_wait + self.uneven_ends
        cores = self.wall * self.threads
        return {"split_calls": self.split_calls, "worker_wait_s": self.worker_wait,
                "uneven_ends_s": self.uneven_ends, "idle_s": total,
                "share_of_cores": total / cores if cores else 0.0}

    def by_class(self) -> dict[str, float]:
        """Seconds per op class (matmul, softmax, ...), largest first, with "other" for wall time
        spent outside every op (Python, autograd bookkeeping, the optimizer).
        """
        out = defaultdict(float)
        for (op, _), t in self.times.items():
            out[OP_CLASSES.get(op, "elementwise")] += t
        out["other (Python, autograd, optimizer)"] = max(0.0, self.wall - sum(self.times.values()))
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def table(self) -> str:
        """`by_class()` as a printable table: milliseconds and share of the wall time."""
        lines = [f"{'op class':<38}{'ms':>10}{'share':>8}", "-" * 56]
        for name, t in self.by_class().items():
            share = t / self.wall if self.wall else 0.0
            lines.append(f"{name:<38}{t * 1e3:>10.2f}{share:>8.1%}")
        lines += ["-" * 56, f"{'wall':<38}{self.wall * 1e3:>10.2f}"]
        if self.split_calls:
            idle = self.idle()
            lines += [f"{'cores idle in split kernels':<38}{idle['idle_s'] * 1e3:>10.2f}"
                      f"{idle['share_of_cores']:>8.1%}  of {self.threads} cores' time, "
                      f"{self.split_calls} calls",
                      f"{'  workers waking up':<38}{self.worker_wait * 1e3:>10.2f}",
                      f"{'  shares done before the others':<38}{self.uneven_ends * 1e3:>10.2f}"]
        return "\n".join(lines)

    def __enter__(self):
        if autograd.current_profiler() is not None:
            raise RuntimeError("profile(): profilers cannot be nested")
        autograd.set_profiler(self)
        self.threads = threads.num_threads()
        self._previous_recorder = threads.set_split_recorder(self._split_call)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._start
        autograd.set_profiler(None)
        threads.set_split_recorder(self._previous_recorder)
        return False


def profile() -> Profiler:
    """`with tg.profile() as prof:` times every op's forward and backward inside the block;
    `print(prof.table())` afterwards shows where the time went.
    """
    return Profiler()
