"""Numba CPU kernels: the same functions, signatures and results as `reference.py`, compiled.

Each public function is a thin Python wrapper that checks dtypes and ids, makes its inputs
C-contiguous with the reduction axis last, flattens leading axes into rows, and calls an
`@njit(cache=True)` kernel on 1-D or 2-D arrays. Dtypes other than float32/float64 go to the
reference. The kernels live in one module per concept:

    _nb_math.py         vectorisable exp, NaN-propagating max, id validation
    _nb_softmax.py      softmax (scale and causal mask fused) and log-softmax
    _nb_loss.py         cross-entropy with one-pass log-sum-exp
    _nb_layernorm.py    LayerNorm
    _nb_elementwise.py  GELU and the AdamW update
    _nb_embedding.py    embedding gather and scatter-add

Threads. The kernels run on one thread. On these 2-core machines a `prange` softmax on Numba's
non-spinning 'workqueue' layer lost to the serial one, both timed alone after matmuls and in a
loop alternating with BLAS matmuls as a training step does (benchmarks/kernels.py, "mixed loop"):
after each matmul OpenBLAS's worker thread keeps spinning for about 0.1 s and holds the core the
second kernel thread needs. (With OPENBLAS_THREAD_TIMEOUT=4 and OMP_WAIT_POLICY=PASSIVE set before
NumPy loads, the parallel softmax was 1.5x faster instead.) One thread keeps BLAS and Numba from
fighting, so no threading layer needs configuring. To experiment, set `PARALLEL = True` in
`_nb_math.py` and delete `__pycache__`.

Compiled code is cached in `__pycache__`, so only the first import on a machine pays for
compilation (see the benchmark's cold-cache column); importing this module compiles nothing.
"""

from __future__ import annotations

import numpy as np

from ._nb_elementwise import adamw_update_, gelu_backward, gelu_forward
from ._nb_embedding import embedding_backward, embedding_forward
from ._nb_layernorm import layernorm_backward, layernorm_forward
from ._nb_loss import cross_entropy_backward, cross_entropy_forward
from ._nb_softmax import (
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)
from .reference import causal_mask

NAME = "numba"

__all__ = ["NAME", "matmul", "causal_mask", "softmax_forward", "softmax_backward",
           "log_softmax_forward", "log_softmax_backward", "cross_entropy_forward",
           "cross_entropy_backward", "layernorm_forward", "layernorm_backward", "gelu_forward",
           "gelu_backward", "embedding_forward", "embedding_backward", "adamw_update_"]


def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False):
    """op(a) @ op(b) over the last two axes, batch axes broadcast; op transposes when asked.

    This stays NumPy's matmul (OpenBLAS) for every shape; the flags become transposed views,
    which BLAS reads in place without a copy. Measured on the shapes a small GPT uses:
      * 2-D, e.g. (768,128)@(128,384), (2048,192)@(192,768): OpenBLAS uses both cores,
        ~200 GFLOP/s in float32. A Numba loop nest reached ~20.
      * batched attention, e.g. (64,64,16)@(64,16,64): NumPy loops over the batch calling BLAS,
        on one core at ~100 GFLOP/s float32. A Numba `prange` loop nest reached 15-30; splitting
        the batch over two threads reached 180 alone but lost to NumPy in a training step, where
        OpenBLAS's spinning worker thread takes the second core (see the module docstring).
    """
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)
