"""Configuration fields declared once: a dataclass field's type, default, one-line meaning and
check sit together, and `check_fields` enforces them when the config is made.

    n_layer: int = option(REQUIRED, "number of Transformer blocks", positive)
    lr: float = option(2e-3, "peak learning rate (after warmup)", positive)

GPTConfig (gpt.py) and TrainConfig (training/config.py) are declared this way. The command
line reads the same fields: their types parse its flags, and `field_help` gives the meaning
that `train --help` and the documentation's CLI page print. A plain field's meaning is the
`# comment` that ends its line (`fused: bool = True  # ...`).
"""

from __future__ import annotations

import inspect
import io
import tokenize
from dataclasses import MISSING, field, fields

import numpy as np

REQUIRED = MISSING  # option(REQUIRED, ...): a field without a default


class ConfigError(ValueError):
    """A configuration value out of range, or an unknown key."""


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type (a TypeError too)."""


def option(default, help: str, check=None):
    """A config field: its default (REQUIRED for none), its one-line meaning and (optionally)
    its check, a function of the value returning what is wrong with it, or None."""
    return field(default=default, metadata={"help": help, "check": check})


# ---- checks, attached to the fields they check ---------------------------------------------
def positive(value):
    """Check: > 0."""
    return None if value > 0 else "must be positive"


def non_negative(value):
    """Check: >= 0."""
    return None if value >= 0 else "must be >= 0"


def above_one(value):
    """Check: > 1."""
    return None if value > 1 else "must be > 1"


def open_unit(value):
    """Check: strictly between 0 and 1."""
    return None if 0 < value < 1 else "must be in (0, 1)"


def probability_below_one(value):
    """Check: in [0, 1) (a dropout rate: 1 would drop everything)."""
    return None if 0 <= value < 1 else "must be in [0, 1)"


def one_of(*choices):
    """Check: one of `choices`."""
    def check(value):
        return None if value in choices else f"must be one of {list(choices)}"
    return check


# ---- reading the declarations ---------------------------------------------------------------
TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def field_type(f) -> type | None:
    """The field's type when it is int, float, str or bool (as a flag can give), else None."""
    return TYPES.get(f.type) if isinstance(f.type, str) else (
        f.type if f.type in TYPES.values() else None)


def _coerce(kind: type, value):
    """value as `kind`, or None when it is not one: NumPy scalars become Python's (they would
    not survive json.dumps), an int where a float is declared becomes a float; bool is not
    taken for a number."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value) if kind is bool else None
    if kind is int and isinstance(value, (int, np.integer)):
        return int(value)
    if kind is float and isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return value if kind is str and isinstance(value, str) else None


def check_fields(cfg) -> None:
    """Each int, float, str or bool field of the dataclass `cfg`: its type (converting as
    `_coerce` says), then the check declared with it. Raises ConfigTypeError or ConfigError
    naming the class, the field, the problem and the value."""
    owner = type(cfg).__name__
    for f in fields(cfg):
        kind = field_type(f)
        if kind is None:
            continue
        value = getattr(cfg, f.name)
        typed = _coerce(kind, value)
        if typed is None:
            raise ConfigTypeError(f"{owner}.{f.name} must be {kind.__name__}, got "
                                  f"{type(value).__name__} {value!r}")
        setattr(cfg, f.name, typed)
        check = f.metadata.get("check")
        problem = check(typed) if check else None
        if problem:
            raise ConfigError(f"{owner}.{f.name} {problem}, got {typed!r}")


def field_help(cls) -> dict[str, str]:
    """Field name -> its one-line meaning: the `help` of an `option`, else the `# comment` that
    ends the line declaring the field in the class body (or '' without either)."""
    comments = {}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = ""
    last_name, last_line = None, -1
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4:
            last_name, last_line = tok.string, tok.start[0]
        elif tok.type == tokenize.COMMENT and tok.start[0] == last_line and tok.start[1] > 4:
            comments[last_name] = tok.string.lstrip("# ").strip()
    return {f.name: f.metadata.get("help") or comments.get(f.name, "") for f in fields(cls)}
