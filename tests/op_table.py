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


def at(values):
    """A fixed float64 input that requires grad: a corner point (a zero, a tie, a 0-d or an
    empty tensor) where a backward formula is most likely to meet 0 * inf or 0 / 0."""
    return lambda rng: tg.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


IDX = np.array([0, 2, 2, 1])  # a repeated index: backward must scatter-add
GATHER_IDX = np.array([[0, 2, 2], [1, 1, 0]])  # repeats within a row: gradients add
MASK = np.array([[1, 0, 1, 1, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)  # (3, 5)

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

    # ---- corner points of the older ops (0 * inf, 0-d and empty inputs, nested indices) ----
    ("pow_zero_exponent_at_zero", {"pow"}, lambda a: a ** 0.0, [at([0.0, 1.5, -2.0])]),
    ("pow_zero_base", {"pow"}, lambda b: np.zeros(3) ** b, [at([0.3, 1.0, 2.0])]),
    ("pow_square_at_zero", {"pow"}, lambda a: a ** 2, [at([0.0, -1.0])]),
    ("sum_0d_axis0", {"sum"}, lambda a: a.sum(0) * 3.0, [at(1.5)]),
    ("sum_0d_axis_minus1", {"sum"}, lambda a: a.sum(-1, keepdims=True), [at(1.5)]),
    ("mean_0d", {"mean"}, lambda a: a.mean(0), [at(1.5)]),
    ("sum_empty", {"sum"}, lambda a: a.sum(axis=1), [r(0, 3)]),
    ("mul_empty", {"mul"}, lambda a, b: a * b, [r(0, 3), r(3)]),
    ("getitem_tuple_in_tuple", {"getitem"}, lambda a: a[(0, 0),], [r(2, 3)]),
    ("getitem_nested_list", {"getitem"}, lambda a: a[[[0, 1], [1, 1]]], [r(2, 3)]),
    ("getitem_int_then_array", {"getitem"}, lambda a: a[1, :, np.array([0, 3, 3])],
     [r(2, 3, 4)]),
    ("getitem_empty_index", {"getitem"}, lambda a: a[np.array([], dtype=int)], [r(3, 2)]),
    ("max_0d", {"max"}, lambda a: a.max(), [at(2.0)]),
    ("max_ties_split", {"max"}, lambda a: a.max(axis=1), [at([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])]),
    ("var_constant", {"var"}, lambda a: a.var(axis=1), [at([[2.0, 2.0, 2.0], [1.0, 0.0, 4.0]])]),
    ("expand_minus1", {"expand"}, lambda a: a.expand(2, -1, 4) * np.arange(24.0).reshape(2, 3, 4),
     [r(3, 1)]),
    ("concatenate_empty_part", {"concatenate"}, lambda a, b: tg.cat([a, b], axis=0),
     [r(0, 2), r(3, 2)]),
    # ---- elementwise ----------------------------------------------------------------------
    ("abs", {"abs"}, lambda a: a.abs(), [r(3, 4, low=0.1)]),
    ("abs_at_zero", {"abs"}, lambda a: abs(a), [at([0.0, -1.0, 2.0])]),
    ("sign_floor_ceil_round", {"sign", "floor", "ceil", "round"},
     lambda a: a.sign() + a.floor() + a.ceil() + a.round() + a, [r(3, 4)]),
    ("sin", {"sin"}, lambda a: a.sin(), [r(2, 3)]),
    ("cos", {"cos"}, lambda a: a.cos(), [r(2, 3)]),
    ("square_reciprocal_rsqrt", {"mul", "div", "pow"},
     lambda a: a.square() + a.reciprocal() + a.rsqrt(), [r(2, 3, positive=True)]),
    ("maximum_broadcast", {"maximum"}, lambda a, b: a.maximum(b), [distinct(3, 4), r(4, seed=1)]),
    ("maximum_ties_split", {"maximum"}, lambda a, b: a.maximum(b),
     [at([1.0, 2.0, 3.0]), at([1.0, 0.0, 3.0])]),
    ("minimum_scalar", {"maximum", "neg"}, lambda a: a.minimum(0.3), [r(3, 4, low=0.5)]),
    ("clamp_scalar", {"where"}, lambda a: a.clamp(-0.5, 0.5), [r(4, 5, low=0.6)]),
    ("clamp_tensor_bounds", {"where"}, lambda a, lo, hi: a.clamp(lo, hi),
     [at([-2.0, 0.0, 2.0, 0.1]), at([-1.0]), at([1.0, 1.0, 1.0, 1.0])]),
    ("silu", {"silu"}, lambda a: a.silu(), [r(3, 5)]),
    ("silu_large", {"silu"}, lambda a: F.silu(a), [at([-800.0, -30.0, 0.0, 30.0, 800.0])]),
    ("softplus", {"softplus"}, lambda a: F.softplus(a, beta=2.0, threshold=3.0),
     [at([-3.0, 0.0, 1.0, 1.4, 1.6, 40.0])]),
    # ---- activations composed of the ops above --------------------------------------------
    ("activations", {"where", "exp", "mul", "tanh", "softplus", "abs", "div"},
     lambda a: (F.leaky_relu(a, 0.1) + F.elu(a) + F.selu(a) + F.mish(a) + F.softsign(a)
                + F.logsigmoid(a) + F.hardswish(a) + F.relu6(a * 4.0) + F.hardtanh(a)),
     [r(4, 5, low=0.05)]),
    ("activations_at_zero_and_far", {"where", "exp", "softplus", "abs"},
     lambda a: F.elu(a) + F.softsign(a) + F.logsigmoid(a) + F.mish(a) + F.silu(a),
     [at([0.0, -900.0, 900.0, -40.0, 40.0])]),
    ("hardswish_at_kinks_neighbours", {"where", "mul"}, lambda a: F.hardswish(a),
     [at([-3.5, -2.5, 2.5, 3.5])]),
    # ---- reductions, scans, orderings ------------------------------------------------------
    ("prod_axis", {"prod"}, lambda a: a.prod(axis=1), [r(3, 4)]),
    ("prod_all_keepdims", {"prod"}, lambda a: a.prod(axis=(0, 2), keepdims=True), [r(2, 3, 2)]),
    ("prod_with_zeros", {"prod"}, lambda a: a.prod(axis=1),
     [at([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.5, -2.0, 0.5]])]),
    ("prod_0d_and_empty", {"prod"}, lambda a, b: a.prod() + b.prod(axis=0).sum(),
     [at(2.5), r(0, 2)]),
    ("std", {"std"}, lambda a: a.std(axis=-1), [r(3, 5)]),
    ("std_constant_row", {"std"}, lambda a: a.std(axis=1, correction=0),
     [at([[2.0, 2.0, 2.0], [1.0, 0.0, 4.0]])]),
    ("std_mean_var_mean", {"std", "var", "mean"},
     lambda a: a.std_mean(axis=0)[0] + a.var_mean(axis=0)[1], [r(4, 3)]),
    ("logsumexp", {"exp", "sum", "log", "sub", "add"}, lambda a: a.logsumexp(axis=-1), [r(3, 5)]),
    ("logsumexp_huge_and_minus_inf", {"exp", "sum", "log"},
     lambda a: a.logsumexp(axis=1, keepdims=True),
     [at([[1000.0, 999.0, -1000.0], [-5.0, 0.0, 3.0]])]),
    ("cumsum", {"cumsum"}, lambda a: a.cumsum(1), [r(3, 4)]),
    ("cumsum_0d", {"cumsum"}, lambda a: a.cumsum(0), [at(1.5)]),
    ("cumprod", {"cumprod"}, lambda a: a.cumprod(0), [r(4, 3)]),
    ("cumprod_with_zeros", {"cumprod"}, lambda a: a.cumprod(1),
     [at([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 3.0, 0.0]])]),
    ("cummax_cummin", {"gather"}, lambda a: a.cummax(1)[0] + a.cummin(1)[0], [distinct(3, 5)]),
    ("sort_topk", {"gather"}, lambda a: (a.sort(axis=0, descending=True)[0],
                                         a.topk(2, axis=-1)[0]), [distinct(3, 4)]),
    # ---- shape and indexing ----------------------------------------------------------------
    ("squeeze_unsqueeze_flatten", {"reshape"},
     lambda a: a.squeeze().unsqueeze(0).flatten(1, 2).unflatten(1, (3, 4)), [r(3, 1, 4)]),
    ("flip", {"getitem"}, lambda a: a.flip((0, 2)), [r(2, 3, 4)]),
    ("roll", {"getitem"}, lambda a: a.roll((1, -2), (0, 1)) * np.arange(12.0).reshape(3, 4),
     [r(3, 4)]),
    ("repeat", {"reshape", "expand"}, lambda a: a.repeat(2, 2, 3) * np.arange(36.0).reshape(
        2, 6, 3), [r(3, 1)]),
    ("index_select_repeated", {"getitem"}, lambda a: a.index_select(1, [2, 0, 2]), [r(2, 3)]),
    ("gather", {"gather"}, lambda a: a.gather(1, GATHER_IDX), [r(2, 4)]),
    ("gather_axis0_smaller_index", {"gather"}, lambda a: a.gather(0, np.array([[2, 0], [2, 2]])),
     [r(3, 3)]),
    ("scatter", {"scatter"}, lambda a, b: a.scatter(1, np.array([[0, 2], [3, 1]]), b),
     [r(2, 4), r(2, 3)]),
    ("scatter_scalar", {"scatter"}, lambda a: a.scatter(0, np.array([[1, 0]]), 2.5), [r(2, 2)]),
    ("scatter_add_repeated", {"scatter"},
     lambda a, b: a.scatter_add(1, GATHER_IDX, b), [r(2, 4), r(2, 3)]),
    ("tril_triu", {"maskedfill"}, lambda a: a.tril(-1) + a.triu(1) * 2.0, [r(2, 3, 4)]),
    ("chunk", {"getitem"}, lambda a: a.chunk(3, axis=1)[2] * 2.0, [r(2, 5)]),
    ("clone", {"clone"}, lambda a: a.clone() * a, [r(3)]),
    ("pad_modes", {"concatenate", "getitem"},
     lambda a: (F.pad(a, (1, 2), value=-1.0), F.pad(a, (2, 1, 1, 0), mode="reflect"),
                F.pad(a, (2, 2), mode="replicate"), F.pad(a, (1, 1), mode="circular"),
                F.pad(a, (-1, 1))), [r(2, 3, 4)]),
    ("einsum_batched_matmul", {"einsum"}, lambda a, b: tg.einsum("bij,bjk->bik", a, b),
     [r(2, 3, 4), r(2, 4, 5)]),
    ("einsum_attention_scores", {"einsum"}, lambda q, k: tg.einsum("bhtd,bhsd->bhts", q, k),
     [r(2, 2, 3, 4), r(2, 2, 5, 4)]),
    ("einsum_transpose_trace_outer", {"einsum"},
     lambda a, b, c: (tg.einsum("ij->ji", a), tg.einsum("ii->", b), tg.einsum("ii->i", b),
                      tg.einsum("i,j", c, c), tg.einsum("ij->", a)),
     [r(2, 3), r(3, 3), r(4)]),
    ("einsum_summed_alone", {"einsum"}, lambda a, b: tg.einsum("ij,k->ik", a, b),
     [r(2, 3), r(4)]),
    # ---- losses ---------------------------------------------------------------------------
    ("cross_entropy_options", {"logsoftmax", "gather", "maskedfill"},
     lambda a: (F.cross_entropy(a, np.array([1, -100, 3]), reduction="none"),
                F.cross_entropy(a, np.array([1, 4, 3]), label_smoothing=0.2),
                F.cross_entropy(a, np.array([0, 4, 2]), reduction="sum")), [r(3, 5)]),
    ("cross_entropy_probabilities", {"logsoftmax"},
     lambda a: F.cross_entropy(a, np.full((2, 3, 4), 0.25), label_smoothing=0.1), [r(2, 3, 4)]),
    ("nll_loss", {"gather", "maskedfill"},
     lambda a: F.nll_loss(a.log_softmax(), np.array([[0, 2], [3, -1]]), ignore_index=-1),
     [r(2, 2, 4)]),
    ("binary_cross_entropy", {"binarycrossentropy"},
     lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
     [at([0.1, 0.5, 0.9, 0.3]), at([0.0, 1.0, 0.3, 0.8])]),
    ("binary_cross_entropy_with_logits", {"softplus", "mul", "sub"},
     lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([1.0, 2.0, 0.5])),
     [r(4, 3), at(np.full((4, 3), 0.25))]),
    ("mse_l1", {"sub", "mul", "abs"}, lambda a, b: F.mse_loss(a, b) + F.l1_loss(a, b, "sum"),
     [r(3, 4), r(3, 4, seed=1)]),
    # the modern decoder (ops/norms.py, ops/rotary.py, F.scaled_dot_product_attention)
    ("rms_norm", {"rmsnorm"}, lambda x, w: F.rms_norm(x, w), [r(2, 3, 6), r(6)]),
    ("rms_norm_noweight", {"rmsnorm"}, lambda x: F.rms_norm(x, eps=1e-3), [r(4, 5)]),
    ("rope_half", {"rope"}, lambda x: F.rope(x, np.arange(3, 7)), [r(2, 3, 4, 6)]),
    ("rope_interleaved", {"rope"}, lambda x: F.rope(x, np.arange(4), 100.0, "interleaved"),
     [r(2, 4, 8)]),
    ("rope_heads_last", {"rope"}, lambda x: F.rope(x, np.arange(5)[:, None]), [r(1, 5, 3, 4)]),
    ("sdpa_bool_mask", {"matmul", "maskedfill", "softmax"},
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=MASK),
     [r(2, 3, 4), r(2, 5, 4), r(2, 5, 3)]),
    ("sdpa_causal_gqa", {"matmul", "maskedfill", "softmax", "reshape"},
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True),
     [r(1, 4, 3, 2), r(1, 2, 3, 2), r(1, 2, 3, 2)]),
]

# Ops with no gradient by design, in the same row format: their backward must raise (with a
# message saying what to do instead), which tests/test_ops_gradcheck.py checks in place of a
# gradient check. Int8Linear runs the int8 weights of a quantized model: inference only.
Q8 = np.array([[3, -127, 0, 45], [127, 1, -2, 0], [0, 0, 0, 0]], dtype=np.int8)  # (out, in)
S8 = np.array([0.01, 0.2, 1.0], dtype=np.float32)  # (out,)
NO_GRADIENT = [
    ("int8_linear", {"int8linear"}, lambda x: F.int8_linear(x, Q8, S8, np.ones(3, np.float32)),
     [r(2, 5, 4)]),
]
