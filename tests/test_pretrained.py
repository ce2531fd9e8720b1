"""Hugging Face GPT-2 directories in and out, nanoGPT's ckpt.pt out, and every bad directory.

The directories are built here: random weights, tokenizer files written by our own code."""

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tinygrad_lm as tg
from tinygrad_lm.io.export import ExportError, export_hf, export_nanogpt, hf_state_dict
from tinygrad_lm.io.hf_files import PretrainedError, read_hf_config
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.tokenizers import BPETokenizer, CharTokenizer

TEXT = "the cat sat on the mat. the dog sat on the log! " * 30
CFG = dict(vocab_size=301, block_size=32, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(scope="module")
def tok():
    merges = BPETokenizer.train(TEXT, 300).merges
    return BPETokenizer(merges, special_tokens={"<|endoftext|>": 300})


def model_with(dtype=np.float64, **kw):
    """A model far from its init, so that a weight put in the wrong place would show."""
    model = GPT(GPTConfig(**{**CFG, **kw}), seed=1).to(dtype)
    rng = np.random.default_rng(2)
    for p in model.parameters():
        p.data += (rng.standard_normal(p.shape) * 0.1).astype(dtype)
    return model


def ids_of(tok, text="the cat sat on the log"):
    return np.array([tok.encode(text)])


@pytest.fixture
def hf_dir(tmp_path, tok):
    out = str(tmp_path / "hf")
    export_hf(model_with(), tok, out)
    return out


# ---- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, dict(tie_weights=False), dict(bias=False),
                                dict(activation="gelu")], ids=["tied", "untied", "nobias", "erf"])
def test_export_then_from_pretrained_gives_equal_logits(tmp_path, tok, kw):
    model = model_with(**kw)
    written = export_hf(model, tok, str(tmp_path / "hf"))
    assert sorted(os.path.basename(p) for p in written) == [
        "config.json", "merges.txt", "model.safetensors", "special_tokens_map.json",
        "tokenizer.json", "tokenizer_config.json", "vocab.json"]
    back, back_tok = tg.from_pretrained(str(tmp_path / "hf"))
    assert not back.training and back.transformer.wte.weight.dtype == np.float64
    assert back.config.tie_weights == model.config.tie_weights
    idx = ids_of(tok)
    np.testing.assert_array_equal(back(idx)[0].data, model(idx)[0].data)
    assert back_tok.encode(TEXT) == tok.encode(TEXT)
    assert back_tok.special_tokens == {"<|endoftext|>": 300}
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["eos_token_id"] == 300


def test_directory_written_as_transformers_does(tmp_path, tok):
    """Names without the transformer. prefix, mask buffers, a stored tied head: all fine."""
    model = model_with(np.float32)
    sd = {k.removeprefix("transformer."): v for k, v in hf_state_dict(model).items()}
    for i in range(CFG["n_layer"]):
        sd[f"h.{i}.attn.bias"] = np.tril(np.ones((1, 1, 32, 32), np.float32))
        sd[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    sd["lm_head.weight"] = sd["wte.weight"]
    d = tmp_path / "gpt2"
    d.mkdir()
    save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, str(d / "model.safetensors"),
              metadata={"format": "pt"})
    (d / "config.json").write_text(json.dumps({
        "model_type": "gpt2", "vocab_size": 301, "n_positions": 32, "n_embd": 16, "n_layer": 2,
        "n_head": 2, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}))
    tok.save_tiktoken(str(d / "gpt2.tiktoken"))  # the tokenizer as a ranks file this time
    back, back_tok = tg.from_pretrained(str(d))
    idx = ids_of(tok)
    np.testing.assert_array_equal(back(idx)[0].data, model(idx)[0].data)
    assert back.transformer.wte.weight.dtype == np.float32
    assert back_tok.encode(TEXT, allowed_special="all") == tok.encode(TEXT)


def test_char_tokenizer_and_float32_export(tmp_path):
    chars = CharTokenizer.from_text(TEXT)
    model = model_with(np.float32, vocab_size=chars.vocab_size)
    export_hf(model, chars, str(tmp_path / "hf"))
    config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    back, back_chars = tg.from_pretrained(str(tmp_path / "hf"))
    assert back_chars == chars
    idx = np.array([chars.encode("the dog")])
    np.testing.assert_array_equal(back(idx)[0].data, model(idx)[0].data)
    transformers = pytest.importorskip("transformers")
    theirs = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    assert theirs.encode("the dog") == idx[0].tolist()
    assert theirs.decode(idx[0].tolist()) == "the dog"


def test_export_never_overwrites(tmp_path, tok, hf_dir):
    with pytest.raises(ExportError, match="not empty; export never overwrites"):
        export_hf(model_with(), tok, hf_dir)
    with pytest.raises(ExportError, match="post-LN"):
        export_hf(model_with(norm_position="post"), tok, str(tmp_path / "post"))


# ---- the reference implementations --------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, dict(tie_weights=False)], ids=["tied", "untied"])
def test_exported_directory_loads_in_transformers(tmp_path, tok, kw):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model = model_with(**kw)
    export_hf(model, tok, str(tmp_path / "hf"))
    theirs = transformers.GPT2LMHeadModel.from_pretrained(str(tmp_path / "hf"),
                                                          dtype=torch.float64).eval()
    their_tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "hf"))
    text = "the cat sat on the log<|endoftext|>the dog"
    idx = np.array([tok.encode(text, allowed_special="all")])
    assert their_tok.encode(text) == idx[0].tolist()
    with torch.no_grad():
        want = theirs(torch.from_numpy(idx)).logits.numpy()
    np.testing.assert_allclose(model(idx)[0].data, want, rtol=1e-10, atol=1e-12)


def test_transformers_directory_loads_here(tmp_path, tok):
    """A directory written by transformers' own save_pretrained."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    theirs = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=301, n_positions=32, n_embd=16, n_layer=2, n_head=2)).eval()
    theirs.save_pretrained(str(tmp_path / "hf"))
    tok.save_hf(str(tmp_path / "hf"))
    ours, _ = tg.from_pretrained(str(tmp_path / "hf"), dtype=np.float64)
    idx = ids_of(tok)
    with torch.no_grad():
        want = theirs.double()(torch.from_numpy(idx)).logits.numpy()
    np.testing.assert_allclose(ours(idx)[0].data, want, rtol=1e-5, atol=1e-6)  # float32 weights


def test_pytorch_model_bin_is_read_with_weights_only(tmp_path, tok, hf_dir):
    torch = pytest.importorskip("torch")
    arrays = load_file(os.path.join(hf_dir, "model.safetensors"))
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    torch.save({k: torch.from_numpy(v) for k, v in arrays.items()},
               os.path.join(hf_dir, "pytorch_model.bin"))
    model, _ = tg.from_pretrained(hf_dir)
    idx = ids_of(tok)
    np.testing.assert_allclose(model(idx)[0].data, model_with()(idx)[0].data, atol=1e-5)

    class Exploit:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"wte.weight": Exploit()}, os.path.join(hf_dir, "pytorch_model.bin"))
    with pytest.raises(PretrainedError, match="cannot be read safely"):
        tg.from_pretrained(hf_dir)


# ---- nanoGPT ------------------------------------------------------------------------------------
def test_nanogpt_checkpoint_resumes_in_torch(tmp_path, tok):
    torch = pytest.importorskip("torch")
    from tests.test_interop import nanogpt_in_torch
    from tinygrad_lm.training import optim

    model = model_with(np.float32)
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-3)
    for _ in range(2):
        opt.zero_grad()
        model(ids_of(tok), ids_of(tok))[1].backward()
        opt.step()
    path = str(tmp_path / "ckpt.pt")
    export_nanogpt(model, path, iter_num=2, best_val_loss=3.5,
                   adam_moments=optim.moments_by_name(model, opt.state_dict()),
                   config={"lr": 1e-3, "weight_decay": 0.1})
    ckpt = torch.load(path, weights_only=True)
    assert set(ckpt) == {"model", "model_args", "iter_num", "best_val_loss", "config",
                         "optimizer"}
    assert ckpt["model_args"] == dict(n_layer=2, n_head=2, n_embd=16, block_size=32, bias=True,
                                      vocab_size=301, dropout=0.0)
    assert ckpt["iter_num"] == 2 and ckpt["best_val_loss"] == 3.5
    # what nanoGPT's train.py does with init_from='resume'
    theirs = nanogpt_in_torch(torch, model.config).float()
    theirs.load_state_dict(ckpt["model"])
    params = dict(theirs.named_parameters())
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    their_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    their_opt.load_state_dict(ckpt["optimizer"])
    c_attn = their_opt.state[params["transformer.h.0.attn.c_attn.weight"]]
    ours = opt.state[id(model.transformer.h[0].attn.c_attn.weight)]
    np.testing.assert_array_equal(c_attn["exp_avg"].numpy(), ours["exp_avg"].T)
    assert float(c_attn["step"]) == 2
    idx = ids_of(tok)
    with torch.no_grad():
        want = theirs(torch.from_numpy(idx), torch.from_numpy(idx))[0].numpy()
    np.testing.assert_allclose(model(idx)[0].data, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ExportError, match="already exists"):
        export_nanogpt(model, path)
    with pytest.raises(ExportError, match="export it with --format hf"):
        export_nanogpt(model_with(tie_weights=False), str(tmp_path / "untied.pt"))


# ---- bad directories ----------------------------------------------------------------------------
def _edit_config(hf_dir, **changes):
    path = os.path.join(hf_dir, "config.json")
    config = json.loads(open(path).read())
    config.update(changes)
    with open(path, "w") as f:
        json.dump(config, f)


@pytest.mark.parametrize("changes, message", [
    (dict(model_type="bert"), "model_type is 'bert', not 'gpt2'"),
    (dict(activation_function="silu"), "activation_function 'silu' is not one of"),
    (dict(layer_norm_epsilon=1e-6), "layer_norm_epsilon is 1e-06"),
    (dict(scale_attn_by_inverse_layer_idx=True), "scale_attn_by_inverse_layer_idx is True"),
    (dict(n_inner=10), "n_inner is 10"),
    (dict(n_head=3), "not divisible by n_head=3"),
    (dict(n_embd=32), r"model.safetensors': 'transformer.h.0.\S+' has shape \(\d+,?\d*\) but "
                      r"config.json \(n_layer=2, n_embd=32.*do not belong together"),
])
def test_configs_that_are_not_this_gpt2(hf_dir, changes, message):
    _edit_config(hf_dir, **changes)
    with pytest.raises(PretrainedError, match=message):
        tg.from_pretrained(hf_dir)


def test_missing_files(tmp_path, hf_dir):
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        tg.from_pretrained(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        tg.from_pretrained(str(tmp_path / "nope"))
    for name in ("vocab.json", "tokenizer.json"):
        os.remove(os.path.join(hf_dir, name))
    with pytest.raises(FileNotFoundError, match="no tokenizer in directory.*its tokenizer is not"):
        tg.from_pretrained(hf_dir)
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    with pytest.raises(FileNotFoundError, match="has config.json but no weights"):
        read_hf_config(hf_dir) and tg.from_pretrained(hf_dir)


def _rewrite_header(path, edit):
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def _overlap(header):
    first = header["transformer.wte.weight"]["data_offsets"]
    header["transformer.wpe.weight"]["data_offsets"] = [first[0], first[0] + 32 * 16 * 8]


@pytest.mark.parametrize("damage, message", [
    ("truncate", "damaged or not a safetensors file"),
    ("huge_length", "damaged or not a safetensors file"),
    ("overlap", "damaged or not a safetensors file"),
    ("missing", r"lack 1 tensor\(s\) the config needs, e.g. \['transformer.ln_f.bias'\]"),
    ("foreign", "tensor 'transformer.h.0.crossattention.weight' has no place"),
    ("bfloat16", "is BF16, which NumPy cannot hold"),
])
def test_damaged_weights(hf_dir, damage, message):
    path = os.path.join(hf_dir, "model.safetensors")
    raw = open(path, "rb").read()
    if damage == "truncate":
        open(path, "wb").write(raw[:len(raw) // 2])
    elif damage == "huge_length":  # a length that would allocate exabytes if believed
        open(path, "wb").write((2 ** 62).to_bytes(8, "little") + raw[8:])
    elif damage == "overlap":
        _rewrite_header(path, _overlap)
    else:
        arrays = load_file(path)
        if damage == "missing":
            del arrays["transformer.ln_f.bias"]
        elif damage == "foreign":
            arrays["transformer.h.0.crossattention.weight"] = np.zeros(3)
        save_file(arrays, path)
        if damage == "bfloat16":
            _rewrite_header(path, lambda h: h["transformer.ln_f.bias"].update(dtype="BF16",
                                                                                shape=[64]))
    with pytest.raises(PretrainedError, match=message) as info:
        tg.from_pretrained(hf_dir)
    assert "model.safetensors" in str(info.value)


def test_pytorch_model_bin_without_torch_is_a_clear_error(hf_dir, monkeypatch):
    import sys
    os.remove(os.path.join(hf_dir, "model.safetensors"))
    open(os.path.join(hf_dir, "pytorch_model.bin"), "wb").write(b"PK")
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(PretrainedError, match="needs torch.*convert it to model.safetensors"):
        tg.from_pretrained(hf_dir)


# ---- the command line ---------------------------------------------------------------------------
def test_cli_sample_from_pretrained(hf_dir, tok, capsys):
    from tinygrad_lm.cli import main
    assert main(["sample", "--pretrained", hf_dir, "--prompt", "the cat", "--greedy",
                 "--max-new-tokens", "5"]) == 0
    out = capsys.readouterr().out
    model, _ = tg.from_pretrained(hf_dir)
    want = tg.generate(model, tok.encode("the cat"), 5, greedy=True)
    assert out.strip() == tok.decode(want.tolist()).strip()
    assert main(["sample", "--pretrained", hf_dir, "--prompt", "a<|endoftext|>b"]) == 2
    assert "not allowed" in capsys.readouterr().err
    assert main(["sample", "--pretrained", hf_dir, "--prompt", "a<|endoftext|>b",
                 "--allow-special", "--max-new-tokens", "2"]) == 0
    assert main(["sample", "--pretrained", str(os.path.dirname(hf_dir))]) == 2
    assert "Hugging Face directory" in capsys.readouterr().err
    assert tg.load(hf_dir)[1].encode(TEXT) == tok.encode(TEXT)


def test_cli_export_a_training_checkpoint(tmp_path, capsys):
    from tinygrad_lm.cli import main
    run = str(tmp_path / "run")
    assert main(["train", "--preset", "tiny", f"--out_dir={run}", "--tokenizer=bpe",
                 "--bpe_vocab_size=300"]) == 0
    assert main(["export", "--format", "hf", "--ckpt", run, "--last", str(tmp_path / "hf")]) == 0
    assert "GPT2LMHeadModel.from_pretrained" in capsys.readouterr().out
    back, back_tok = tg.from_pretrained(str(tmp_path / "hf"))
    model, tok = tg.load(os.path.join(run, "ckpt.npz"))
    idx = np.array([tok.encode("the dog")])
    np.testing.assert_allclose(back(idx)[0].data, model(idx)[0].data, rtol=1e-6)
    assert back_tok.encode(TEXT) == tok.encode(TEXT) and back_tok.vocab == tok.vocab
    assert main(["export", "--format", "hf", "--ckpt", run, str(tmp_path / "hf")]) == 2
    assert "never overwrites" in capsys.readouterr().err
    torch = pytest.importorskip("torch")
    assert main(["export", "--format", "nanogpt", "--ckpt", run, "--last",
                 str(tmp_path / "nano")]) == 0
    ckpt = torch.load(str(tmp_path / "nano" / "ckpt.pt"), weights_only=True)
    assert ckpt["iter_num"] == 20 and ckpt["model_args"]["vocab_size"] == 300
    assert len(ckpt["optimizer"]["state"]) == len(list(model.parameters()))


# ---- fine-tuning --------------------------------------------------------------------------------
def test_fine_tuning_a_directory_lowers_the_loss(tmp_path, tok):
    from tinygrad_lm.training.config import make_config
    from tinygrad_lm.training.evaluation import estimate_loss
    from tinygrad_lm.training.trainer import Trainer
    start = model_with(np.float32)
    export_hf(start, tok, str(tmp_path / "hf"))
    (tmp_path / "my.txt").write_text(TEXT + "<|endoftext|>" + TEXT, encoding="utf-8")
    cfg = make_config("finetune", [f"--init_from={tmp_path / 'hf'}", f"--data={tmp_path}/my.txt",
                                   "--block_size=16", "--max_iters=30", "--lr=3e-3",
                                   "--min_lr=3e-4", "--warmup_iters=0", "--batch_size=8",
                                   "--eval_interval=30", "--eval_iters=4", "--progress=false",
                                   "--plots=false", f"--out_dir={tmp_path / 'run'}"])
    trainer = Trainer(cfg, log=lambda _: None)
    assert trainer.model.config == GPTConfig(**{**CFG, "block_size": 16})  # cropped from 32
    assert 300 in trainer.data.dataset.train.tolist()  # <|endoftext|> became its id
    np.testing.assert_array_equal(trainer.model.transformer.h[1].mlp.c_fc.weight.data,
                                  start.transformer.h[1].mlp.c_fc.weight.data)
    before = estimate_loss(trainer.model, trainer.data, trainer.cfg, 0)["val"]
    trainer.train()
    after = estimate_loss(trainer.model, trainer.data, trainer.cfg, 0)["val"]
    assert after < before - 0.3, (before, after)
    model, back_tok = tg.load(str(tmp_path / "run"))  # the run keeps the pretrained tokenizer
    assert back_tok.encode(TEXT) == tok.encode(TEXT) and model.config.block_size == 16
    with pytest.raises(ValueError, match="longer than the 32 positions"):
        Trainer(make_config("finetune", [f"--init_from={tmp_path / 'hf'}", "--block_size=64",
                                         f"--out_dir={tmp_path / 'run2'}"]))


def test_cli_train_init_from_uses_the_finetune_preset(tmp_path, tok, hf_dir, capsys):
    from tinygrad_lm.cli import main
    from tinygrad_lm.io.loader import load_any
    (tmp_path / "my.txt").write_text(TEXT, encoding="utf-8")
    run = str(tmp_path / "ft")
    assert main(["train", "--init-from", hf_dir, "--data", str(tmp_path / "my.txt"),
                 "--max_iters=2", "--block_size=16", "--eval_interval=2", "--eval_iters=1",
                 "--batch_size=2", "--progress=false", "--plots=false", f"--out_dir={run}"]) == 0
    loaded = load_any(run)
    assert loaded.train_config["lr"] == 3e-5 and loaded.train_config["init_from"] == hf_dir
    assert loaded.model.config.block_size == 16 and loaded.model.config.n_embd == 16
