"""The op profiler: every op's time lands in a class, and the classes add up to the wall time."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.autograd import FUNCTION_REGISTRY
from tinygrad_lm.profiler import OP_CLASSES
from tinygrad_lm.training import optim


def test_op_classes_name_registered_ops():
    stale = [name for name in OP_CLASSES if name.lower() not in FUNCTION_REGISTRY]
    assert not stale, f"OP_CLASSES names ops that do not exist: {stale}"


def test_a_training_step_is_accounted_for():
    cfg = tg.GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    model = tg.GPT(cfg, seed=0)
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    x = np.random.default_rng(0).integers(0, 11, (3, 8))
    with tg.profile() as prof:
        _, loss = model(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    shares = prof.by_class()
    for cls in ("matmul", "matmul (+ fused GELU)", "attention (matmuls + softmax)", "layernorm",
                "cross-entropy", "embedding", "other (Python, autograd, optimizer)"):
        assert cls in shares, cls
    assert all(t >= 0 for t in shares.values())
    assert sum(shares.values()) == pytest.approx(prof.wall, rel=1e-9)
    # per block: c_attn, attention c_proj, MLP c_proj (c_fc is LinearGelu); then lm_head
    assert prof.calls[("Linear", "forward")] == 2 * 3 + 1
    assert prof.calls[("LinearGelu", "forward")] == 2
    assert prof.calls[("Linear", "backward")] == prof.calls[("Linear", "forward")]
    table = prof.table()
    assert "wall" in table and "matmul" in table


def test_profilers_do_not_nest():
    with tg.profile():
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with tg.profile():
                pass
