"""Weight-only int8 quantization of a model's Linear layers, for inference.

`GPT.quantize("int8")` is the way in; `quantize_linears(module)` below does its work on any
Module. Every Linear becomes a QuantizedLinear holding

    qweight  int8 (out, in)   one row per output channel (Linear stores (in, out))
    scale    float32 (out,)   qweight[o] * scale[o] is output channel o's weight
    bias     float32 (out,) or None, unchanged

and the float32 weight is dropped, so a model's Linear weights take a quarter of the memory,
and decoding, which reads every one of them for each token, reads a quarter of the bytes. The
quantization itself (symmetric, one scale per output channel, q = round(w / s)) is written out
in kernels/quantized.py. None of the three arrays is a Parameter: an optimizer never sees
them, and the op that uses them (F.int8_linear) has no backward.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..kernels import active_backend
from .layers import Linear
from .module import Module

QUANTIZATIONS = ("int8",)  # the schemes GPT.quantize and `--quantize` accept


def check_quantization(scheme) -> str:
    """`scheme` if it is a quantization this engine knows, else a ValueError naming them."""
    if scheme not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {scheme!r}: the one available is 'int8' "
                         "(weight-only, one scale per output channel); float32, the default, "
                         "needs no quantization")
    return scheme


class QuantizedLinear(Module):
    """y = x @ W^T + bias with W = qweight * scale[:, None], over the last axis; (..., in) ->
    (..., out). Inference only: calling backward through it raises (F.int8_linear).

    Build one from a float weight with `from_weight` (out, in) or `from_linear`."""

    def __init__(self, qweight: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None):
        out_features, in_features = qweight.shape
        if qweight.dtype != np.int8 or scale.shape != (out_features,):
            raise ValueError(f"QuantizedLinear: need an int8 weight (out, in) and one scale per "
                             f"output channel, got {qweight.dtype} {qweight.shape} and scales "
                             f"{scale.shape}; make them with QuantizedLinear.from_weight(w)")
        self.in_features, self.out_features = in_features, out_features
        self.qweight = np.ascontiguousarray(qweight)  # (out, in) int8, one row per channel
        self.scale = np.ascontiguousarray(scale, dtype=np.float32)  # (out,)
        self.bias = None if bias is None else np.array(bias, dtype=np.float32)  # (out,), a copy

    @classmethod
    def from_weight(cls, weight: np.ndarray, bias: np.ndarray | None = None) -> QuantizedLinear:
        """The int8 twin of a float weight stored (out, in), as nn.Embedding stores a table (a
        tied head's weight is the token embedding)."""
        qweight, scale = active_backend().quantize_int8_per_channel(weight)
        return cls(qweight, scale, bias)

    @classmethod
    def from_linear(cls, linear: Linear) -> QuantizedLinear:
        """The int8 twin of a Linear, whose weight is stored (in, out): quantized transposed."""
        bias = None if linear.bias is None else linear.bias.data
        return cls.from_weight(linear.weight.data.T, bias)  # (out, in)

    def dequantized(self) -> np.ndarray:
        """The float32 weight (out, in) this layer computes with: qweight * scale[:, None]."""
        return self.qweight.astype(np.float32) * self.scale[:, None]

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays: int8 weight, float32 scales and bias."""
        return self.qweight.nbytes + self.scale.nbytes + (0 if self.bias is None else
                                                          self.bias.nbytes)

    def forward(self, x):
        return F.int8_linear(x, self.qweight, self.scale, self.bias)  # (..., out)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, int8"


def quantize_linears(module: Module) -> int:
    """Replace every Linear inside `module` (an attribute, or an entry of a list, tuple or dict
    attribute) with its QuantizedLinear, in place, dropping the float weights; returns how many
    were replaced. A Linear reached along two paths becomes one QuantizedLinear."""
    done: dict[int, QuantizedLinear] = {}

    def swap(value):
        if not isinstance(value, Linear):
            return value
        if id(value) not in done:
            done[id(value)] = QuantizedLinear.from_linear(value)
        return done[id(value)]

    for m in module.modules():
        for name, value in list(vars(m).items()):
            if isinstance(value, Linear):
                setattr(m, name, swap(value))
            elif isinstance(value, list):
                value[:] = [swap(v) for v in value]
            elif isinstance(value, dict):
                value.update({k: swap(v) for k, v in value.items()})
            elif isinstance(value, tuple) and any(isinstance(v, Linear) for v in value):
                setattr(m, name, tuple(swap(v) for v in value))
    return len(done)
