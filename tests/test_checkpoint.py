"""Checkpoint files: round trip, atomic writes, and clear errors for bad files."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_lm.formats.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

from .waiting import read_until


def payload(value=1.0):
    return {"step": 3, "name": "x", "weights": {"w": np.full((2, 3), value, np.float32)},
            "list": [np.arange(3), {"k": 2.5}], "rng": {"state": {"state": 2 ** 100}}}


def test_round_trip(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(str(path), payload())
    back = load_checkpoint(str(path))
    assert back["step"] == 3 and back["name"] == "x" and back["rng"]["state"]["state"] == 2 ** 100
    np.testing.assert_array_equal(back["weights"]["w"], payload()["weights"]["w"])
    assert back["weights"]["w"].dtype == np.float32
    np.testing.assert_array_equal(back["list"][0], np.arange(3))


def test_exception_during_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(str(path), payload(1.0))

    def explode(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(str(path), payload(2.0))
    monkeypatch.undo()
    assert load_checkpoint(str(path))["weights"]["w"][0, 0] == 1.0
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_sigkill_during_save_loop_leaves_a_loadable_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(str(path), payload(0.0))
    script = textwrap.dedent(f"""
        import numpy as np, sys
        from tinygrad_lm.formats.checkpoint import save_checkpoint
        big = {{"w": np.zeros((512, 1024), np.float32)}}
        i = 0
        while True:
            i += 1
            big["w"][:] = i
            save_checkpoint({str(path)!r}, {{"i": i, "weights": big}})
            print("saved", i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    read_until(proc, lambda line: line.split() == ["saved", "3"])  # killed within save 4 or 5
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    back = load_checkpoint(str(path))
    w = back["weights"]["w"] if "weights" in back else None
    if w is not None:  # a complete checkpoint from some iteration i: every value equals i
        assert np.all(w == back["i"])
    assert [f for f in os.listdir(tmp_path) if f.endswith(".npz")] == ["ckpt.npz"]


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"this is not a zip file", "truncated or not"),
])
def test_bad_files_are_named(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(str(path))
    assert "bad.npz" in str(info.value)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(str(path), payload())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="ckpt.npz"):
        load_checkpoint(str(path))


def test_foreign_npz_and_missing_file(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a tinygrad_lm checkpoint"):
        load_checkpoint(str(path))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(str(tmp_path / "nope.npz"))
