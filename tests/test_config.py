"""TrainConfig: types, presets, and command-line overrides."""

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
    with pytest.raises(ConfigError, match="'batch_size' must be int"):
        TrainConfig(batch_size="8")
    with pytest.raises(ConfigError, match="not divisible"):
        apply_overrides(TrainConfig(), ["--n_embd=10", "--n_head=4"])
    with pytest.raises(ConfigError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ConfigError, match="'tokenizer' must be one of"):
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
