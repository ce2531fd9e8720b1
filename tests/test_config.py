"""TrainConfig: types, presets, and command-line overrides."""

import pytest

from tinygrad_lm.config import PRESETS, ConfigError, TrainConfig, apply_overrides, make_config


def test_overrides_are_type_checked():
    cfg = apply_overrides(TrainConfig(), ["--lr=0.01", "--n_layer", "3", "--bias=false"])
    assert cfg.lr == 0.01 and cfg.n_layer == 3 and cfg.bias is False
    with pytest.raises(ConfigError, match="--n_layer: expected int, got 'two'"):
        apply_overrides(TrainConfig(), ["--n_layer=two"])


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ConfigError, match="unknown option --learning_rate; valid keys:.*lr"):
        apply_overrides(TrainConfig(), ["--learning_rate=1"])


def test_wrong_type_in_constructor_and_range_checks():
    with pytest.raises(ConfigError, match="'batch_size' must be int"):
        TrainConfig(batch_size="8")
    with pytest.raises(ConfigError, match="not divisible"):
        TrainConfig(n_embd=10, n_head=4)
    with pytest.raises(ConfigError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)
    with pytest.raises(ConfigError, match="'tokenizer' must be one of"):
        TrainConfig(tokenizer="words")


def test_presets_and_round_trip():
    for name in PRESETS:
        cfg = make_config(name)
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    sh = make_config("shakespeare-char")
    assert (sh.n_layer, sh.n_head, sh.n_embd, sh.block_size, sh.batch_size) == (4, 4, 128, 64, 12)
    assert sh.bias is False and sh.max_iters == 2000
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config("huge")
