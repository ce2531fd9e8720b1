"""Training configuration: a typed dataclass, named presets, and `--key=value` overrides."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields


class ConfigError(ValueError):
    """A configuration value of the wrong type, out of range, or an unknown key."""


@dataclass
class TrainConfig:
    # data
    dataset: str = "grammar"        # a built-in dataset; ignored when `data` is set
    data: str = ""                  # path to a UTF-8 text file
    tokenizer: str = "char"         # "char" or "bpe"
    bpe_vocab_size: int = 512
    val_fraction: float = 0.1
    n_examples: int = 20000         # built-in datasets: sentences or problems to generate
    digits: int = 2                 # built-in addition: digits per operand
    # model
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    norm_position: str = "pre"
    # optimisation
    batch_size: int = 16
    max_iters: int = 1000
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 50
    lr_decay_iters: int = 1000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    dtype: str = "float32"
    # bookkeeping
    eval_interval: int = 250
    eval_iters: int = 20
    log_interval: int = 10
    health_interval: int = 50
    checkpoint_interval: int = 250
    sample_tokens: int = 200
    seed: int = 1337
    out_dir: str = "out"
    progress: bool = True
    detect_anomaly: bool = False
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known and k != "extra"})


_POSITIVE = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "eval_interval",
             "eval_iters", "log_interval", "health_interval", "checkpoint_interval",
             "bpe_vocab_size", "n_examples", "digits")
_CHOICES = {"tokenizer": ("char", "bpe"), "dtype": ("float32", "float64"),
            "norm_position": ("pre", "post")}


def validate(cfg: TrainConfig) -> None:
    for f in fields(cfg):
        if f.name == "extra":
            continue
        value, kind = getattr(cfg, f.name), _type_of(f)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(cfg, f.name, float(value))
            ok = True
        if not ok:
            raise ConfigError(f"config field {f.name!r} must be {kind.__name__}, got "
                              f"{type(value).__name__} {value!r}")
    for name in _POSITIVE:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"config field {name!r} must be > 0, got {getattr(cfg, name)}")
    for name, choices in _CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise ConfigError(f"config field {name!r} must be one of {choices}, got "
                              f"{getattr(cfg, name)!r}")
    if cfg.n_embd % cfg.n_head:
        raise ConfigError(f"n_embd={cfg.n_embd} is not divisible by n_head={cfg.n_head}")
    if not 0 < cfg.val_fraction < 1:
        raise ConfigError(f"val_fraction must be in (0, 1), got {cfg.val_fraction}")
    if not 0 <= cfg.dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {cfg.dropout}")
    if cfg.max_iters < 0 or cfg.warmup_iters < 0 or cfg.lr_decay_iters < 0:
        raise ConfigError("max_iters, warmup_iters and lr_decay_iters must be >= 0")
    if cfg.lr <= 0 or cfg.min_lr < 0 or cfg.min_lr > cfg.lr:
        raise ConfigError(f"need 0 <= min_lr <= lr and lr > 0, got lr={cfg.lr}, "
                          f"min_lr={cfg.min_lr}")


def _type_of(f) -> type:
    names = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict}
    return names[f.type] if isinstance(f.type, str) else f.type


# Named configurations. `shakespeare-char` is nanoGPT's published CPU recipe.
PRESETS: dict[str, dict] = {
    "grammar": dict(dataset="grammar", n_layer=3, n_head=4, n_embd=96, block_size=64,
                    batch_size=32, max_iters=3000, lr=3e-3, min_lr=3e-4, warmup_iters=50,
                    lr_decay_iters=3000, eval_interval=500, checkpoint_interval=500),
    "addition": dict(dataset="addition", n_layer=2, n_head=4, n_embd=64, block_size=32,
                     batch_size=32, max_iters=2500, lr=3e-3, min_lr=3e-4, warmup_iters=100,
                     lr_decay_iters=2500, eval_interval=500, checkpoint_interval=500),
    "shakespeare-char": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12,
                             max_iters=2000, lr=1e-3, min_lr=1e-4, warmup_iters=100,
                             lr_decay_iters=2000, beta1=0.9, beta2=0.99, weight_decay=0.1,
                             grad_clip=1.0, dropout=0.0, bias=False, eval_interval=250,
                             eval_iters=20, checkpoint_interval=250),
    "tiny": dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, max_iters=20,
                 lr=1e-2, min_lr=1e-3, warmup_iters=2, lr_decay_iters=20, eval_interval=10,
                 eval_iters=2, checkpoint_interval=10, sample_tokens=20, n_examples=300,
                 progress=False),
}


def _parse_value(name: str, text: str, kind: type):
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        raise ConfigError(f"--{name}: expected {kind.__name__}, got {text!r}") from None


def apply_overrides(cfg: TrainConfig, args: list[str]) -> TrainConfig:
    """`--key=value` (or `--key value`) for any TrainConfig field, type-checked."""
    types = {f.name: _type_of(f) for f in fields(cfg) if f.name != "extra"}
    updates, i = {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}; options look like --key=value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        if key not in types:
            raise ConfigError(f"unknown option --{key}; valid keys: {', '.join(sorted(types))}")
        if not eq:
            if types[key] is bool and (i + 1 >= len(args) or args[i + 1].startswith("--")):
                value = "true"
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise ConfigError(f"--{key} needs a value")
        updates[key] = _parse_value(key, value, types[key])
        i += 1
    return dataclasses.replace(cfg, **updates)


def make_config(preset: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    base = TrainConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        base = dataclasses.replace(base, **PRESETS[preset])
    else:
        base = dataclasses.replace(base, **PRESETS["grammar"])
    return apply_overrides(base, overrides or [])
