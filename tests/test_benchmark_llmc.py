"""benchmarks/llmc.py without llm.c: the checkpoint it writes has llm.c's layout (read back by a
NumPy reader of that layout, every tensor compared, and a forward pass in llm.c's conventions
giving our loss), and the script skips cleanly when there is no llm.c checkout."""

import os
import sys

import numpy as np
import pytest

import tinygrad_lm as tg

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
# benchmarks/ only while llmc imports: left on sys.path, its kernels.py would hide any package
# named `kernels` that a later test's library imports (transformers does)
_path = list(sys.path)
sys.path.insert(0, BENCHMARKS)
import llmc  # noqa: E402

sys.path[:] = _path

V, MAXT, L, NH, C = 70, 16, 2, 2, 8  # V pads to 128


@pytest.fixture
def model():
    return tg.GPT(tg.GPTConfig(vocab_size=V, block_size=MAXT, n_layer=L, n_head=NH, n_embd=C),
                  seed=3)


def test_checkpoint_layout_round_trip(model, tmp_path):
    path = str(tmp_path / "model.bin")
    llmc.write_checkpoint(model, path)
    header = np.fromfile(path, np.int32, 256)
    assert list(header[:8]) == [20240326, 3, MAXT, V, L, NH, C, 128] and not header[8:].any()
    fields, t = llmc.read_checkpoint(path)
    assert fields == {"maxT": MAXT, "V": V, "L": L, "NH": NH, "C": C, "Vp": 128}
    sd = model.state_dict()
    np.testing.assert_array_equal(t["wte"][:V], sd["transformer.wte.weight"])
    assert t["wte"].shape == (128, C) and not t["wte"][V:].any()
    np.testing.assert_array_equal(t["wpe"], sd["transformer.wpe.weight"])
    for i in range(L):
        h = f"transformer.h.{i}."
        # llm.c's matrices are (out, in); ours (in, out)
        for name, key in (("qkvw", "attn.c_attn"), ("attprojw", "attn.c_proj"),
                          ("fcw", "mlp.c_fc"), ("fcprojw", "mlp.c_proj")):
            np.testing.assert_array_equal(t[name][i], sd[h + key + ".weight"].T)
            np.testing.assert_array_equal(t[name[:-1] + "b"][i], sd[h + key + ".bias"])
        for name, key in (("ln1", "ln_1"), ("ln2", "ln_2")):
            np.testing.assert_array_equal(t[name + "w"][i], sd[h + key + ".weight"])
            np.testing.assert_array_equal(t[name + "b"][i], sd[h + key + ".bias"])
    np.testing.assert_array_equal(t["lnfw"], sd["transformer.ln_f.weight"])
    np.testing.assert_array_equal(t["lnfb"], sd["transformer.ln_f.bias"])
    assert t["qkvw"].shape == (L, 3 * C, C) and t["fcprojw"].shape == (L, C, 4 * C)


def llmc_forward_loss(t: dict, x: np.ndarray, y: np.ndarray) -> float:
    """train_gpt2.c's gpt2_forward in float64, from the checkpoint's tensors: q, k, v at
    channel offsets 0, C, 2C of the qkv row, head h at h * hs, y = x W^T + b."""
    t = {k: v.astype(np.float64) for k, v in t.items()}
    B, T = x.shape
    hs = C // NH

    def ln(h, w, b):
        mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
        return (h - mu) / np.sqrt(var + 1e-5) * w + b

    res = t["wte"][x] + t["wpe"][:T]
    for i in range(L):
        qkv = ln(res, t["ln1w"][i], t["ln1b"][i]) @ t["qkvw"][i].T + t["qkvb"][i]
        q, k, v = (qkv[..., j * C:(j + 1) * C].reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
                   for j in range(3))
        att = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs)
        att = np.where(np.tril(np.ones((T, T), bool)), att, -np.inf)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        a = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        res = res + a @ t["attprojw"][i].T + t["attprojb"][i]
        h = ln(res, t["ln2w"][i], t["ln2b"][i]) @ t["fcw"][i].T + t["fcb"][i]
        h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))
        res = res + h @ t["fcprojw"][i].T + t["fcprojb"][i]
    logits = (ln(res, t["lnfw"], t["lnfb"]) @ t["wte"].T)[..., :V]  # the padded rows dropped
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, y[..., None], -1).mean())


def test_checkpoint_computes_our_loss(model, tmp_path):
    path = str(tmp_path / "model.bin")
    llmc.write_checkpoint(model, path)
    _, tensors = llmc.read_checkpoint(path)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (2, 12)), rng.integers(0, V, (2, 12))
    _, loss = model(x, y)
    assert llmc_forward_loss(tensors, x, y) == pytest.approx(loss.item(), rel=1e-5)


def test_checkpoint_refusals(model, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        llmc.write_checkpoint(model, str(path))
    assert path.read_bytes() == b"mine"
    relu = tg.GPT(tg.GPTConfig(vocab_size=V, block_size=MAXT, n_layer=1, n_head=NH, n_embd=C,
                               activation="relu", tie_weights=False))
    with pytest.raises(ValueError, match="activation = 'relu'.*tie_weights = False"):
        llmc.write_checkpoint(relu, str(tmp_path / "relu.bin"))
    good = str(tmp_path / "good.bin")
    llmc.write_checkpoint(model, good)
    with open(good, "rb") as f:
        data = f.read()
    (tmp_path / "short.bin").write_bytes(data[:-4])
    with pytest.raises(ValueError, match="header"):
        llmc.read_checkpoint(str(tmp_path / "short.bin"))
    (tmp_path / "magic.bin").write_bytes(b"\0" * 4 + data[4:])
    with pytest.raises(ValueError, match="magic"):
        llmc.read_checkpoint(str(tmp_path / "magic.bin"))


def test_script_skips_without_llmc(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("LLMC_DIR", raising=False)
    assert llmc.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "skipped: no llm.c checkout: pass --llmc-dir DIR or set LLMC_DIR" in out
    monkeypatch.setenv("LLMC_DIR", str(tmp_path))
    assert llmc.main(["--quick"]) == 0
    assert "is not an llm.c checkout (no train_gpt2.c, llmc/utils.h)" in capsys.readouterr().out
    (tmp_path / "llmc").mkdir()
    (tmp_path / "train_gpt2.c").write_text("")
    (tmp_path / "llmc" / "utils.h").write_text("")
    monkeypatch.setattr(llmc.shutil, "which", lambda name: None)
    assert llmc.main(["--llmc-dir", str(tmp_path), "--quick"]) == 0
    assert "skipped: no C compiler on PATH" in capsys.readouterr().out


@pytest.mark.skipif(not any(map(llmc.shutil.which, ("gcc", "cc", "clang"))),
                    reason="no C compiler")
def test_script_skips_when_llmc_does_not_compile(tmp_path, capsys):
    (tmp_path / "llmc").mkdir()
    (tmp_path / "train_gpt2.c").write_text("#error not llm.c\n")
    (tmp_path / "llmc" / "utils.h").write_text("")
    assert llmc.main(["--llmc-dir", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "llmc.py skipped: compiling with" in out and "failed" in out
