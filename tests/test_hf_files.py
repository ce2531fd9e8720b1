"""hf_files.py and the loading path it serves: a model built without initialising, filled from
files tensor by tensor, holding its weights once (peak memory of a fresh process)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

import tinygrad_lm as tg
from tinygrad_lm.formats.weights import safetensors_header, safetensors_tensors
from tinygrad_lm.io.export import export_hf
from tinygrad_lm.io.hf_files import PretrainedError, read_hf_config
from tinygrad_lm.io.pretrained import pretrained_model
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.tokenizers import BPETokenizer

CFG = dict(vocab_size=300, block_size=16, n_layer=2, n_head=2, n_embd=16)
IDX = np.array([[1, 5, 7, 200, 3]])


def trained(**kw):
    model = GPT(GPTConfig(**{**CFG, **kw}), seed=3)
    rng = np.random.default_rng(4)
    for p in model.parameters():
        p.data += (rng.standard_normal(p.shape) * 0.1).astype(p.dtype)
    return model


def test_init_false_builds_the_same_shapes_without_drawing_weights():
    config = GPTConfig(**CFG)
    empty, random = GPT(config, init=False), GPT(config)
    assert [(n, p.shape, p.dtype) for n, p in empty.named_parameters()] == \
        [(n, p.shape, p.dtype) for n, p in random.named_parameters()]
    assert empty.lm_head is None and empty.transformer.wte.weight is not None
    np.testing.assert_array_equal(GPT(config).transformer.wte.weight.data,
                                  random.transformer.wte.weight.data)  # init=True unchanged


def test_load_state_dict_assign_takes_the_arrays_themselves():
    model = GPT(GPTConfig(**CFG), init=False)
    state = {k: v.astype(np.float64) for k, v in trained().state_dict().items()}
    model.load_state_dict(state, assign=True)
    wte = model.transformer.wte.weight
    assert wte.data is state["transformer.wte.weight"] and wte.dtype == np.float64
    copied = GPT(GPTConfig(**CFG)).to(np.float64)
    copied.load_state_dict(state)  # the default: copies into the model's own arrays
    assert copied.transformer.wte.weight.data is not state["transformer.wte.weight"]
    np.testing.assert_array_equal(model(IDX)[0].data, copied(IDX)[0].data)
    bad = {**state, "transformer.ln_f.bias": np.zeros(16, np.int64)}
    with pytest.raises(ValueError, match="transformer.ln_f.bias is int64, not floating point"):
        GPT(GPTConfig(**CFG), init=False).load_state_dict(bad, assign=True)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_file_fills_every_weight(tmp_path, suffix, dtype):
    model = trained().to(dtype)
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    back = GPT.from_file(path)
    assert back.transformer.wte.weight.dtype == dtype
    np.testing.assert_array_equal(back(IDX)[0].data, model(IDX)[0].data)
    back.transformer.wte.weight.data[0, 0] += 1  # writable, and the head is still tied to it
    assert back(IDX)[0].data[0, 0, 0] != model(IDX)[0].data[0, 0, 0]


def test_safetensors_tensors_reads_each_range_and_skips(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.float64),
              "c": np.array([True, False]), "d": np.zeros((0, 3), np.float16)}
    path = str(tmp_path / "t.safetensors")
    save_file(arrays, path, metadata={"k": "v"})
    header, meta, start = safetensors_header(path)
    assert meta == {"k": "v"} and set(header) == set(arrays) and start % 8 == 0
    back = dict(safetensors_tensors(path, skip=lambda name: name == "b"))
    assert set(back) == {"a", "c", "d"}
    for name, a in back.items():
        assert a.dtype == arrays[name].dtype and a.flags.writeable
        np.testing.assert_array_equal(a, arrays[name])


def test_gpt_from_pretrained_is_the_model_alone(tmp_path):
    tok = BPETokenizer([], special_tokens={"<|endoftext|>": 256})
    model = trained(tie_weights=False, vocab_size=257)
    export_hf(model, tok, str(tmp_path / "hf"))
    back = pretrained_model(tmp_path / "hf")
    assert isinstance(back, GPT) and not back.training and back.config.dropout == 0.0
    np.testing.assert_array_equal(back(IDX)[0].data, model(IDX)[0].data)
    both, tok_back = tg.from_pretrained(str(tmp_path / "hf"), dropout=0.1)
    assert both.config.dropout == 0.1 and tok_back.special_tokens == tok.special_tokens
    assert pretrained_model(tmp_path / "hf", dtype=np.float64).lm_head.weight.dtype == \
        np.float64
    assert read_hf_config(str(tmp_path / "hf"))["tie_weights"] is False
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "n_layer": 0}))
    with pytest.raises(PretrainedError, match=r"config.json'.*n_layer must be positive"):
        pretrained_model(tmp_path / "hf")


# ---- memory: the weights are held once --------------------------------------------------------
WIDE = dict(vocab_size=50257, block_size=64, n_layer=1, n_head=4, n_embd=256)  # ~53 MB


def _peak_mb_of_loading(code: str) -> tuple[float, float]:
    """(resident MB before loading, peak MB) of a fresh process running `code`."""
    script = ("import numpy as np, tinygrad_lm as tg\n"
              "def status(key):\n"
              "    for line in open('/proc/self/status'):\n"
              "        if line.startswith(key + ':'):\n"
              "            return int(line.split()[1]) / 1024\n"
              "before = status('VmRSS')\n" + code + "\nprint(before, status('VmHWM'))")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(tg.__file__))}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    before, peak = map(float, out.stdout.split())
    return before, peak


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
def test_loading_holds_the_weights_once(tmp_path):
    """Before, GPT(config) drew random weights and then the file's replaced them (2.45x the
    weights at GPT-2 small); built with init=False the peak is the weights plus small change."""
    model = GPT(GPTConfig(**WIDE))
    weights_mb = sum(p.data.nbytes for p in model.parameters()) / 2 ** 20
    model.save(str(tmp_path / "m.safetensors"))
    export_hf(model, BPETokenizer([], special_tokens={"<|endoftext|>": 50256}),
              str(tmp_path / "hf"))
    del model
    for code in (f"tg.GPT.from_file({str(tmp_path / 'm.safetensors')!r})",
                 f"tg.from_pretrained({str(tmp_path / 'hf')!r})"):
        before, peak = _peak_mb_of_loading(code)
        assert peak - before < 1.4 * weights_mb, (code, before, peak, weights_mb)
