"""Every op against PyTorch in float64: the forward values and the gradient of every input.

Each case is (id, ours, theirs, inputs): `ours` runs on tinygrad_lm tensors, `theirs` on torch
tensors made from the same float64 arrays (integer arrays are index or target inputs and get no
gradient). Both sides' float outputs are compared, then both are differentiated with the same
random upstream gradient and every float input's gradient is compared (NaN and inf must match
too). Inputs include broadcasting shapes, 0-d and empty tensors where PyTorch allows them, and
the corner points where a backward formula meets 0 * inf (zeros, ties, kinks).

Where this engine deliberately differs from PyTorch (docs/pytorch-differences.md), `theirs` is
written to PyTorch's spelling of the same computation (a class axis moved, a keyword renamed).
Skipped when PyTorch is not installed; it is never a dependency.
"""

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)


def n(*shape, positive=False, low=None):
    """A float64 array: standard normal, or |normal| + 0.5, or kept |x| >= low (off a kink)."""
    x = RNG.standard_normal(shape)
    if positive:
        x = np.abs(x) + 0.5
    if low is not None:
        x = np.where(np.abs(x) < low, np.sign(x + 1e-12) * low, x)
    return x


def v(values):
    return np.array(values, dtype=np.float64)


def perm(*shape):
    """Distinct values (no ties), so sort/max orders are unique."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 1.0


CORNERS = v([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
IDX = np.array([[0, 2, 2], [1, 1, 0]])
POS_WEIGHT = v([1.0, 2.0, 0.5])
BCE_Y = v([0.0, 1.0, 1.0, 0.0, 1.0])
# PyTorch keeps binary cross-entropy's 1e-12 guard in float32 (9.9999998e-13): a relative
# difference of 4e-9 in the gradient where the guard is hit
LOOSER = {"binary_cross_entropy_edges": 1e-8}

CASES = [
    # ---- arithmetic, with broadcasting, 0-d and empty inputs --------------------------------
    ("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [n(3, 1), n(1, 4)]),
    ("sub_0d", lambda a, b: a - b, lambda a, b: a - b, [n(2, 3), v(1.5)]),
    ("mul_empty", lambda a, b: a * b, lambda a, b: a * b, [n(0, 3), n(3)]),
    ("div_broadcast", lambda a, b: a / b, lambda a, b: a / b, [n(2, 3), n(3, positive=True)]),
    ("div_by_zero", lambda a, b: a / b, lambda a, b: a / b, [v([1.0, -1.0, 0.0]), v(0.0)]),
    ("neg", lambda a: -a, lambda a: -a, [n(2, 3)]),
    ("pow_tensor", lambda a, b: a ** b, lambda a, b: a ** b, [n(2, 3, positive=True), n(3)]),
    ("pow_zero_exponent", lambda a: a ** 0.0, lambda a: a ** 0.0, [CORNERS]),
    ("pow_scalar_int", lambda a: a ** 3, lambda a: a ** 3, [CORNERS]),
    ("pow_half", lambda a: a ** 0.5, lambda a: a ** 0.5, [v([0.0, 0.25, 4.0])]),
    ("pow_zero_base", lambda b: tg.Tensor(np.zeros(6)) ** b,
     lambda b: torch.zeros(6, dtype=torch.float64) ** b, [CORNERS]),
    ("rpow_zero", lambda b: 0 ** b, lambda b: 0 ** b, [CORNERS]),
    ("rpow", lambda b: 2.0 ** b, lambda b: 2.0 ** b, [n(4)]),
    ("matmul_broadcast", lambda a, b: a @ b, lambda a, b: a @ b, [n(2, 1, 3, 4), n(3, 4, 2)]),
    ("matmul_vec", lambda a, b: a @ b, lambda a, b: a @ b, [n(4), n(2, 4, 3)]),
    # ---- elementwise functions --------------------------------------------------------------
    ("exp", lambda a: a.exp(), lambda a: a.exp(), [n(2, 3)]),
    ("log", lambda a: a.log(), lambda a: a.log(), [v([0.0, 0.5, 2.0])]),
    ("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [v([0.0, 0.5, 2.0])]),
    ("tanh", lambda a: a.tanh(), lambda a: a.tanh(), [CORNERS]),
    ("sigmoid", lambda a: a.sigmoid(), lambda a: a.sigmoid(), [v([-800.0, -1.0, 0.0, 800.0])]),
    ("relu", lambda a: a.relu(), lambda a: a.relu(), [CORNERS]),
    ("gelu_tanh", lambda a: a.gelu(), lambda a: TF.gelu(a, approximate="tanh"), [CORNERS]),
    ("gelu_erf", lambda a: a.gelu("none"), lambda a: TF.gelu(a), [CORNERS]),
    ("abs", lambda a: a.abs(), lambda a: a.abs(), [CORNERS]),
    ("sign", lambda a: a.sign(), lambda a: a.sign(), [CORNERS]),
    ("floor", lambda a: a.floor(), lambda a: a.floor(), [CORNERS * 1.3]),
    ("ceil", lambda a: a.ceil(), lambda a: a.ceil(), [CORNERS * 1.3]),
    ("round", lambda a: a.round(), lambda a: a.round(), [v([-2.5, -0.5, 0.5, 1.5, 1.7])]),
    ("sin", lambda a: a.sin(), lambda a: a.sin(), [n(2, 3)]),
    ("cos", lambda a: a.cos(), lambda a: a.cos(), [n(2, 3)]),
    ("square", lambda a: a.square(), lambda a: a.square(), [CORNERS]),
    ("rsqrt", lambda a: a.rsqrt(), lambda a: a.rsqrt(), [v([0.0, 0.25, 4.0])]),
    ("reciprocal", lambda a: a.reciprocal(), lambda a: a.reciprocal(), [v([0.0, -0.5, 4.0])]),
    ("maximum", lambda a, b: a.maximum(b), lambda a, b: torch.maximum(a, b),
     [v([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]]), v([1.0, 0.0, 3.0])]),
    ("minimum", lambda a, b: a.minimum(b), lambda a, b: torch.minimum(a, b),
     [v([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]]), v([1.0, 0.0, 3.0])]),
    ("clamp_scalar", lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0), [CORNERS]),
    ("clamp_min_only", lambda a: a.clamp(min=0.5), lambda a: a.clamp(min=0.5), [CORNERS]),
    ("clip_max_only", lambda a: a.clip(max=0.5), lambda a: a.clip(max=0.5), [CORNERS]),
    ("clamp_tensor", lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi),
     [CORNERS, v([-1.0] * 6), v([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])]),
    ("where", lambda a, b: tg.where(a.data > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
     [n(3, 4), n(4)]),
    ("masked_fill", lambda a: a.masked_fill(np.eye(3, dtype=bool), -1.0),
     lambda a: a.masked_fill(torch.eye(3, dtype=torch.bool), -1.0), [n(3, 3)]),
    # ---- activations ------------------------------------------------------------------------
    ("silu", lambda a: F.silu(a), lambda a: TF.silu(a), [v([-800.0, -2.0, 0.0, 1.0, 800.0])]),
    ("swish_method", lambda a: a.silu(), lambda a: TF.silu(a), [n(3, 4)]),
    ("leaky_relu", lambda a: F.leaky_relu(a, 0.2), lambda a: TF.leaky_relu(a, 0.2), [CORNERS]),
    ("elu", lambda a: F.elu(a, 0.7), lambda a: TF.elu(a, 0.7), [v([-900.0, -1.0, 0.0, 900.0])]),
    ("selu", lambda a: F.selu(a), lambda a: TF.selu(a), [CORNERS]),
    ("softplus", lambda a: F.softplus(a), lambda a: TF.softplus(a),
     [v([-900.0, -1.0, 0.0, 19.0, 21.0, 900.0])]),
    ("softplus_beta", lambda a: F.softplus(a, beta=2.0, threshold=3.0),
     lambda a: TF.softplus(a, beta=2.0, threshold=3.0), [v([-2.0, 0.0, 1.4, 1.5, 1.6, 9.0])]),
    ("mish", lambda a: F.mish(a), lambda a: TF.mish(a), [v([-900.0, -1.0, 0.0, 2.0, 30.0])]),
    ("relu6", lambda a: F.relu6(a), lambda a: TF.relu6(a), [v([-1.0, 0.0, 3.0, 6.0, 7.0])]),
    ("hardtanh", lambda a: F.hardtanh(a, -0.5, 1.0), lambda a: TF.hardtanh(a, -0.5, 1.0),
     [v([-1.0, -0.5, 0.0, 1.0, 2.0])]),
    ("hardswish", lambda a: F.hardswish(a), lambda a: TF.hardswish(a),
     [v([-4.0, -3.0, -1.0, 0.0, 3.0, 4.0])]),
    ("logsigmoid", lambda a: F.logsigmoid(a), lambda a: TF.logsigmoid(a),
     [v([-900.0, -30.0, 0.0, 30.0, 900.0])]),
    ("softsign", lambda a: F.softsign(a), lambda a: TF.softsign(a), [CORNERS]),
    ("softmax_axis0", lambda a: a.softmax(0), lambda a: a.softmax(0), [n(3, 4)]),
    ("softmax_masked", lambda a: a.softmax(), lambda a: a.softmax(-1),
     [v([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])]),
    ("log_softmax_masked", lambda a: a.log_softmax(), lambda a: a.log_softmax(-1),
     [v([[-np.inf, 0.0, 1.0], [2.0, -np.inf, 5.0]])]),
    ("elementwise_0d", lambda a: (a.abs(), a.sin(), F.silu(a), F.softplus(a), a.clamp(0, 1)),
     lambda a: (a.abs(), a.sin(), TF.silu(a), TF.softplus(a), a.clamp(0, 1)), [v(-0.5)]),
    ("elementwise_empty", lambda a: (a.abs(), a.cos(), F.elu(a), a.maximum(a), a.prod(0)),
     lambda a: (a.abs(), a.cos(), TF.elu(a), torch.maximum(a, a), a.prod(0)), [n(0, 2)]),
    ("matmul_empty_inner", lambda a, b: a @ b, lambda a, b: a @ b, [n(2, 0), n(0, 3)]),
    ("log_softmax", lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), [n(3, 4)]),
    # ---- reductions ------------------------------------------------------------------------
    ("sum_axes", lambda a: a.sum((0, 2)), lambda a: a.sum((0, 2)), [n(2, 3, 4)]),
    ("sum_0d_axis", lambda a: a.sum(0) + a.sum(-1), lambda a: a.sum(0) + a.sum(-1), [v(1.5)]),
    ("sum_empty", lambda a: a.sum(1), lambda a: a.sum(1), [n(0, 3)]),
    ("mean_0d", lambda a: a.mean(0), lambda a: a.mean(0), [v(1.5)]),
    ("mean_keepdims", lambda a: a.mean(-1, keepdims=True), lambda a: a.mean(-1, keepdim=True),
     [n(2, 3)]),
    ("max_all_ties", lambda a: a.max(), lambda a: a.max(), [v([[1.0, 3.0], [3.0, 2.0]])]),
    ("amax_axis_ties", lambda a: a.max(axis=1), lambda a: a.amax(1),
     [v([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])]),
    ("amin_axis", lambda a: a.min(axis=0), lambda a: a.amin(0), [perm(3, 4)]),
    ("var_default", lambda a: a.var(1), lambda a: a.var(1), [n(3, 4)]),
    ("var_correction0", lambda a: a.var(correction=0), lambda a: a.var(correction=0), [n(3, 4)]),
    ("std_default", lambda a: a.std(0), lambda a: a.std(0), [n(3, 4)]),
    ("std_constant", lambda a: a.std(1), lambda a: a.std(1), [v([[2.0, 2.0], [1.0, 3.0]])]),
    ("std_mean", lambda a: a.std_mean(1), lambda a: torch.std_mean(a, 1), [n(3, 4)]),
    ("var_mean", lambda a: a.var_mean(0, correction=0),
     lambda a: torch.var_mean(a, 0, correction=0), [n(3, 4)]),
    ("prod", lambda a: a.prod(1), lambda a: a.prod(1), [n(3, 4)]),
    ("prod_zeros", lambda a: a.prod(1), lambda a: a.prod(1),
     [v([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.5, -2.0, 0.5]])]),
    ("prod_all", lambda a: a.prod(), lambda a: a.prod(), [v([[0.5, 2.0], [0.0, 3.0]])]),
    ("prod_0d", lambda a: a.prod(), lambda a: a.prod(), [v(2.5)]),
    ("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
     [v([[1000.0, 999.0, -1000.0], [-5.0, 0.0, 3.0]])]),
    ("logsumexp_minus_inf", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
     [v([[-np.inf, -np.inf], [-np.inf, 0.0]])]),
    ("logsumexp_0d", lambda a: a.logsumexp(0), lambda a: a.logsumexp(0), [v(0.7)]),
    ("sort_0d", lambda a: a.sort(), lambda a: tuple(a.sort()), [v(0.7)]),
    ("layer_norm_constant_row", lambda x: F.layer_norm(x), lambda x: TF.layer_norm(x, (3,)),
     [v([[2.0, 2.0, 2.0], [1.0, 0.0, 4.0]])]),
    ("logsumexp_keepdims", lambda a: a.logsumexp((0, 1), keepdims=True),
     lambda a: a.logsumexp((0, 1), keepdim=True), [n(2, 3)]),
    ("argmax_argmin", lambda a: (a.argmax(1), a.argmin(), a.argmax(0, keepdims=True)),
     lambda a: (a.argmax(1), a.argmin(), a.argmax(0, keepdim=True)),
     [v([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]])]),
    ("any_all", lambda a: (a.any(1), a.all(), (a > 0).all(0)),
     lambda a: (a.any(1), a.all(), (a > 0).all(0)), [v([[0.0, 1.0], [0.0, 0.0]])]),
    # ---- scans and orderings ---------------------------------------------------------------
    ("cumsum", lambda a: a.cumsum(1), lambda a: a.cumsum(1), [n(3, 4)]),
    ("cumsum_0d", lambda a: a.cumsum(0), lambda a: a.cumsum(0), [v(2.0)]),
    ("cumsum_empty", lambda a: a.cumsum(0), lambda a: a.cumsum(0), [n(0, 2)]),
    ("cumprod", lambda a: a.cumprod(0), lambda a: a.cumprod(0), [n(4, 3)]),
    ("cumprod_zeros", lambda a: a.cumprod(1), lambda a: a.cumprod(1),
     [v([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 3.0, 0.0]])]),
    ("cummax", lambda a: a.cummax(1), lambda a: tuple(a.cummax(1)),
     [v([[1.0, 3.0, 2.0, 3.0, 5.0], [0.0, 0.0, -1.0, 4.0, 4.0]])]),
    ("cummin", lambda a: a.cummin(0), lambda a: tuple(a.cummin(0)), [perm(4, 3)]),
    ("sort", lambda a: a.sort(1), lambda a: tuple(a.sort(1)), [perm(3, 4)]),
    ("sort_descending", lambda a: a.sort(0, descending=True),
     lambda a: tuple(a.sort(0, descending=True)), [perm(3, 4)]),
    ("topk", lambda a: a.topk(2), lambda a: tuple(a.topk(2)), [perm(3, 5)]),
    ("topk_smallest", lambda a: a.topk(3, axis=0, largest=False),
     lambda a: tuple(a.topk(3, dim=0, largest=False)), [perm(4, 2)]),
    # ---- shape and indexing ----------------------------------------------------------------
    ("getitem_tuple_in_tuple", lambda a: a[(0, 0),], lambda a: a[(0, 0),], [n(2, 3)]),
    ("getitem_list", lambda a: a[[1, 1, 0]], lambda a: a[[1, 1, 0]], [n(2, 3)]),
    ("getitem_int_slice_array", lambda a: a[1, :, np.array([0, 3, 3])],
     lambda a: a[1, :, torch.tensor([0, 3, 3])], [n(2, 3, 4)]),
    ("getitem_array_int", lambda a: a[np.array([1, 0, 1]), 2],
     lambda a: a[torch.tensor([1, 0, 1]), 2], [n(2, 3)]),
    ("getitem_two_arrays_slice", lambda a: a[np.array([0, 1]), :, np.array([2, 2])],
     lambda a: a[torch.tensor([0, 1]), :, torch.tensor([2, 2])], [n(2, 3, 4)]),
    ("getitem_bool", lambda a: a[a.data > 0], lambda a: a[a > 0], [n(3, 4)]),
    ("getitem_none_ellipsis", lambda a: a[None, ..., 1:], lambda a: a[None, ..., 1:],
     [n(2, 3)]),
    ("reshape_view", lambda a: a.reshape(3, -1), lambda a: a.reshape(3, -1), [n(2, 3, 2)]),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [n(2, 3, 4)]),
    ("transpose", lambda a: a.transpose(0, 1), lambda a: a.transpose(0, 1), [n(2, 3)]),
    ("expand_minus1", lambda a: a.expand(2, -1, 4), lambda a: a.expand(2, -1, 4), [n(3, 1)]),
    ("squeeze_all", lambda a: a.squeeze(), lambda a: a.squeeze(), [n(3, 1, 1, 2)]),
    ("squeeze_axis", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [n(3, 1, 2)]),
    ("squeeze_noop", lambda a: a.squeeze(0), lambda a: a.squeeze(0), [n(3, 2)]),
    ("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [n(3, 2)]),
    ("flatten_range", lambda a: a.flatten(1, 2), lambda a: a.flatten(1, 2), [n(2, 3, 4, 2)]),
    ("flatten_0d", lambda a: a.flatten(), lambda a: a.flatten(), [v(2.0)]),
    ("unflatten", lambda a: a.unflatten(1, (2, -1)), lambda a: a.unflatten(1, (2, -1)),
     [n(3, 6)]),
    ("flip", lambda a: a.flip((0, 2)), lambda a: a.flip((0, 2)), [n(2, 3, 4)]),
    ("roll", lambda a: a.roll((1, -2), (0, 1)), lambda a: a.roll((1, -2), (0, 1)), [n(3, 4)]),
    ("roll_flat", lambda a: a.roll(2), lambda a: a.roll(2), [n(3, 2)]),
    ("repeat", lambda a: a.repeat(2, 2, 3), lambda a: a.repeat(2, 2, 3), [n(3, 1)]),
    ("gather", lambda a: a.gather(1, IDX), lambda a: a.gather(1, torch.tensor(IDX)), [n(2, 4)]),
    ("gather_smaller", lambda a: a.gather(0, np.array([[2, 0]])),
     lambda a: a.gather(0, torch.tensor([[2, 0]])), [n(3, 3)]),
    ("scatter", lambda a, s: a.scatter(1, np.array([[0, 2], [3, 1]]), s),
     lambda a, s: a.scatter(1, torch.tensor([[0, 2], [3, 1]]), s), [n(2, 4), n(2, 2)]),
    ("scatter_value", lambda a: a.scatter(0, np.array([[1, 0]]), 2.5),
     lambda a: a.scatter(0, torch.tensor([[1, 0]]), 2.5), [n(2, 2)]),
    ("scatter_add", lambda a, s: a.scatter_add(1, IDX, s),
     lambda a, s: a.scatter_add(1, torch.tensor(IDX), s), [n(2, 4), n(2, 3)]),
    ("index_select", lambda a: a.index_select(1, [2, 0, 2]),
     lambda a: a.index_select(1, torch.tensor([2, 0, 2])), [n(2, 3)]),
    ("tril_triu", lambda a: (a.tril(), a.triu(1), a.tril(-1)),
     lambda a: (a.tril(), a.triu(1), a.tril(-1)), [n(2, 3, 4)]),
    ("chunk", lambda a: a.chunk(3, 1), lambda a: a.chunk(3, 1), [n(2, 5)]),
    ("chunk_fewer", lambda a: a.chunk(4, 0), lambda a: a.chunk(4, 0), [n(6, 2)]),
    ("split", lambda a: a.split(2, 1), lambda a: a.split(2, 1), [n(2, 5)]),
    ("clone", lambda a: a.clone(), lambda a: a.clone(), [n(2, 3)]),
    ("cat", lambda a, b: tg.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1),
     [n(2, 3), n(2, 1)]),
    ("cat_empty", lambda a, b: tg.cat([a, b]), lambda a, b: torch.cat([a, b]), [n(0, 2), n(3, 2)]),
    ("stack_0d", lambda a, b: tg.stack([a, b]), lambda a, b: torch.stack([a, b]),
     [v(1.0), v(2.0)]),
    ("pad_constant", lambda a: F.pad(a, (1, 2, 0, 1), value=-1.5),
     lambda a: TF.pad(a, (1, 2, 0, 1), value=-1.5), [n(2, 3, 4)]),
    ("pad_crop", lambda a: F.pad(a, (-1, 2)), lambda a: TF.pad(a, (-1, 2)), [n(2, 4)]),
    ("pad_reflect", lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect"),
     lambda a: TF.pad(a, (2, 1, 1, 2), mode="reflect"), [n(1, 3, 4)]),
    ("pad_replicate", lambda a: F.pad(a, (2, 3), mode="replicate"),
     lambda a: TF.pad(a, (2, 3), mode="replicate"), [n(1, 2, 3)]),
    ("pad_circular", lambda a: F.pad(a, (1, 2), mode="circular"),
     lambda a: TF.pad(a, (1, 2), mode="circular"), [n(1, 2, 3)]),
    # ---- einsum ----------------------------------------------------------------------------
    ("einsum_bmm", lambda a, b: tg.einsum("bij,bjk->bik", a, b),
     lambda a, b: torch.einsum("bij,bjk->bik", a, b), [n(2, 3, 4), n(2, 4, 5)]),
    ("einsum_scores", lambda q, k: tg.einsum("bhtd,bhsd->bhts", q, k),
     lambda q, k: torch.einsum("bhtd,bhsd->bhts", q, k), [n(2, 2, 3, 4), n(2, 2, 5, 4)]),
    ("einsum_weights_values", lambda w, x: tg.einsum("bhts,bhsd->bhtd", w, x),
     lambda w, x: torch.einsum("bhts,bhsd->bhtd", w, x), [n(1, 2, 3, 5), n(1, 2, 5, 4)]),
    ("einsum_transpose", lambda a: tg.einsum("ij->ji", a), lambda a: torch.einsum("ij->ji", a),
     [n(2, 3)]),
    ("einsum_trace", lambda a: tg.einsum("ii", a), lambda a: torch.einsum("ii", a), [n(3, 3)]),
    ("einsum_diagonal", lambda a: tg.einsum("ii->i", a), lambda a: torch.einsum("ii->i", a),
     [n(3, 3)]),
    ("einsum_outer_implicit", lambda a, b: tg.einsum("i,j", a, b),
     lambda a, b: torch.einsum("i,j", a, b), [n(3), n(2)]),
    ("einsum_sum_alone", lambda a, b: tg.einsum("ij,k->ik", a, b),
     lambda a, b: torch.einsum("ij,k->ik", a, b), [n(2, 3), n(4)]),
    ("einsum_list", lambda a, b: tg.einsum("ij,jk", [a, b]),
     lambda a, b: torch.einsum("ij,jk", [a, b]), [n(2, 3), n(3, 2)]),
    # ---- losses ----------------------------------------------------------------------------
    ("cross_entropy", lambda a, t: F.cross_entropy(a, t), lambda a, t: TF.cross_entropy(a, t),
     [n(4, 5), np.array([1, 0, 4, 4])]),
    ("cross_entropy_3d_ignore", lambda a, t: F.cross_entropy(a, t, ignore_index=-1),
     lambda a, t: TF.cross_entropy(a.permute(0, 2, 1), t, ignore_index=-1),
     [n(2, 3, 4), np.array([[1, -1, 3], [0, 2, -1]])]),
    ("cross_entropy_none", lambda a, t: F.cross_entropy(a, t, reduction="none"),
     lambda a, t: TF.cross_entropy(a, t, reduction="none"), [n(4, 5), np.array([1, -100, 4, 4])]),
    ("cross_entropy_sum", lambda a, t: F.cross_entropy(a, t, reduction="sum"),
     lambda a, t: TF.cross_entropy(a, t, reduction="sum"), [n(4, 5), np.array([1, 0, 4, 2])]),
    ("cross_entropy_smoothing", lambda a, t: F.cross_entropy(a, t, label_smoothing=0.2),
     lambda a, t: TF.cross_entropy(a, t, label_smoothing=0.2),
     [n(4, 5), np.array([1, -100, 4, 2])]),
    ("cross_entropy_smoothing_sum", lambda a, t: F.cross_entropy(
        a, t, label_smoothing=0.1, reduction="sum", ignore_index=2),
     lambda a, t: TF.cross_entropy(a, t, label_smoothing=0.1, reduction="sum", ignore_index=2),
     [n(4, 5), np.array([1, 2, 4, 2])]),
    ("cross_entropy_probs", lambda a, p: F.cross_entropy(a, p, label_smoothing=0.1),
     lambda a, p: TF.cross_entropy(a, p, label_smoothing=0.1),
     [n(3, 4), np.full((3, 4), 0.25) + np.array([0.1, -0.1, 0.2, -0.2])]),
    ("nll_loss", lambda a, t: F.nll_loss(a.log_softmax(), t),
     lambda a, t: TF.nll_loss(a.log_softmax(-1), t), [n(4, 3), np.array([0, 2, 1, 1])]),
    ("nll_loss_none_ignore", lambda a, t: F.nll_loss(a, t, ignore_index=0, reduction="none"),
     lambda a, t: TF.nll_loss(a, t, ignore_index=0, reduction="none"),
     [n(4, 3), np.array([0, 2, 1, 1])]),
    ("binary_cross_entropy", lambda p, y: F.binary_cross_entropy(p, y),
     lambda p, y: TF.binary_cross_entropy(p, y),
     [v([0.1, 0.5, 0.9, 0.3]), v([0.0, 1.0, 0.3, 0.8])]),
    # the target's gradient at p = 0 or 1 differs on purpose (finite here, inf in PyTorch):
    # docs/pytorch-differences.md; the target is a constant in this case
    ("binary_cross_entropy_edges", lambda p: F.binary_cross_entropy(p, BCE_Y, reduction="none"),
     lambda p: TF.binary_cross_entropy(p, torch.tensor(BCE_Y), reduction="none"),
     [v([0.0, 1.0, 0.0, 1.0, 1e-30])]),
    ("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y),
     lambda x, y: TF.binary_cross_entropy_with_logits(x, y),
     [v([-900.0, -1.0, 0.0, 2.0, 900.0]), v([0.0, 1.0, 0.5, 0.2, 1.0])]),
    ("bce_with_logits_pos_weight", lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, reduction="sum", pos_weight=POS_WEIGHT),
     lambda x, y: TF.binary_cross_entropy_with_logits(x, y, reduction="sum",
                                                      pos_weight=torch.tensor(POS_WEIGHT)),
     [n(4, 3), np.full((4, 3), 0.7)]),
    ("mse_loss", lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [n(3, 4), n(3, 4)]),
    ("mse_loss_none", lambda a, b: F.mse_loss(a, b, "none"),
     lambda a, b: TF.mse_loss(a, b, reduction="none"), [n(3), n(3)]),
    ("l1_loss_ties", lambda a, b: F.l1_loss(a, b, "sum"),
     lambda a, b: TF.l1_loss(a, b, reduction="sum"), [v([1.0, 2.0, 3.0]), v([1.0, 0.0, 4.0])]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, w, b),
     lambda x, w, b: TF.layer_norm(x, (4,), w, b), [n(2, 3, 4), n(4), n(4)]),
    ("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 2]]), w),
     lambda w: TF.embedding(torch.tensor([[0, 2], [2, 2]]), w), [n(3, 4)]),
]


def _tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _ours(arrays):
    return [tg.Tensor(a, requires_grad=a.dtype.kind == "f", dtype=a.dtype) for a in arrays]


def _theirs(arrays):
    return [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_pytorch(case):
    name, ours, theirs, arrays = case
    rtol = LOOSER.get(name, 1e-10)
    arrays = [np.asarray(a) for a in arrays]
    mine, ref = _ours(arrays), _theirs(arrays)
    outs, ref_outs = _tuple(ours(*mine)), _tuple(theirs(*ref))
    assert len(outs) == len(ref_outs)
    upstream, loss, ref_loss = np.random.default_rng(1), None, None
    for k, (o, t) in enumerate(zip(outs, ref_outs)):
        t_np = t.detach().numpy()
        assert o.shape == t_np.shape, f"output {k}: shape {o.shape}, PyTorch {t_np.shape}"
        np.testing.assert_allclose(o.data, t_np, rtol=1e-10, atol=1e-12,
                                   err_msg=f"output {k} forward")
        if t.dtype == torch.float64 and t.requires_grad:
            w = upstream.standard_normal(t_np.shape)
            term, ref_term = (o * w).sum(), (t * torch.tensor(w)).sum()
            loss = term if loss is None else loss + term
            ref_loss = ref_term if ref_loss is None else ref_loss + ref_term
    if ref_loss is None:
        return
    ref_grads = torch.autograd.grad(ref_loss, [t for t in ref if t.requires_grad],
                                    allow_unused=True)
    loss.backward()
    for i, (x, g) in enumerate(zip([x for x in mine if x.requires_grad], ref_grads)):
        want = np.zeros(x.shape) if g is None else g.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12,
                                   err_msg=f"gradient of input {i}")


def test_every_public_op_is_compared():
    """A new Tensor method or F function that computes gets a case here (names listed in
    NOT_COMPARED have no PyTorch twin or are covered under another name)."""
    import inspect

    names = set()
    for case in CASES:
        for fn in case[1:3]:
            names |= set(inspect.getsource(fn).replace("(", " ").replace(".", " ").split())
    wanted = {m for m in vars(tg.Tensor) if not m.startswith("_") and callable(
        getattr(tg.Tensor, m))} | {m for m in F.__all__ if callable(getattr(F, m))}
    missing = wanted - names - NOT_COMPARED
    assert not missing, f"ops without a PyTorch comparison: {sorted(missing)}"


NOT_COMPARED = {
    # state, dtype and graph methods, not ops
    "numpy", "item", "tolist", "detach", "requires_grad_", "zero_grad", "backward", "zero_",
    "fill_", "copy_", "to", "astype", "float", "double",
    # same function under another name, or fused ops PyTorch has no one call for
    "view", "broadcast_to", "max", "min", "mean", "linear", "linear_gelu", "causal_attention",
    "dropout", "relu", "gelu", "sigmoid", "tanh", "swish", "softmax", "one_hot", "einsum",
    # the modern decoder's ops, compared with PyTorch in tests/test_modern.py
    "rms_norm", "rope", "scaled_dot_product_attention",
    # int8 weights, compared with torch's linear on the dequantised weight in test_quantized.py
    "int8_linear",
}
