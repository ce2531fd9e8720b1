"""Keep freed array memory in the process, so a training step does not page-fault its way through.

A training step allocates and frees the same large arrays every time (activations, gradients,
attention scores). glibc's malloc hands blocks above its mmap threshold straight to the kernel
and unmaps them on free, and trims the heap top when it shrinks, so each step would ask the
kernel for fresh zeroed pages again. Below, the mmap threshold goes up to glibc's largest (32 MB)
and mmap is switched off for blocks above it as well (M_MMAP_MAX = 0: GPT-2's 154 MB embedding
gradient and its 51-412 MB logits come from the heap too; glibc still falls back to mmap when
the heap cannot grow), and the heap top is never trimmed (GPT-2 small at 8 x 256 frees more than
1 GB at the top of the heap at the end of each step). So the memory freed by one step is reused
by the next (benchmarks/README.md has the page faults and step times). The process's peak memory
does not change; it just is not returned to the system until the process ends.

This changes the whole process, so the engine never calls it by itself (not at import, not in
the trainer): `with tuned_for_training():` (tuning.py) switches it on for one block and puts
glibc's default thresholds back after it, as `keep_freed_memory(False)` does (tuning.py says
what that cannot restore). The `tinygrad-lm train` command and the benchmarks use that block.
`mallopt` exists only in glibc: on other systems (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit: arrays under 32 MB reuse
_NEVER_TRIM = -1  # glibc: "setting M_TRIM_THRESHOLD to -1 disables trimming completely"
_GLIBC_DEFAULT = 128 << 10  # both thresholds' initial values in glibc
_GLIBC_DEFAULT_MMAP_MAX = 65536  # how many blocks glibc may map at once by default


def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt  # AttributeError on a libc without it (musl)
    except (OSError, AttributeError, TypeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return mallopt


def keep_freed_memory(enabled: bool = True) -> bool:
    """Raise glibc's mmap threshold, stop it mapping blocks of their own and never trim the
    heap (enabled), or put back its defaults (disabled); True if all three were set, False where
    there is no glibc."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    if enabled:
        settings = ((_M_MMAP_THRESHOLD, _MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, _NEVER_TRIM),
                    (_M_MMAP_MAX, 0))
    else:
        settings = ((_M_MMAP_THRESHOLD, _GLIBC_DEFAULT), (_M_TRIM_THRESHOLD, _GLIBC_DEFAULT),
                    (_M_MMAP_MAX, _GLIBC_DEFAULT_MMAP_MAX))
    return all([bool(mallopt(option, value)) for option, value in settings])
