"""Stand-ins for unwritten coursework tasks: when they run, when they never do, what they say.

The reference repository never calls them; a student copy's starters do (course/assignments/
markers.py), and the engine asks their policy where unfinished code raises (kernels.wrappers).
These tests call them as a copy would."""

import os

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.course import stand_ins as U
from tinygrad_lm.generation.generate import NextTokenLogits
from tinygrad_lm.kernels import reference
from tinygrad_lm.kernels.wrappers import reference_unless
from tinygrad_lm.nn.attention import KVCache

MESSAGE = "Assignment 5.2: the schedule; not written yet, see assignments/05_training_generation.md"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_stand_ins_are_on_only_in_a_student_copy():
    """The reference repository has nothing unfinished; a copy carries its assignments.json."""
    assert U.STAND_INS is os.path.exists(os.path.join(REPO, "assignments.json"))


def test_a_starter_raises_the_tasks_message_unless_stand_ins_are_on(capsys):
    with U.use_stand_ins(False), pytest.raises(
            NotImplementedError, match=r"^Assignment 5\.2: the learning-rate schedule.*; not "
                                       r"written yet, see assignments/05_training_generation"):
        U.stand_in("5.2", "a constant learning rate", lambda: 0.1)
    before = U.uses["5.2"]
    with U.use_stand_ins(True):
        assert U.stand_in("5.2", "a constant learning rate", lambda: 0.1) == 0.1
        assert U.stand_in("5.2", "a constant learning rate", max, 0.1, 0.2) == 0.2
        with pytest.raises(NotImplementedError, match="Assignment 5.2"):  # no stand-in fits
            U.stand_in("5.2", "a constant learning rate", None)
    assert U.uses["5.2"] == before + 2
    assert capsys.readouterr().err.count("task 5.2 is not written yet") <= 1  # once a process


def test_a_test_of_a_task_never_gets_its_stand_in():
    with U.use_stand_ins(True), U.forbid_stand_ins({"5.2"}):
        with pytest.raises(NotImplementedError):
            U.stand_in("5.2", "a constant learning rate", lambda: 0.1)
        assert U.stand_in("5.3", "no filtering", lambda: 1) == 1


def test_starter_task_reads_only_a_starters_message():
    assert U.starter_task(NotImplementedError(MESSAGE)) == "5.2"
    assert U.starter_task(NotImplementedError("float16 is not supported")) is None
    assert U.starter_task(ValueError(MESSAGE)) is None


def _kernel_raising(message):
    def softmax_forward(x, scale=1.0, causal=False):
        raise NotImplementedError(message)
    return softmax_forward


def test_an_unwritten_compiled_kernel_falls_back_to_the_reference_only_when_allowed():
    """A Numba kernel's wrapper (reference_unless) asks the course's policy when its compiled
    code raises: the reference runs only for the kernel's own task's starter, stand-ins on."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    kernel = reference_unless()(_kernel_raising("Assignment 3.1: the Numba softmax"))
    assert kernel.__name__ == "softmax_forward"
    with U.use_stand_ins(False), pytest.raises(NotImplementedError, match="Assignment 3.1"):
        kernel(x)
    with U.use_stand_ins(True):
        np.testing.assert_array_equal(kernel(x, 2.0), reference.softmax_forward(x, 2.0))
        with U.forbid_stand_ins({"3.1"}), pytest.raises(NotImplementedError):
            kernel(x)
        for other in ("not supported", "Assignment 3.2: another task's starter"):
            with pytest.raises(NotImplementedError, match=other):
                reference_unless()(_kernel_raising(other))(x)

        def gelu_forward(x):  # not a coursework kernel: its starter-like error propagates
            raise NotImplementedError("Assignment 3.1: the Numba softmax")
        with pytest.raises(NotImplementedError, match="Assignment 3.1"):
            reference_unless()(gelu_forward)(x)

    def softmax_forward(x):
        return x + 1
    written = reference_unless()(softmax_forward)
    with U.use_stand_ins(True):
        np.testing.assert_array_equal(written(x), x + 1)  # a written kernel is what runs


def test_the_engine_asks_no_one_without_a_policy(monkeypatch):
    """Without an installed policy (the engine alone), unfinished code raises as it is."""
    from tinygrad_lm.kernels import may_replace_unfinished, set_unfinished_policy
    error = NotImplementedError("Assignment 3.1: the Numba softmax")
    previous = set_unfinished_policy(None)
    try:
        assert previous is U.unfinished_policy
        with U.use_stand_ins(True):
            assert not may_replace_unfinished(error, "softmax_forward")
            with pytest.raises(NotImplementedError, match="Assignment 3.1"):
                reference_unless()(_kernel_raising(str(error)))(np.ones(3))
    finally:
        set_unfinished_policy(previous)
    with U.use_stand_ins(True):
        assert may_replace_unfinished(error, "softmax_forward")


def _steps(step, ids, n):
    out = []
    for _ in range(n):
        logits = step(ids).copy()
        out.append(logits)
        ids = np.concatenate([ids, logits.argmax(axis=1)[:, None]], axis=1)
    return np.stack(out)


def test_an_unwritten_kv_cache_falls_back_to_generation_without_it(monkeypatch):
    config = tg.GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8)
    model = tg.GPT(config, seed=0).to(np.float64)
    prompt = np.array([[1, 2, 3]], dtype=np.int64)
    with tg.no_grad():
        plain = _steps(NextTokenLogits(model, use_cache=False), prompt, 10)

    def starter(self, layer, k, v):
        raise NotImplementedError("Assignment 5.5: the KV cache; not written yet")
    monkeypatch.setattr(KVCache, "append", starter)
    with tg.no_grad(), U.use_stand_ins(True):
        step = NextTokenLogits(model)
        np.testing.assert_allclose(_steps(step, prompt, 10), plain, rtol=0, atol=1e-12)
        assert not step.use_cache and step.cache is None
        with U.forbid_stand_ins({"5.5"}), pytest.raises(NotImplementedError, match="5.5"):
            NextTokenLogits(model)(prompt)
    with tg.no_grad(), U.use_stand_ins(False), pytest.raises(NotImplementedError, match="5.5"):
        NextTokenLogits(model)(prompt)


def test_a_failure_at_another_tasks_starter_names_the_task_and_its_handout():
    starter = NotImplementedError("Assignment 1.2: the backward loop; not written yet, see "
                                  "assignments/01_autograd.md")
    try:
        try:
            raise starter
        except NotImplementedError as e:
            raise RuntimeError("while training") from e
    except RuntimeError as wrapped:
        found = U.unwritten_task(wrapped)
    assert found == ("1.2", str(starter))
    assert U.unwritten_task(starter, own_tasks={"1.2"}) is None  # its own test fails
    assert U.unwritten_task(ValueError("bad shape")) is None
    assert U.unwritten_task(NotImplementedError("float16 is not supported")) is None
    text = "Traceback ...\nNotImplementedError: " + str(starter) + "\n"  # a notebook's error
    assert U.unwritten_task(text) == ("1.2", str(starter))
    assert U.needs_task_reason(*found).startswith(
        "needs task 1.2 (assignments/01_autograd.md), which this copy asks you to write")
