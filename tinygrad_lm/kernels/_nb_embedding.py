"""Numba embedding: a row gather forward, a row scatter-add backward.

The backward is where NumPy is slow: `np.add.at` (needed because an id may repeat, and
`gw[ids] += gy` would keep only the last of the repeated rows) runs an unbuffered generic loop
element by element. A compiled loop adds whole rows, vectorised along C.
The loops index unchecked: `reference.check_ids` runs first (Numba does no bounds checking).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .reference import check_ids
from .wrappers import is_float, reference_unless


@njit(cache=True, error_model="numpy", nogil=True)
def _gather_rows(weight, ids, out):
    for n in range(ids.size):
        row = ids[n]
        for j in range(weight.shape[1]):
            out[n, j] = weight[row, j]


@njit(cache=True, error_model="numpy", nogil=True)
def _scatter_add_rows(gy, ids, gw):
    """gw[ids[n]] += gy[n]; serial, so that two rows with the same id never race."""
    for n in range(ids.size):
        row = ids[n]
        for j in range(gy.shape[1]):
            gw[row, j] += gy[n, j]


def _table(weight, ids) -> bool:
    return weight.ndim == 2 and is_float(weight)


@reference_unless(_table)
def embedding_forward(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The math: reference.embedding_forward (ids checked first, as there)."""
    check_ids("embedding", ids, weight.shape[0])
    flat = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)  # (N,)
    out = np.empty((flat.size, weight.shape[1]), dtype=weight.dtype)  # (N, C)
    _gather_rows(np.ascontiguousarray(weight), flat, out)
    return out.reshape(*np.shape(ids), weight.shape[1])


@reference_unless()
def embedding_backward(gy: np.ndarray, ids: np.ndarray, num_embeddings: int) -> np.ndarray:
    """The math: reference.embedding_backward (a serial scatter-add of whole rows)."""
    check_ids("embedding", ids, num_embeddings)
    flat = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)  # (N,)
    c = gy.shape[-1]
    g2 = np.ascontiguousarray(gy).reshape(-1, c)  # (N, C)
    if g2.shape[0] != flat.size:
        raise ValueError(f"embedding_backward: gradient {gy.shape} does not match ids "
                         f"{np.shape(ids)} (expected {(*np.shape(ids), c)})")
    gw = np.zeros((num_embeddings, c), dtype=gy.dtype)
    _scatter_add_rows(g2, flat, gw)
    return gw
