"""The gradient-check table: one row per case, naming the registered op(s) it exercises.

Each row is (case id, ops covered, function of tensors, input makers). Inputs are float64 and
kept away from kinks (relu at 0, ties in max) unless the row tests the kink convention itself.
`test_every_op_has_a_gradcheck` fails when a registered op has no row here.
"""

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.ops.elementwise import Cast
from tinygrad_lm.tensor import apply


def r(*shape, low=None, positive=False, seed=0):
    """A float64 input that requires grad; `positive` keeps log/sqrt/pow well-defined."""
    def make(rng):
        x = rng.standard_normal(shape)
        if positive:
            x = np.abs(x) + 0.5
        if low is not None:  # keep |x| >= low: away from relu's kink
            x = np.where(np.abs(x) < low, np.sign(x + 1e-12) * low, x)
        return tg.Tensor(x, requires_grad=True, dtype=np.float64)
    return make


def ints(high, *shape):
    def make(rng):
        return tg.Tensor(rng.integers(0, high, size=shape))
    return make


def const(value):
    return lambda rng: value


def distinct(*shape):
    """Values with no ties (a permutation, scaled), so max/min have a unique winner."""
    def make(rng):
        x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 + 0.1
        return tg.Tensor(x, requires_grad=True, dtype=np.float64)
    return make


IDX = np.array([0, 2, 2, 1])  # a repeated index: backward must scatter-add

CASES = [
    ("add", {"add"}, lambda a, b: a + b, [r(3, 4), r(3, 4)]),
    ("add_broadcast", {"add"}, lambda a, b: a + b, [r(3, 1), r(1, 4)]),
    ("add_scalar", {"add"}, lambda a: a + 2.0, [r(2, 3)]),
    ("sub_broadcast", {"sub"}, lambda a, b: a - b, [r(2, 3, 4), r(4)]),
    ("rsub", {"sub"}, lambda a: 1.0 - a, [r(3)]),
    ("mul_broadcast", {"mul"}, lambda a, b: a * b, [r(2, 3, 4), r(4)]),
    ("mul_same", {"mul"}, lambda a: a * a, [r(5)]),
    ("div", {"div"}, lambda a, b: a / b, [r(3, 4), r(3, 4, positive=True)]),
    ("rdiv", {"div"}, lambda a: 2.0 / a, [r(3, positive=True)]),
    ("neg", {"neg"}, lambda a: -a, [r(2, 3)]),
    ("pow_scalar", {"pow"}, lambda a: a ** 3, [r(2, 3)]),
    ("pow_tensor", {"pow"}, lambda a, b: a ** b, [r(2, 3, positive=True), r(2, 3)]),
    ("exp", {"exp"}, lambda a: a.exp(), [r(2, 3)]),
    ("log", {"log"}, lambda a: a.log(), [r(2, 3, positive=True)]),
    ("sqrt", {"sqrt"}, lambda a: a.sqrt(), [r(2, 3, positive=True)]),
    ("tanh", {"tanh"}, lambda a: a.tanh(), [r(2, 3)]),
    ("sigmoid", {"sigmoid"}, lambda a: a.sigmoid(), [r(2, 3)]),
    ("relu", {"relu"}, lambda a: a.relu(), [r(3, 4, low=0.1)]),
    ("gelu_tanh", {"gelu"}, lambda a: F.gelu(a, "tanh"), [r(3, 5)]),
    ("gelu_erf", {"gelu"}, lambda a: F.gelu(a, "none"), [r(3, 5)]),
    ("cast", {"cast"}, lambda a: apply(Cast, a, dtype=np.float64) * 2.0, [r(3)]),
    ("matmul_2d", {"matmul"}, lambda a, b: a @ b, [r(3, 4), r(4, 5)]),
    ("matmul_batched", {"matmul"}, lambda a, b: a @ b, [r(2, 3, 4), r(2, 4, 5)]),
    ("matmul_bcast_batch", {"matmul"}, lambda a, b: a @ b, [r(2, 1, 3, 4), r(3, 4, 2)]),
    ("matmul_vec_mat", {"matmul"}, lambda a, b: a @ b, [r(4), r(2, 4, 3)]),
    ("matmul_mat_vec", {"matmul"}, lambda a, b: a @ b, [r(2, 3, 4), r(4)]),
    ("matmul_dot", {"matmul"}, lambda a, b: a @ b, [r(4), r(4)]),
    ("sum_all", {"sum"}, lambda a: a.sum(), [r(2, 3)]),
    ("sum_axis", {"sum"}, lambda a: a.sum(axis=1), [r(2, 3, 4)]),
    ("sum_keepdims", {"sum"}, lambda a: a.sum(axis=(0, 2), keepdims=True), [r(2, 3, 4)]),
    ("mean_axis", {"mean"}, lambda a: a.mean(axis=-1), [r(2, 3, 4)]),
    ("mean_all", {"mean"}, lambda a: a.mean(), [r(3, 4)]),
    ("max_axis", {"max"}, lambda a: a.max(axis=1), [distinct(3, 4)]),
    ("max_all", {"max"}, lambda a: a.max(), [distinct(2, 3)]),
    ("min_keepdims", {"min"}, lambda a: a.min(axis=0, keepdims=True), [distinct(3, 4)]),
    ("var", {"var"}, lambda a: a.var(axis=-1), [r(3, 5)]),
    ("var_unbiased", {"var"}, lambda a: a.var(axis=0, correction=1), [r(4, 2)]),
    ("reshape", {"reshape"}, lambda a: a.reshape(4, -1) * 1.5, [r(2, 3, 2)]),
    ("transpose", {"permute"}, lambda a: a.transpose(0, 2) @ np.ones((2, 3)), [r(2, 3, 4)]),
    ("permute", {"permute"}, lambda a: a.permute(2, 0, 1) * 2.0, [r(2, 3, 4)]),
    ("expand", {"expand"}, lambda a: a.expand(3, 4) * np.arange(12.0).reshape(3, 4), [r(1, 4)]),
    ("getitem_slice", {"getitem"}, lambda a: a[1:, ::2], [r(3, 5)]),
    ("getitem_int_array", {"getitem"}, lambda a: a[IDX] * np.arange(1.0, 5.0)[:, None],
     [r(3, 2)]),
    ("getitem_mixed", {"getitem"}, lambda a: a[:, IDX], [r(2, 3)]),
    ("split", {"getitem"}, lambda a: a.split(2, axis=1)[1] * 3.0, [r(2, 5)]),
    ("concatenate", {"concatenate"}, lambda a, b: tg.cat([a, b], axis=1), [r(2, 3), r(2, 1)]),
    ("stack", {"stack"}, lambda a, b: tg.stack([a, b], axis=1), [r(2, 3), r(2, 3)]),
    ("where", {"where"}, lambda a, b: tg.where(a.data > 0, a, b), [r(3, 4), r(3, 4)]),
    ("masked_fill", {"maskedfill"}, lambda a: a.masked_fill(np.tri(4, dtype=bool), -1.0),
     [r(4, 4)]),
    ("softmax", {"softmax"}, lambda a: a.softmax(), [r(3, 5)]),
    ("softmax_axis0", {"softmax", "permute"}, lambda a: a.softmax(axis=0), [r(3, 5)]),
    ("softmax_causal", {"softmax"}, lambda a: F.softmax(a, scale=0.5, causal=True),
     [r(2, 4, 4)]),
    ("softmax_causal_kv", {"softmax"}, lambda a: F.softmax(a, scale=0.7, causal=True),
     [r(2, 2, 5)]),
    ("causal_attention", {"causalattention"}, lambda x: F.causal_attention(x, 2),
     [r(2, 4, 12)]),
    # memory-linear: tiles of 3 over T = 7 (the last one short), and T = 1
    ("causal_attention_tiled", {"causalattention"},
     lambda x: F.causal_attention(x, 2, tiled=True, tile=3), [r(2, 7, 12)]),
    ("causal_attention_tiled_T1", {"causalattention"},
     lambda x: F.causal_attention(x, 2, tiled=True), [r(2, 1, 12)]),
    ("log_softmax", {"logsoftmax"}, lambda a: a.log_softmax(), [r(3, 5)]),
    ("cross_entropy", {"crossentropy"}, lambda a, t: F.cross_entropy(a, t),
     [r(6, 5), ints(5, 6)]),
    ("cross_entropy_3d_ignore", {"crossentropy"},
     lambda a: F.cross_entropy(a, np.array([[1, -1, 3], [0, 2, -1]]), ignore_index=-1),
     [r(2, 3, 4)]),
    ("embedding", {"embedding"}, lambda w: F.embedding(np.array([[0, 2, 2], [1, 0, 4]]), w),
     [r(5, 3)]),
    ("linear", {"linear"}, lambda x, w, b: F.linear(x, w, b), [r(2, 3, 4), r(4, 5), r(5)]),
    ("linear_nobias", {"linear"}, lambda x, w: F.linear(x, w), [r(3, 4), r(4, 2)]),
    # a tied head: the weight is an embedding (V, C) seen transposed, its dW made in (V, C)
    ("linear_tied_head_loss", {"linear", "embedding", "crossentropy", "permute"},
     lambda e: F.cross_entropy(F.linear(F.embedding(np.array([[0, 2], [5, 1]]), e), e.T),
                               np.array([[3, 0], [5, 2]])), [r(6, 4)]),
    ("linear_gelu", {"lineargelu"}, lambda x, w, b: F.linear_gelu(x, w, b),
     [r(2, 3, 4), r(4, 5), r(5)]),
    ("linear_gelu_erf_nobias", {"lineargelu"}, lambda x, w: F.linear_gelu(x, w, approximate="none"),
     [r(3, 4), r(4, 2)]),
    ("layer_norm", {"layernorm"}, lambda x, w, b: F.layer_norm(x, w, b), [r(2, 3, 6), r(6), r(6)]),
    ("layer_norm_noaffine", {"layernorm"}, lambda x: F.layer_norm(x), [r(4, 5)]),
    ("dropout", {"dropout"}, lambda a: F.dropout(a, 0.3, training=True, seed=0), [r(4, 5)]),
]
