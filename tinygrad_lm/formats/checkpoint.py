"""Checkpoint files: one `.npz` holding arrays plus a JSON header, written atomically.

Layout: every array is an npz entry; everything else (step, configs, tokenizer, RNG states,
scalars of the optimizer state) lives in one JSON document stored under `__meta__`, in which
arrays appear as {"__array__": "<entry name>"} references. No pickle anywhere: a checkpoint
from a stranger cannot run code when loaded.

Atomic write: the file is written to a temporary name in the same directory, flushed and
fsynced, then renamed over the old one. A rename within one filesystem is atomic, so at any
instant the path holds either the complete old checkpoint or the complete new one. A crash, an
exception or SIGKILL in the middle of a save leaves the previous checkpoint untouched.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "tinygrad_lm.formats.checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, foreign or incompatible."""


def _pack(obj, arrays: dict, path: str):
    """Replace every ndarray in a nested structure by a reference; collect the arrays."""
    if isinstance(obj, np.ndarray):
        arrays[path] = obj
        return {"__array__": path}
    if isinstance(obj, dict):
        return {str(k): _pack(v, arrays, f"{path}/{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_pack(v, arrays, f"{path}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _unpack(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _unpack(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unpack(v, arrays) for v in obj]
    return obj


def write_atomic(path: str, write_fn) -> None:
    """Call write_fn(file object) on a temporary file next to `path`, then rename it into place.
    On any exception the temporary file is removed and `path` is left as it was."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def save_checkpoint(path: str, payload: dict) -> None:
    """Write `payload` (nested dicts/lists of JSON values and ndarrays) atomically to `path`."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "payload": _pack(payload, arrays, "p")}
    entries = {f"a{i}": a for i, a in enumerate(arrays.values())}
    names = dict(zip(arrays, entries))
    meta["entries"] = names
    buffer = {"__meta__": np.array(json.dumps(meta))}
    buffer.update(entries)

    def write(f):
        np.savez(f, **buffer)

    write_atomic(path, write)


def load_checkpoint(path: str) -> dict:
    """Read a checkpoint written by save_checkpoint, with errors that name the file."""
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist; train first (tinygrad-lm "
                              "train) or pass the path of an existing ckpt.npz")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint {path!r} is empty (0 bytes): the save never completed;"
                              " delete it and resume from an earlier copy or retrain")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            if "__meta__" not in data.files:
                raise CheckpointError(f"{path!r} is an .npz file but not a tinygrad_lm "
                                      "checkpoint (no __meta__ entry)")
            meta = json.loads(str(data["__meta__"]))
            arrays = {name: data[entry] for name, entry in meta.get("entries", {}).items()}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path!r} is truncated or not a tinygrad_lm checkpoint"
                              f" ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not a tinygrad_lm checkpoint (format "
                              f"{meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path!r} has checkpoint format version {meta.get('version')}, "
                              f"this tinygrad_lm reads version {FORMAT_VERSION}")
    return _unpack(meta["payload"], arrays)
