"""Model weights in files: `.npz` always, `.safetensors` when that package is installed.

The model's config travels inside the file (a JSON string), so `load_model(path)` can rebuild
the GPT without being told its shape. Training checkpoints (optimizer, RNG states...) are a
different format: see checkpoint.py.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from .checkpoint import write_atomic

CONFIG_KEY = "__config__"


def _kind(path: str) -> str:
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
                          "pip install 'tinygrad_lm[safetensors]' (or use a .npz file)") from None
    return st


def save_weights(model, path: str) -> None:
    """Write the model's state dict and config to `path` (.npz or .safetensors), atomically."""
    arrays = {k: np.ascontiguousarray(v) for k, v in model.state_dict().items()}
    config = json.dumps(model.config.to_dict())
    if _kind(path) == "npz":
        write_atomic(path, lambda f: np.savez(f, **arrays, **{CONFIG_KEY: np.array(config)}))
    else:
        data = _safetensors().save(arrays, metadata={"config": config})
        write_atomic(path, lambda f: f.write(data))


def read_weights(path: str) -> tuple[dict[str, np.ndarray], dict | None]:
    """(arrays, config dict or None) from a weights file, with errors naming the file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    kind = _kind(path)
    try:
        if kind == "npz":
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != CONFIG_KEY}
                config = json.loads(str(data[CONFIG_KEY])) if CONFIG_KEY in data.files else None
            return arrays, config
        st = _safetensors()
        arrays = st.load_file(path)
        with open(path, "rb") as f:  # the header: 8-byte length, then JSON with __metadata__
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        meta = header.get("__metadata__", {})
        return arrays, json.loads(meta["config"]) if "config" in meta else None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise ValueError(f"weights file {path!r} is truncated or not a weights file "
                         f"({type(e).__name__}: {e})") from None


def load_weights(model, path: str, strict: bool = True) -> None:
    """Load a weights file into an existing model (names and shapes must match)."""
    arrays, _ = read_weights(path)
    model.load_state_dict(arrays, strict=strict)


def load_model(path: str):
    """Rebuild a GPT from a weights file written by save_weights."""
    from .nn.gpt import GPT, GPTConfig
    arrays, config = read_weights(path)
    if config is None:
        raise ValueError(f"weights file {path!r} holds no model config; build the GPT yourself "
                         "and call load_weights(model, path)")
    model = GPT(GPTConfig.from_dict(config))
    model.load_state_dict(arrays)
    return model
