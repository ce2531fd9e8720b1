"""nanoGPT's ckpt.pt both ways: read back with torch's weights_only loader (never plain pickle),
and, when nanoGPT's source is at hand, its own train.py resuming a checkpoint we exported.

nanoGPT is not vendored: point NANOGPT_DIR at a clone (or put one at ../nanoGPT beside the repo)
to run the last test; it also needs torch. Everything here skips cleanly without them."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_lm as tg
from tests.test_interop import nanogpt_in_torch
from tinygrad_lm.io.export import export_nanogpt
from tinygrad_lm.io.interop import read_nanogpt
from tinygrad_lm.io.loader import load_any
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.training import optim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = dict(vocab_size=97, block_size=32, n_layer=2, n_head=2, n_embd=32)
IDX = np.array([[1, 5, 7, 60, 3, 96]])


def nanogpt_dir():
    for d in (os.environ.get("NANOGPT_DIR"), os.path.join(ROOT, "..", "nanoGPT")):
        if d and all(os.path.isfile(os.path.join(d, f)) for f in ("train.py", "model.py",
                                                                     "configurator.py")):
            return d
    return None


def nanogpt_style_checkpoint(torch, path, dtype=None):
    """A ckpt.pt as nanoGPT's train.py writes one: best_val_loss a 0-d tensor, the tied head
    stored under both names, the config of its globals."""
    c = GPTConfig(**CFG, activation="gelu")
    torch.manual_seed(0)
    theirs = nanogpt_in_torch(torch, c).float()
    state = theirs.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) for k, v in state.items()}
    torch.save({"model": state, "optimizer": {}, "iter_num": 40,
                "model_args": {**{k: CFG[k] for k in ("n_layer", "n_head", "n_embd",
                                                      "block_size", "vocab_size")},
                               "bias": True, "dropout": 0.0},
                "best_val_loss": torch.tensor(2.5), "config": {"learning_rate": 6e-4}}, path)
    return theirs


def test_a_nanogpt_checkpoint_reads_back(tmp_path):
    torch = pytest.importorskip("torch")
    path = str(tmp_path / "ckpt.pt")
    theirs = nanogpt_style_checkpoint(torch, path)
    ours, info = read_nanogpt(path)
    assert info == {"iter_num": 40, "best_val_loss": 2.5, "config": {"learning_rate": 6e-4}}
    assert ours.config.activation == "gelu" and ours.config.tie_weights
    with torch.no_grad():
        want = theirs(torch.from_numpy(IDX), torch.from_numpy(IDX))[0].numpy()
    np.testing.assert_allclose(ours(IDX)[0].data, want, rtol=1e-5, atol=1e-5)
    loaded = load_any(str(tmp_path))  # nanoGPT's out_dir, as tinygrad_lm.load reads it
    assert loaded.step == 40 and loaded.tokenizer is None and not loaded.model.training
    np.testing.assert_array_equal(loaded.model(IDX)[0].data, ours(IDX)[0].data)
    nanogpt_style_checkpoint(torch, path + "16", torch.bfloat16)  # half-precision weights
    half, _ = read_nanogpt(path + "16")
    assert half.transformer.wte.weight.dtype == np.float32


def test_bad_nanogpt_checkpoints(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"model": {"x": Exploit()}, "model_args": {}}, str(tmp_path / "evil.pt"))
    with pytest.raises(ValueError, match="evil.pt' cannot be read safely"):
        read_nanogpt(str(tmp_path / "evil.pt"))
    torch.save({"model": {}}, str(tmp_path / "other.pt"))
    with pytest.raises(ValueError, match="other.pt' is not a nanoGPT checkpoint"):
        read_nanogpt(str(tmp_path / "other.pt"))
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="cut.pt' cannot be read safely"):
        tg.load(str(tmp_path / "cut.pt"))
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ImportError, match="needs torch's weights_only loader"):
        read_nanogpt(str(tmp_path / "other.pt"))


def test_nanogpts_own_train_py_resumes_our_export(tmp_path):
    """nanoGPT's train.py --init_from=resume on CPU continues our run (weights, AdamW moments,
    step) and writes a ckpt.pt that reads back here with nanoGPT's logits."""
    torch = pytest.importorskip("torch")
    source = nanogpt_dir()
    if source is None:
        pytest.skip("nanoGPT's source is not here: set NANOGPT_DIR to a clone of "
                    "github.com/karpathy/nanoGPT")
    for f in ("train.py", "model.py", "configurator.py"):
        shutil.copy(os.path.join(source, f), tmp_path)
    data = (np.arange(4000) * 7 % 97).astype(np.uint16)  # a pattern to learn
    (tmp_path / "data" / "tiny").mkdir(parents=True)
    data[:3600].tofile(tmp_path / "data" / "tiny" / "train.bin")
    data[3600:].tofile(tmp_path / "data" / "tiny" / "val.bin")
    model = GPT(GPTConfig(**CFG, activation="gelu"), seed=0)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3,
                      betas=(0.9, 0.95))
    x = np.stack([data[i:i + 32] for i in range(0, 256, 32)]).astype(np.int64)  # (8, 32)
    y = np.stack([data[i + 1:i + 33] for i in range(0, 256, 32)]).astype(np.int64)
    for _ in range(2):
        opt.zero_grad()
        model(x, y)[1].backward()
        opt.step()
    (tmp_path / "out").mkdir()
    export_nanogpt(model, str(tmp_path / "out" / "ckpt.pt"), iter_num=2,
                   adam_moments=optim.moments_by_name(model, opt.state_dict()),
                   config={"learning_rate": 1e-3})
    run = subprocess.run(
        [sys.executable, "train.py", "--init_from=resume", "--out_dir=out", "--dataset=tiny",
         "--device=cpu", "--compile=False", "--dtype=float32", "--eval_interval=2",
         "--eval_iters=2", "--max_iters=4", "--batch_size=4", "--block_size=32",
         "--gradient_accumulation_steps=1", "--learning_rate=1e-3", "--decay_lr=False",
         "--bias=True"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Resuming training from out" in run.stdout and "step 4:" in run.stdout
    ckpt = torch.load(tmp_path / "out" / "ckpt.pt", weights_only=True)
    assert ckpt["iter_num"] == 4
    assert {float(s["step"]) for s in ckpt["optimizer"]["state"].values()} == {4.0}  # 2 + 2
    back, info = read_nanogpt(str(tmp_path / "out" / "ckpt.pt"))
    assert info["iter_num"] == 4
    assert not np.array_equal(back.transformer.wte.weight.data, model.transformer.wte.weight.data)
    sys.path.insert(0, str(tmp_path))
    try:
        import model as nanogpt_model  # nanoGPT's own model.py
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("model", None)
    theirs = nanogpt_model.GPT(nanogpt_model.GPTConfig(**ckpt["model_args"]))
    theirs.load_state_dict(ckpt["model"])
    theirs.eval()
    with torch.no_grad():
        want = theirs(torch.from_numpy(IDX), torch.from_numpy(IDX))[0].numpy()
    np.testing.assert_allclose(back(IDX)[0].data, want, rtol=1e-4, atol=1e-5)
