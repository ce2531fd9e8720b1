"""Fused ops: several ops' worth of math in one kernel call each way, so the kernel can keep
rows in cache and write results in place. Each has a spelled-out equivalent built from the
plain ops (nn/layers.py, nn/attention.py); `GPTConfig.fused` chooses between them, and tests
check they agree.

    Linear           x W + b               (= x @ W + b)
    LinearGelu       gelu(x W + b)         (= Linear, then Gelu)
    CausalAttention  softmax(q k^T / sqrt(hs), causal) v over heads, from a q|k|v projection
    Int8Linear       x (q s)^T + b         (int8 weights q, per-channel scales s; no backward)

Int8Linear alone has no module path spelled out of plain ops: it exists only for inference
with int8 weights, and its spelled-out math is the reference kernel, x @ dequantize(q, s)^T + b
(kernels/quantized.py).
"""

from __future__ import annotations

from ..autograd import Function
from ..kernels import active_backend
from ..kernels.reference import (  # noqa: F401 - the NumPy math of each kernel the ops call
    attention_backward,
    attention_forward,
    attention_tiled_backward,
    attention_tiled_forward,
    int8_linear_forward,
    linear_backward,
    linear_forward,
    linear_gelu_backward,
    linear_gelu_forward,
)


def _linear_rows(op: str, x, w):
    """x with its leading axes flattened into rows (N, in), after checking it fits w (in, out)."""
    if x.shape[-1] != w.shape[0]:
        raise ValueError(f"{op}: input {x.shape} @ weight {w.shape}: input features "
                         f"{x.shape[-1]} and weight rows {w.shape[0]} differ")
    return x.reshape(-1, x.shape[-1])


def _needs_x_w_b(ctx):
    """needs_input_grad for (x, w, b), b counted as not needed when it was not passed."""
    return tuple(ctx.needs_input_grad) + (False,) * (3 - len(ctx.needs_input_grad))


def _shaped_like_input(ctx, gx, gw, gb):
    return (gx.reshape(ctx.x_shape) if gx is not None else None), gw, gb



class Linear(Function):
    """y = x W + b with W of shape (in, out), over the last axis of x.

    Leading axes are flattened into one row axis so that backward is two 2-D matmuls:
    dx = dy W^T,  dW = x^T dy  (summed over all rows at once),  db = sum of dy over rows.
    The math: linear_forward, linear_backward (kernels/reference.py, imported above).
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        x2 = _linear_rows("linear", x, w)  # (N, in)
        y = active_backend().linear_forward(x2, w, b)  # (N, out)
        ctx.save_for_backward(x2, w)
        ctx.x_shape = x.shape
        return y.reshape(*x.shape[:-1], w.shape[1])

    @staticmethod
    def backward(ctx, g):
        x2, w = ctx.saved
        g2 = g.reshape(-1, w.shape[1])  # (N, out)
        grads = active_backend().linear_backward(x2, w, g2, *_needs_x_w_b(ctx))
        return _shaped_like_input(ctx, *grads)


class LinearGelu(Function):
    """y = gelu(x W + b), the MLP's expansion, as one op: each thread applies GELU to its rows
    of x W + b while they are in cache, and backward forms dh = dy * gelu'(h) the same way
    before the linear backward (dx = dh W^T, dW = x^T dh, db = sum of dh over rows).
    Saves the pre-activation h = x W + b, as a separate GELU op would.
    The math: linear_gelu_forward, linear_gelu_backward (kernels/reference.py)."""

    @staticmethod
    def forward(ctx, x, w, b=None, approximate="tanh"):
        if approximate not in ("tanh", "none"):
            raise ValueError(f"linear_gelu: approximate must be 'tanh' or 'none', got "
                             f"{approximate!r}")
        x2 = _linear_rows("linear_gelu", x, w)  # (N, in)
        y, h = active_backend().linear_gelu_forward(x2, w, b, approximate)  # 2 x (N, out)
        ctx.save_for_backward(x2, w, h)
        ctx.x_shape, ctx.approximate = x.shape, approximate
        return y.reshape(*x.shape[:-1], w.shape[1])

    @staticmethod
    def backward(ctx, g):
        x2, w, h = ctx.saved
        g2 = g.reshape(-1, w.shape[1])  # (N, out)
        grads = active_backend().linear_gelu_backward(x2, w, h, g2, *_needs_x_w_b(ctx),
                                                      ctx.approximate)
        return _shaped_like_input(ctx, *grads)


class CausalAttention(Function):
    """Causal multi-head self-attention from a fused q|k|v projection, (B, T, 3C) -> (B, T, C):
    att = softmax(q k^T / sqrt(hs), keys j > i removed), y = att v, heads merged.

    One op instead of split, head reshapes, two matmuls, a softmax and a merge, so the kernel
    can keep each head's (T, T) block in cache and write results in place. Backward:
    dv = att^T dy,  ds = softmax'(dy v^T),  dq = ds k / sqrt(hs),  dk = ds^T q / sqrt(hs).

    Two kernel pairs compute it, chosen by `tiled` (None: by T, see TILED_FROM):
    * weights kept (attention_forward): att itself is saved for backward, about B nh T^2 / 2
      numbers a layer (causal blocks). The faster of the two for short contexts.
    * memory-linear (attention_tiled_forward, tiles of `tile` queries and keys): only y and
      each query's log-sum-exp are saved; backward recomputes att block by block. Memory per
      layer grows linearly in T; the price is one more q k^T product in backward, which once
      the weights no longer fit in cache costs about what reading them back from memory does.
    The math: attention_forward/backward, attention_tiled_forward/backward (kernels/reference.py).
    """

    # From this context length on, the memory-linear kernels run. Below it, keeping the
    # weights is faster: the tiled kernels redo the q k^T product and the exp in backward, in
    # more and smaller BLAS calls. From it on, the two run about equally fast (the kept weights
    # no longer fit in cache and stream from RAM), and the kept weights would be the bulk of
    # the step's memory (benchmarks/README.md, "Attention").
    TILED_FROM = 1024

    @staticmethod
    def forward(ctx, qkv, n_head, tiled=None, tile=64):
        if (not isinstance(n_head, int) or n_head < 1 or qkv.ndim != 3 or qkv.shape[-1] % 3
                or (qkv.shape[-1] // 3) % n_head):
            raise ValueError(f"causal_attention: expected a (B, T, 3C) projection with C "
                             f"divisible by n_head={n_head}, got {qkv.shape}")
        if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
            raise ValueError(f"causal_attention: tile must be a positive int, got {tile!r}")
        backend = active_backend()
        ctx.tiled = qkv.shape[1] >= CausalAttention.TILED_FROM if tiled is None else bool(tiled)
        if ctx.tiled:
            y, lse = backend.attention_tiled_forward(qkv, n_head, tile)
            ctx.save_for_backward(qkv, y, lse)  # y is the output: saving it costs no memory
        else:
            y, att = backend.attention_forward(qkv, n_head)
            ctx.save_for_backward(qkv, att)
        # att is in the backend's own format (the Numba one keeps causal blocks), so the
        # backend that ran forward also runs backward, even if another is active by then
        ctx.n_head, ctx.tile, ctx.backend = n_head, tile, backend
        return y

    @staticmethod
    def backward(ctx, g):
        if ctx.tiled:
            qkv, y, lse = ctx.saved
            return ctx.backend.attention_tiled_backward(qkv, y, lse, g, ctx.n_head, ctx.tile)
        qkv, att = ctx.saved
        return ctx.backend.attention_backward(qkv, att, g, ctx.n_head)


class Int8Linear(Function):
    """y = x W^T + b with W = q * scale[:, None], the dequantised int8 weight (out, in), over
    the last axis of x: the Linear of a quantized model (nn/quantized.py), inference only.

    q (int8), scale and b are settings of the op, not inputs: they carry no gradient, and
    backward raises instead of returning dx = dy W, so that training a quantized model stops
    at its first backward rather than updating the float32 tensors around frozen int8 ones.
    The math: int8_linear_forward (kernels/quantized.py).
    """

    @staticmethod
    def forward(ctx, x, q, scale, b=None):
        if x.shape[-1] != q.shape[1]:
            raise ValueError(f"int8_linear: input {x.shape} against an int8 weight (out, in) = "
                             f"{q.shape}: input features {x.shape[-1]} and {q.shape[1]} differ")
        x2 = x.reshape(-1, x.shape[-1])  # (N, in)
        y = active_backend().int8_linear_forward(x2, q, scale, b)  # (N, out)
        return y.reshape(*x.shape[:-1], q.shape[0])

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(
            "int8_linear: no backward through int8 weights: a model quantized with "
            "GPT.quantize('int8') is for inference (generation, scoring, evaluation) only. To "
            "train it or take gradients, load its float32 weights again (tinygrad_lm.load or "
            "GPT.from_file) and leave them unquantized")
