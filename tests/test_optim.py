"""Optimizers against their formulas written out by hand; clipping; schedules; state."""

import math

import numpy as np
import pytest

from tinygrad_lm.training.optim import (
    SGD,
    Adam,
    AdamW,
    clip_grad_norm_,
    configure_param_groups,
    cosine_lr,
)


class P:
    def __init__(self, data, grad=None):
        self.data = np.array(data, dtype=np.float64)
        self.grad = None if grad is None else np.array(grad, dtype=np.float64)


GRADS = [np.array([0.5, -1.0, 2.0]), np.array([-0.2, 0.3, 1.0]), np.array([1.0, 1.0, -0.5])]
W0 = np.array([1.0, -2.0, 0.5])


def run(opt_cls, steps=3, **kw):
    p = P(W0)
    opt = opt_cls([p], **kw)
    for g in GRADS[:steps]:
        p.grad = g.copy()
        opt.step()
    return p.data


@pytest.mark.parametrize("momentum, nesterov, wd", [(0.0, False, 0.0), (0.9, False, 0.0),
                                                    (0.9, True, 0.1), (0.5, False, 0.01)])
def test_sgd_by_hand(momentum, nesterov, wd):
    w, buf, lr = W0.copy(), None, 0.1
    for g in GRADS:
        g = g + wd * w
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
    out = run(SGD, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    np.testing.assert_allclose(out, w, rtol=1e-12)


def adam_by_hand(decoupled, wd, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            w = w - lr * wd * w
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_and_adamw_by_hand(wd, fused, backend):
    np.testing.assert_allclose(run(Adam, lr=0.01, weight_decay=wd, fused=fused),
                               adam_by_hand(False, wd), rtol=1e-12)
    np.testing.assert_allclose(run(AdamW, lr=0.01, weight_decay=wd, fused=fused),
                               adam_by_hand(True, wd), rtol=1e-12)
    if wd:  # decoupled and L2 decay are different algorithms
        assert not np.allclose(adam_by_hand(True, wd), adam_by_hand(False, wd))


@pytest.mark.a5_1
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_reference_adamw_update_by_hand(wd):
    import tinygrad_lm as tg
    with tg.use_backend("numpy"):
        np.testing.assert_allclose(run(AdamW, lr=0.01, weight_decay=wd),
                                   adam_by_hand(True, wd), rtol=1e-12)


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_fused_step_equals_the_per_parameter_update(cls, backend):
    """fused=True (one adamw_update_many_ call) against update() on each parameter: a GPT's
    tensors in two groups with different settings, one parameter left without a gradient."""
    import tinygrad_lm as tg
    rng = np.random.default_rng(3)
    models, opts = [], []
    for fused in (True, False):
        model = tg.GPT(tg.GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2,
                                    n_embd=16), seed=0)
        groups = configure_param_groups(model.named_parameters(), 0.1)
        groups[1]["lr"], groups[1]["betas"] = 3e-3, (0.8, 0.9)
        models.append(model)
        opts.append(cls(groups, lr=1e-2, betas=(0.9, 0.99), fused=fused))
    for step in range(3):
        grads = [rng.standard_normal(p.data.shape).astype(p.data.dtype)
                 for p in models[0].parameters()]
        for model, opt in zip(models, opts):
            for i, (p, g) in enumerate(zip(model.parameters(), grads)):
                p.grad = None if i == 1 and step < 2 else g.copy()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    sd = [opt.state_dict()["state"] for opt in opts]
    assert sd[0].keys() == sd[1].keys()
    for key in sd[0]:
        assert sd[0][key]["step"] == sd[1][key]["step"]
        np.testing.assert_array_equal(sd[0][key]["exp_avg_sq"], sd[1][key]["exp_avg_sq"])


@pytest.mark.parametrize("make", [lambda ps: AdamW(ps, fused=True),
                                  lambda ps: AdamW(ps, fused=False), lambda ps: SGD(ps)])
def test_a_step_makes_graphs_that_saved_the_weights_stale(make):
    """The optimizer writes p.data in place: a loss computed before the step must refuse to
    backward (its saved weights are gone), through the tensor's own version count."""
    import tinygrad_lm as tg
    w, x = tg.Tensor(np.ones(3), requires_grad=True), tg.Tensor(np.arange(3.0), requires_grad=True)
    loss = (x * w).sum()
    w.grad = np.ones(3)
    make([w]).step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_groups_skip_none_and_zero_grad():
    a, b, c = P([1.0], [1.0]), P([1.0], [1.0]), P([1.0])
    opt = SGD([{"params": [a], "lr": 0.5}, {"params": [b, c]}], lr=0.1)
    opt.step()
    assert a.data[0] == 0.5 and b.data[0] == pytest.approx(0.9) and c.data[0] == 1.0
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("make", [lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
                                  lambda ps: Adam(ps, lr=0.01, weight_decay=0.1),
                                  lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True)])
def test_state_dict_round_trip_is_bit_exact(make):
    p = P(W0)
    opt = make([p])
    for g in GRADS:
        p.grad = g.copy()
        opt.step()
    saved, w_saved = opt.state_dict(), p.data.copy()
    for g in GRADS:
        p.grad = g.copy()
        opt.step()
    q = P(w_saved)
    opt2 = make([q])
    opt2.load_state_dict(saved)
    for g in GRADS:
        q.grad = g.copy()
        opt2.step()
    np.testing.assert_array_equal(q.data, p.data)


def test_load_state_dict_mismatch():
    opt = Adam([P(W0, GRADS[0])])
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="group of 1 parameters where this optimizer has 2"):
        Adam([P(W0), P(W0)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        Adam([P([1.0, 2.0])]).load_state_dict(sd)


def test_validation():
    with pytest.raises(ValueError, match="learning rate"):
        Adam([P(W0)], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        AdamW([P(W0)], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps"):
        Adam([P(W0)], eps=0)


def test_clip_grad_norm():
    a, b = P([0.0], [3.0]), P([0.0], [4.0])
    assert clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    assert math.hypot(a.grad[0], b.grad[0]) == pytest.approx(1.0, rel=1e-5)
    c = P([0.0], [0.3])
    assert clip_grad_norm_([c], 1.0) == pytest.approx(0.3) and c.grad[0] == 0.3
    d = P([0.0], [np.nan])
    assert math.isnan(clip_grad_norm_([d], 1.0))
    assert clip_grad_norm_([P([0.0])], 1.0) == 0.0  # no gradients at all


def test_clip_grad_norm_of_many_float32_gradients(backend):
    rng = np.random.default_rng(1)
    ps = [P(np.zeros(s)) for s in [(3, 4), (7,), (50, 9)] * 5]
    for p in ps:
        p.data = p.data.astype(np.float32)
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
    want = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in ps))
    assert clip_grad_norm_(ps, 1.0) == pytest.approx(want, rel=1e-12)
    got = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in ps))
    assert got == pytest.approx(1.0, rel=1e-5)


@pytest.mark.a5_2
def test_cosine_schedule():
    kw = dict(lr=1.0, min_lr=0.1, warmup_iters=10, lr_decay_iters=110)
    assert cosine_lr(0, **kw) == pytest.approx(1 / 11)
    assert cosine_lr(9, **kw) == pytest.approx(10 / 11)
    assert cosine_lr(10, **kw) == pytest.approx(1.0)
    assert cosine_lr(60, **kw) == pytest.approx(0.55)
    assert cosine_lr(110, **kw) == pytest.approx(0.1)
    assert cosine_lr(500, **kw) == 0.1
    with pytest.raises(ValueError, match="min_lr <= lr"):
        cosine_lr(0, lr=0.1, min_lr=1.0, warmup_iters=0, lr_decay_iters=10)


def test_param_groups_for_gpt_training():
    w, b, emb = P(np.ones((2, 2))), P(np.ones(2)), P(np.ones((3, 2)))
    groups = configure_param_groups([("h.0.w", w), ("h.0.b", b), ("transformer.wte.weight", emb),
                                     ("lm_head.weight", emb)], 0.1)
    assert groups[0]["params"] == [w] and groups[1]["params"] == [b, emb]
    groups = configure_param_groups([("transformer.wte.weight", emb)], 0.1,
                                    decay_embeddings=True)
    assert groups[0]["params"] == [emb]


def test_float32_stays_float32():
    p = P(W0)
    p.data, p.grad = p.data.astype(np.float32), GRADS[0].astype(np.float32)
    opt = AdamW([p])
    opt.step()
    assert p.data.dtype == np.float32 and opt.state_dict()["state"]["0"]["exp_avg"].dtype == \
        np.float32


def test_matches_torch_when_installed():
    torch = pytest.importorskip("torch")
    for ours, theirs, kw in [(SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
                             (Adam, torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
                             (AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1))]:
        t = torch.tensor(W0.copy(), requires_grad=True)
        opt = theirs([t], **kw)
        for g in GRADS:
            t.grad = torch.tensor(g)
            opt.step()
        np.testing.assert_allclose(run(ours, **kw), t.detach().numpy(), rtol=1e-10)
