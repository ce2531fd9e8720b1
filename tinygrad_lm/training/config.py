"""Training configuration: a typed dataclass holding the model's GPTConfig, named presets, and
`--key=value` overrides.

    cfg = make_config("grammar", ["--n_layer=4", "--lr=1e-3"])
    cfg.model.n_layer, cfg.lr        # 4, 0.001

The model's settings live once, in `TrainConfig.model` (a GPTConfig, which validates them).
On the command line they are plain flags like every other key (`--n_layer=4`; the spelling
`--model.n_layer=4` is accepted too). `model.vocab_size` is not a flag: the tokenizer decides
it when the data is prepared (for BPE, ask for a size with `--bpe_vocab_size`).

Each field, here and in GPTConfig, declares its type, default, one-line meaning and its check
together (`option(...)`, nn/options.py); `train --help` prints that table.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields

from ..nn.gpt import GPT, LLAMA, GPTConfig
from ..nn.options import (
    ConfigError,
    check_fields,
    field_help,
    field_type,
    non_negative,
    one_of,
    open_unit,
    option,
    positive,
)


# The model's defaults. vocab_size is replaced by the tokenizer's vocabulary size when the data
# is prepared (Trainer does this), so the value here only matters for a GPTConfig used alone.
def default_model() -> GPTConfig:
    """The GPTConfig a TrainConfig starts from."""
    return GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=4, n_embd=64)


MODEL_FIELDS = tuple(f.name for f in fields(GPTConfig))
NOT_FLAGS = ("vocab_size",)


@dataclass
class TrainConfig:
    """Everything a training run needs: the model (a GPTConfig), data, optimiser, evaluation
    and bookkeeping. Checked when built; see `option` for how each field is declared."""

    model: GPTConfig = field(default_factory=default_model,
                             metadata={"help": "the GPT's settings (flags below)"})
    # data
    dataset: str = option("grammar", "built-in data when --data is not set",
                          one_of("grammar", "addition"))
    data: str = option("", "path to a UTF-8 text file to train on")
    tokenizer: str = option("char", "char (one token per character) or bpe",
                            one_of("char", "bpe"))
    bpe_vocab_size: int = option(512, "vocabulary size to learn with --tokenizer bpe", positive)
    val_fraction: float = option(0.1, "share of the tokens held out for validation", open_unit)
    n_examples: int = option(20000, "built-in data: sentences or problems to generate", positive)
    digits: int = option(2, "built-in addition: digits per operand", positive)
    init_from: str = option("", "fine-tune the Hugging Face GPT-2 in this directory: its "
                            "weights, model settings and tokenizer (block_size crops it)")
    # optimisation
    batch_size: int = option(16, "sequences per step", positive)
    max_iters: int = option(1000, "training steps in total", non_negative)
    lr: float = option(2e-3, "peak learning rate (after warmup)", positive)
    min_lr: float = option(2e-4, "learning rate at the end of the cosine decay", non_negative)
    warmup_iters: int = option(50, "steps of linear warmup", non_negative)
    lr_decay_iters: int = option(1000, "step where the cosine decay reaches min_lr",
                                 non_negative)
    weight_decay: float = option(0.1, "AdamW decoupled weight decay on the blocks' matrices "
                                 "(and on the embeddings with decay_embeddings)", non_negative)
    decay_embeddings: bool = option(False, "decay the token and position embeddings too "
                                    "(nanoGPT's recipe does; GPT-2's does not)")
    beta1: float = option(0.9, "Adam's first-moment decay", open_unit)
    beta2: float = option(0.99, "Adam's second-moment decay", open_unit)
    grad_clip: float = option(1.0, "clip the global gradient norm to this (0 = off)",
                              non_negative)
    dtype: str = option("float32", "float32, or float64 for exact checks",
                        one_of("float32", "float64"))
    # evaluation and stopping
    eval_interval: int = option(250, "steps between evaluations (val loss, sample, best.npz)",
                                positive)
    eval_iters: int = option(20, "batches per split in each evaluation", positive)
    early_stop_patience: int = option(0, "stop after this many evaluations without a new best "
                                      "val loss (0 = never)", non_negative)
    overfit_patience: int = option(2, "warn when val loss rose this many evaluations in a row "
                                   "while train loss fell", positive)
    # bookkeeping
    log_interval: int = option(10, "steps between log.jsonl records", positive)
    health_interval: int = option(50, "steps between per-layer gradient/update statistics",
                                  positive)
    checkpoint_interval: int = option(250, "steps between saves of ckpt.npz", positive)
    sample_tokens: int = option(200, "tokens per sample printed at each evaluation", positive)
    seed: int = option(1337, "seed of the weights, batches, dropout and samples")
    out_dir: str = option("out", "directory of the run's files")
    progress: bool = option(True, "a progress bar on a terminal, plain lines otherwise "
                            "(false: evaluations only)")
    plots: bool = option(True, "draw loss.png, health.png and attention.png at the end")
    detect_anomaly: bool = option(False, "find the first op giving NaN/inf (slow)")

    def __post_init__(self):
        validate(self)

    def to_dict(self) -> dict:
        """JSON-ready: the model as a nested dict."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """From to_dict's output, or from an older checkpoint's flat dict (model fields at the
        top level, no `model`). Keys this version does not know are ignored."""
        known = {f.name for f in fields(cls)} - {"model"}
        model = dict(d.get("model") or {})
        for name in MODEL_FIELDS:
            if name in d and name not in model:
                model[name] = d[name]
        model = {**default_model().to_dict(), **model}
        return cls(model=GPTConfig.from_dict(model), **{k: v for k, v in d.items() if k in known})


def validate(cfg: TrainConfig) -> None:
    """Each field's type and the check declared next to it, then the one rule that ties two
    fields together (min_lr <= lr)."""
    if not isinstance(cfg.model, GPTConfig):
        raise ConfigError(f"TrainConfig.model must be a GPTConfig, got "
                          f"{type(cfg.model).__name__}")
    check_fields(cfg)
    if cfg.min_lr > cfg.lr:
        raise ConfigError(f"need min_lr <= lr, got lr={cfg.lr}, min_lr={cfg.min_lr}")


# Named configurations, in the command line's flag names; `shakespeare-char` is nanoGPT's CPU
# recipe.
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
    # fine-tuning a pretrained GPT-2 (train --init-from DIR picks it): a small, slowly decaying
    # learning rate, so the new text adjusts the model rather than overwriting it, a
    # 256-token window (GPT-2 has 1024; CPU steps are 4x cheaper) and few steps
    "finetune": dict(block_size=256, batch_size=4, max_iters=200, lr=3e-5, min_lr=3e-6,
                     warmup_iters=10, lr_decay_iters=200, weight_decay=0.1, eval_interval=50,
                     eval_iters=10, checkpoint_interval=50, sample_tokens=100),
    # the grammar run with the modern block (RMSNorm, RoPE, SwiGLU, no biases, two key/value
    # heads for the four query heads): `train --preset llama` against `--preset grammar`
    "llama": dict(dataset="grammar", n_layer=3, n_head=4, n_embd=96, block_size=64,
                  batch_size=32, max_iters=3000, lr=3e-3, min_lr=3e-4, warmup_iters=50,
                  lr_decay_iters=3000, eval_interval=500, checkpoint_interval=500,
                  **LLAMA, n_kv_head=2),
    "tiny": dict(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, max_iters=20,
                 lr=1e-2, min_lr=1e-3, warmup_iters=2, lr_decay_iters=20, eval_interval=10,
                 eval_iters=2, checkpoint_interval=10, sample_tokens=20, n_examples=300,
                 progress=False, plots=False),  # for tests and smoke checks: seconds, quiet
}


def flag_types() -> dict[str, type]:
    """Every command-line key and its type: TrainConfig's fields and the model's."""
    types = {f.name: field_type(f) for f in fields(TrainConfig) if f.name != "model"}
    for f in fields(GPTConfig):
        if f.name not in NOT_FLAGS:
            types[f.name] = field_type(f)
    return types


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


def did_you_mean(word: str, choices, prefix: str = "") -> str:
    """' (did you mean --max_iters?)' for the closest choice to a mistyped word, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def parse_overrides(args: list[str]) -> dict:
    """`--key=value` / `--key value` / `--flag` (a bool) into {key: typed value}."""
    types, updates, i = flag_types(), {}, 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}; options look like --key=value")
        key, eq, value = arg[2:].partition("=")
        key = key.replace("-", "_")
        key = key[len("model."):] if key.startswith("model.") else key
        if key in NOT_FLAGS:
            raise ConfigError(f"--{key} is set by the tokenizer; choose a BPE vocabulary with "
                              "--bpe_vocab_size")
        if key not in types:
            raise ConfigError(f"unknown option --{key}{did_you_mean(key, types, '--')}; valid "
                              f"keys: {', '.join(sorted(types))}")
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
    return updates


def replace(cfg: TrainConfig, **updates) -> TrainConfig:
    """A copy of cfg with flag-named updates: model keys go into cfg.model, the rest into cfg.
    The model's own checks report as a ConfigError naming the flag."""
    model_updates = {k: v for k, v in updates.items() if k in MODEL_FIELDS}
    own = {k: v for k, v in updates.items() if k not in MODEL_FIELDS}
    try:
        model = dataclasses.replace(cfg.model, **model_updates)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model setting: {e}") from None
    return dataclasses.replace(cfg, model=model, **own)


def apply_overrides(cfg: TrainConfig, args: list[str]) -> TrainConfig:
    """`--key=value` (or `--key value`) for any flag in flag_types(), type-checked."""
    return replace(cfg, **parse_overrides(args))


def preset_config(preset: str | None = None, updates: dict | None = None) -> TrainConfig:
    """A preset (default: grammar) with typed updates on top, flag name -> value (what
    parse_overrides returns)."""
    preset = "grammar" if preset is None else preset
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}{did_you_mean(preset, PRESETS)}; choose one "
                          f"of {sorted(PRESETS)}")
    return replace(replace(TrainConfig(), **PRESETS[preset]), **(updates or {}))


def make_config(preset: str | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """A preset (default: grammar) with command-line overrides (`--key=value`) on top."""
    return preset_config(preset, parse_overrides(overrides or []))


def help_table(preset: str = "grammar") -> str:
    """Every key with its type, default (in `preset`, what plain `train` uses) and meaning, as
    each field declares it."""
    base = make_config(preset)
    own, model = field_help(TrainConfig), field_help(GPTConfig)
    rows = []
    for f in fields(TrainConfig):
        if f.name == "model":
            rows += [(m.name, field_type(m).__name__, getattr(base.model, m.name),
                      "model: " + model[m.name])
                     for m in fields(GPTConfig) if m.name not in NOT_FLAGS]
        else:
            rows.append((f.name, field_type(f).__name__, getattr(base, f.name), own[f.name]))
    width = max(len(r[0]) for r in rows) + 2
    return "\n".join(f"  --{name:<{width}}{kind:<6}{value!r:<11} {text}"
                     for name, kind, value, text in rows)


# ---- resuming and fine-tuning -------------------------------------------------------------
# What may change when a run is resumed: how long it runs and how it reports. Everything else
# (model, data, optimiser) would make the resumed run a different run.
RESUMABLE = frozenset({"max_iters", "lr_decay_iters", "eval_interval", "eval_iters",
                       "log_interval", "health_interval", "checkpoint_interval", "sample_tokens",
                       "progress", "plots", "detect_anomaly", "early_stop_patience",
                       "overfit_patience", "out_dir"})


def resumed_config(saved: TrainConfig, overrides: dict) -> TrainConfig:
    """The saved config with the flags given on resume; a flag that would change the run
    itself (not only its length or its reporting) is refused, naming both values."""
    current = {**saved.to_dict(), **saved.model.to_dict()}
    changed = {k: v for k, v in overrides.items() if current.get(k) != v}
    refused = sorted(k for k in changed if k not in RESUMABLE)
    if refused:
        details = ", ".join(f"--{k}={changed[k]!r} (the run has {current[k]!r})" for k in refused)
        raise ConfigError(f"cannot change {details} when resuming; a resumed run may only change "
                          f"{', '.join(sorted(RESUMABLE))}. Start a new run (--out_dir=NEW) "
                          "to train with other settings")
    return replace(saved, **changed)


def fine_tuning_config(config: TrainConfig, pretrained: GPT) -> TrainConfig:
    """The config of a run that starts from `pretrained`: its model settings, with the run's
    block_size (a crop: positions past it are dropped) and dropout."""
    have, want = pretrained.config.block_size, config.model.block_size
    if want > have:
        raise ConfigError(f"--block_size={want} is longer than the {have} positions "
                          f"{config.init_from!r} learned; use --block_size={have} or less")
    return dataclasses.replace(config, model=dataclasses.replace(
        pretrained.config, block_size=want, dropout=config.model.dropout))
