"""Model weights in files: `.npz` always, `.safetensors` when that package is installed.

    save_weights(model, "model.npz")     # the state dict, plus the GPTConfig as JSON
    model = GPT.from_file("model.npz")   # rebuilds the GPT from the file's config
    load_weights(other, "model.npz")     # into an existing model: names and shapes must match

This module knows file formats, not models: it reads and writes state dicts and a config dict,
so nn/gpt.py can use it without an import cycle.

Arrays are stored under their state-dict names (transformer.h.0.attn.c_attn.weight, ...) in our
layout (Linear weights (in, out)); see interop.py for PyTorch's. Training checkpoints (optimizer
moments, RNG states, ...) are a different format: see checkpoint.py.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .checkpoint import write_atomic

CONFIG_KEY = "__config__"


def _kind(path: str) -> str:
    path = os.fspath(path)
    if path.endswith(".npz"):
        return "npz"
    if path.endswith(".safetensors"):
        return "safetensors"
    raise ValueError(f"weights file {path!r}: use a .npz or .safetensors file name")


def _safetensors():
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError("reading or writing .safetensors needs the safetensors package: "
                          "pip install safetensors (or use a .npz file)") from None
    return st


def save_weights(model, path: str) -> None:
    """Write the model's state dict (and its config, when it has one) to `path`, atomically:
    an interrupted save never leaves a half-written file under that name."""
    path = os.fspath(path)
    kind = _kind(path)
    arrays = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    config = getattr(model, "config", None)
    config = None if config is None else json.dumps(config.to_dict())
    if kind == "npz":
        extra = {} if config is None else {CONFIG_KEY: np.array(config)}
        write_atomic(path, lambda f: np.savez(f, **arrays, **extra))
    else:
        data = _safetensors().save(arrays, metadata=None if config is None else {"config": config})
        write_atomic(path, lambda f: f.write(data))


def read_weights(path: str) -> tuple[dict[str, np.ndarray], dict | None]:
    """(arrays, config dict or None) from a weights file, with errors naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    kind = _kind(path)
    st = _safetensors() if kind == "safetensors" else None
    try:
        if kind == "npz":
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != CONFIG_KEY}
                config = json.loads(str(data[CONFIG_KEY])) if CONFIG_KEY in data.files else None
            return arrays, config
        arrays = st.load_file(path)
        with open(path, "rb") as f:  # the header: 8-byte length, then JSON with __metadata__
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        meta = header.get("__metadata__") or {}
        return arrays, json.loads(meta["config"]) if "config" in meta else None
    except Exception as e:  # zip, pickle, JSON and safetensors' own errors all mean the same
        raise ValueError(f"weights file {path!r} is truncated or not a weights file "
                         f"({type(e).__name__}: {e})") from None


def load_weights(model, path: str, strict: bool = True):
    """Load a weights file into an existing model (names and shapes must match)."""
    arrays, _ = read_weights(path)
    return load_into(model, arrays, path, strict)


def load_into(model, arrays, path, strict: bool = True):
    """model.load_state_dict(arrays), with errors naming the file the arrays came from."""
    try:
        return model.load_state_dict(arrays, strict=strict)
    except (KeyError, ValueError) as e:
        raise type(e)(f"weights file {os.fspath(path)!r}: {e.args[0]}") from None
