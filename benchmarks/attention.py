"""The fused attention kernels alone, forward + backward: weights kept against memory-linear
(tiled), and, with --base, the weights-kept kernels of another source tree (before/after).

    python benchmarks/attention.py                         # this tree
    python benchmarks/attention.py --base /work/wt/attn-base --repeats 3

Shapes (B, T, n_head, hs) are those of config A, config B and GPT-2 small at T 256..1024.
Times are CPU seconds of one thread (the engine's threads and BLAS both held to one), so that
a machine shared with other jobs changes them little: a process that waits for a core
accumulates no CPU time. Each tree runs in its own process (two versions of the package cannot
share one); the processes alternate, --repeats times, and the median per kernel is reported.
Writes benchmarks/results/attention.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import print_table, write_json  # noqa: E402

SHAPES = {"A": (16, 64, 4, 32), "B": (32, 128, 6, 32), "GPT-2 T256": (8, 256, 12, 64),
          "GPT-2 T512": (2, 512, 12, 64), "GPT-2 T1024": (1, 1024, 12, 64)}

CHILD = r'''
import json, time
import numpy as np
from threadpoolctl import threadpool_limits
from tinygrad_lm.kernels import numba_cpu as N, threads
threads.set_num_threads(1)
threadpool_limits(1)
shapes = json.loads({shapes!r})
out = {{}}

def cpu(fn, seconds=0.5):
    fn()
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds or n < 2:
        fn()
        n += 1
    return (time.process_time() - t0) / n

for name, (B, T, nh, hs) in shapes.items():
    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((B, T, 3 * nh * hs)).astype(np.float32)
    gy = rng.standard_normal((B, T, nh * hs)).astype(np.float32)
    def kept():
        y, att = N.attention_forward(qkv, nh)
        return N.attention_backward(qkv, att, gy, nh)
    row = {{"kept": cpu(kept)}}
    if hasattr(N, "attention_tiled_forward"):
        def tiled():
            y, lse = N.attention_tiled_forward(qkv, nh)
            return N.attention_tiled_backward(qkv, y, lse, gy, nh)
        row["tiled"] = cpu(tiled)
    out[name] = row
print(json.dumps(out))
'''


def run_tree(tree: str) -> dict:
    env = dict(os.environ, PYTHONPATH=tree)
    code = CHILD.format(shapes=json.dumps(SHAPES))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tree)
    if out.returncode:
        raise RuntimeError(f"{tree}: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="another source tree, timed alternately with this one")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    trees = {"new": os.path.dirname(HERE)} | ({"base": args.base} if args.base else {})
    runs = {k: [] for k in trees}
    load = os.getloadavg()
    for r in range(args.repeats):
        for k in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
            runs[k].append(run_tree(trees[k]))
    med = {k: {s: {kernel: statistics.median(run[s][kernel] for run in v)
                   for kernel in v[0][s]} for s in SHAPES} for k, v in runs.items()}
    rows = []
    for s, shape in SHAPES.items():
        new = med["new"][s]
        row = [s, "x".join(map(str, shape))]
        if "base" in med:
            row.append(f"{med['base'][s]['kept'] * 1e3:.2f}")
        row += [f"{new['kept'] * 1e3:.2f}", f"{new['tiled'] * 1e3:.2f}",
                f"{new['tiled'] / new['kept']:.2f}"]
        rows.append(row)
    headers = ["shape", "B x T x nh x hs"] + (["base kept ms"] if "base" in med else []) + [
        "kept ms", "tiled ms", "tiled / kept"]
    print_table(f"attention forward + backward, CPU ms on one thread, median of "
                f"{args.repeats}; load average {load[0]:.1f}", headers, rows)
    path = write_json("attention", {"shapes": SHAPES, "trees": trees, "cpu_s": med,
                                    "load_average": load})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
