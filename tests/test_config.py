"""TrainConfig: types, presets, and command-line overrides."""

import numpy as np
import pytest

from tinygrad_lm.cli import build_parser
from tinygrad_lm.nn.gpt import GPTConfig
from tinygrad_lm.training.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    apply_overrides,
    flag_types,
    help_table,
    make_config,
)


def test_overrides_are_type_checked():
    cfg = apply_overrides(TrainConfig(), ["--lr=0.01", "--n_layer", "3", "--bias=false"])
    assert cfg.lr == 0.01 and cfg.model.n_layer == 3 and cfg.model.bias is False
    with pytest.raises(ConfigError, match="--n_layer: expected int, got 'two'"):
        apply_overrides(TrainConfig(), ["--n_layer=two"])


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ConfigError, match="unknown option --learning_rate; valid keys:.*lr"):
        apply_overrides(TrainConfig(), ["--learning_rate=1"])
    with pytest.raises(ConfigError, match=r"--max_iter \(did you mean --max_iters\?\)"):
        apply_overrides(TrainConfig(), ["--max_iter=10"])
    with pytest.raises(ConfigError, match=r"'grammer' \(did you mean grammar\?\)"):
        make_config("grammer")


def test_wrong_type_in_constructor_and_range_checks():
    with pytest.raises(ConfigError, match="TrainConfig.batch_size must be int"):
        TrainConfig(batch_size="8")
    with pytest.raises(ConfigError, match="not divisible"):
        apply_overrides(TrainConfig(), ["--n_embd=10", "--n_head=4"])
    with pytest.raises(ConfigError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ConfigError, match="TrainConfig.tokenizer must be one of"):
        TrainConfig(tokenizer="words")


def test_presets_and_round_trip():
    for name in PRESETS:
        cfg = make_config(name)
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    sh = make_config("shakespeare-char")
    m = sh.model
    assert (m.n_layer, m.n_head, m.n_embd, m.block_size, sh.batch_size) == (4, 4, 128, 64, 12)
    assert m.bias is False and sh.max_iters == 2000
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config("huge")


def test_model_settings_live_once_in_a_nested_gptconfig():
    cfg = make_config("tiny", ["--n_layer=3", "--model.n_embd=32", "--activation=relu"])
    assert isinstance(cfg.model, GPTConfig)
    assert (cfg.model.n_layer, cfg.model.n_embd, cfg.model.activation) == (3, 32, "relu")
    assert not {"n_layer", "block_size", "dropout", "extra"} & set(vars(cfg))
    with pytest.raises(ConfigError, match="set by the tokenizer"):
        apply_overrides(cfg, ["--vocab_size=10"])
    with pytest.raises(ConfigError, match="GPTConfig.dropout must be in"):
        apply_overrides(cfg, ["--dropout=1.5"])


def test_an_older_flat_config_still_loads():
    flat = {k: v for k, v in make_config("tiny").to_dict().items() if k != "model"}
    flat.update(n_layer=2, n_head=2, n_embd=8, block_size=8, bias=False, extra={})
    cfg = TrainConfig.from_dict(flat)
    assert (cfg.model.n_layer, cfg.model.n_embd, cfg.model.bias) == (2, 8, False)


def test_help_lists_every_key_with_type_default_and_meaning():
    table = help_table()
    for key, kind in flag_types().items():
        line = next(line for line in table.splitlines() if line.split()[0] == f"--{key}")
        assert kind.__name__ in line and len(line.split()) >= 4, line
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    assert "--early_stop_patience" in train.format_help()


def test_a_field_is_declared_once_with_its_help_and_check():
    """GPTConfig's and TrainConfig's fields carry their own meaning (option(...)): the --help
    table prints that text, and wrong values fail at the field with the class, field and value
    named (a wrong type is both a ConfigError and a TypeError)."""
    from dataclasses import fields

    from tinygrad_lm.nn.options import ConfigTypeError, field_help
    for cls in (GPTConfig, TrainConfig):
        meanings = field_help(cls)
        assert all(meanings[f.name] for f in fields(cls)), meanings
    table = help_table()
    line = next(line for line in table.splitlines() if line.split()[0] == "--n_embd")
    assert line.endswith("model: " + field_help(GPTConfig)["n_embd"])
    tiny = dict(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4)
    with pytest.raises(ConfigTypeError, match="GPTConfig.n_layer must be int, got str '2'"):
        GPTConfig(**{**tiny, "n_layer": "2"})
    assert issubclass(ConfigTypeError, TypeError) and issubclass(ConfigTypeError, ConfigError)
    with pytest.raises(ConfigError, match=r"GPTConfig.activation must be one of \['gelu_tanh'"):
        GPTConfig(**{**tiny, "activation": "tanh"})
    with pytest.raises(ConfigError, match="GPTConfig.n_head must be positive, got 0"):
        GPTConfig(**{**tiny, "n_head": 0})
    cfg = TrainConfig(lr=1, batch_size=np.int64(3))  # an int for a float, a NumPy int
    assert type(cfg.lr) is float and type(cfg.batch_size) is int


def test_the_cli_parses_the_flags_once(monkeypatch):
    from tinygrad_lm import cli
    from tinygrad_lm.training import config
    calls, built = [], []

    def counting(args):
        calls.append(list(args))
        return config.parse_overrides(args)
    monkeypatch.setattr(cli, "parse_overrides", counting)
    monkeypatch.setattr(cli, "Trainer", lambda cfg, overwrite: built.append(cfg))
    args = build_parser().parse_known_args(["train", "--overwrite", "--n_embd=32",
                                            "--init_from=hf_dir", "--dataset", "addition"])
    cli._trainer_for(*args)
    assert len(calls) == 1
    cfg = built[0]
    assert (cfg.model.n_embd, cfg.init_from, cfg.dataset) == (32, "hf_dir", "addition")
    assert cfg.max_iters == PRESETS["addition"]["max_iters"]  # --dataset picks its preset


def test_the_docs_cli_page_reads_the_same_meanings():
    import importlib.util
    import os
    from dataclasses import fields

    from tinygrad_lm.nn.options import field_help
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "hooks", "cli_md.py")
    spec = importlib.util.spec_from_file_location("cli_md_under_test", path)
    cli_md = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli_md)
    page = cli_md.cli_markdown()
    for cls in (TrainConfig, GPTConfig):
        for f in fields(cls):
            meaning = field_help(cls)[f.name].replace("|", "\\|")
            assert f"| `{f.name}` | `{f.type}` | " in page and f"| {meaning} |" in page, f.name
    assert "--early_stop_patience" in page
