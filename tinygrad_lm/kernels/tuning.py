"""`with tuned_for_training():` the process-wide settings a training run wants, for one block.

Two settings belong to the whole process rather than to a model, so the engine never changes
them on its own (not at import, not in `Trainer`); the `tinygrad-lm train` command and the
benchmarks switch them on around their work, and a library user may do the same:

- glibc's allocator keeps freed memory (`keep_freed_memory`, allocator.py): a training step frees
  and allocates the same large arrays every time, and would otherwise fault fresh zeroed pages
  in on every step;
- BLAS stays on one thread for the whole block (`blas_held`, threads.py), instead of being held
  and let go around each kernel call: NumPy matmuls written outside the kernels then do not
  wake OpenBLAS's own threads between two kernels.

What "restore" means on exit:

- BLAS: each library gets back the thread count it had when the block began (threadpoolctl
  reads it), so a user's `threadpool_limits` survives;
- the allocator: glibc cannot report its settings, so they cannot be read and put back. On exit
  the three settings get glibc's documented initial values again (mmap threshold and trim
  threshold 128 KiB, up to 65,536 mapped blocks), so freed memory is handed back to the system
  as usual. One difference remains for the rest of the process: setting any of them by
  `mallopt` turns off glibc's dynamic mmap threshold (which otherwise rises, up to 32 MB, as
  large mapped blocks are freed), and glibc offers no way to turn it on again. Settings a user
  made with `mallopt` before the block are overwritten by those defaults.

Blocks nest (only the outermost changes and restores the allocator) and are process-wide, not
per thread. Outside glibc (macOS, Windows, musl) the allocator part does nothing.
"""

from __future__ import annotations

import contextlib
import threading

from .allocator import keep_freed_memory
from .threads import blas_held

_lock = threading.Lock()
_depth = 0  # how many tuned_for_training blocks are open now


@contextlib.contextmanager
def tuned_for_training():
    """Keep freed memory in the process and BLAS on one thread inside the block; glibc's
    default allocator settings and BLAS's previous thread counts after it (see the module
    docstring for what cannot be restored)."""
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            keep_freed_memory(True)
    try:
        with blas_held():
            yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                keep_freed_memory(False)
