"""The GPT: config validation, a float64 gradcheck of the whole model, causality, the
parameter count, initialisation, state dicts, bad inputs and the KV cache."""

import math

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.nn.attention import KVCache
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.nn.layers import Dropout

TINY = dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)


def tiny_gpt(seed=0, **kw):
    model = GPT(GPTConfig(**{**TINY, **kw}), seed=seed).to(np.float64)
    rng = np.random.default_rng(3)
    for p in model.parameters():  # larger weights than the 0.02 init make a sharper test
        p.data += rng.standard_normal(p.shape) * 0.1
    return model


def batch(seed=0, B=2, T=6):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 11, (B, T)), rng.integers(0, 11, (B, T))


def loss_of_parameters(model, idx, targets):
    """The loss as a function of every parameter tensor, as gradcheck wants it. gradcheck
    perturbs the tensors it is given in place, and those ARE the model's parameters."""
    params = model.parameters()

    def loss(*tensors):
        assert all(t is p for t, p in zip(tensors, params))
        return model(idx, targets)[1]
    return loss, params


# ---- config ---------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, error, match", [
    ("n_layer", 2.0, TypeError, "GPTConfig.n_layer must be int, got float 2.0"),
    ("n_embd", True, TypeError, "n_embd must be int, got bool True"),
    ("vocab_size", 0, ValueError, "vocab_size must be positive, got 0"),
    ("n_head", 3, ValueError, "n_embd=8 is not divisible by n_head=3"),
    ("dropout", "0.1", TypeError, "dropout must be float"),
    ("dropout", 1.0, ValueError, r"dropout must be in \[0, 1\)"),
    ("bias", 1, TypeError, "bias must be bool, got int 1"),
    ("tie_weights", "yes", TypeError, "tie_weights must be bool"),
    ("fused", "no", TypeError, "fused must be bool"),
    ("norm_position", "middle", ValueError,
     r"norm_position must be one of \['pre', 'post'\], got 'middle'"),
    ("norm_position", None, TypeError, "norm_position must be str, got NoneType None"),
    ("activation", "swish", ValueError, r"activation must be one of \['gelu_tanh', 'gelu', "
                                        r"'relu'\], got 'swish'"),
])
def test_config_validation_names_field_value_and_choices(field, value, error, match):
    with pytest.raises(error, match=match):
        GPTConfig(**{**TINY, field: value})


def test_config_dict_round_trip():
    c = GPTConfig(**TINY, dropout=0.1, bias=False, norm_position="post", activation="relu")
    assert GPTConfig.from_dict(c.to_dict()) == c
    assert GPTConfig(**{**TINY, "n_layer": np.int64(2)}).to_dict()["n_layer"].__class__ is int
    with pytest.raises(ValueError, match=r"unknown fields \['n_layers'\]"):
        GPTConfig.from_dict({**TINY, "n_layers": 3})


def test_a_config_saved_before_the_fused_switch_still_loads():
    old = {k: v for k, v in GPTConfig(**TINY).to_dict().items() if k != "fused"}
    assert GPTConfig.from_dict(old).fused is True


# ---- the fused switch -----------------------------------------------------------------------
FUSED_OPS = ("Linear", "LinearGelu", "CausalAttention")  # the ops of tinygrad_lm/ops/fused.py


def _step_with_ops(fused: bool, tie_weights: bool):
    """(logits, loss, gradients, {op: forward calls}) of one float64 step of a tiny GPT."""
    model = GPT(GPTConfig(**TINY, tie_weights=tie_weights, fused=fused), seed=0).to(np.float64)
    idx = np.random.default_rng(0).integers(0, TINY["vocab_size"], (2, 6))
    with tg.profile() as prof:
        logits, loss = model(idx, idx)
        loss.backward()
    calls = {op: n for (op, phase), n in prof.calls.items() if phase == "forward"}
    return logits.data, loss.data, [p.grad for p in model.parameters()], calls


@pytest.mark.parametrize("tie_weights", [True, False])
def test_fused_off_runs_every_op_spelled_out_and_gives_the_same_model(backend, tie_weights):
    *fused, fused_calls = _step_with_ops(True, tie_weights)
    *spelled, spelled_calls = _step_with_ops(False, tie_weights)
    assert all(fused_calls.get(op) for op in FUSED_OPS)
    assert not any(op in spelled_calls for op in FUSED_OPS), spelled_calls
    for a, b in zip(fused[:2] + fused[2], spelled[:2] + spelled[2]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


# ---- gradients ------------------------------------------------------------------------------
def test_whole_gpt_gradcheck_every_parameter():
    """Full finite differences, element by element, for every parameter of a tiny GPT."""
    model = tiny_gpt()
    idx, targets = batch(0)
    fn, params = loss_of_parameters(model, idx, targets)
    result = tg.gradcheck(fn, params, mode="full")
    names = [n for n, _ in model.named_parameters()]
    assert sorted(result.max_rel_error) == list(range(len(params)))

    model.zero_grad()
    model(idx, targets)[1].backward()
    print("\nwhole-GPT float64 gradcheck (full), per parameter:")
    print(f"  {'parameter':40s} {'max abs err':>11s} {'max rel err':>11s} {'err/max|g|':>11s}")
    for i, name in enumerate(names):
        scale = np.abs(params[i].grad).max()
        print(f"  {name:40s} {result.max_abs_error[i]:11.2e} {result.max_rel_error[i]:11.2e} "
              f"{result.max_abs_error[i] / scale:11.2e}")
        assert result.max_abs_error[i] < 1e-7 * max(1.0, scale)
    model.zero_grad()


@pytest.mark.parametrize("kw", [dict(norm_position="post"), dict(bias=False),
                                dict(tie_weights=False), dict(activation="gelu"),
                                dict(activation="relu"),
                                dict(norm_position="post", bias=False, tie_weights=False)],
                         ids=["post", "nobias", "untied", "gelu-exact", "relu",
                              "post-nobias-untied"])
def test_gpt_variants_gradcheck(kw):
    model = tiny_gpt(**kw)
    idx, targets = batch(1, T=5)
    targets[0, 1] = -1  # ignored positions must not leak gradient
    fn, params = loss_of_parameters(model, idx, targets)
    tg.gradcheck(fn, params, mode="fast")


def test_tied_head_gets_gradient_from_both_uses():
    model = tiny_gpt()
    idx, targets = batch(0)
    model(idx, targets)[1].backward()
    wte = model.transformer.wte.weight
    assert model.lm_head is None and "lm_head.weight" not in model.state_dict()
    unused = np.setdiff1d(np.arange(11), idx)  # rows no input used: head gradient only
    assert np.all(np.abs(wte.grad[unused]).sum(-1) > 0)


def test_key_bias_gets_no_gradient():
    """Adding b to every key adds q.b to a whole row of scores, which softmax ignores: the key
    part of c_attn.bias has an exactly zero gradient (and a huge *relative* gradcheck error made
    of rounding noise, which is why the check above also reports err / max|g|)."""
    model = tiny_gpt()
    model(*batch(0))[1].backward()
    C = TINY["n_embd"]
    for block in model.transformer.h:
        g = block.attn.c_attn.bias.grad  # (3C,): q, k, v parts
        assert np.abs(g[C:2 * C]).max() < 1e-12 < np.abs(g[:C]).max()


# ---- behaviour ------------------------------------------------------------------------------
def test_causality():
    model = tiny_gpt()
    idx = np.random.default_rng(0).integers(0, 11, (1, 6))
    base = model(idx)[0].data
    for t in range(5):
        changed = idx.copy()
        changed[0, t + 1:] = (changed[0, t + 1:] + 3) % 11
        out = model(changed)[0].data
        np.testing.assert_allclose(out[0, :t + 1], base[0, :t + 1], rtol=0, atol=1e-12)
        assert not np.allclose(out[0, t + 1:], base[0, t + 1:])


@pytest.mark.a4_1
def test_causal_mask():
    from tinygrad_lm.kernels.reference import causal_mask
    np.testing.assert_array_equal(causal_mask(3, 3), np.triu(np.ones((3, 3), bool), 1))
    # with a KV cache the 2 new queries sit at positions 3 and 4 of 5 keys
    np.testing.assert_array_equal(causal_mask(2, 5), [[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]])


def test_every_layer_attention_is_kept_when_asked():
    model = GPT(GPTConfig(**TINY))
    model(batch()[0], return_attention=True)
    for block in model.transformer.h:
        att = block.attn.last_attention
        assert att.shape == (2, 2, 6, 6)
        np.testing.assert_allclose(att.sum(-1), 1, rtol=1e-5)


def test_dropout_inert_in_eval_reproducible_in_train():
    idx = batch()[0]
    model = GPT(GPTConfig(**TINY, dropout=0.5), seed=0)
    twin = GPT(GPTConfig(**TINY, dropout=0.5), seed=0)
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    assert len(drops) == 1 + 3 * TINY["n_layer"]
    first = model(idx)[0].data
    np.testing.assert_array_equal(twin(idx)[0].data, first)  # same seed, same masks
    assert not np.array_equal(model(idx)[0].data, first)
    model.eval()
    np.testing.assert_array_equal(model(idx)[0].data, model(idx)[0].data)
    no_dropout = GPT(GPTConfig(**TINY), seed=0)
    no_dropout.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(model(idx)[0].data, no_dropout(idx)[0].data)


def test_loss_is_mean_cross_entropy_ignoring_minus_one():
    model = tiny_gpt()
    idx, targets = batch(0)
    targets[1, 2:] = -1
    logits, loss = model(idx, targets)
    z = logits.data
    logp = z - z.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    keep = targets != -1
    want = -logp[keep, targets[keep]].mean()
    assert abs(loss.item() - want) < 1e-12
    assert model(idx)[1] is None


def test_loss_at_init_is_about_log_vocab():
    model = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32))
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 65, (4, 16)), rng.integers(0, 65, (4, 16))
    assert abs(model(idx, targets)[1].item() - math.log(65)) < 0.05


def closed_form_count(c: GPTConfig) -> int:
    C, V, L = c.n_embd, c.vocab_size, c.n_layer
    b = 1 if c.bias else 0
    ln = C + b * C
    attn = C * 3 * C + b * 3 * C + C * C + b * C  # c_attn, c_proj
    mlp = C * 4 * C + b * 4 * C + 4 * C * C + b * C  # c_fc, c_proj
    head = 0 if c.tie_weights else C * V
    return V * C + c.block_size * C + L * (2 * ln + attn + mlp) + ln + head


@pytest.mark.parametrize("kw", [dict(), dict(bias=False), dict(tie_weights=False),
                                dict(n_layer=3, n_embd=12, n_head=3, vocab_size=50)])
def test_parameter_count_closed_form(kw):
    c = GPTConfig(**{**TINY, **kw})
    model = GPT(c)
    assert model.num_parameters() == closed_form_count(c)
    wpe = c.block_size * c.n_embd
    assert model.num_parameters(non_embedding=True) == closed_form_count(c) - wpe


def test_gpt2_initialisation():
    c = GPTConfig(vocab_size=300, block_size=64, n_layer=4, n_head=4, n_embd=64, tie_weights=False)
    sd = GPT(c, seed=0).state_dict()
    resid = 0.02 / math.sqrt(2 * c.n_layer)
    for name, w in sd.items():
        assert w.dtype == np.float32
        if name.endswith("c_proj.weight"):
            assert abs(w.std() / resid - 1) < 0.05, name
        elif name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or "ln_f.w" in name:
            assert np.all(w == 1), name
        elif name.endswith("bias"):
            assert np.all(w == 0), name
        else:  # wte, wpe, c_attn, c_fc, lm_head
            assert abs(w.std() / 0.02 - 1) < 0.05 and abs(w.mean()) < 2e-3, name


def test_same_seed_same_model_other_seed_other_model():
    a, b, c = (GPT(GPTConfig(**TINY), seed=s) for s in (5, 5, 6))
    for (na, pa), (nb, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(),
                                           c.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data) or np.all(pa.data == pa.data.flat[0])


def test_trained_one_step_and_reloaded_gives_identical_logits():
    a = GPT(GPTConfig(**TINY), seed=5)
    idx, targets = batch(0)
    before = a(idx)[0].data.copy()
    _, loss = a(idx, targets)
    loss.backward()
    with tg.no_grad():
        for p in a.parameters():
            p.data -= 0.5 * p.grad  # manual SGD
    after = a(idx)[0].data
    assert not np.allclose(after, before)
    assert a(idx, targets)[1].item() < loss.item()
    b = GPT(GPTConfig(**TINY), seed=99)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(b(idx)[0].data, after)


def test_state_dict_names_follow_gpt2():
    names = list(GPT(GPTConfig(**{**TINY, "n_layer": 1}, tie_weights=False)).state_dict())
    h = "transformer.h.0"
    assert names == [
        "transformer.wte.weight", "transformer.wpe.weight",
        f"{h}.ln_1.weight", f"{h}.ln_1.bias", f"{h}.attn.c_attn.weight", f"{h}.attn.c_attn.bias",
        f"{h}.attn.c_proj.weight", f"{h}.attn.c_proj.bias", f"{h}.ln_2.weight", f"{h}.ln_2.bias",
        f"{h}.mlp.c_fc.weight", f"{h}.mlp.c_fc.bias", f"{h}.mlp.c_proj.weight",
        f"{h}.mlp.c_proj.bias", "transformer.ln_f.weight", "transformer.ln_f.bias",
        "lm_head.weight"]
    assert GPT(GPTConfig(**TINY, tie_weights=False)).state_dict()["lm_head.weight"].shape == (8, 11)
    assert "lm_head.weight" not in GPT(GPTConfig(**TINY)).state_dict()


def test_bad_state_dicts_name_keys_and_shapes():
    model = GPT(GPTConfig(**TINY))
    state = dict(model.state_dict())
    with pytest.raises(KeyError, match=r"missing keys \['transformer.wte.weight'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "transformer.wte.weight"})
    with pytest.raises(KeyError, match=r"unexpected keys \['lm_head.weight'\]"):
        model.load_state_dict({**state, "lm_head.weight": np.zeros((8, 11))})
    bad = {**state, "transformer.wpe.weight": np.zeros((7, 8))}
    with pytest.raises(ValueError, match=r"transformer.wpe.weight has shape \(7, 8\) in the "
                                         r"state dict but \(6, 8\) in the model"):
        model.load_state_dict(bad)


def test_bad_inputs():
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(ValueError, match="cannot forward a sequence of length 7, block size is "
                                         "only 6"):
        model(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(IndexError, match="embedding: id 11 is out of range for size 11 .*vocab"):
        model(np.array([[1, 11]]))
    with pytest.raises(IndexError, match="-1"):
        model(np.array([[1, -1]]))
    with pytest.raises(TypeError, match="token ids must be integers, got dtype float64"):
        model(np.array([[1.0, 2.0]]))
    with pytest.raises(TypeError, match="integers"):
        model(tg.Tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"idx must have shape \(B, T\), got \(2,\)"):
        model(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"shape \(B, T\), got \(1, 1, 2\)"):
        model(np.array([[[1, 2]]]))
    with pytest.raises(ValueError, match="empty batch"):
        model(np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="empty batch"):
        model(np.zeros((2, 0), dtype=np.int64))
    with pytest.raises(ValueError, match="cross_entropy"):
        model(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT(dict(TINY))
    assert model(tg.Tensor(np.array([[1, 2]])))[0].shape == (1, 2, 11)  # a Tensor of ids works


def test_crop_block_size():
    model = GPT(GPTConfig(**TINY))
    wpe = model.transformer.wpe.weight.data.copy()
    model.crop_block_size(4)
    assert model.config.block_size == 4
    np.testing.assert_array_equal(model.transformer.wpe.weight.data, wpe[:4])
    with pytest.raises(ValueError, match="length 5, block size is only 4"):
        model(np.zeros((1, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="block_size <= 4"):
        model.crop_block_size(5)


# ---- KV cache -------------------------------------------------------------------------------
@pytest.mark.a5_5
@pytest.mark.parametrize("fused", [True, False])  # attend_cached, or the spelled-out ops
@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_kv_cache_matches_full_forward_at_every_step(norm_position, fused):
    model = tiny_gpt(norm_position=norm_position, fused=fused).eval()
    idx = batch(0)[0]
    full = model(idx)[0].data
    cache = model.new_kv_cache(2)
    assert cache.k[0].shape == (2, 2, 6, 4)  # preallocated (B, nh, block_size, hs)
    out = model(idx[:, :3], kv_cache=cache)[0].data  # prefill three tokens
    np.testing.assert_allclose(out, full[:, :3], rtol=0, atol=1e-10)
    for t in range(3, 6):  # then one at a time
        step = model(idx[:, t:t + 1], kv_cache=cache)[0].data
        np.testing.assert_allclose(step[:, 0], full[:, t], rtol=0, atol=1e-10)
        assert cache.length == t + 1 and cache.keys(1).shape == (2, 2, t + 1, 4)
    with pytest.raises(ValueError, match="6 cached \\+ 1 new positions exceed block size 6; "
                                         "crop or reset the cache"):
        model(idx[:, :1], kv_cache=cache)
    assert cache.length == 6


@pytest.mark.a5_5
@pytest.mark.parametrize("fused", [True, False])
def test_kv_cache_reorder_crop_and_reset(fused):
    model = tiny_gpt(fused=fused).eval()
    idx = np.random.default_rng(1).integers(0, 11, (3, 6))
    full = model(idx)[0].data
    cache = model.new_kv_cache(3)
    model(idx[:, :4], kv_cache=cache)
    cache.reorder([2, 0, 0, 1])  # beam search: rows continue old rows 2, 0, 0 and 1
    assert cache.batch_size == 4
    rows = [2, 0, 0, 1]
    out = model(idx[rows, 4:6], kv_cache=cache)[0].data
    np.testing.assert_allclose(out, full[rows, 4:6], rtol=0, atol=1e-10)

    cache.crop(2)  # keep positions 0 and 1, then continue with different tokens
    other = idx[rows].copy()
    other[:, 2:] = (other[:, 2:] + 5) % 11
    out = model(other[:, 2:], kv_cache=cache)[0].data
    np.testing.assert_allclose(out, model(other)[0].data[:, 2:], rtol=0, atol=1e-10)

    cache.reset()
    out = model(other[:, :1], kv_cache=cache)[0].data
    np.testing.assert_allclose(out[:, 0], model(other[:, :1])[0].data[:, 0], atol=1e-12)
    with pytest.raises(IndexError, match="index 4 is out of range for a cache of batch size 4"):
        cache.reorder([0, 4])
    with pytest.raises(ValueError, match="1-D int array"):
        cache.reorder(np.array([0.0]))
    with pytest.raises(ValueError, match=">= 0"):
        cache.crop(-1)


def test_decoding_with_a_cache_records_no_ops_when_fused():
    """With a cache the fused model attends in one call (attend_cached): none of the spelled-out
    path's split, transpose, matmul and softmax ops run."""
    model = tiny_gpt().eval()
    cache = model.new_kv_cache(2)
    model(batch()[0][:, :3], kv_cache=cache)
    with tg.profile() as prof:
        model(batch()[0][:, 3:4], kv_cache=cache)
    ops = {op for op, _ in prof.times}
    assert not ops & {"Softmax", "MatMul", "GetItem", "Reshape"}, ops


def test_kv_cache_is_inference_only_and_checks_its_model():
    model = GPT(GPTConfig(**TINY))
    cache = model.new_kv_cache(2)
    logits, _ = model(batch()[0][:, :2], kv_cache=cache)  # grad mode is on here
    assert not logits.requires_grad and logits._ctx is None
    with pytest.raises(ValueError, match=r"new_kv_cache\(3\)"):
        model(np.zeros((3, 1), dtype=np.int64), kv_cache=cache)
    model.to(np.float64)
    with pytest.raises(ValueError, match="after any model.to"):
        model(np.zeros((2, 1), dtype=np.int64), kv_cache=cache)
    assert cache.length == 2
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        KVCache(2, 0, 2, 6, 4)
