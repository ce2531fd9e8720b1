"""Stand-ins for unwritten coursework tasks: when they run, when they never do, what they say."""

import numpy as np
import pytest

from tinygrad_lm.course import stand_ins as U
from tinygrad_lm.kernels import reference
from tinygrad_lm.kernels.wrappers import reference_unless

MESSAGE = "Assignment 5.2: the schedule; not written yet, see assignments/05_training_generation.md"


def test_the_reference_repository_has_stand_ins_off():
    assert U.STAND_INS is False


def test_a_starter_raises_unless_stand_ins_are_on(capsys):
    with pytest.raises(NotImplementedError, match=r"^Assignment 5\.2: the schedule"):
        U.unfinished("5.2", MESSAGE, "a constant learning rate", lambda: 0.1)
    before = U.uses["5.2"]
    with U.use_stand_ins(True):
        assert U.unfinished("5.2", MESSAGE, "a constant learning rate", lambda: 0.1) == 0.1
        assert U.unfinished("5.2", MESSAGE, "a constant learning rate", lambda: 0.1) == 0.1
        with pytest.raises(NotImplementedError):  # no stand-in fits this call
            U.unfinished("5.2", MESSAGE, "a constant learning rate", None)
    assert U.uses["5.2"] == before + 2
    assert capsys.readouterr().err.count("task 5.2 is not written yet") <= 1  # once a process
    assert U.STAND_INS is False


def test_a_test_of_a_task_never_gets_its_stand_in():
    with U.use_stand_ins(True), U.forbid_stand_ins({"5.2"}):
        with pytest.raises(NotImplementedError):
            U.unfinished("5.2", MESSAGE, "a constant learning rate", lambda: 0.1)
        assert U.unfinished("5.3", "Assignment 5.3: top-k", "no filtering", lambda: 1) == 1


def test_starter_task_reads_only_a_starters_message():
    assert U.starter_task(NotImplementedError(MESSAGE)) == "5.2"
    assert U.starter_task(NotImplementedError("float16 is not supported")) is None
    assert U.starter_task(ValueError(MESSAGE)) is None


def _kernel_raising(message):
    def softmax_forward(x, scale=1.0, causal=False):
        raise NotImplementedError(message)
    return reference_unless()(softmax_forward)


def test_an_unwritten_compiled_kernel_falls_back_to_the_reference_only_when_allowed():
    x = np.random.default_rng(0).standard_normal((3, 4))
    kernel = _kernel_raising("Assignment 3.1: the Numba softmax; not written yet")
    with pytest.raises(NotImplementedError, match="Assignment 3.1"):
        kernel(x)
    with U.use_stand_ins(True):
        np.testing.assert_array_equal(kernel(x), reference.softmax_forward(x))
        with U.forbid_stand_ins({"3.1"}), pytest.raises(NotImplementedError):
            kernel(x)
        with pytest.raises(NotImplementedError, match="not supported"):  # not a starter's
            _kernel_raising("not supported")(x)


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
