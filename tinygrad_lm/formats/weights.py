"""Model weights in files: `.npz` and `.safetensors`.

    save_weights(model, "model.npz")     # the state dict, plus the GPTConfig as JSON
    model = GPT.from_file("model.npz")   # rebuilds the GPT from the file's config
    load_weights(other, "model.npz")     # into an existing model: names and shapes must match

This module knows file formats, not models: it reads and writes state dicts and a config dict,
so nn/gpt.py can use it without an import cycle.

A `.safetensors` file is read one tensor at a time, each straight from its byte range of the
file into an array of its own (safetensors_tensors): nothing holds the whole file on top of the
arrays, so reading a model costs the weights' size once. The safetensors library checks the
header first (a length past the end of the file, offsets that overlap or leave gaps, a size that
disagrees with a shape), so no byte range is trusted before it is checked.

Arrays are stored under their state-dict names (transformer.h.0.attn.c_attn.weight, ...) in our
layout (Linear weights (in, out)); see interop.py for PyTorch's. Training checkpoints (optimizer
moments, RNG states, ...) are a different format: see checkpoint.py.

Every float array read is checked to be finite (check_finite): a weight holding NaN would
otherwise load without a word and make every logit NaN, and generation would then emit token 0
forever. Every reader of weights (this module, io/loader.py, io/interop.py, io/pretrained.py)
calls it, naming the file.
"""

from __future__ import annotations

import json
import os

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save

from .checkpoint import write_atomic

CONFIG_KEY = "__config__"


class NonFiniteWeightsError(ValueError):
    """A weight holds NaN or infinite values: the file is corrupt or the run that wrote it
    diverged."""


def non_finite(array: np.ndarray) -> str | None:
    """What is wrong with a float array ("3 NaN values", "1 NaN and 2 infinite values"), or
    None when every value is finite (and for non-float arrays).

    The common case costs one float64 sum and no temporary array: NaN and infinity propagate
    through a sum, so a finite sum means finite values (float64 holds any sum of float32s; a
    float64 sum that overflows is counted exactly and comes out clean)."""
    if array.dtype.kind not in "fc":
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array, dtype=np.complex128 if array.dtype.kind == "c"
                              else np.float64)):
            return None
    nan = int(np.count_nonzero(np.isnan(array)))
    inf = int(np.count_nonzero(np.isinf(array)))
    parts = [f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else ""]
    if not nan and not inf:
        return None
    return " and ".join(p for p in parts if p) + (" values" if nan + inf > 1 else " value")


def check_finite(arrays, where: str) -> None:
    """Raise NonFiniteWeightsError naming `where` (the file) and the first parameter of
    `arrays` ({name: array}) holding NaN or infinity, and how many others do."""
    bad = [(name, problem) for name, a in arrays.items()
           if (problem := non_finite(np.asarray(a))) is not None]
    if bad:
        name, problem = bad[0]
        others = "" if len(bad) == 1 else f" (and {len(bad) - 1} more parameter" + \
            ("s)" if len(bad) > 2 else ")")
        raise NonFiniteWeightsError(
            f"{where}: parameter {name} holds {problem}{others}: the file is corrupt or the "
            "run diverged; retrain or load an earlier checkpoint")


def _kind(path: str) -> str:
    path = os.fspath(path)
    if path.endswith(".npz"):
        return "npz"
    if path.endswith(".safetensors"):
        return "safetensors"
    raise ValueError(f"weights file {path!r}: use a .npz or .safetensors file name")


# safetensors dtype -> NumPy's (the format is little-endian); BF16 and the FP8s have none.
SAFETENSORS_DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "U8": "u1", "I8": "i1",
                      "I16": "<i2", "I32": "<i4", "I64": "<i8", "BOOL": "?"}


def safetensors_header(path: str) -> tuple[dict[str, dict], dict, int]:
    """({name: {"dtype", "shape", "data_offsets"}}, metadata, where the data starts) of a
    .safetensors file, once the safetensors library has checked it (SafetensorError if not)."""
    with safe_open(path, framework="numpy"):  # parses and checks the header, reads no tensor
        pass
    with open(path, "rb") as f:  # the checked header: an 8-byte length, then JSON
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", None) or {}
    return header, meta, 8 + n


def safetensors_tensors(path: str, skip=lambda name: False):
    """(name, array) for each tensor of a .safetensors file (in the file's order), each read
    from its byte range into a fresh array: one tensor's worth of memory at a time. Tensors for
    which skip(name) is true are not read at all. A dtype NumPy cannot hold is a ValueError."""
    header, _, start = safetensors_header(path)
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        if skip(name):
            continue
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"weights file {path!r}: tensor {name!r} is {entry['dtype']}, which "
                             "NumPy cannot hold; save the model in float32")
        begin, end = entry["data_offsets"]
        count = (end - begin) // np.dtype(dtype).itemsize
        array = np.fromfile(path, dtype=dtype, count=count, offset=start + begin)
        yield name, array.reshape(entry["shape"])


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
        data = save(arrays, metadata=None if config is None else {"config": config})
        write_atomic(path, lambda f: f.write(data))


def read_weights(path: str) -> tuple[dict[str, np.ndarray], dict | None]:
    """(arrays, config dict or None) from a weights file, with errors naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist")
    kind = _kind(path)
    try:
        if kind == "npz":
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != CONFIG_KEY}
                config = json.loads(str(data[CONFIG_KEY])) if CONFIG_KEY in data.files else None
        else:
            arrays = dict(safetensors_tensors(path))
            meta = safetensors_header(path)[1]
            config = json.loads(meta["config"]) if "config" in meta else None
    except Exception as e:  # zip, pickle, JSON and safetensors' own errors all mean the same
        raise ValueError(f"weights file {path!r} is truncated or not a weights file "
                         f"({type(e).__name__}: {e})") from None
    check_finite(arrays, f"weights file {path!r}")
    return arrays, config


def load_weights(model, path: str, strict: bool = True):
    """Load a weights file into an existing model (names and shapes must match)."""
    arrays, _ = read_weights(path)
    return load_into(model, arrays, path, strict)


def load_into(model, arrays, path, strict: bool = True, assign: bool = False):
    """model.load_state_dict(arrays), with errors naming the file the arrays came from."""
    try:
        return model.load_state_dict(arrays, strict=strict, assign=assign)
    except (KeyError, ValueError) as e:
        raise type(e)(f"weights file {os.fspath(path)!r}: {e.args[0]}") from None


def torch_load_safely(path: str, what: str, *, missing_torch: type[Exception],
                      unreadable: type[Exception], fix: str):
    """What a torch.save file holds, read only through torch.load(weights_only=True).

    A .bin / .pt file is a pickle, and unpickling can run code: torch's weights_only loader
    builds tensors and plain containers and refuses anything else. `what` names the file in
    the errors ("weights file", "nanoGPT checkpoint"); `fix` is what the user can do instead.
    Without torch: missing_torch; a refused, truncated or damaged file: unreadable."""
    try:
        import torch
    except ImportError:
        raise missing_torch(f"{what} {path!r} is a PyTorch pickle: reading it safely needs "
                            f"torch's weights_only loader (pip install torch), or {fix}") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # an unpickling refusal, a truncated zip, ...: all mean the same
        raise unreadable(f"{what} {path!r} cannot be read safely ({type(e).__name__}: {e}); "
                         f"{fix}") from None

