"""The Numba backend's threads: one pool of workers, and BLAS held to one thread.

Why the engine splits work itself instead of letting OpenBLAS thread each matmul
(benchmarks/README.md has the measurements):

* Attention's batched matmuls are many small products: NumPy calls BLAS once per (T, T)
  matrix, and with OpenBLAS's own threads each call pays more to wake and join its worker than
  it saves. Split by batch entry over threads of ours, each running one-thread BLAS, they run
  several times faster.
* The 2-D matmuls of a GPT's Linear layers run as fast split by rows over our threads as with
  OpenBLAS's own threads, so nothing is lost there.
* After every threaded call OpenBLAS's worker keeps spinning for a while, holding a core, so
  any other parallel work (a split softmax, a second matmul) would stall behind it.

So with one owner for both cores, every large kernel (matmuls, the fused linear and attention
kernels, softmax, LayerNorm, GELU) runs split over `num_threads()` threads: the caller's thread
does one share and pool workers do the others. NumPy's BLAS and the Numba kernels release the
GIL (`nogil=True`), so the shares really run at once. Work too small to repay handing it to a
worker (under MIN_SPLIT below) runs on the caller's thread alone.

BLAS is held to one thread (through threadpoolctl, which knows OpenBLAS, MKL and BLIS) only
while a kernel runs (`run_tasks`, `run_row_chunks`: every BLAS call of the backend happens inside
one of them), or for a whole `with blas_held():` block (`tuned_for_training()` in tuning.py uses
it): whoever holds it first records each library's thread count, and the last to let go puts
those counts back, so between kernel calls NumPy's own matmuls run as the user set them up.
Holding costs a few C calls per library on each outermost hold; a training loop that wants to
skip them holds BLAS around the loop. `set_num_threads(1)` gives BLAS its own threads back. The
BLAS libraries are looked up the first time anything holds BLAS, once: one loaded later
(PyTorch's, say) is left alone. Where threadpoolctl finds no BLAS, nothing is split and NumPy
threads its own matmuls.

Nothing here runs at import: the pool and its fork hook are made on the first split.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from .pool import THREAD_PREFIX, Pool

# ---- the cost model: every constant of it, in one table ----------------------------------------
# Calibrated by benchmarks/kernels.py (figures in benchmarks/README.md). A call site estimates
# the one-thread time of its job from these, and split_rows decides from that estimate whether
# and how to split it. Only the order of magnitude matters.
FLOP = 1e-11  # seconds per matmul flop (one-thread BLAS)
ELEMENT = 2.5e-10  # seconds per element of a one-pass kernel (LayerNorm's forward)
# A product with a single row of x is bound by reading the weight instead (2 flops per 4 bytes):
# READ seconds per byte, about one core's memory bandwidth.
READ = 1e-10
# Handing a share to a sleeping worker costs about HANDOFF seconds before it starts (waking a
# thread on a virtual machine, then the GIL): a split pays only for jobs of a few times that,
# and the caller's own share is made that much larger so both finish together.
HANDOFF = 45e-6
MIN_SPLIT = 150e-6
# The elementwise and row kernels' cost per element, in ELEMENTs (see element_seconds)
PASSES = {
    "softmax_forward": 1.2,  # max, exp-and-sum, normalise: the row stays in L1 between them
    "softmax_backward": 0.5,  # a dot product and a scaled difference
    "layernorm_forward": 1.0,
    "layernorm_backward": 1.4,  # two row sums, then dx; dweight and dbias summed per share
    "gelu": 2.0,  # a tanh or erf per element, forward and backward
    "cross_entropy": 2.0,  # an exp and a compare in forward, an exp and a store in backward
    "adamw": 10.0,  # read p, g, m, v, write p, m, v, a division and a sqrt
    "quantize": 3.0,  # int8 weights: a pass for each row's max, one to divide, round and clip
}


def element_seconds(kernel: str, n: int) -> float:
    """The one-thread time estimate of `kernel` (a key of PASSES) over n elements."""
    return PASSES[kernel] * n * ELEMENT

_lock = threading.Lock()  # guards the pool and BLAS settings against concurrent callers
_num_threads: int | None = None  # None: not chosen yet, use the cores this process may run on
_default_threads: int | None = None  # the cores, looked up once (a system call each time)
_pool: Pool | None = None
_blas: list | None = None  # threadpoolctl's controllers of the BLAS libraries, found once
_holds = 0  # kernel calls and `blas_held` blocks holding BLAS to one thread now
_lifted = False  # a one-row product is running on BLAS's own threads (run_row_chunks)
_saved: list | None = None  # [(controller, its thread count before the hold)] while held
_fork_hook = False  # registered with the first pool
_recorder: Callable | None = None  # told the timing of every split call (set_split_recorder)


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: its first split starts a new pool
    (submitting to the inherited one would wait forever for a worker that does not exist)."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()  # another parent thread may have held it at the fork


def default_num_threads() -> int:
    """One thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def num_threads() -> int:
    """The threads the Numba backend uses now (`set_num_threads`, else one per core)."""
    global _default_threads
    if _num_threads is not None:
        return _num_threads
    if _default_threads is None:
        _default_threads = default_num_threads()
    return _default_threads


def set_num_threads(n: int | None) -> None:
    """Threads the Numba backend splits large kernels over; None means one per core.

    With 1, kernels run on the caller's thread and BLAS gets its own threading back. The count
    is one setting for the whole process, not one per thread."""
    global _num_threads, _pool, _default_threads
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"set_num_threads: need a positive int or None, got {n!r}")
    with _lock:
        _num_threads = n
        if n is None:
            _default_threads = None  # look the cores up again
        if _pool is not None and len(_pool.workers) != num_threads() - 1:
            _pool.retire()
            _pool = None
        _update_blas()  # one thread: BLAS threads itself again; more: held if anyone holds


@contextlib.contextmanager
def use_threads(n: int | None):
    """`with use_threads(1): ...` run kernels with n threads, then restore the previous count
    (process-wide: two threads nesting these out of order restore each other's counts)."""
    previous = _num_threads
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)


def _blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process (found once, the
    first time BLAS is held, so after NumPy has loaded its BLAS)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return []
        _blas = [_BlasThreads(lib) for lib in
                 ThreadpoolController().select(user_api="blas").lib_controllers]
    return _blas


class _BlasThreads:
    """Reads and sets one BLAS library's thread count. A kernel outside `tuned_for_training`
    holds BLAS and gives it back on every call, so the two C calls are looked up once:
    OpenBLAS's pthreads build (NumPy's wheels) through its own functions, any other library
    through threadpoolctl, which looks the symbol up again on each call."""

    def __init__(self, lib):
        self.filepath = lib.filepath  # which library (threadpoolctl's key for it)
        self.get, self.set = (lambda: lib.num_threads), lib.set_num_threads
        try:
            if lib.internal_api == "openblas" and lib.threading_layer != "openmp":
                get, set_ = (lib._get_symbol("openblas_get_num_threads"),
                             lib._get_symbol("openblas_set_num_threads"))
                if get is not None and set_ is not None:
                    self.get, self.set = get, set_
        except (AttributeError, TypeError, ValueError):
            pass  # threadpoolctl's own calls


def _update_blas() -> None:
    """Hold BLAS to one thread while someone asks for it (and more than one thread splits the
    work), else give each library back the count it had when the hold began. Call under _lock."""
    global _saved
    want = _holds > 0 and not _lifted and num_threads() > 1
    if want and _saved is None:
        _saved = [(lib, lib.get()) for lib in _blas_libraries()]
        for lib, _ in _saved:
            lib.set(1)  # one C call each
    elif not want and _saved is not None:
        for lib, count in _saved:
            lib.set(count)
        _saved = None


@contextlib.contextmanager
def blas_held():
    """`with blas_held():` BLAS on one thread inside the block, its previous thread counts back
    after the last of the nested (or concurrent) holds ends. Process-wide, as BLAS's setting
    is: another thread's own NumPy matmuls run on one thread while any hold lasts."""
    _hold()
    try:
        yield
    finally:
        _release()


def _hold() -> None:
    global _holds
    with _lock:
        _holds += 1
        _update_blas()


def _release() -> None:
    global _holds
    with _lock:
        _holds -= 1
        _update_blas()


def _workers() -> Pool | None:
    global _pool, _fork_hook
    n = num_threads()
    if n == 1:
        return None
    with _lock:
        if not _blas_libraries():
            # no BLAS that threadpoolctl can hold (Apple's Accelerate, say): leave NumPy's own
            # threading alone and split nothing, so the two never compete for the cores
            return None
        if _pool is None:
            if not _fork_hook and hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_forget_pool_after_fork)  # cannot be undone:
                _fork_hook = True  # registered once, by the first pool, not at import
            _pool = Pool(n - 1)
        return _pool


def set_split_recorder(recorder: Callable | None) -> Callable | None:
    """Have `recorder(began, worker_starts, worker_ends, caller_end, ended)` called after every
    call whose tasks ran on the pool, with perf_counter times: when the call began and ended,
    when each worker's task started and ended, and when the caller's own task (or tasks, run
    one after the other) ended. None stops it; the previous recorder is returned. The profiler
    uses it to measure the time the cores sat idle in split kernels: a worker waking up, or a
    share finished before the others. Costs nothing unset."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


def split_rows(n: int, seconds: float, align: int = 1) -> list[tuple[int, int]]:
    """Cut range(n) into up to num_threads() contiguous [lo, hi) chunks of whole `align` blocks,
    for a job estimated to take `seconds` on one thread (the cost model above).

    Jobs under MIN_SPLIT get one chunk, so they never pay for a hand-off; longer ones one more
    thread per MIN_SPLIT. Workers start HANDOFF late, so the last chunk, which run_chunks runs
    on the calling thread, gets HANDOFF more work than each of the others."""
    threads = min(num_threads(), 1 + int(seconds // MIN_SPLIT), n // max(align, 1))
    if threads <= 1:
        return [(0, n)]
    blocks = n // align
    worker_share = max(0.0, (seconds - HANDOFF) / threads) / seconds  # of the whole job
    cuts = [0] + [align * round(blocks * worker_share * i) for i in range(1, threads)] + [n]
    return [(cuts[i], cuts[i + 1]) for i in range(threads) if cuts[i] < cuts[i + 1]]


def run_tasks(fn: Callable[[int], object], n: int) -> None:
    """fn(i) for i in range(n): the first ones on pool workers (one each), the rest on this
    thread.

    The tasks must write disjoint outputs; every task has finished when this returns, and an
    error is raised here (this thread's own first, otherwise the first worker's).

    BLAS is held to one thread while they run, split or not: a small model's jobs never split,
    and left alone OpenBLAS would thread each of their small matmuls itself, paying its wake-up
    and join on every call while its spinning worker holds the other core (benchmarks/README.md,
    "Matmul and BLAS"). The hold is blas_held's, without its context manager: this runs on
    every kernel call."""
    _hold()
    try:
        _run_tasks(fn, n)
    finally:
        _release()


def _run_tasks(fn: Callable[[int], object], n: int) -> None:
    # a task that splits again runs its pieces itself: queued behind the task that waits for
    # them, they would never start
    nested = threading.current_thread().name.startswith(THREAD_PREFIX)
    pool = _workers() if n > 1 and not nested else None
    if pool is None or not pool.busy.acquire(blocking=False):
        for i in range(n):
            fn(i)
        return
    recorder = _recorder
    if recorder is not None:
        began, fn, starts, ends = _timed_tasks(fn, n)
    try:
        helpers = [] if pool.stopped else pool.workers[:n - 1]
        for i, w in enumerate(helpers):
            w.start(fn, i)
        try:
            for i in range(len(helpers), n):
                fn(i)
        finally:
            errors = [w.join() for w in helpers]
    finally:
        pool.release()
    for e in errors:
        if e is not None:
            raise e
    if recorder is not None and helpers:
        h = len(helpers)
        recorder(began, starts[:h], ends[:h], max(ends[h:]), time.perf_counter())


def _timed_tasks(fn: Callable[[int], object], n: int):
    """(now, fn wrapped to note each task's start and end time, the starts, the ends)."""
    starts, ends = [0.0] * n, [0.0] * n

    def timed(i):
        starts[i] = time.perf_counter()
        try:
            fn(i)
        finally:
            ends[i] = time.perf_counter()
    return time.perf_counter(), timed, starts, ends


def run_chunks(fn: Callable[[int, int], object], chunks: list[tuple[int, int]]) -> None:
    """fn(lo, hi) for every chunk of split_rows, as run_tasks runs its tasks."""
    run_tasks(lambda i: fn(*chunks[i]), len(chunks))


def run_row_chunks(fn: Callable[[int, int], object], n: int, seconds: float) -> None:
    """fn(lo, hi) over range(n) split by split_rows; a job large enough to split that has fewer
    rows than threads (a decoding step's single row) runs whole with BLAS's own threads instead.

    A one-row product x W reads all of W once, and for GPT-2 that is the whole cost of a decoding
    step: inside BLAS a matrix-vector product is split by output columns, and on a machine where
    one core cannot read memory as fast as two, that is the only split that helps (rows there
    are none to split). The hold on BLAS is lifted only while no other caller is using the pool,
    and only for this product."""
    chunks = split_rows(n, seconds)
    pool = None
    if len(chunks) == 1 and n < num_threads() and seconds >= MIN_SPLIT \
            and not threading.current_thread().name.startswith(THREAD_PREFIX):
        pool = _workers()
    if pool is None or not pool.busy.acquire(blocking=False):
        run_chunks(fn, chunks)
        return
    global _lifted
    try:
        with _lock:
            _lifted = True
            _update_blas()
        try:
            fn(0, n)
        finally:
            with _lock:
                _lifted = False
                _update_blas()
    finally:
        pool.release()
