"""Kernel benchmark: the NumPy reference vs the Numba backend vs PyTorch (when installed).

    python benchmarks/kernels.py            # full run (a few minutes)
    python benchmarks/kernels.py --quick    # few rounds, for a smoke test

For every kernel at the shapes a small GPT uses (B*T in {768, 2048}, C in {128, 192}, attention
scores (B*nh, T, T) with T in {64, 128, 256}) it prints median microseconds per call, the speed-up
of Numba over the reference and Numba's time relative to PyTorch; GFLOP/s for matmul; the
first-call compile time with a cold Numba cache; and a "mixed loop" that alternates a BLAS matmul
with a Numba kernel, as a training step does, against the sum of the two timed alone.
PyTorch is called at the ATen level (its forward and backward kernels, no autograd), so each
column measures kernels and not framework overhead. Results go to benchmarks/results/kernels.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from benchmarks._common import (  # noqa: E402
    fmt_ratio,
    fmt_us,
    optional_torch,
    print_table,
    time_interleaved,
    write_json,
)
from tinygrad_lm.kernels import reference as R  # noqa: E402
from tinygrad_lm.kernels import tuned_for_training  # noqa: E402

HS = 32  # head size: attention scale 1/sqrt(hs)


# ---- cases ------------------------------------------------------------------------------------
# Each case function builds inputs for one shape and returns {part: {implementation: callable}};
# `CASES` lists (kernel name, case function, shapes). Shapes are function arguments, so the
# callables close over this call's arrays.
def _both(fn):
    """{"reference": fn(R), "numba": fn(N)} for a function of the kernel module."""
    from tinygrad_lm.kernels import numba_cpu as N

    return {"reference": lambda: fn(R), "numba": lambda: fn(N)}


def _softmax(torch, rng, dt, t):
    g = 4 * 2048 // t  # B*nh for B*T = 2048 tokens and nh = 4
    x, gy = rng.standard_normal((2, g, t, t)).astype(dt)
    s = 1.0 / math.sqrt(HS)
    y = R.softmax_forward(x, s, True)
    parts = {"fwd": _both(lambda k: k.softmax_forward(x, s, True)),
             "bwd": _both(lambda k: k.softmax_backward(y, gy, s)),
             "fwd+bwd": _both(lambda k: k.softmax_backward(k.softmax_forward(x, s, True), gy, s))}
    if torch is not None:
        aten = torch.ops.aten
        xt, gt, yt = (torch.from_numpy(a) for a in (x, gy, y))
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)

        def tf():
            return torch.softmax(xt.mul(s).masked_fill_(mask, -math.inf), -1)

        def tb(y=yt):
            return aten._softmax_backward_data(gt, y, -1, xt.dtype).mul_(s)

        parts["fwd"]["torch"], parts["bwd"]["torch"] = tf, tb
        parts["fwd+bwd"]["torch"] = lambda: tb(tf())
    return f"({g},{t},{t})", parts


def _log_softmax_ce(torch, rng, dt, n, v):
    x = (rng.standard_normal((n, v)) * 3).astype(dt)
    gy = rng.standard_normal((n, v)).astype(dt)
    tgt = rng.integers(0, v, n)
    tgt[::10] = -100  # some ignored positions, as padding would give
    parts = {
        "log_softmax fwd+bwd": _both(lambda k: k.log_softmax_backward(k.log_softmax_forward(x),
                                                                      gy)),
        "cross_entropy fwd+bwd": _both(lambda k: k.cross_entropy_backward(
            x, tgt, k.cross_entropy_forward(x, tgt)[1])),
    }
    if torch is not None:
        aten = torch.ops.aten
        xt, gt, tt = torch.from_numpy(x), torch.from_numpy(gy), torch.from_numpy(tgt)
        one = torch.ones((), dtype=xt.dtype)

        def tls():
            lsm = aten._log_softmax(xt, 1, False)
            return aten._log_softmax_backward_data(gt, lsm, 1, xt.dtype)

        def tce():
            lsm = aten._log_softmax(xt, 1, False)
            loss, total = aten.nll_loss_forward(lsm, tt, None, 1, -100)
            g = aten.nll_loss_backward(one, lsm, tt, None, 1, -100, total)
            return aten._log_softmax_backward_data(g, lsm, 1, xt.dtype)

        parts["log_softmax fwd+bwd"]["torch"] = tls
        parts["cross_entropy fwd+bwd"]["torch"] = tce
    return f"({n},{v})", parts


def _layernorm(torch, rng, dt, n, c):
    x, gy = rng.standard_normal((2, n, c)).astype(dt)
    w, b = rng.standard_normal((2, c)).astype(dt)
    _, mean, rstd = R.layernorm_forward(x, w, b)
    parts = {"fwd": _both(lambda k: k.layernorm_forward(x, w, b)),
             "bwd": _both(lambda k: k.layernorm_backward(gy, x, w, mean, rstd)),
             "fwd+bwd": _both(lambda k: k.layernorm_backward(
                 gy, x, w, *k.layernorm_forward(x, w, b)[1:]))}
    if torch is not None:
        aten = torch.ops.aten
        xt, gt, wt, bt = (torch.from_numpy(a) for a in (x, gy, w, b))
        mt, rt = torch.from_numpy(mean)[:, None], torch.from_numpy(rstd)[:, None]

        def tf():
            return aten.native_layer_norm(xt, [c], wt, bt, 1e-5)

        def tb(m=mt, r=rt):
            return aten.native_layer_norm_backward(gt, xt, [c], m, r, wt, bt, [True] * 3)

        parts["fwd"]["torch"], parts["bwd"]["torch"] = tf, tb
        parts["fwd+bwd"]["torch"] = lambda: tb(*tf()[1:])
    return f"({n},{c})", parts


def _gelu(torch, rng, dt, n, c):
    h, gh = rng.standard_normal((2, n, c)).astype(dt)
    fns = _both(lambda k: (k.gelu_forward(h), k.gelu_backward(h, gh)))
    if torch is not None:
        aten = torch.ops.aten
        ht, ght = torch.from_numpy(h), torch.from_numpy(gh)
        fns["torch"] = lambda: (aten.gelu(ht, approximate="tanh"),
                                aten.gelu_backward(ght, ht, approximate="tanh"))
    return f"({n},{c})", {"fwd+bwd": fns}


def _embedding(torch, rng, dt, v, c, n):
    w = rng.standard_normal((v, c)).astype(dt)
    ids = rng.integers(0, v, n)
    gy = rng.standard_normal((n, c)).astype(dt)
    fns = _both(lambda k: (k.embedding_forward(w, ids), k.embedding_backward(gy, ids, v)))
    if torch is not None:
        aten = torch.ops.aten
        wt, it, gt = torch.from_numpy(w), torch.from_numpy(ids), torch.from_numpy(gy)
        fns["torch"] = lambda: (aten.embedding(wt, it),
                                aten.embedding_dense_backward(gt, it, v, -1, False))
    return f"({v},{c})[{n}]", {"fwd+bwd": fns}


def _adamw(torch, rng, dt, rows, cols):
    p, g = rng.standard_normal((2, rows, cols)).astype(dt)
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, step=10)
    states = {"reference": (p.copy(), np.zeros_like(p), np.zeros_like(p)),
              "numba": (p.copy(), np.zeros_like(p), np.zeros_like(p))}

    def step(k):  # each implementation updates its own copy of the optimizer state
        pk, mk, vk = states["reference" if k is R else "numba"]
        return k.adamw_update_(pk, g, mk, vk, **kw)

    fns = _both(step)
    if torch is not None and hasattr(torch, "_fused_adamw_"):
        pt, gt = torch.from_numpy(p.copy()), torch.from_numpy(g)
        mt, vt, st = torch.zeros_like(pt), torch.zeros_like(pt), torch.tensor(10.0)
        fns["torch"] = lambda: torch._fused_adamw_(
            [pt], [gt], [mt], [vt], [], [st], lr=1e-3, beta1=0.9, beta2=0.95, weight_decay=0.1,
            eps=1e-8, amsgrad=False, maximize=False)
    return f"({rows},{cols})", {"step": fns}


def _attention(torch, rng, dt, B, T, nh, hs):
    """The fused causal attention op's kernels, forward then backward, on configs A and B."""
    C = nh * hs
    qkv = rng.standard_normal((B, T, 3 * C)).astype(dt)
    gy = rng.standard_normal((B, T, C)).astype(dt)

    def ours(k):
        y, att = k.attention_forward(qkv, nh)
        return k.attention_backward(qkv, att, gy, nh)
    parts = {"fwd+bwd": _both(ours)}
    if torch is not None:
        import torch.nn.functional as TF
        gt = torch.from_numpy(gy)

        def theirs():  # PyTorch's own fused attention, through autograd
            x = torch.from_numpy(qkv).requires_grad_()
            q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in x.split(C, dim=2))
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            y.transpose(1, 2).reshape(B, T, C).backward(gt)
            return x.grad
        parts["fwd+bwd"]["torch"] = theirs
    return f"({B},{T},{3 * C}) nh={nh}", parts


def _linear_gelu(torch, rng, dt, n, c):
    """The MLP's expansion, gelu(x W + b) to 4C, forward then backward."""
    x = rng.standard_normal((n, c)).astype(dt)
    w = (rng.standard_normal((c, 4 * c)) * 0.02).astype(dt)
    b = np.zeros(4 * c, dt)
    gy = rng.standard_normal((n, 4 * c)).astype(dt)

    def ours(k):
        y, h = k.linear_gelu_forward(x, w, b)
        return k.linear_gelu_backward(x, w, h, gy)
    parts = {"fwd+bwd": _both(ours)}
    if torch is not None:
        import torch.nn.functional as TF
        xt, wt, bt, gt = (torch.from_numpy(a) for a in (x, np.ascontiguousarray(w.T), b, gy))

        def theirs():
            xg, wg, bg = (a.detach().requires_grad_() for a in (xt, wt, bt))
            TF.gelu(TF.linear(xg, wg, bg), approximate="tanh").backward(gt)
            return xg.grad
        parts["fwd+bwd"]["torch"] = theirs
    return f"({n},{c})->{4 * c}", parts


CASES = [
    ("softmax causal", _softmax, [(64,), (128,), (256,)]),
    ("", _log_softmax_ce, [(768, 65), (2048, 4096)]),
    ("layernorm", _layernorm, [(768, 128), (2048, 192)]),
    ("gelu tanh", _gelu, [(768, 512), (2048, 768)]),  # the MLP's hidden width 4C
    ("embedding", _embedding, [(65, 128, 768), (4096, 192, 2048)]),
    ("adamw", _adamw, [(128, 512), (1536, 1152)]),
    ("causal attention", _attention, [(16, 64, 4, 32), (32, 128, 6, 32)]),  # configs A, B
    ("linear+gelu", _linear_gelu, [(1024, 128), (4096, 192)]),
]


def _matmul(torch, rng, dt, sa, sb, ta, tb):
    a, b = rng.standard_normal(sa).astype(dt), rng.standard_normal(sb).astype(dt)
    out = R.matmul(a, b, ta, tb)
    flops = 2.0 * out.size * (a.shape[-2] if ta else a.shape[-1])
    fns = _both(lambda k: k.matmul(a, b, ta, tb))
    if torch is not None:
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        at = at.transpose(-1, -2) if ta else at
        bt = bt.transpose(-1, -2) if tb else bt
        fns["torch"] = lambda: torch.matmul(at, bt)
    shape = f"{sa}{'^T' if ta else ''}@{sb}{'^T' if tb else ''}".replace(" ", "")
    return shape, fns, flops


# The engine's Linear calls x@W forward, then dY@W^T and X^T@dY backward; attention is batched.
MATMULS = [("matmul x@W", (768, 128), (128, 384), False, False),
           ("matmul x@W", (2048, 192), (192, 768), False, False),
           ("matmul dY@W^T", (2048, 768), (192, 768), False, True),
           ("matmul X^T@dY", (2048, 192), (2048, 768), True, False),
           ("matmul batched q@k^T", (64, 64, 16), (64, 16, 64), False, False),
           ("matmul batched att@v", (64, 64, 64), (64, 64, 16), False, False),
           ("matmul batched q@k^T", (64, 128, 32), (64, 32, 128), False, False)]


def _numpy_matmul_child(dtype: str, quick: bool) -> None:
    """Run in a subprocess: time NumPy's matmul on each MATMULS case with BLAS's own threads,
    print the seconds as JSON. NumPy as it ships is timed apart from the engine because the
    engine holds BLAS to one thread and splits matmuls itself, and switching OpenBLAS between
    its own threads and ours in one process left it slower for both (measured 100 GFLOP/s
    instead of 200 on the engine's side after a few calls of BLAS's own threading)."""
    rng = np.random.default_rng(0)
    rounds, target = (3, 0.01) if quick else (11, 0.03)
    out = []
    for _, sa, sb, ta, tb in MATMULS:
        a = rng.standard_normal(sa).astype(dtype)
        b = rng.standard_normal(sb).astype(dtype)
        fn = functools.partial(R.matmul, a, b, ta, tb)
        out.append(time_interleaved({"numpy": fn}, rounds=rounds, target_s=target)["numpy"])
    print(json.dumps(out))


def _numpy_matmul_times(dtype, quick: bool) -> list[float]:
    args = [sys.executable, __file__, "--numpy-matmul-child", np.dtype(dtype).name]
    proc = subprocess.run(args + (["--quick"] if quick else []), capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- mixed loop: BLAS and Numba alternating ---------------------------------------------------
def _mixed_loop(N, rng, dt, rounds):
    """Time a BLAS matmul and a Numba kernel alone and alternating in one loop. A ratio near 1
    means the two thread pools do not get in each other's way. A `prange` copy of the softmax
    kernel on Numba's non-spinning 'workqueue' layer shows what parallel kernels would cost."""
    import numba
    from numba import njit

    from tinygrad_lm.kernels import _nb_softmax
    from tinygrad_lm.kernels._nb_math import SUMS

    a, b = rng.standard_normal((2048, 192)).astype(dt), rng.standard_normal((192, 768)).astype(dt)
    x = rng.standard_normal((64 * 128, 128)).astype(dt)
    y = np.empty_like(x)
    s = dt(1.0 / math.sqrt(HS))
    kernels = {"numba softmax (serial, shipped)": _nb_softmax._softmax_rows}
    if numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"  # this process only, for the comparison
        kernels["numba softmax (prange, workqueue)"] = njit(fastmath=SUMS, parallel=True)(
            _nb_softmax._softmax_rows.py_func)
    rows = []
    for name, kern in kernels.items():
        t = time_interleaved({
            "matmul": lambda: np.matmul(a, b),
            "kernel": lambda k=kern: k(x, s, 128, True, y),
            "mixed": lambda k=kern: (np.matmul(a, b), k(x, s, 128, True, y)),
        }, rounds=rounds)
        rows.append({"kernel": name, "matmul_s": t["matmul"], "kernel_s": t["kernel"],
                     "mixed_s": t["mixed"], "ratio": t["mixed"] / (t["matmul"] + t["kernel"])})
    return rows


# ---- first-call compile time -----------------------------------------------------------------
def _compile_child() -> None:
    """Run in a subprocess: call each kernel once on tiny float32 inputs and print the seconds
    each first call took (compilation, or loading from the cache) as JSON."""
    t0 = time.perf_counter()
    from tinygrad_lm.kernels import numba_cpu as N
    times = {"import numba_cpu": time.perf_counter() - t0}
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((2, 2, 3, 5)).astype(np.float32)
    x2 = x.reshape(6, 5)
    t = np.array([0, 1, 2, 3, 4, -100])
    w = np.ones(5, np.float32)
    calls = {
        "softmax_forward": lambda: N.softmax_forward(x, 0.5, True),
        "softmax_backward": lambda: N.softmax_backward(x, g, 0.5),
        "log_softmax_forward": lambda: N.log_softmax_forward(x),
        "log_softmax_backward": lambda: N.log_softmax_backward(x, g),
        "cross_entropy_forward": lambda: N.cross_entropy_forward(x2, t),
        "cross_entropy_backward": lambda: N.cross_entropy_backward(x2, t, np.zeros(6, np.float32)),
        "layernorm_forward": lambda: N.layernorm_forward(x, w, w),
        "layernorm_backward": lambda: N.layernorm_backward(g, x, w, np.zeros((2, 3), np.float32),
                                                           np.ones((2, 3), np.float32)),
        "gelu_forward": lambda: N.gelu_forward(x),
        "gelu_backward": lambda: N.gelu_backward(x, g),
        "embedding_forward": lambda: N.embedding_forward(x2, t[:5]),
        "embedding_backward": lambda: N.embedding_backward(g.reshape(6, 5), t[:5].repeat(2)[:6], 6),
        "adamw_update_": lambda: N.adamw_update_(x.copy(), g, np.zeros_like(x), np.zeros_like(x),
                                                 lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8,
                                                 weight_decay=0.1, step=1),
    }
    for name, fn in calls.items():
        t0 = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - t0
    print(json.dumps(times))


def _compile_times() -> dict:
    """First-call seconds per kernel with a cold cache (a fresh NUMBA_CACHE_DIR), then again in
    a new process that finds that cache filled."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            proc = subprocess.run([sys.executable, __file__, "--compile-child"], env=env,
                                  capture_output=True, text=True, check=True)
            out[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _time(fns: dict, rounds: int, target: float) -> dict:
    """Reference and Numba interleaved; PyTorch after them, on its own. Interleaved with
    PyTorch, whose OpenMP threads linger after each call, the engine's two threads ran at half
    speed (a split matmul at 110 GFLOP/s instead of 200)."""
    own = {k: v for k, v in fns.items() if k != "torch"}
    t = time_interleaved(own, rounds=rounds, target_s=target)
    if "torch" in fns:
        t.update(time_interleaved({"torch": fns["torch"]}, rounds=rounds, target_s=target))
    return t


# ---- driver ----------------------------------------------------------------------------------
def run(quick: bool = False, dtype=np.float32) -> dict:
    from tinygrad_lm.kernels import numba_cpu as N

    torch = optional_torch()
    rng = np.random.default_rng(0)
    rounds, target = (3, 0.01) if quick else (11, 0.03)
    records = []
    for kernel, case, shapes in CASES:
        for args in shapes:
            shape, parts = case(torch, rng, dtype, *args)
            for part, fns in parts.items():
                t = _time(fns, rounds, target)
                name = f"{kernel} {part}".strip()
                records.append({"kernel": name, "shape": shape, "seconds": t})
    mm = []
    numpy_s = _numpy_matmul_times(dtype, quick)
    for i, (kernel, *args) in enumerate(MATMULS):
        shape, fns, flops = _matmul(torch, rng, dtype, *args)
        del fns["reference"]  # timed in its own process: see _numpy_matmul_times
        t = _time(fns, rounds, target)
        t["reference"] = numpy_s[i]
        mm.append({"kernel": kernel, "shape": shape, "seconds": t, "flops": flops,
                   "gflops": {k: flops / v / 1e9 for k, v in t.items()}})
    mixed = _mixed_loop(N, rng, dtype, rounds)
    compile_s = _compile_times()
    return {"dtype": np.dtype(dtype).name, "quick": quick, "kernels": records, "matmul": mm,
            "mixed_loop": mixed, "compile_seconds": compile_s}


def report(res: dict) -> None:
    rows = []
    for r in res["kernels"]:
        t = r["seconds"]
        ref, nb, th = t["reference"], t["numba"], t.get("torch")
        rows.append([r["kernel"], r["shape"], fmt_us(ref), fmt_us(nb), fmt_us(th),
                     fmt_ratio(ref / nb, 1), fmt_ratio(nb / th if th else None)])
    print_table(f"Kernels ({res['dtype']}): median us per call",
                ["kernel", "shape", "reference", "numba", "torch", "ref/numba", "numba/torch"],
                rows)
    rows = []
    for r in res["matmul"]:
        g = r["gflops"]
        rows.append([r["kernel"], r["shape"], f"{g['reference']:.0f}", f"{g['numba']:.0f}",
                     f"{g['torch']:.0f}" if "torch" in g else "-",
                     fmt_ratio(g["numba"] / g["reference"])])
    print_table("Matmul: GFLOP/s (numba = the backend's dispatch; numpy = NumPy as it ships, "
                "BLAS's own threads, timed in a separate process)",
                ["kernel", "shape", "numpy", "numba", "torch", "numba/numpy"], rows)
    rows = [[m["kernel"], fmt_us(m["matmul_s"]), fmt_us(m["kernel_s"]),
             fmt_us(m["matmul_s"] + m["kernel_s"]), fmt_us(m["mixed_s"]), fmt_ratio(m["ratio"])]
            for m in res["mixed_loop"]]
    print_table("Mixed loop: (2048,192)@(192,768) matmul + causal softmax (64,128,128), us",
                ["kernel", "matmul", "kernel", "sum", "alternating", "ratio"], rows)
    cold, cached = res["compile_seconds"]["cold"], res["compile_seconds"]["cached"]
    rows = [[k, f"{cold[k]:.2f}", f"{cached[k]:.3f}"] for k in cold]
    rows.append(["total", f"{sum(cold.values()):.2f}", f"{sum(cached.values()):.3f}"])
    print_table("First call, float32 (seconds): cold cache vs cache filled",
                ["kernel", "cold", "cached"], rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few rounds, short batches")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--out", type=Path, default=None, help="directory for kernels.json")
    ap.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--numpy-matmul-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.compile_child:
        _compile_child()
        return 0
    if args.numpy_matmul_child:
        _numpy_matmul_child(args.numpy_matmul_child, args.quick)
        return 0
    try:
        import numba  # noqa: F401
    except ImportError:
        print("kernels benchmark: numba is not installed (pip install numba)")
        return 1
    res = run(quick=args.quick, dtype=np.dtype(args.dtype).type)
    report(res)
    path = write_json("kernels" if not args.quick else "kernels_quick", res, args.out)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    with tuned_for_training():  # as `tinygrad-lm train` runs: kernels/tuning.py
        status = main()
    sys.exit(status)
