"""Bad input meets a clear error; numerical corner cases stay finite (the reliability suite).

Each case names the operation and the offending values or shapes. Cases covered in depth by a
module's own test file are repeated here in one line each, so this file is the checklist.
"""

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.data import TokenDataset, load_text
from tinygrad_lm.nn import GPT, CausalSelfAttention, GPTConfig
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training.config import ConfigError, TrainConfig, apply_overrides

TINY = GPTConfig(vocab_size=7, block_size=5, n_layer=1, n_head=2, n_embd=8)


def x(*shape, dtype=np.float64, grad=False):
    return tg.Tensor(np.random.default_rng(0).standard_normal(shape), dtype=dtype,
                     requires_grad=grad)


BAD = [
    ("matmul inner dims", lambda: x(4, 3) @ x(4, 5), ValueError,
     r"matmul: \(4, 3\) @ \(4, 5\): inner dimensions 3 and 4 differ"),
    ("matmul batch dims", lambda: x(2, 3, 4) @ x(3, 4, 5), ValueError, "batch dimensions"),
    ("broadcast", lambda: x(2, 3) + x(4,), ValueError,
     r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"),
    ("reshape", lambda: x(2, 3).reshape(4, 2), ValueError,
     r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    ("embedding id too large", lambda: F.embedding(np.array([1, 9]), x(7, 3)), IndexError,
     "embedding: id 9 is out of range for size 7"),
    ("embedding id negative", lambda: F.embedding(np.array([-1]), x(7, 3)), IndexError,
     "embedding: id -1"),
    ("embedding float ids", lambda: F.embedding(np.array([1.0]), x(7, 3)), TypeError,
     "ids must be integers"),
    ("cross-entropy target range", lambda: F.cross_entropy(x(2, 5), np.array([0, 5])),
     IndexError, "target 5 is out of range for size 5"),
    ("cross-entropy target shape", lambda: F.cross_entropy(x(2, 5), np.array([0, 1, 2])),
     ValueError, r"logits \(2, 5\) need targets of shape \(2,\)"),
    ("cross-entropy float targets", lambda: F.cross_entropy(x(2, 5), np.array([0.0, 1.0])),
     TypeError, "targets must be integers"),
    ("GPT B = 0", lambda: GPT(TINY)(np.zeros((0, 3), dtype=np.int64)), ValueError,
     "empty batch"),
    ("GPT T = 0", lambda: GPT(TINY)(np.zeros((2, 0), dtype=np.int64)), ValueError,
     "empty batch"),
    ("GPT T > block_size", lambda: GPT(TINY)(np.zeros((1, 6), dtype=np.int64)), ValueError,
     "cannot forward a sequence of length 6, block size is only 5"),
    ("GPT id out of range", lambda: GPT(TINY)(np.array([[7]])), IndexError,
     "embedding: id 7 is out of range for size 7"),
    ("n_embd % n_head", lambda: CausalSelfAttention(10, 3), ValueError, "not divisible"),
    ("config field type", lambda: TrainConfig(lr="fast"), ConfigError,
     "TrainConfig.lr must be float"),
    ("unknown --key", lambda: apply_overrides(TrainConfig(), ["--lrr=1"]), ConfigError,
     r"unknown option --lrr \(did you mean --lr\?\); valid keys"),
    ("non-scalar backward", lambda: (x(2, 2, grad=True) * 2.0).backward(), RuntimeError,
     r"output has shape \(2, 2\)"),
    ("gradcheck float32", lambda: tg.gradcheck(lambda a: a * 2.0,
                                               [x(3, dtype=np.float32, grad=True)]),
     TypeError, "input 0 is float32"),
    ("gradcheck no grad input", lambda: tg.gradcheck(lambda a: a * 2.0, [x(3)]), ValueError,
     "no input requires grad"),
    ("tokenizer unknown char", lambda: CharTokenizer.from_text("abc").encode("abz"),
     ValueError, "'z' at position 2"),
    ("sampling temperature", lambda: tg.generate(GPT(TINY), [1], 2, temperature=0.0),
     ValueError, "temperature"),
    ("sampling top_p", lambda: tg.generate(GPT(TINY), [1], 2, top_p=1.5), ValueError, "top_p"),
    ("sampling top_k", lambda: tg.generate(GPT(TINY), [1], 2, top_k=0), ValueError, "top_k"),
    ("beam count", lambda: tg.beam_search(GPT(TINY), [1], 2, num_beams=0), ValueError,
     "num_beams"),
    ("empty prompt", lambda: tg.generate(GPT(TINY), [], 2), ValueError, "empty"),
    ("prompt id range", lambda: tg.generate(GPT(TINY), [9], 2), IndexError, "9"),
    ("missing data file", lambda: load_text("/nonexistent/data.txt"), FileNotFoundError,
     "does not exist"),
    ("data shorter than block", lambda: TokenDataset(np.arange(10)).get_batch(
        "train", 2, 9, np.random.default_rng(0)), ValueError, "needs at least 10"),
    ("item of a vector", lambda: x(3).item(), ValueError, "only a tensor with one element"),
    ("dropout p", lambda: F.dropout(x(3), 1.0), ValueError, "dropout: p must be in"),
    ("layer norm weight", lambda: F.layer_norm(x(2, 4), x(3)), ValueError,
     r"weight of shape \(3,\) does not match normalized size 4"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_has_a_clear_error(case):
    _, fn, error, match = case
    with pytest.raises(error, match=match):
        fn()


def test_empty_data_file(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt.*is empty"):
        load_text(str(tmp_path / "empty.txt"))


def test_backward_twice_and_inplace_change():
    a = x(3, grad=True)
    y = (a * a).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    b, c = x(3, grad=True), tg.Tensor(np.ones(3))
    z = (b * c).sum()
    c += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()


def test_mixed_precision_is_promoted_never_downcast():
    a, b = x(3, dtype=np.float32), x(3, dtype=np.float64)
    for out in (a + b, b * a, a @ b, tg.cat([a, b])):
        assert out.dtype == np.float64


def test_ignore_index_targets_are_left_out_of_the_mean():
    logits = x(4, 3)
    full = F.cross_entropy(logits, np.array([0, 1, 2, 1])).item()
    part = F.cross_entropy(logits, np.array([0, -1, -1, 1]), ignore_index=-1).item()
    manual = F.cross_entropy(logits[np.array([0, 3])], np.array([0, 1])).item()
    assert part == pytest.approx(manual) and part != pytest.approx(full)


# ---- numerical robustness ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits_stay_finite_and_match_float64(dtype, backend):
    z = np.array([[1e4, -1e4, 0.0, 5e3], [-1e4, -1e4, -1e4, -1e4 + 1]])
    logits = tg.Tensor(z, dtype=dtype)
    ref = z - z.max(-1, keepdims=True)
    ref_log = ref - np.log(np.exp(ref).sum(-1, keepdims=True))
    tol = float(4 * np.finfo(dtype).eps * 2e4)  # rounding of inputs of magnitude 1e4
    np.testing.assert_allclose(logits.log_softmax().data, ref_log, rtol=0, atol=tol)
    np.testing.assert_allclose(logits.softmax().data, np.exp(ref_log), atol=tol)
    loss = F.cross_entropy(logits, np.array([1, 3])).item()
    assert np.isfinite(loss) and loss == pytest.approx(-(ref_log[0, 1] + ref_log[1, 3]) / 2,
                                                        abs=tol)


def test_fully_masked_attention_row_gives_zeros_and_zero_grads(backend):
    scores = tg.Tensor(np.full((1, 3, 2), -np.inf), requires_grad=True, dtype=np.float64)
    # 3 queries, 2 keys: causal alignment to the end masks every key of the first query
    s = tg.Tensor(np.random.default_rng(0).standard_normal((1, 3, 2)), requires_grad=True,
                  dtype=np.float64)
    y = F.softmax(s, causal=True)
    assert np.all(y.data[0, 0] == 0) and not np.isnan(y.data).any()
    y.sum().backward()
    assert np.all(s.grad[0, 0] == 0) and np.isfinite(s.grad).all()
    z = F.softmax(scores)
    z.sum().backward()
    assert np.all(z.data == 0) and np.all(scores.grad == 0)


def test_layernorm_of_a_constant_row_is_finite(backend):
    a = tg.Tensor(np.full((2, 5), 3.0), requires_grad=True, dtype=np.float64)
    w = tg.Tensor(np.ones(5), requires_grad=True, dtype=np.float64)
    y = F.layer_norm(a, w, None)
    (y * np.arange(5.0)).sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(a.grad).all() and np.isfinite(w.grad).all()


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_anomaly_detection_names_the_first_bad_op():
    a = tg.Tensor(np.array([1.0, -1.0]), requires_grad=True, dtype=np.float64)
    with pytest.raises(tg.AnomalyError, match=r"Log.forward produced NaN/inf"):
        with tg.detect_anomaly():
            (a.log() * 2.0).sum()
    (a.log() * 2.0).sum()  # without the switch: NaN flows silently, as in NumPy
