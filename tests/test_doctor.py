"""`tinygrad-lm doctor`: the facts it prints and its verdicts on broken set-ups."""

import sys
import types

import numpy as np
import pytest

from tinygrad_lm import doctor, kernels
from tinygrad_lm.cli import main


def test_this_machine(capsys):
    code = main(["doctor"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "tinygrad-lm doctor (paste this whole block when you ask for help)"
    for label in ("python", "tinygrad_lm", "numpy", "numba", "cpu", "threads"):
        assert any(line.startswith(f"{label:<12}") for line in lines), label
    assert "BLAS:" in out and "logical cores" in out
    verdicts = [line for line in lines if line.startswith("  ")]
    assert [v.split(":")[0].split(maxsplit=1)[1] for v in verdicts] == [
        "numpy", "numba", "numba JIT", "numba cache", "kernels", "extras"]
    assert code == (1 if any(v.split()[0] == "FAIL" for v in verdicts) else 0)
    if kernels.numba_available():
        assert "  ok    kernels: 8 Numba kernels agree with the NumPy references" in out


def test_a_broken_cache_fails_with_the_fix(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))
    v = doctor.check_cache(types.SimpleNamespace())
    assert v.status == "FAIL"
    assert v.detail.startswith(f"NUMBA_CACHE_DIR={blocker / 'numba'} is not writable")
    assert v.fix == "export NUMBA_CACHE_DIR=$HOME/.cache/numba (any folder you can write)"
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "  FAIL  numba cache: NUMBA_CACHE_DIR=" in out
    assert out.splitlines()[-1] == "broken: numba cache (fix those first)"


def test_missing_numba_is_a_warning_with_the_fix(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now fails
    facts, verdicts = doctor.run_checks()
    by_item = {v.item: v for v in verdicts}
    assert dict(facts)["numba"] == "not importable"
    assert by_item["numba"].status == "warn"
    assert by_item["numba"].detail.startswith("not importable: the NumPy backend runs instead")
    assert by_item["numba"].fix.startswith("pip install numba")
    assert by_item["numba JIT"].detail == "skipped: no numba"
    assert by_item["kernels"].status == "warn"
    assert "FAIL" not in doctor.report(facts, verdicts)


def test_a_jit_that_does_not_compile_fails():
    def njit(fn):
        raise RuntimeError("LLVM ERROR: Cannot select intrinsic")
    fake = types.SimpleNamespace(njit=njit, __version__="0.60.0")
    v = doctor.check_jit(fake)
    assert v.status == "FAIL"
    assert v.detail == ("compiling a one-line function failed: RuntimeError: LLVM ERROR: "
                        "Cannot select intrinsic")
    assert "pip install -U --force-reinstall numba llvmlite" in v.fix


def test_an_old_numba_fails():
    assert doctor.check_numba(types.SimpleNamespace(__version__="0.51.2")).status == "FAIL"


def test_disabled_jit_warns(monkeypatch):
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    v = doctor.check_numba(types.SimpleNamespace(__version__="0.60.0"))
    assert v.status == "warn" and v.fix == "unset NUMBA_DISABLE_JIT"


@pytest.mark.skipif(not kernels.numba_available(), reason="needs numba")
def test_a_kernel_that_disagrees_is_named(monkeypatch):
    import numba

    from tinygrad_lm.kernels import numba_cpu

    def wrong_softmax(x, scale=1.0, causal=False):
        return np.zeros_like(x)
    monkeypatch.setattr(numba_cpu, "softmax_forward", wrong_softmax)
    v = doctor.check_kernels(numba)
    assert v.status == "FAIL" and v.detail.startswith("softmax_forward differs")


def test_missing_extras_name_the_install_line(monkeypatch):
    real = doctor.importlib.util.find_spec
    monkeypatch.setattr(doctor.importlib.util, "find_spec",
                        lambda name: None if name == "jupytext" else real(name))
    v = doctor.check_extras()
    assert v.status == "warn" and "lessons: missing jupytext" in v.detail
    assert v.fix.startswith('pip install -e ".[test,lessons]"')
