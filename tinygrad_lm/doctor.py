"""`tinygrad-lm doctor`: is this machine right? One block to paste when asking for help.

It prints what a helper asks first (Python, NumPy and its BLAS, Numba, the CPU, the thread
counts, the extras installed) and then a verdict per item: ok, warn (works, slower or with
less), or FAIL with the fix. The checks run things rather than trust versions: the Numba JIT
compiles a function, its cache directory takes a file, and the Numba kernels are compared with
the NumPy references on tiny inputs. Exit status 1 when any item FAILs.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from . import kernels
from .course.stand_ins import STAND_INS

PACKAGE = os.path.dirname(os.path.abspath(__file__))
MIN_NUMPY = (1, 24)
MIN_NUMBA = (0, 58)
EXTRAS = {"test": ["pytest", "hypothesis", "importlinter", "jupytext", "nbformat", "nbclient",
                   "ipykernel", "yaml"],
          "lessons": ["jupytext", "nbformat", "nbclient", "ipykernel"],
          "docs": ["mkdocs", "material", "mkdocstrings", "latex2mathml"]}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR",
                    "NUMBA_DISABLE_JIT")


@dataclass
class Verdict:
    """One checked item: ok, warn or FAIL, what was found, and the fix when not ok."""
    item: str
    status: str  # "ok", "warn", "FAIL"
    detail: str
    fix: str = ""

    def line(self) -> str:
        """The verdict as one line of the report."""
        return f"  {self.status:<5} {self.item}: {self.detail}" + \
            (f" — fix: {self.fix}" if self.fix else "")


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for p in text.split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _import(name: str):
    """The module, or None when it cannot be imported (missing or broken)."""
    try:
        return importlib.import_module(name)
    except Exception:  # a broken install raises more than ImportError
        return None


# ---- the facts ------------------------------------------------------------------------------
def blas_info() -> str:
    """NumPy's BLAS library, version, CPU target and threads (threadpoolctl's view)."""
    tpc = _import("threadpoolctl")
    if tpc is None:
        return "unknown (threadpoolctl is not installed)"
    libs = [i for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
    if not libs:
        return "none found"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                     f"{i.get('num_threads')} threads)" for i in libs)


def cpu_info() -> str:
    """Architecture, cores (and how many this process may use), the host CPU and features."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    text = f"{platform.machine()}, {os.cpu_count()} logical cores" + \
        (f" ({usable} usable here)" if usable is not None else "")
    llvm = _import("llvmlite.binding")
    if llvm is not None:
        try:
            features = llvm.get_host_cpu_features()
            wanted = [f for f in ("sse4.2", "avx", "avx2", "fma", "avx512f", "neon")
                      if features.get(f)]
            text += f", host cpu {llvm.get_host_cpu_name()}: {' '.join(wanted) or 'no SIMD'}"
        except Exception as e:  # llvmlite builds differ: a fact we could not get is no failure
            text += f", host cpu unknown ({type(e).__name__})"
    return text


def facts(numba) -> list[tuple[str, str]]:
    """(label, value) lines of what this machine runs."""
    try:
        version = importlib.metadata.version("tinygrad_lm")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed (run from its folder)"
    rows = [("python", f"{platform.python_version()} ({platform.python_implementation()}, "
                       f"{sys.executable}) on {platform.platform()}"),
            ("tinygrad_lm", f"{version} at {PACKAGE}"
                            + (" (a student copy)" if STAND_INS else "")),
            ("numpy", f"{np.__version__}, BLAS: {blas_info()}")]
    if numba is None:
        rows.append(("numba", "not importable"))
    else:
        layer = numba.config.THREADING_LAYER
        rows.append(("numba", f"{numba.__version__}, threading layer {layer}, "
                              f"{numba.config.NUMBA_NUM_THREADS} threads by default"))
    rows.append(("cpu", cpu_info()))
    threads = ", ".join(f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ)
    rows.append(("threads", f"kernels use {kernels.num_threads()}; backend "
                            f"{kernels.get_backend()}; " + (threads or "no thread or Numba "
                                                             "variables set")))
    return rows


# ---- the verdicts ---------------------------------------------------------------------------
def check_numpy() -> Verdict:
    """NumPy is new enough for the engine."""
    if _version(np.__version__) < MIN_NUMPY:
        return Verdict("numpy", "FAIL", f"{np.__version__} is older than "
                       f"{'.'.join(map(str, MIN_NUMPY))}", "pip install -U numpy")
    return Verdict("numpy", "ok", np.__version__)


def check_numba(numba) -> Verdict:
    """Numba is importable, new enough and not switched off (None: not importable)."""
    if numba is None:
        return Verdict("numba", "warn", "not importable: the NumPy backend runs instead, "
                       "correct but several times slower",
                       "pip install numba (in the environment you run tinygrad-lm from)")
    if _version(numba.__version__) < MIN_NUMBA:
        return Verdict("numba", "FAIL", f"{numba.__version__} is older than "
                       f"{'.'.join(map(str, MIN_NUMBA))}", "pip install -U numba")
    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return Verdict("numba", "warn", "NUMBA_DISABLE_JIT is set: every kernel runs as plain "
                       "Python (for stepping through in a debugger; very slow)",
                       "unset NUMBA_DISABLE_JIT")
    return Verdict("numba", "ok", numba.__version__)


def check_jit(numba) -> Verdict:
    """The Numba JIT compiles and runs a one-line function on this CPU."""
    if numba is None:
        return Verdict("numba JIT", "warn", "skipped: no numba")
    try:
        twice = numba.njit(lambda x: 2.0 * x)
        value = twice(np.float64(1.5))
    except Exception as e:
        return Verdict("numba JIT", "FAIL", f"compiling a one-line function failed: "
                       f"{type(e).__name__}: {str(e).splitlines()[0][:160]}",
                       "reinstall numba and llvmlite together: pip install -U --force-reinstall"
                       " numba llvmlite")
    if value != 3.0:
        return Verdict("numba JIT", "FAIL", f"2 * 1.5 gave {value}", "reinstall numba")
    return Verdict("numba JIT", "ok", "compiles and runs")


def numba_cache_dir() -> str:
    """Where Numba caches the kernels' machine code: NUMBA_CACHE_DIR, else __pycache__ beside
    the kernel modules (falling back to a user folder when that is read-only)."""
    return os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(kernels.__file__)), "__pycache__")


def check_cache(numba) -> Verdict:
    """Numba's cache folder takes a file (else every run compiles every kernel)."""
    if numba is None:
        return Verdict("numba cache", "warn", "skipped: no numba")
    where = numba_cache_dir()
    try:
        os.makedirs(where, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=where, prefix="doctor-", suffix=".tmp"):
            pass
    except OSError as e:
        fix = "export NUMBA_CACHE_DIR=$HOME/.cache/numba (any folder you can write)"
        if "NUMBA_CACHE_DIR" not in os.environ:  # Numba falls back to a per-user folder
            return Verdict("numba cache", "warn", f"{where} is not writable "
                           f"({e.strerror or e}); Numba falls back to a per-user cache", fix)
        return Verdict("numba cache", "FAIL", f"NUMBA_CACHE_DIR={where} is not writable "
                       f"({e.strerror or e}): the kernels cannot be cached, so every run compiles "
                       "them again (seconds to minutes)", fix)
    return Verdict("numba cache", "ok", f"{where} is writable")


def _kernel_cases(rng):
    """(kernel name, args, kwargs) on tiny float32 inputs: the kernels training leans on."""
    f = np.float32
    x, w, b = rng.standard_normal((5, 8)).astype(f), rng.standard_normal((8, 6)).astype(f), \
        rng.standard_normal(6).astype(f)
    s = rng.standard_normal((2, 4, 4)).astype(f)
    y = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    ln_w, ln_b = rng.standard_normal(8).astype(f), rng.standard_normal(8).astype(f)
    qkv = rng.standard_normal((2, 4, 24)).astype(f)
    return [("matmul", (x, w), {}), ("linear_forward", (x, w, b), {}),
            ("softmax_forward", (s,), {"scale": 0.5, "causal": True}),
            ("softmax_backward", (y, s), {"scale": 0.5}),
            ("layernorm_forward", (x, ln_w, ln_b), {}), ("gelu_forward", (x,), {}),
            ("attention_forward", (qkv, 2), {}), ("sum_squares", (x,), {})]


# outputs compared per kernel (the rest are saved state in each backend's own format)
COMPARED = {"attention_forward": 1}


def _flat(out) -> list[np.ndarray]:
    items = out if isinstance(out, (tuple, list)) else (out,)
    return [np.asarray(o, dtype=np.float64) for o in items if o is not None]


def check_kernels(numba) -> Verdict:
    """The Numba kernels against the NumPy references on tiny inputs (float32 tolerance)."""
    if numba is None or not kernels.numba_available():
        return Verdict("kernels", "warn", "skipped: no numba (the NumPy references run)")
    bad, worst, n = [], 0.0, 0
    for name, args, kwargs in _kernel_cases(np.random.default_rng(0)):
        outs = {}
        for backend in ("numpy", "numba"):
            try:
                with kernels.use_backend(backend):
                    outs[backend] = _flat(getattr(kernels.active_backend(), name)(
                        *[a.copy() if isinstance(a, np.ndarray) else a for a in args], **kwargs))
            except Exception as e:
                bad.append(f"{name} on {backend} raised {type(e).__name__}: "
                           f"{str(e).splitlines()[0][:100]}")
                break
        else:
            n += 1
            keep = COMPARED.get(name)
            for r, k in zip(outs["numpy"][:keep], outs["numba"][:keep]):
                err = float(np.max(np.abs(r - k) / (np.abs(r) + 1e-3), initial=0.0))
                worst = max(worst, err)
                if r.shape != k.shape or not err < 1e-3:
                    bad.append(f"{name} differs (relative error {err:.2g})")
                    break
    if bad:
        return Verdict("kernels", "FAIL", "; ".join(bad[:3]),
                       "a Numba or LLVM problem on this CPU: reinstall numba, or run with the "
                       "NumPy backend (with tg.use_backend('numpy'): in Python) and report this "
                       "block")
    return Verdict("kernels", "ok", f"{n} Numba kernels agree with the NumPy references "
                   f"(worst relative error {worst:.1g})")


def check_extras() -> Verdict:
    """Which optional groups of packages are installed (none is needed to train)."""
    missing = {group: [m for m in mods if importlib.util.find_spec(m.split(".")[0]) is None]
               for group, mods in EXTRAS.items()}
    text = "; ".join(f"{g}: " + ("installed" if not m else "missing " + ", ".join(m))
                     for g, m in missing.items())
    gaps = [g for g, m in missing.items() if m]
    if gaps:
        return Verdict("extras", "warn" if "test" in gaps or "lessons" in gaps else "ok", text,
                       f"pip install -e \".[{','.join(gaps)}]\" (only what you need: test for "
                       "the assignments' checks, lessons for the notebooks)")
    return Verdict("extras", "ok", text)


def run_checks() -> tuple[list[tuple[str, str]], list[Verdict]]:
    """The facts and the verdicts of this machine."""
    numba = _import("numba")
    verdicts = [check_numpy(), check_numba(numba), check_jit(numba), check_cache(numba),
                check_kernels(numba), check_extras()]
    return facts(numba), verdicts


def report(facts_rows, verdicts) -> str:
    """The block to paste: facts, then a verdict per item, then the summary line."""
    lines = ["tinygrad-lm doctor (paste this whole block when you ask for help)"]
    lines += [f"{label:<12}{value}" for label, value in facts_rows]
    lines.append("verdicts:")
    lines += [v.line() for v in verdicts]
    failed = [v.item for v in verdicts if v.status == "FAIL"]
    warned = [v.item for v in verdicts if v.status == "warn"]
    lines.append(f"broken: {', '.join(failed)} (fix those first)" if failed else
                 "all good" + (f" (to improve: {', '.join(warned)})" if warned else ""))
    return "\n".join(lines)


def main() -> int:
    """Print the report; 1 when something is broken."""
    facts_rows, verdicts = run_checks()
    print(report(facts_rows, verdicts))
    return 1 if any(v.status == "FAIL" for v in verdicts) else 0
