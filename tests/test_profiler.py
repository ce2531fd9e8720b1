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


def test_split_kernels_report_their_idle_core_time():
    """Each split call tells the recorder when it began and ended and when every task ran; the
    profiler adds up the time workers took to start and the time shares waited for the last."""
    import time

    from tinygrad_lm.kernels import threads
    if not threads._blas_libraries():
        pytest.skip("no BLAS threadpoolctl can hold: nothing is split here")
    assert threads.set_split_recorder(None) is None  # nothing records by default

    def task(i):  # the worker's share (0) runs 50 ms longer than the caller's (1)
        time.sleep(0.05 if i == 0 else 0.0)
    with threads.use_threads(2), tg.profile() as prof:
        threads.run_tasks(task, 2)
        threads.run_tasks(task, 1)  # one task: nothing handed to a worker, nothing recorded
    idle = prof.idle()
    assert prof.split_calls == idle["split_calls"] == 1 and prof.threads == 2
    assert 0.045 <= idle["uneven_ends_s"] < prof.wall  # the caller waited for the worker
    assert 0 <= idle["worker_wait_s"] < prof.wall
    assert idle["idle_s"] == pytest.approx(idle["worker_wait_s"] + idle["uneven_ends_s"])
    assert idle["share_of_cores"] == pytest.approx(idle["idle_s"] / (2 * prof.wall))
    assert "cores idle in split kernels" in prof.table()
    assert threads.set_split_recorder(None) is None  # the profiler removed its recorder

    def caller_slow(i):  # one worker takes task 0; the caller runs 1 and 2, 30 ms each
        time.sleep(0.0 if i == 0 else 0.03)
    with threads.use_threads(2), tg.profile() as prof:
        threads.run_tasks(caller_slow, 3)
    assert prof.split_calls == 1
    assert prof.uneven_ends >= 0.055  # the worker waited for both of the caller's tasks


def test_a_profiled_training_step_accounts_for_its_split_kernels():
    from tinygrad_lm.kernels import threads
    if not threads._blas_libraries():
        pytest.skip("no BLAS threadpoolctl can hold: nothing is split here")
    cfg = tg.GPTConfig(vocab_size=65, block_size=64, n_layer=1, n_head=4, n_embd=128)
    model = tg.GPT(cfg, seed=0)
    x = np.random.default_rng(0).integers(0, 65, (16, 64))
    with threads.use_threads(2), tg.profile() as prof:
        _, loss = model(x, x)
        loss.backward()
    idle = prof.idle()
    assert idle["split_calls"] > 0
    assert 0 < idle["idle_s"] and 0 <= idle["share_of_cores"] < 1
    without = tg.profile()  # a profiler that saw no split call prints no idle lines
    with without:
        pass
    assert "cores idle" not in without.table() and without.idle()["split_calls"] == 0
