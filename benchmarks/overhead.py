"""Where a training step's time goes outside the arithmetic: Python, autograd, optimizer.

Three views of one config's step (forward, backward, clip, AdamW; default config A):

1. The step itself, wall and CPU time (medians over interleaved rounds, with the two below).
2. The same graph at toy widths ("skeleton": every layer, head and op of the config, but
   n_embd 8, T 4, batch 1, so the arithmetic is almost nothing): its time is what the step
   costs whatever the sizes are, the per-op price of Python, autograd, the kernel wrappers,
   Numba's dispatch and the optimizer's loop. Its share of the real step is the overhead.
   (Thread hand-offs are not in it: work this small is never split.)
3. tinygrad_lm's profiler (time inside each op class; "other" is outside every op, and the
   core time the split kernels leave idle: workers waking up, shares done before the others)
   and cProfile's heaviest functions of the caller's thread, for where the rest goes.

    python benchmarks/overhead.py [--config A] [--rounds 15]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import write_json  # noqa: E402
from train_step import CONFIGS, build_ours  # noqa: E402


def skeleton(c: dict) -> dict:
    """The config's graph (layers, heads, vocabulary) with toy sizes."""
    return dict(c, n_embd=2 * c["n_head"], block_size=4, seq=4, batch=1)


def time_both(fns: dict, rounds: int, block: int = 5) -> dict:
    """Median wall and CPU seconds per call of each fn, interleaved round by round."""
    for fn in fns.values():
        fn()
        fn()
    wall, cpu = {k: [] for k in fns}, {k: [] for k in fns}
    for r in range(rounds):
        for name in (list(fns) if r % 2 else list(fns)[::-1]):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(block):
                fns[name]()
            wall[name].append((time.perf_counter() - t0) / block)
            cpu[name].append((time.process_time() - c0) / block)
    return {k: {"wall_s": statistics.median(wall[k]), "cpu_s": statistics.median(cpu[k])}
            for k in fns}


def heaviest_functions(step, steps: int = 10, top: int = 12) -> list[tuple[str, float]]:
    """cProfile's top functions by own time (ms per step) on the caller's thread."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof).stats
    rows = sorted(((f"{os.path.basename(f)}:{line}({name})", st[2] / steps * 1e3)
                   for (f, line, name), st in stats.items()), key=lambda r: -r[1])
    return rows[:top]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="A", choices=list(CONFIGS))
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args(argv)
    import tinygrad_lm as tg
    c = CONFIGS[args.config]
    step, _ = build_ours(c)
    skel, _ = build_ours(skeleton(c))
    times = time_both({"step": step, "skeleton": skel}, args.rounds)
    print(f"config {args.config}, load average {os.getloadavg()[0]:.1f}")
    for k, t in times.items():
        print(f"  {k:<10} wall {t['wall_s'] * 1e3:8.2f} ms   CPU {t['cpu_s'] * 1e3:8.2f} ms")
    share = {clock: times["skeleton"][clock] / times["step"][clock] for clock in ("wall_s",
                                                                                 "cpu_s")}
    print(f"  overhead (skeleton / step): {share['wall_s']:.1%} of wall time, "
          f"{share['cpu_s']:.1%} of CPU time")
    step()
    with tg.profile() as prof:
        for _ in range(5):
            step()
    by_class = {k: v / prof.wall for k, v in prof.by_class().items()}
    print("\n  time per op class (tinygrad_lm profiler)")
    for k, v in by_class.items():
        print(f"    {k:<40}{v:>7.1%}")
    idle = prof.idle()
    if idle["split_calls"]:
        print(f"    cores idle in split kernels: {idle['share_of_cores']:.1%} of the cores' time "
              f"({idle['split_calls'] / 5:.0f} split calls a step; workers waking up "
              f"{idle['worker_wait_s'] / 5 * 1e3:.2f} ms, shares done before the others "
              f"{idle['uneven_ends_s'] / 5 * 1e3:.2f} ms, core time per step)")
    heavy = heaviest_functions(step)
    print("\n  heaviest functions, own time on the caller's thread (cProfile, ms per step)")
    for name, ms in heavy:
        print(f"    {name:<64}{ms:>8.2f}")
    path = write_json("overhead", {"config": args.config, "load_average": os.getloadavg(),
                                   "times": times, "overhead_share": share,
                                   "profile_share": by_class, "split_idle": idle,
                                   "heaviest_ms": heavy})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
