"""The module system and the layers: walking, modes, dtypes, state dicts, and a float64
gradcheck of every layer against finite differences."""

import math

import numpy as np
import pytest

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.nn.attention import CausalSelfAttention, KVCache
from tinygrad_lm.nn.gpt import MLP, Block, GPTConfig
from tinygrad_lm.nn.layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU
from tinygrad_lm.nn.module import Module, Parameter

TINY = dict(vocab_size=11, block_size=6, n_layer=2, n_head=2, n_embd=8)


def x64(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True,
                     dtype=np.float64)


def perturb(module, seed=1, scale=0.3):
    """Move weights away from the init (LayerNorm's 1 and 0, tiny 0.02 weights) so that every
    term of the gradient matters in the check."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.data += rng.standard_normal(p.shape).astype(p.dtype) * scale
    return module


def check_module(module, *inputs, mode="full"):
    """Gradcheck a module with respect to its inputs and every parameter."""
    module.to(np.float64)
    params = module.parameters()

    def fn(*tensors):  # the parameters are perturbed in place by gradcheck; only x is passed on
        return module(*tensors[:len(inputs)])

    return tg.gradcheck(fn, list(inputs) + params, mode=mode)


# ---- the module system ----------------------------------------------------------------------
class Net(Module):
    def __init__(self):
        rng = np.random.default_rng(0)
        self.fc = Linear(3, 4, rng=rng)
        self.layers = [Linear(4, 4, rng=rng), LayerNorm(4)]
        self.heads = {"a": Linear(4, 2, bias=False, rng=rng)}
        self.scale = Parameter(np.ones(1, np.float32))
        self.alias = self.fc  # the same module again: listed once
        self.drop = Dropout(0.5)
        self.note = "not a module"

    def forward(self, x):
        for layer in [self.fc, *self.layers]:
            x = layer(x)
        return self.drop(self.heads["a"](x)) * self.scale


def test_named_parameters_walk_attributes_lists_and_dicts():
    # a module's own parameters first, then each submodule's, depth first (PyTorch's order)
    names = [n for n, _ in Net().named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias", "layers.0.weight", "layers.0.bias",
                     "layers.1.weight", "layers.1.bias", "heads.a.weight"]
    net = Net()
    assert net.num_parameters() == 3 * 4 + 4 + 4 * 4 + 4 + 4 + 4 + 4 * 2 + 1
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Linear", "Linear", "LayerNorm", "Linear", "Dropout"]


def test_shared_parameter_is_listed_once():
    a, b = Linear(2, 2), Linear(2, 2)
    b.weight = a.weight

    class Pair(Module):
        def __init__(self):
            self.a, self.b = a, b

    names = [n for n, _ in Pair().named_parameters()]
    assert names == ["a.weight", "a.bias", "b.bias"]


def test_train_eval_zero_grad_and_call():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert net.drop.training
    out = net(tg.randn(5, 3, seed=0))
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        Module()(1)


def test_to_converts_in_place_keeping_the_parameter_objects():
    net = Net()
    before = net.parameters()
    assert net.to(np.float64) is net
    after = net.parameters()
    assert all(a is b for a, b in zip(before, after))
    assert all(p.dtype == np.float64 for p in after)
    assert net(tg.randn(2, 3, seed=0, dtype=np.float64)).dtype == np.float64
    net.to(np.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="floating point"):
        net.to(np.int32)


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    perturb(b)
    state = b.state_dict()
    assert list(state) == [n for n, _ in b.named_parameters()]
    a.load_state_dict({k: v.copy() for k, v in state.items()})
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(pa.data, pb.data)

    with pytest.raises(KeyError, match=r"missing keys \['scale'\]"):
        a.load_state_dict({k: v for k, v in state.items() if k != "scale"})
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        a.load_state_dict({**state, "extra": np.zeros(2)})
    bad = {**state, "fc.weight": np.zeros((4, 3))}
    with pytest.raises(ValueError, match=r"fc.weight has shape \(4, 3\) in the state dict but "
                                         r"\(3, 4\) in the model"):
        a.load_state_dict(bad)

    fresh = Net()
    kept = fresh.state_dict()["fc.bias"].copy()
    with pytest.raises(ValueError):  # nothing is loaded unless everything fits
        fresh.load_state_dict({**state, "layers.1.weight": np.zeros(5)})
    assert np.array_equal(fresh.fc.bias.data, kept)

    missing, unexpected = fresh.load_state_dict({"fc.bias": np.ones(4), "x": np.ones(1)},
                                                strict=False)
    assert "fc.weight" in missing and unexpected == ["x"]
    assert np.array_equal(fresh.fc.bias.data, np.ones(4))


def test_state_dict_casts_to_the_parameter_dtype():
    lin = Linear(2, 3)
    lin.load_state_dict({"weight": np.ones((2, 3)), "bias": tg.zeros(3, dtype=np.float64)})
    assert lin.weight.dtype == np.float32 and np.all(lin.weight.data == 1)


def test_repr_shows_the_tree():
    text = repr(Net())
    assert "(fc): Linear(3, 4, bias=True)" in text and "(layers.1): LayerNorm(4" in text


# ---- layers ---------------------------------------------------------------------------------
def test_linear_is_x_at_w_plus_b_with_weight_in_out():
    lin = perturb(Linear(4, 3, rng=np.random.default_rng(0)))
    assert lin.weight.shape == (4, 3) and lin.bias.shape == (3,)
    x = tg.randn(2, 5, 4, seed=0)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data + lin.bias.data, rtol=1e-5)
    assert Linear(4, 3, bias=False).bias is None


@pytest.mark.parametrize("make, shape", [
    (lambda: Linear(4, 3, rng=np.random.default_rng(0), std=0.5), (2, 5, 4)),
    (lambda: Linear(4, 3, bias=False, rng=np.random.default_rng(0), std=0.5), (3, 4)),
    (lambda: LayerNorm(6), (2, 3, 6)),
    (lambda: LayerNorm(6, bias=False), (4, 6)),
    (lambda: GELU("tanh"), (3, 4)),
    (lambda: GELU("none"), (3, 4)),
    (lambda: MLP(4, rng=np.random.default_rng(0)), (2, 3, 4)),
    (lambda: MLP(4, bias=False, activation="gelu", rng=np.random.default_rng(0)), (2, 3, 4)),
], ids=["linear", "linear-nobias", "layernorm", "layernorm-nobias", "gelu-tanh", "gelu-exact",
        "mlp", "mlp-nobias-exact"])
def test_layer_gradcheck(make, shape):
    check_module(perturb(make()), x64(*shape))


def test_relu_layer():
    x = tg.Tensor([[-1.0, 0.5]])
    assert ReLU()(x).tolist() == [[0.0, 0.5]]


def test_embedding_gradcheck_and_lookup():
    emb = Embedding(5, 3, rng=np.random.default_rng(0)).to(np.float64)
    ids = np.array([[0, 4, 4], [1, 0, 2]])  # repeated ids: their gradients must add up
    np.testing.assert_array_equal(emb(ids).data, emb.weight.data[ids])
    tg.gradcheck(lambda w: emb(ids), [emb.weight])
    with pytest.raises(IndexError, match="id 5 is out of range for size 5"):
        emb(np.array([5]))


def test_layer_norm_normalises():
    y = LayerNorm(16)(tg.randn(4, 16, seed=0) * 3 + 2).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(-1), 1, atol=1e-3)


def test_gelu_layer_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'tanh' or 'none'"):
        GELU("fast")


def test_dropout_reproducible_scaled_and_inert_in_eval():
    x = tg.ones(1000)
    a, b = Dropout(0.25, seed=3), Dropout(0.25, seed=3)
    ya, yb = a(x).data, b(x).data
    np.testing.assert_array_equal(ya, yb)  # same seed, same masks
    assert set(np.unique(ya)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.15 < np.mean(ya == 0) < 0.35
    assert not np.array_equal(a(x).data, ya)  # the generator moves on
    a.eval()
    assert np.array_equal(a(x).data, x.data)
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        Dropout(1.0)


# ---- attention ------------------------------------------------------------------------------
def naive_attention(attn, x):
    """Loops over heads and queries with NumPy: the definition, written out."""
    B, T, C = x.shape
    nh, hs = attn.n_head, C // attn.n_head
    qkv = x @ attn.c_attn.weight.data + attn.c_attn.bias.data
    q, k, v = np.split(qkv, 3, axis=-1)
    out = np.zeros_like(x)
    for h in range(nh):
        cols = slice(h * hs, (h + 1) * hs)
        for t in range(T):
            scores = np.einsum("bd,bsd->bs", q[:, t, cols], k[:, :t + 1, cols]) / math.sqrt(hs)
            w = np.exp(scores - scores.max(-1, keepdims=True))
            w /= w.sum(-1, keepdims=True)
            out[:, t, cols] = np.einsum("bs,bsd->bd", w, v[:, :t + 1, cols])
    return out @ attn.c_proj.weight.data + attn.c_proj.bias.data


@pytest.mark.a4_2
def test_attention_matches_naive_loops():
    attn = perturb(CausalSelfAttention(12, 3, rng=np.random.default_rng(0))).to(np.float64)
    attn.fused = False  # the spelled-out path; the fused op is checked against it below
    x = x64(2, 5, 12)
    np.testing.assert_allclose(attn(x).data, naive_attention(attn, x.data), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.a4_2
@pytest.mark.parametrize("bias", [True, False])
def test_attention_gradcheck(bias):
    attn = perturb(CausalSelfAttention(8, 2, bias=bias, rng=np.random.default_rng(0)))
    attn.fused = False
    check_module(attn, x64(2, 4, 8))


def assert_fused_path_matches(module, x):
    """Output and every gradient agree with module.fused on and off (float64)."""
    results = []
    for fused in (True, False):
        module.fused = fused
        x.grad = None
        for p in module.parameters():
            p.grad = None
        y = module(x)
        (y * y).sum().backward()
        results.append([y.data, x.grad] + [p.grad for p in module.parameters()])
    module.fused = True
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_fused_attention_matches_the_spelled_out_path(backend):
    attn = perturb(CausalSelfAttention(12, 3, rng=np.random.default_rng(0))).to(np.float64)
    assert_fused_path_matches(attn, x64(2, 5, 12))
    check_module(attn, x64(2, 4, 12))


def test_long_context_attention_is_memory_linear_and_matches(backend, monkeypatch):
    """From CausalAttention.TILED_FROM on, the fused path keeps no (T, T) weights: only the
    output and one log-sum-exp per query and head, and it agrees with the spelled-out math."""
    from tinygrad_lm.ops.fused import CausalAttention
    monkeypatch.setattr(CausalAttention, "TILED_FROM", 5)
    attn = perturb(CausalSelfAttention(12, 3, rng=np.random.default_rng(0))).to(np.float64)
    assert_fused_path_matches(attn, x64(2, 9, 12))
    qkv = tg.randn(2, 9, 36, seed=1, requires_grad=True)
    y = F.causal_attention(qkv, 3)
    shapes = [a.shape for a in y._ctx.saved]
    assert shapes == [(2, 9, 36), (2, 9, 12), (2, 3, 9)], shapes  # qkv, y, lse


@pytest.mark.parametrize("activation", ["gelu_tanh", "gelu"])
def test_fused_mlp_matches_the_spelled_out_path(backend, activation):
    mlp = perturb(MLP(6, activation=activation, rng=np.random.default_rng(0))).to(np.float64)
    assert_fused_path_matches(mlp, x64(2, 3, 6))


def test_fused_mlp_leaves_a_customised_activation_alone():
    class DoubledGELU(GELU):
        def forward(self, x):
            return super().forward(x) * 2.0
    mlp = MLP(4, rng=np.random.default_rng(0))
    mlp.act = DoubledGELU()
    x = tg.randn(2, 3, 4, seed=0)
    fused = mlp(x).data
    mlp.fused = False
    np.testing.assert_array_equal(fused, mlp(x).data)


def test_fused_attention_checks_its_head_count():
    qkv = tg.randn(2, 3, 12, seed=0)
    for bad in (0, -1, 5):
        with pytest.raises(ValueError, match="n_head"):
            F.causal_attention(qkv, bad)


def test_fused_attention_steps_aside_when_its_result_would_differ(monkeypatch):
    """Attention weights, attention dropout and the KV cache need the spelled-out path."""
    calls = []
    real = F.causal_attention
    monkeypatch.setattr(F, "causal_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
    attn = CausalSelfAttention(8, 2, dropout=0.1, rng=np.random.default_rng(0))
    x = tg.randn(2, 3, 8, seed=0)
    attn(x)  # training with dropout
    attn.eval()
    attn(x, return_attention=True)
    with tg.no_grad():
        attn(x, kv_cache=KVCache(1, 2, 2, 8, 4), layer=0)
    assert calls == []
    attn(x)
    assert calls == [1]


@pytest.mark.a4_1
def test_attention_rows_sum_to_one_and_are_causal(backend):
    attn = CausalSelfAttention(8, 2, rng=np.random.default_rng(0))
    attn(tg.randn(2, 5, 8, seed=0), return_attention=True)
    att = attn.last_attention
    assert att.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=1e-6)
    upper = np.triu(np.ones((5, 5), bool), 1)
    assert np.all(att[..., upper] == 0)
    with tg.use_backend("numpy"):  # the reference's mask (task 4.1), whatever the backend
        attn(tg.randn(2, 5, 8, seed=0), return_attention=True)
    np.testing.assert_allclose(attn.last_attention, att, rtol=1e-5, atol=1e-7)
    attn(tg.randn(2, 5, 8, seed=0))
    assert attn.last_attention is None  # only kept when asked


def test_attention_shape_errors():
    with pytest.raises(ValueError, match="n_embd=10 is not divisible by n_head=4"):
        CausalSelfAttention(10, 4)
    with pytest.raises(ValueError, match=r"expected input \(B, T, C=8\), got \(2, 8\)"):
        CausalSelfAttention(8, 2)(tg.randn(2, 8, seed=0))


@pytest.mark.a5_5
def test_attention_with_cache_matches_full():
    attn = perturb(CausalSelfAttention(8, 2, rng=np.random.default_rng(0))).to(np.float64)
    x = x64(2, 5, 8)
    full = attn(x).data
    cache = KVCache(1, 2, 2, 8, 4, dtype=np.float64)
    steps = []
    for a, b in [(0, 2), (2, 3), (3, 5)]:
        steps.append(attn(x[:, a:b], kv_cache=cache, layer=0).data)
        cache.advance(b - a)  # GPT.forward does this once every layer has appended
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=0, atol=1e-12)
    assert cache.keys(0).shape == (2, 2, 5, 4) and cache.k[0].shape == (2, 2, 8, 4)


@pytest.mark.a4_3
@pytest.mark.parametrize("norm_position", ["pre", "post"])
@pytest.mark.parametrize("bias", [True, False])
def test_block_gradcheck(norm_position, bias):
    cfg = GPTConfig(**TINY, norm_position=norm_position, bias=bias)
    block = perturb(Block(cfg, rng=np.random.default_rng(0)), scale=0.2)
    check_module(block, x64(2, 3, 8))


@pytest.mark.a4_3
def test_block_wiring_pre_and_post():
    """Recompute both wirings from the block's own sublayers."""
    x = x64(1, 4, 8)
    for pos in ("pre", "post"):
        block = perturb(Block(GPTConfig(**TINY, norm_position=pos),
                              rng=np.random.default_rng(0))).to(np.float64)
        a, m, l1, l2 = block.attn, block.mlp, block.ln_1, block.ln_2
        if pos == "pre":
            h = x + a(l1(x))
            want = h + m(l2(h))
        else:
            h = l1(x + a(x))
            want = l2(h + m(h))
        np.testing.assert_allclose(block(x).data, want.data, rtol=1e-12)
