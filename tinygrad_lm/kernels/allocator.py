"""Keep freed array memory in the process, so a training step does not page-fault its way through.

A training step allocates and frees the same large arrays every time (activations, gradients,
attention scores). glibc's malloc hands blocks above its mmap threshold straight to the kernel
and unmaps them on free, and trims the heap top when it shrinks, so each step would ask the
kernel for fresh zeroed pages again. With the thresholds below the memory freed by one step is
reused by the next (benchmarks/README.md has the page faults and step times). The process's peak
memory does not change; it just is not returned to the system until the process ends.

This changes the whole process, so nothing calls it on import: the trainer and the benchmarks
switch it on, `keep_freed_memory(False)` puts glibc's default thresholds back.
`mallopt` exists only in glibc: on other systems (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit: arrays under 32 MB reuse
_TRIM_THRESHOLD = 1 << 30   # give the heap top back only above 1 GB of free memory
_GLIBC_DEFAULT = 128 << 10  # both thresholds' initial values in glibc


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
    """Raise glibc's mmap and trim thresholds (enabled) or put back its defaults of 128 kB
    (disabled); True if both were set, False where there is no glibc."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mmap, trim = (_MMAP_THRESHOLD, _TRIM_THRESHOLD) if enabled else (_GLIBC_DEFAULT,) * 2
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))
