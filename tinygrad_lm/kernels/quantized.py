"""NumPy reference kernels for int8 weights: the specification of weight-only quantization.

Decoding one token at a time with a GPT reads every weight of every Linear layer once per
token and does only two flops per weight read, so on a CPU its speed is set by memory
bandwidth, not arithmetic. Storing those weights as int8 instead of float32 reads a quarter of
the bytes. Only the weights are quantized: activations, the residual stream, LayerNorm and
attention stay float32, and the int8 numbers are turned back into float32 on the fly.

Symmetric, per output channel. Output channel o of a weight W (out, in) gets its own scale

    s_o = max_i |W[o, i]| / 127          (an all-zero row gets s_o = 1: any scale reproduces
                                          it, and 1 never divides by zero)
    q[o, i] = round(W[o, i] / s_o)       in [-127, 127], ties to even (np.rint)

and the weight it stands for is the dequantised q[o, i] * s_o. Rounding moves each weight by
at most half a step, |W - q s| <= s_o / 2, so the error is relative to the largest weight of
its own row: one channel with large weights does not coarsen every other channel, as a single
scale for the whole matrix would. -128 is left out so that the range is symmetric and -q is
always representable.

The int8 matrix is stored (out, in), one contiguous row per output channel (the transpose of
Linear's (in, out) weight): output o of a one-row product is the dot product of x with row o,
so a kernel streams the matrix once, front to back.

These functions are the reference backend's kernels of the same names (reference.py imports
them); `_nb_quant.py` holds their Numba twins, tested equal to these.
"""

from __future__ import annotations

import numpy as np

QMAX = 127  # the largest |q|: int8's range without -128, so that it is symmetric


def quantize_int8_per_channel(w: np.ndarray):
    """(q int8 (out, in), scale float32 (out,)) with q * scale[:, None] ~= w, w of shape
    (out, in): one scale per row (output channel), s = max|w_row| / 127 (1 for a zero row),
    q = rint(w / s) clipped to [-127, 127]. w is rounded to float32 first, whatever its dtype,
    and checked by `quantizable`."""
    w = quantizable(w)  # (out, in) float32
    amax = np.max(np.abs(w), axis=1, initial=np.float32(0))  # (out,)
    scale = amax / np.float32(QMAX)  # (out,) float32
    scale[scale == 0] = 1.0  # an all-zero row: q = 0 whatever the scale
    q = np.clip(np.rint(w / scale[:, None]), -QMAX, QMAX).astype(np.int8)  # (out, in)
    return q, scale


def quantizable(w: np.ndarray) -> np.ndarray:
    """w as a C-contiguous float32 (out, in) array, after checking it can be quantized: 2-D
    and finite (a scale made from an infinite weight would turn every other weight of its row
    into 0, and NaN has no nearest integer). Raises ValueError otherwise."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"quantize_int8_per_channel: need a 2-D weight (out, in), got shape "
                         f"{w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("quantize_int8_per_channel: the weight holds NaN or infinity; only "
                         "finite weights can be quantized (check the model's weights first)")
    return w


def dequantize_int8(q: np.ndarray, scale: np.ndarray, dtype=np.float32) -> np.ndarray:
    """The weight (out, in) that q and scale stand for: q[o, i] * scale[o], in `dtype`."""
    return q.astype(dtype) * scale.astype(dtype)[:, None]  # (out, in)


def int8_linear_forward(x: np.ndarray, q: np.ndarray, scale: np.ndarray, b=None) -> np.ndarray:
    """y = x W^T + b for rows x (N, in), with W = q * scale[:, None] the dequantised weight
    (out, in), q int8 (out, in), scale (out,) and b (out,) or None. y is (N, out) in x's dtype:
    the product of x with the dequantised weight, as a float Linear would compute it."""
    w = dequantize_int8(q, scale, x.dtype)  # (out, in)
    y = x @ w.T  # (N, in) @ (in, out) -> (N, out)
    if b is not None:
        y += b
    return y
