"""A simple op profiler: where does the time of a training step go?

    with tg.profile() as prof:
        loss = model(x, y)[1]; loss.backward(); optimizer.step()
    print(prof.table())

Each op's forward and backward are timed; ops are grouped into classes (matmul, softmax,
layernorm, elementwise, ...). Whatever wall time is not inside an op is "other": Python and
autograd bookkeeping, plus anything outside the engine's ops (an optimizer step, say).
"""

from __future__ import annotations

import time
from collections import defaultdict

from . import autograd

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

    def timed(self, op: str, phase: str, fn, *args, **kwargs):
        """Run `fn(*args, **kwargs)`, adding its time to (`op`, `phase`); returns its result."""
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.times[(op, phase)] += time.perf_counter() - t0
            self.calls[(op, phase)] += 1

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
        return "\n".join(lines)

    def __enter__(self):
        if autograd.current_profiler() is not None:
            raise RuntimeError("profile(): profilers cannot be nested")
        autograd.set_profiler(self)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._start
        autograd.set_profiler(None)
        return False


def profile() -> Profiler:
    """`with tg.profile() as prof:` times every op's forward and backward inside the block;
    `print(prof.table())` afterwards shows where the time went.
    """
    return Profiler()
