"""NumPy reference kernels: the specification every faster backend must match.

Each kernel of the contract (contract.py) is here, in plain NumPy (the int8-weight ones come
from quantized.py), and its docstring is where its math is written: the contract and the
Numba twins (`numba_cpu.py`, same signatures) point here rather than restate it. Ops call
whichever backend is active (see `tinygrad_lm.kernels`); tests check the twins agree in float32
and float64. Nothing here knows another backend's internal formats.
Arrays may have any leading shape; the reduction axis is always the last one.
"""

from __future__ import annotations

import math

import numpy as np

# the int8-weight kernels, written out in quantized.py (this file would pass ~400 lines)
from .quantized import int8_linear_forward, quantize_int8_per_channel  # noqa: F401

NAME = "numpy"


# ---- matmul ---------------------------------------------------------------------------------
def matmul(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False):
    """op(a) @ op(b) over the last two axes, batch axes broadcast; op transposes when asked.

    The transpose flags let backward compute g @ b^T and a^T @ g without copying.
    """
    if trans_a:
        a = np.swapaxes(a, -1, -2)
    if trans_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


# ---- linear layer ---------------------------------------------------------------------------
def linear_forward(x: np.ndarray, w: np.ndarray, b=None) -> np.ndarray:
    """y = x w + b for rows x (N, in), weight w (in, out) and bias b (out,) or None."""
    y = x @ w
    if b is not None:
        y += b
    return y


def linear_backward(x: np.ndarray, w: np.ndarray, gy: np.ndarray, need_x: bool = True,
                    need_w: bool = True, need_b: bool = True):
    """(dx = gy w^T, dw = x^T gy, db = sum of gy over rows), each None when not needed."""
    # BEGIN ASSIGNMENT 2.5
    dx = gy @ w.T if need_x else None
    dw = x.T @ gy if need_w else None
    # END ASSIGNMENT 2.5
    db = gy.sum(axis=0) if need_b else None
    return dx, dw, db


# ---- softmax --------------------------------------------------------------------------------
def causal_mask(tq: int, tk: int) -> np.ndarray:
    """True where query i may NOT attend key j. Queries are the last tq of tk positions, so with
    a KV cache (tq < tk) query i sits at absolute position i + tk - tq."""
    # BEGIN ASSIGNMENT 4.1
    i = np.arange(tq)[:, None] + (tk - tq)
    j = np.arange(tk)[None, :]
    return j > i
    # END ASSIGNMENT 4.1


def softmax_forward(x: np.ndarray, scale: float = 1.0, causal: bool = False) -> np.ndarray:
    """y = softmax(scale * x) over the last axis. With `causal`, x is (..., Tq, Tk) scores of
    the last Tq of Tk positions, and the keys j > i + Tk - Tq (after query i) get probability 0.

    Subtracting the row max before exp keeps exp's argument <= 0: no overflow for any logits.
    A row whose every key is masked gives zeros, not 0/0 = NaN.
    """
    z = x * scale if scale != 1.0 else x.copy()
    if causal:
        z = np.where(causal_mask(x.shape[-2], x.shape[-1]), -np.inf, z)
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(z - m)
    s = e.sum(axis=-1, keepdims=True)
    return (e / np.where(s == 0, 1.0, s)).astype(x.dtype, copy=False)


def softmax_backward(y: np.ndarray, gy: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """dx = scale * y * (gy - sum_j gy_j y_j). Masked entries have y = 0, so they get 0."""
    dot = np.sum(gy * y, axis=-1, keepdims=True)
    return (scale * y * (gy - dot)).astype(y.dtype, copy=False)


def log_softmax_forward(x: np.ndarray) -> np.ndarray:
    """y = x - logsumexp(x); logsumexp = m + log(sum exp(x - m)) with m the row max."""
    m = np.max(x, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    return x - lse


def log_softmax_backward(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """dx = gy - softmax(x) * sum(gy), with softmax(x) = exp(y)."""
    return gy - np.exp(y) * np.sum(gy, axis=-1, keepdims=True)


# ---- cross-entropy --------------------------------------------------------------------------
def cross_entropy_forward(logits: np.ndarray, targets: np.ndarray, ignore_index: int = -100):
    """Mean over non-ignored rows of  logsumexp(logits_n) - logits_n[t_n].

    logits (N, V), targets (N,) int. Returns (loss as a 0-d array, lse (N,)). Never takes the log
    of a softmax: log-sum-exp keeps it finite for logits of any size. With every target ignored
    the mean over zero rows is defined as 0 (and so is its gradient).
    """
    check_ids("cross_entropy", targets, logits.shape[-1], "target", ignore_index)
    m = np.max(logits, axis=-1, keepdims=True)
    lse = (m + np.log(np.sum(np.exp(logits - m), axis=-1, keepdims=True)))[:, 0]
    valid = targets != ignore_index
    count = int(valid.sum())
    safe_t = np.where(valid, targets, 0)
    picked = logits[np.arange(len(targets)), safe_t]
    total = np.sum(np.where(valid, lse - picked, 0.0))
    loss = total / count if count else 0.0
    return np.asarray(loss, dtype=logits.dtype), lse.astype(logits.dtype, copy=False)


def cross_entropy_backward(logits, targets, lse, ignore_index: int = -100, grad_scale=1.0):
    """dlogits_n = (softmax(logits_n) - onehot(t_n)) * grad_scale / count for non-ignored rows."""
    check_ids("cross_entropy", targets, logits.shape[-1], "target", ignore_index)
    valid = targets != ignore_index
    count = int(valid.sum())
    g = np.exp(logits - lse[:, None])
    rows = np.nonzero(valid)[0]
    g[rows, targets[rows]] -= 1.0
    g *= (float(grad_scale) / count if count else 0.0)
    g[~valid] = 0.0
    return g.astype(logits.dtype, copy=False)


# ---- LayerNorm ------------------------------------------------------------------------------
def layernorm_forward(x: np.ndarray, weight, bias, eps: float = 1e-5):
    """y = (x - mean) * rstd * weight + bias over the last axis; rstd = 1 / sqrt(var + eps).

    Returns (y, mean, rstd); mean and rstd have x's leading shape and are saved for backward.
    """
    mean = x.mean(axis=-1)
    xc = x - mean[..., None]
    var = np.mean(xc * xc, axis=-1)
    rstd = 1.0 / np.sqrt(var + eps)
    y = xc * rstd[..., None]
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype, copy=False), mean.astype(x.dtype), rstd.astype(x.dtype)


def layernorm_backward(gy: np.ndarray, x: np.ndarray, weight, mean, rstd):
    """With xhat = (x - mean) * rstd and g = gy * weight:

        dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
        dweight = sum over rows of gy * xhat,  dbias = sum over rows of gy

    Returns (dx, dweight, dbias); dweight is None when weight is None.
    """
    xhat = (x - mean[..., None]) * rstd[..., None]
    g = gy * weight if weight is not None else gy
    c = x.shape[-1]
    dx = rstd[..., None] * (g - g.sum(-1, keepdims=True) / c
                            - xhat * (g * xhat).sum(-1, keepdims=True) / c)
    rows = gy.reshape(-1, c)
    dw = (rows * xhat.reshape(-1, c)).sum(0) if weight is not None else None
    db = rows.sum(0)
    return dx.astype(x.dtype, copy=False), dw, db


# ---- GELU -----------------------------------------------------------------------------------
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def gelu_forward(x: np.ndarray, approximate: str = "tanh") -> np.ndarray:
    """gelu(x) = x * Phi(x). "none": Phi(x) = (1 + erf(x / sqrt 2)) / 2.
    "tanh" (GPT-2): Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    if approximate == "tanh":
        return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))).astype(x.dtype, copy=False)


def gelu_backward(x: np.ndarray, gy: np.ndarray, approximate: str = "tanh") -> np.ndarray:
    """tanh: d/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    none:  d/dx = Phi(x) + x * phi(x), phi the standard normal density."""
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
        d = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (
            1.0 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
        d = cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    return (gy * d).astype(x.dtype, copy=False)


# ---- linear layer and GELU, fused ---------------------------------------------------------
def linear_gelu_forward(x: np.ndarray, w: np.ndarray, b=None, approximate: str = "tanh"):
    """h = x w + b, y = gelu(h): returns (y, h); backward needs the pre-activation h."""
    h = linear_forward(x, w, b)
    return gelu_forward(h, approximate), h


def linear_gelu_backward(x: np.ndarray, w: np.ndarray, h: np.ndarray, gy: np.ndarray,
                         need_x: bool = True, need_w: bool = True, need_b: bool = True,
                         approximate: str = "tanh"):
    """(dx, dw, db) of y = gelu(x w + b): the linear backward of dh = gy * gelu'(h)."""
    return linear_backward(x, w, gelu_backward(h, gy, approximate), need_x, need_w, need_b)


# ---- fused causal self-attention ------------------------------------------------------------
def qkv_heads(qkv: np.ndarray, n_head: int):
    """Views q, k, v, each (B, nh, T, hs), of a fused (B, T, 3C) projection; no copies."""
    B, T, C3 = qkv.shape
    C = C3 // 3
    return tuple(qkv[..., i * C:(i + 1) * C].reshape(B, T, n_head, C // n_head)
                 .transpose(0, 2, 1, 3) for i in range(3))  # 3 x (B, nh, T, hs)


def attention_forward(qkv: np.ndarray, n_head: int):
    """Causal self-attention of q|k|v = qkv (B, T, 3C) with n_head heads of hs = C / n_head:
    att = softmax(q k^T / sqrt(hs), keys j > i removed), y = att v, heads merged to (B, T, C).
    Returns (y, att); backward needs the attention weights att (B, nh, T, T)."""
    # BEGIN ASSIGNMENT 4.2
    B, T, C3 = qkv.shape
    q, k, v = qkv_heads(qkv, n_head)
    att = softmax_forward(q @ k.swapaxes(-1, -2), 1.0 / math.sqrt(q.shape[-1]), True)
    y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C3 // 3)  # (B, T, C)
    return y, att
    # END ASSIGNMENT 4.2


def attention_backward(qkv: np.ndarray, att, gy: np.ndarray, n_head: int):
    """d qkv (B, T, 3C) from dy (B, T, C), by the chain rule through y = att v, the softmax and
    s = q k^T / sqrt(hs):  dv = att^T dy,  datt = dy v^T,  ds = softmax backward of datt,
    dq = ds k / sqrt(hs),  dk = ds^T q / sqrt(hs)  (the softmax backward applies the scale)."""
    B, T, C3 = qkv.shape
    q, k, v = qkv_heads(qkv, n_head)
    dy = gy.reshape(B, T, n_head, -1).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
    dv = att.swapaxes(-1, -2) @ dy
    ds = softmax_backward(att, dy @ v.swapaxes(-1, -2), 1.0 / math.sqrt(q.shape[-1]))
    dq, dk = ds @ k, ds.swapaxes(-1, -2) @ q
    return np.concatenate([d.transpose(0, 2, 1, 3).reshape(B, T, C3 // 3) for d in (dq, dk, dv)],
                          axis=-1)  # (B, T, 3C)


def attention_tiled_forward(qkv: np.ndarray, n_head: int, tile: int = 64):
    """The same y as attention_forward, computed tile by tile so that no (T, T) array exists:
    returns (y (B, T, C), lse (B, nh, T)), lse_i = log sum_j exp(s_ij) over the keys query i
    sees, s = q k^T / sqrt(hs). Backward recomputes att_ij = exp(s_ij - lse_i) from these.

    Online softmax (as in FlashAttention): queries go in tiles of `tile` rows; for each, the
    key tiles up to the diagonal are visited in turn, keeping per query a running max m, a
    running sum l = sum_j exp(s_ij - m) and a running output acc = sum_j exp(s_ij - m) v_j.
    A key tile with larger scores raises m to m', and what was summed so far is rescaled by
    exp(m - m') before the tile's own terms are added. At the end y_i = acc_i / l_i and
    lse_i = m_i + log l_i. Only the (tile, tile) scores of one tile pair exist at a time."""
    B, T, C3 = qkv.shape
    q, k, v = qkv_heads(qkv, n_head)  # 3 x (B, nh, T, hs)
    hs = q.shape[-1]
    scale = 1.0 / math.sqrt(hs)
    y = np.empty((B, n_head, T, hs), dtype=qkv.dtype)
    lse = np.empty((B, n_head, T), dtype=qkv.dtype)
    for r0 in range(0, T, tile):
        r1 = min(T, r0 + tile)
        m = np.full((B, n_head, r1 - r0), -np.inf, dtype=qkv.dtype)  # running max
        l = np.zeros_like(m)  # running sum of exp(s - m)
        acc = np.zeros((B, n_head, r1 - r0, hs), dtype=qkv.dtype)  # running sum of exp(s - m) v
        for c0 in range(0, r1, tile):  # key tiles up to the diagonal; the first holds key 0,
            c1 = min(T, c0 + tile)     # so every query's m is finite after it
            s = scale * (q[:, :, r0:r1] @ k[:, :, c0:c1].swapaxes(-1, -2))  # (B, nh, tq, tk)
            future = np.arange(c0, c1)[None, :] > np.arange(r0, r1)[:, None]  # key j > query i
            s = np.where(future, -np.inf, s)
            m_new = np.maximum(m, s.max(axis=-1))
            p = np.exp(s - m_new[..., None])  # masked keys: exp(-inf) = 0
            rescale = np.exp(m - m_new)  # 0 on the first tile, where m = -inf
            l = rescale * l + p.sum(axis=-1)
            acc = rescale[..., None] * acc + p @ v[:, :, c0:c1]
            m = m_new
        y[:, :, r0:r1] = acc / l[..., None]
        lse[:, :, r0:r1] = m + np.log(l)
    return y.transpose(0, 2, 1, 3).reshape(B, T, C3 // 3), lse  # (B, T, C), (B, nh, T)


def attention_tiled_backward(qkv: np.ndarray, y: np.ndarray, lse: np.ndarray, gy: np.ndarray,
                             n_head: int, tile: int = 64):
    """d qkv (B, T, 3C) from what attention_tiled_forward saved (y and lse, no weights): each
    tile pair recomputes its weights att_ij = exp(s_ij - lse_i), then, as attention_backward,

        dv_j += att_ij dy_i,  datt_ij = dy_i . v_j,  ds_ij = att_ij (datt_ij - D_i) / sqrt(hs),
        dq_i += ds_ij k_j,    dk_j += ds_ij q_i,

    where the softmax's row term D_i = sum_j att_ij datt_ij equals dy_i . y_i (y_i is
    sum_j att_ij v_j), so it needs no pass over the keys."""
    B, T, C3 = qkv.shape
    q, k, v = qkv_heads(qkv, n_head)  # 3 x (B, nh, T, hs)
    hs = q.shape[-1]
    scale = 1.0 / math.sqrt(hs)
    heads = (B, T, n_head, hs)
    dy = gy.reshape(heads).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
    D = np.sum(dy * y.reshape(heads).transpose(0, 2, 1, 3), axis=-1)  # (B, nh, T)
    dq, dk, dv = (np.zeros(q.shape, dtype=qkv.dtype) for _ in range(3))
    for r0 in range(0, T, tile):
        r1 = min(T, r0 + tile)
        for c0 in range(0, r1, tile):
            c1 = min(T, c0 + tile)
            s = scale * (q[:, :, r0:r1] @ k[:, :, c0:c1].swapaxes(-1, -2))  # (B, nh, tq, tk)
            future = np.arange(c0, c1)[None, :] > np.arange(r0, r1)[:, None]
            att = np.where(future, 0.0, np.exp(s - lse[:, :, r0:r1, None]))
            dv[:, :, c0:c1] += att.swapaxes(-1, -2) @ dy[:, :, r0:r1]
            datt = dy[:, :, r0:r1] @ v[:, :, c0:c1].swapaxes(-1, -2)
            ds = scale * att * (datt - D[:, :, r0:r1, None])
            dq[:, :, r0:r1] += ds @ k[:, :, c0:c1]
            dk[:, :, c0:c1] += ds.swapaxes(-1, -2) @ q[:, :, r0:r1]
    return np.concatenate([d.transpose(0, 2, 1, 3).reshape(B, T, C3 // 3) for d in (dq, dk, dv)],
                          axis=-1).astype(qkv.dtype, copy=False)  # (B, T, 3C)


# ---- ids --------------------------------------------------------------------------------------
def check_ids(op: str, ids: np.ndarray, size: int, what: str = "id",
              ignore_index: int | None = None) -> None:
    """Raise unless every id (other than `ignore_index`) is an integer in [0, size).

    Every kernel that indexes with ids, in each backend, calls this first, and nothing else
    does: it is the one check, once per kernel call. It has to sit in the kernels because a
    Numba loop does no bounds checking (a bad id would read or write outside the array) and
    NumPy silently wraps a negative id around to the end of the table.
    """
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what}s must be integers, got dtype {ids.dtype}; convert with "
                        ".astype(np.int64) (a float id is usually a bug upstream)")
    checked = ids[ids != ignore_index] if ignore_index is not None else ids
    if checked.size == 0:
        return
    lo, hi = int(checked.min()), int(checked.max())
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise IndexError(f"{op}: {what} {bad} is out of range for size {size} (valid: 0..{size - 1}"
                         "); check the tokenizer's vocab_size against the model's")


# ---- embedding ------------------------------------------------------------------------------
def embedding_forward(weight: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row gather: out[..., :] = weight[ids[...], :]."""
    check_ids("embedding", ids, weight.shape[0])
    return weight[ids]


def embedding_backward(gy: np.ndarray, ids: np.ndarray, num_embeddings: int) -> np.ndarray:
    """Scatter-add: a row used k times receives the sum of its k gradients."""
    check_ids("embedding", ids, num_embeddings)
    gw = np.zeros((num_embeddings, gy.shape[-1]), dtype=gy.dtype)
    np.add.at(gw, ids.reshape(-1), gy.reshape(-1, gy.shape[-1]))
    return gw


# ---- optimizer ------------------------------------------------------------------------------
def sum_squares(x: np.ndarray) -> float:
    """sum(x^2) over every element, accumulated in float64 (for a gradient's norm)."""
    flat = x.ravel().astype(np.float64)
    return float(np.dot(flat, flat))


def sum_squares_many(arrays) -> float:
    """sum(x^2) over every element of every array, in float64: the squared global norm."""
    return float(sum(sum_squares(a) for a in arrays))


def adamw_update_(p, g, m, v, *, lr, beta1, beta2, eps, weight_decay, step):
    """In place: p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr * mhat / (sqrt(vhat) + eps) with mhat = m / (1 - b1^step), vhat = v / (1 - b2^step)."""
    # BEGIN ASSIGNMENT 5.1
    if weight_decay:
        p *= 1.0 - lr * weight_decay
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    denom = np.sqrt(v / bc2) + eps
    p -= (lr / bc1) * m / denom
    # END ASSIGNMENT 5.1


def adamw_update_many_(params, grads, exp_avgs, exp_avg_sqs, *, lr, beta1, beta2, eps,
                       weight_decay, step):
    """adamw_update_ on each tensor in turn, the i-th with the i-th entry of every setting (each
    setting a sequence, one entry per tensor): a whole model's update in one call."""
    for i, p in enumerate(params):
        adamw_update_(p, grads[i], exp_avgs[i], exp_avg_sqs[i], lr=lr[i], beta1=beta1[i],
                      beta2=beta2[i], eps=eps[i], weight_decay=weight_decay[i], step=step[i])
