"""Gradient blame (tinygrad_lm/blame.py): a failed gradcheck of a composite names the first op
whose own backward is wrong, with the line that called it."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm import blame as blame_mod
from tinygrad_lm.ops import neural

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    from tinygrad_lm.course.assignments.bugs import BY_NAME
except ImportError:  # a student copy has no bug corpus
    BY_NAME = None

# every planted bug that corrupts an op's backward, and the op blame must name
# (expand_to serves Sum and Mean alike: either is the first to break)
BACKWARD_BUGS = {
    "mul_gradients_swapped": ({"Mul"}, "numpy"),
    "div_sign": ({"Div"}, "numpy"),
    "div_no_square": ({"Div"}, "numpy"),
    "expand_forgets_reduced_axes": ({"Sum", "Mean"}, "numpy"),
    "max_ties_get_full_gradient": ({"Max"}, "numpy"),
    "matmul_grad_not_transposed": ({"MatMul"}, "numpy"),
    "matmul_grad_b_transposed": ({"MatMul"}, "numpy"),
    "linear_dw_transposed": ({"Linear"}, "numpy"),
    "getitem_assigns_repeated_indices": ({"GetItem"}, "numpy"),
    "softmax_backward_no_scale": ({"Softmax"}, "numba"),
    "layernorm_backward_no_mean_term": ({"LayerNorm"}, "numba"),
    "layernorm_dweight_overwritten": ({"LayerNorm"}, "numba"),
    # a forward bug whose backward (the biased-variance formula) no longer matches it
    "layernorm_unbiased_variance": ({"LayerNorm"}, "numba"),
}
# bugs in the engine's chain rule: every op passes alone, and blame says so
ENGINE_BUGS = ["shared_grad_overwritten", "no_unbroadcast"]


def _run_with_bug(tmp_path, name, backend):
    bug = BY_NAME[name]
    copy = tmp_path / "pkg"
    shutil.copytree(os.path.join(ROOT, "tinygrad_lm"), copy / "tinygrad_lm",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / bug.path
    text = target.read_text(encoding="utf-8")
    assert text.count(bug.old) == 1, f"bug {name} no longer applies to {bug.path}"
    target.write_text(text.replace(bug.old, bug.new), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(copy), NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, os.path.join(HERE, "blame_composite.py"), backend],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1].split()


@pytest.mark.skipif(BY_NAME is None, reason="needs the planted-bug corpus (reference repo)")
@pytest.mark.parametrize("name", sorted(BACKWARD_BUGS))
def test_blame_names_the_planted_op(tmp_path, name):
    ops, backend = BACKWARD_BUGS[name]
    words = _run_with_bug(tmp_path, name, backend)
    assert words[0] == "BLAME", words
    assert words[1] in ops, f"{name}: blamed {words[1]}, planted in {ops}"
    assert "blame_composite.py:" in words[2], words  # the line of the composite


@pytest.mark.skipif(BY_NAME is None, reason="needs the planted-bug corpus (reference repo)")
@pytest.mark.parametrize("name", ENGINE_BUGS)
def test_engine_bugs_blame_no_op(tmp_path, name):
    words = _run_with_bug(tmp_path, name, "numpy")
    assert words[0] == "CLEAN", words
    assert "how the engine combines them" in " ".join(words)


def test_the_reference_composite_passes():
    sys.path.insert(0, HERE)
    try:
        import blame_composite
    finally:
        sys.path.remove(HERE)
    rng = np.random.default_rng(0)
    shapes = [(4, 5), (5, 3), (5, 6), (6,), (6,), (6,)]
    inputs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    tg.gradcheck(blame_composite.composite, inputs, mode="fast")
    found, n = blame_mod.blame(blame_composite.composite, inputs)
    assert found is None and n >= 10


def _broken_softmax_backward(ctx, g):
    (y,) = ctx.saved  # forgets the scale, as a student might
    return y * (g - (g * y).sum(-1, keepdims=True))


def test_gpt_gradcheck_names_softmax_and_the_attention_line(monkeypatch):
    from tinygrad_lm.nn.gpt import GPT, GPTConfig
    monkeypatch.setattr(neural.Softmax, "backward", staticmethod(_broken_softmax_backward))
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8,
                          fused=False)).to(np.float64)
    idx = tg.Tensor(np.array([[1, 2, 3, 4]]))
    params = model.parameters()[:3]
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda *p: model(idx)[0].sum(), params, mode="fast")
    last = str(info.value).splitlines()[-1]
    assert "first wrong op: Softmax.backward (ops/neural.py) called at nn/attention.py:" in last
    assert "input 0 (1, 2, 4, 4): max rel err" in last
    line = int(last.split("nn/attention.py:")[1].split()[0])
    with open(os.path.join(ROOT, "tinygrad_lm", "nn", "attention.py"), encoding="utf-8") as f:
        assert "softmax" in f.read().splitlines()[line - 1].lower()


def test_blame_reports_a_backward_that_raises(monkeypatch):
    def crash(ctx, g):
        raise ValueError("operands could not be broadcast")
    monkeypatch.setattr(neural.Softmax, "backward", staticmethod(crash))
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    found, _ = blame_mod.blame(lambda x: (x * 2.0).softmax(-1) * 3.0, [x])
    assert found.op == "Softmax" and found.input_index == 0 and found.input_shape == (2, 3)
    assert "backward raised ValueError: operands could not be broadcast" in str(found)
    assert "test_blame.py:" in found.called_at  # this file: the lambda applied the op


def test_blame_leaves_random_ops_and_the_callers_generator_alone():
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    x = tg.Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    calls = blame_mod.record(lambda x: tg.functional.dropout(x, 0.5, rng=rng) * 2.0, [x])
    rng.bit_generator.state = state  # recording ran the forward once, as gradcheck does
    for call in calls:
        assert blame_mod.check_call(call, np.random.default_rng(0)) is None
    assert rng.bit_generator.state == state


def test_gradcheck_without_blame_is_unchanged(monkeypatch):
    monkeypatch.setattr(neural.Softmax, "backward", staticmethod(_broken_softmax_backward))
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda x: tg.functional.softmax(x, scale=0.5), [x], blame=False)
    assert "first wrong op" not in str(info.value)


def test_unwritten_code_is_not_blamed(monkeypatch):
    def unwritten(ctx, g):
        raise NotImplementedError("Assignment 3.2: not written yet")
    monkeypatch.setattr(neural.Softmax, "backward", staticmethod(unwritten))
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(NotImplementedError) as info:
        tg.gradcheck(lambda x: x.softmax(-1), [x])
    assert not getattr(info.value, "__notes__", [])


def test_a_crashing_backward_gets_the_blame_as_a_note(monkeypatch):
    def crash(ctx, g):
        raise ValueError("operands could not be broadcast")
    monkeypatch.setattr(neural.Softmax, "backward", staticmethod(crash))
    x = tg.Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    with pytest.raises(ValueError) as info:
        tg.gradcheck(lambda x: (x * 2.0).softmax(-1), [x])
    if hasattr(info.value, "add_note"):
        note = info.value.__notes__[-1]
        assert note.startswith("first wrong op: Softmax.backward (ops/neural.py) called at ")
        assert "test_blame.py:" in note
