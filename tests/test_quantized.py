"""int8 weights: the kernels against their reference, the rounding bound, a quantized GPT
against its float32 self, generation through the command line, and the refusal to train.

Tolerances: the Numba int8 linear agrees with the reference to 1e-5 of the largest output
(float32 sums in another order); a quantized model computes exactly what a float32 model
holding the dequantised weights computes, to 1e-5 of the largest logit; against the original
float32 model the logits of these small random models (weights ~ N(0, 0.02)) move by at most
6e-3 (measured over three seeds and three block types), tested against 2e-2.
"""

import copy

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.cli import main
from tinygrad_lm.kernels import quantized as Q
from tinygrad_lm.kernels import reference as R
from tinygrad_lm.kernels import threads
from tinygrad_lm.nn import Linear, QuantizedLinear
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.trainer import Trainer

N = pytest.importorskip("tinygrad_lm.kernels.numba_cpu")
_nb_quant = pytest.importorskip("tinygrad_lm.kernels._nb_quant")


def relative_error(got, want) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


def weight(rng, out, d_in):
    """Rows of very different sizes (per-channel scales matter), a zero row, a row with one
    large weight and exact ties (w / s = k + 1/2)."""
    w = rng.standard_normal((out, d_in)) * np.exp(rng.uniform(-6, 2, (out, 1)))
    w[0] = 0.0
    if out > 2 and d_in > 3:
        w[1, :] = 0.01
        w[1, 0] = 1.27  # scale 0.01: the other weights sit exactly on a step
        w[2, :3] = [127.0, 0.5, -2.5]  # scale 1: ties at 0.5 and -2.5 round to even
    return w.astype(np.float32)


# ---- quantization ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (7, 13), (64, 768), (300, 70)])
def test_quantize_numba_equals_reference_bit_for_bit(rng, shape):
    w = weight(rng, *shape)
    q, s = R.quantize_int8_per_channel(w)
    assert q.dtype == np.int8 and s.dtype == np.float32 and q.shape == shape
    for source in (w, w.astype(np.float64), np.asfortranarray(w)):
        q2, s2 = N.quantize_int8_per_channel(source)
        np.testing.assert_array_equal(q2, q)
        np.testing.assert_array_equal(s2, s)


def test_quantize_round_trip_is_within_half_a_step(rng):
    w = weight(rng, 50, 97)
    for backend in (R, N):
        q, s = backend.quantize_int8_per_channel(w)
        err = np.abs(w - Q.dequantize_int8(q, s))  # (out, in)
        assert np.all(err <= s[:, None] / 2 * (1 + 1e-6)), "|w - q s| > s / 2"
        assert np.abs(q).max() <= 127 and np.all(np.abs(q[1:]).max(axis=1) == 127)
        assert s[0] == 1.0 and not q[0].any()  # the zero row: scale 1, q 0, w back exactly
    q, s = R.quantize_int8_per_channel(w)
    assert s[1] == np.float32(0.01) and list(q[2, :3]) == [127, 0, -2]  # ties to even


@pytest.mark.parametrize("backend", [R, N], ids=["reference", "numba"])
@pytest.mark.parametrize("bad, message", [(np.ones(4), "2-D"), (np.ones((2, 3, 4)), "2-D"),
                                          (np.array([[1.0, np.inf]]), "NaN or infinity"),
                                          (np.array([[np.nan, 1.0]]), "NaN or infinity")])
def test_quantize_rejects_what_it_cannot_represent(backend, bad, message):
    with pytest.raises(ValueError, match=message):
        backend.quantize_int8_per_channel(bad)


# ---- the int8 linear kernel -------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 3, 15, 16, 40])  # both sides of ROWS_FOR_BLAS
@pytest.mark.parametrize("d_in, d_out", [(1, 1), (13, 7), (768, 300), (64, 2 * 128 + 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_int8_linear_numba_matches_reference(rng, n, d_in, d_out, bias):
    q, s = R.quantize_int8_per_channel(weight(rng, d_out, d_in))
    b = rng.standard_normal(d_out).astype(np.float32) if bias else None
    x = rng.standard_normal((n, d_in)).astype(np.float32)
    want = R.int8_linear_forward(x, q, s, b)
    assert want.shape == (n, d_out) and want.dtype == np.float32
    np.testing.assert_allclose(want, x @ Q.dequantize_int8(q, s).T + (0 if b is None else b),
                               rtol=0, atol=1e-6 * np.abs(want).max())
    for xv in (x, np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2]):  # and strided views
        got = N.int8_linear_forward(xv, q, s, b)
        assert got.dtype == np.float32
        assert relative_error(got, want) <= 1e-5


def test_int8_linear_float64_rows_go_to_the_reference(rng):
    q, s = R.quantize_int8_per_channel(weight(rng, 9, 5))
    x = rng.standard_normal((4, 5))
    got = N.int8_linear_forward(x, q, s)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, R.int8_linear_forward(x, q, s))


@pytest.mark.parametrize("n", [1, 40])
def test_int8_linear_split_over_threads_is_the_unsplit_result(rng, n):
    """Each output channel is computed by one thread whole, so the split changes nothing."""
    q, s = R.quantize_int8_per_channel(weight(rng, 4096, 512))  # 2 MB: worth splitting
    x = rng.standard_normal((n, 512)).astype(np.float32)
    b = rng.standard_normal(4096).astype(np.float32)
    with threads.use_threads(1):
        one = N.int8_linear_forward(x, q, s, b)
    with threads.use_threads(2):
        assert len(threads.split_rows(4096, max(q.nbytes * threads.READ, 2.0 * n * 512 * 4096
                                                * threads.FLOP))) == 2
        np.testing.assert_array_equal(N.int8_linear_forward(x, q, s, b), one)


def test_int8_linear_op_shapes_and_torch(rng):
    q, s = R.quantize_int8_per_channel(weight(rng, 6, 4))
    b = rng.standard_normal(6).astype(np.float32)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    y = F.int8_linear(x, q, s, b)
    assert y.shape == (2, 3, 6)
    w = Q.dequantize_int8(q, s)  # (out, in)
    np.testing.assert_allclose(y.data, F.linear(x, w.T, b).data, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="input features 5 and 4 differ"):
        F.int8_linear(np.ones((2, 5), np.float32), q, s)
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w),
                                      torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(y.data, want, rtol=1e-5, atol=1e-5)


# ---- the model --------------------------------------------------------------------------------
BLOCKS = {"gpt2": {}, "untied": dict(tie_weights=False),
          "llama": dict(mlp="swiglu", position="rope", norm="rmsnorm", n_kv_head=2, bias=False)}


def small_gpt(seed=0, **options):
    cfg = tg.GPTConfig(vocab_size=97, block_size=32, n_layer=2, n_head=4, n_embd=64, **options)
    return tg.GPT(cfg, seed=seed).eval()


def dequantized_twin(float_model, quantized):
    """float_model with each Linear weight replaced by what the quantized model multiplies by."""
    twin = copy.deepcopy(float_model)
    q_layers = {n: m for n, m in quantized.named_modules() if isinstance(m, QuantizedLinear)}
    for name, m in twin.named_modules():
        if isinstance(m, Linear):
            m.weight.data = np.ascontiguousarray(q_layers[name].dequantized().T)  # (in, out)
    if twin.lm_head is None:  # tied: the head's int8 copy is not the embedding any more
        twin.lm_head = Linear(64, 97, bias=False)
        twin.lm_head.weight.data = np.ascontiguousarray(quantized.lm_head.dequantized().T)
    return twin


@pytest.mark.parametrize("block", list(BLOCKS))
def test_quantized_gpt_is_its_dequantized_float_twin(block):
    model = small_gpt(**BLOCKS[block])
    x = np.random.default_rng(1).integers(0, 97, (2, 32))
    with tg.no_grad():
        before = model(x)[0].data
        quantized = copy.deepcopy(model).quantize("int8")
        after = quantized(x)[0].data
        twin = dequantized_twin(model, quantized)(x)[0].data
    assert quantized.quantized == "int8" and model.quantized is None
    assert not any(isinstance(m, Linear) for m in quantized.modules())  # float weights gone
    assert isinstance(quantized.lm_head, QuantizedLinear)
    assert quantized.transformer.wte.weight.dtype == np.float32  # the lookup stays float32
    assert relative_error(after, twin) <= 1e-5
    diff = float(np.abs(after - before).max())
    assert 0 < diff <= 2e-2, f"int8 moved the logits by {diff:.2e}"


def test_quantize_frees_the_linear_weights_and_keeps_the_rest():
    model = small_gpt(tie_weights=False)
    names = {n for n, _ in model.named_parameters()}
    model.quantize("int8")
    left = {n for n, _ in model.named_parameters()}
    assert left == {n for n in names if "wte" in n or "wpe" in n or "ln" in n}
    assert "quantized='int8'" in repr(model) and "QuantizedLinear(64, 256" in repr(model)
    assert model.quantize("int8") is model  # a second call changes nothing
    with pytest.raises(ValueError, match="unknown quantization 'int4'.*'int8'"):
        small_gpt().quantize("int4")


@pytest.mark.parametrize("block", ["gpt2", "llama"])
def test_cached_decoding_agrees_with_the_full_forward(block):
    """The prompt runs through the many-row path, each new token through the one-row path."""
    from tinygrad_lm.generation.generate import NextTokenLogits
    model = small_gpt(**BLOCKS[block]).quantize("int8")
    ids = np.random.default_rng(2).integers(0, 97, (1, 20))
    cached, full = NextTokenLogits(model, True), NextTokenLogits(model, False)
    with tg.no_grad():
        for t in range(17, 21):
            assert relative_error(cached(ids[:, :t]), full(ids[:, :t])) <= 1e-5
    assert tg.generate(model, ids[0, :3], 8, greedy=True).shape == (11,)


def test_a_quantized_model_refuses_to_train_or_be_saved(tmp_path):
    model = small_gpt().quantize("int8")
    x = np.random.default_rng(3).integers(0, 97, (2, 8))
    opt = tg.optim.AdamW(model.parameters(), lr=1e-3)
    _, loss = model(x, x)  # evaluating a loss is fine
    assert np.isfinite(loss.item())
    with pytest.raises(RuntimeError, match="inference.*load its float32 weights again"):
        loss.backward()
    opt.step()  # nothing has a gradient: nothing moves
    for call in (model.state_dict, lambda: model.save(str(tmp_path / "m.npz")),
                 lambda: model.load_state_dict({})):
        with pytest.raises(RuntimeError, match="quantized.*float32 model"):
            call()


# ---- the command line -------------------------------------------------------------------------
def test_cli_greedy_sample_and_eval_with_int8(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    Trainer(make_config("tiny", [f"--out_dir={out}", "--max_iters=10"]),
            log=lambda *a, **k: None).train()
    schemes = []
    quantize = tg.GPT.quantize
    monkeypatch.setattr(tg.GPT, "quantize", lambda m, s: schemes.append(s) or quantize(m, s))
    capsys.readouterr()
    assert main(["sample", "--ckpt", out, "--prompt", "the ", "--greedy",
                 "--max-new-tokens", "12", "--quantize", "int8"]) == 0
    text = capsys.readouterr().out
    model, tok = tg.load(out)
    want = tg.generate(quantize(model, "int8"), tok.encode("the "), 12, greedy=True)
    assert schemes == ["int8"] and text.strip() == tok.decode(want.tolist()).strip()
    assert main(["eval", "--ckpt", out, "--eval-samples", "3", "--quantize", "int8"]) == 0
    assert "val perplexity" in capsys.readouterr().out and schemes == ["int8", "int8"]
    assert main(["sample", "--ckpt", out, "--max-new-tokens", "2"]) == 0  # float32: no call
    assert schemes == ["int8", "int8"]


def test_cli_rejects_an_unknown_quantization(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sample", "--quantize", "int4"])
    assert exit_.value.code == 2
    assert "unknown quantization 'int4': choose none (float32, the default) or int8" in \
        capsys.readouterr().err
