"""keep_freed_memory: a block freed by one training step is reused by the next, whatever its size.

Checked by page faults, not time: an array allocated, touched and freed, then allocated again,
must not fault its pages in a second time. Each case runs in a fresh process because the setting
belongs to the whole process (and must not leak into the other tests)."""

import subprocess
import sys

import pytest

from tinygrad_lm.kernels.allocator import _mallopt

pytestmark = pytest.mark.skipif(_mallopt() is None, reason="mallopt exists only in glibc")

PROBE = r"""
import resource, sys
import numpy as np
from tinygrad_lm.kernels import keep_freed_memory
assert keep_freed_memory(sys.argv[1] == "on")

def faults_of_second_allocation(*mbs):
    a = [np.ones(mb << 18, dtype=np.float32) for mb in mbs]  # blocks of mb MB, touched
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = [np.ones(mb << 18, dtype=np.float32) for mb in mbs]
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del b
    return faults

sizes = [(8,), (64,), (160,)] + ([(100,) * 3] if sys.argv[1] == "on" else [])
print(*[faults_of_second_allocation(*mbs) for mbs in sizes])
"""


def second_allocation_faults(setting: str) -> list[int]:
    done = subprocess.run([sys.executable, "-c", PROBE, setting], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return [int(n) for n in done.stdout.split()]


def test_freed_blocks_of_every_size_are_reused():
    # 8 MB is under glibc's 32 MB mmap threshold; 64 MB and 160 MB (GPT-2 small's embedding
    # gradient is 154 MB) are above it and come back without faults only because mmap is off;
    # 3 x 100 MB freed at once leave 300 MB free at the top of the heap, which glibc would trim
    # (kept under the test suite's 500 MB a test; GPT-2 small frees more than 1 GB a step).
    faults = second_allocation_faults("on")
    assert all(n < 16 for n in faults), \
        f"pages faulted in again for 8 / 64 / 160 / 3 x 100 MB: {faults}"


def test_glibc_defaults_restored_hand_large_blocks_back():
    # the contrast that shows the probe can tell: with glibc's defaults a freed block above the
    # threshold goes back to the kernel, and its second allocation faults its pages in again
    faults = second_allocation_faults("off")
    assert faults[2] >= 16, f"expected fresh pages for a 160 MB block, got {faults[2]} faults"
