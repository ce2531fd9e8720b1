"""One way to get a trained model back: `tinygrad_lm.load(path)` -> (model, tokenizer).

    model, tok = tinygrad_lm.load("out")             # a run: its best.npz (else its ckpt.npz)
    model, tok = tinygrad_lm.load("out/ckpt.npz")    # a trainer checkpoint
    model, tok = tinygrad_lm.load("model.npz")       # a weights file (GPT.save); tok is None
    model, tok = tinygrad_lm.load("gpt2")            # a Hugging Face GPT-2 or Llama directory
    model, tok = tinygrad_lm.load("out/ckpt.pt")     # nanoGPT's (or its out_dir); tok is None

The model comes back in eval() mode. What `path` holds decides how it is read: each entry of
FORMATS is (name, detect(path) -> bool, read(path) -> Loaded), tried in order; a new kind of
file or directory is one more entry.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field

from ..formats.checkpoint import load_checkpoint
from ..formats.weights import check_finite
from ..nn.gpt import GPT, GPTConfig
from ..tokenizers import Tokenizer, tokenizer_from_dict
from .interop import read_nanogpt
from .pretrained import from_pretrained


@dataclass
class Loaded:
    """What a file gave back: the model, its tokenizer (or None) and, for a trainer
    checkpoint, the file read, the step and the training config as a dict."""
    model: GPT
    tokenizer: Tokenizer | None
    path: str
    step: int | None = None
    train_config: dict | None = None
    info: dict = field(default_factory=dict)


def run_checkpoint(directory: str, which: str = "best") -> str:
    """The checkpoint of a run directory: best.npz (lowest val loss) by default, falling back
    to ckpt.npz when no evaluation has run yet; which="last" gives ckpt.npz."""
    if which not in ("best", "last"):
        raise ValueError(f"which must be 'best' or 'last', got {which!r}")
    best, last = os.path.join(directory, "best.npz"), os.path.join(directory, "ckpt.npz")
    if which == "best" and os.path.exists(best):
        return best
    if os.path.exists(last):
        return last
    raise FileNotFoundError(f"{directory}/ holds no best.npz or ckpt.npz; train first "
                            f"(tinygrad-lm train --out_dir={directory}) or pass a checkpoint "
                            "or weights file")


def _is_run_dir(path: str) -> bool:
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, n)) for n in ("best.npz", "ckpt.npz"))


def _is_checkpoint(path: str) -> bool:
    if not (os.path.isfile(path) and path.endswith(".npz")):
        return False
    try:
        with zipfile.ZipFile(path) as z:
            return "__meta__.npy" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _is_weights(path: str) -> bool:
    return os.path.isfile(path) and path.endswith((".npz", ".safetensors"))


def _is_hf_dir(path: str) -> bool:
    return os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json"))


def _read_hf_dir(path: str) -> Loaded:
    model, tokenizer = from_pretrained(path)
    return Loaded(model, tokenizer, path)


def _read_run_dir(path: str) -> Loaded:
    return _read_checkpoint(run_checkpoint(path))


def _read_checkpoint(path: str) -> Loaded:
    state = load_checkpoint(path)
    try:
        model = GPT(GPTConfig.from_dict(state["model_config"]))
        dtypes = {a.dtype for a in state["model"].values() if a.dtype.kind == "f"}
        if len(dtypes) == 1:
            model.to(dtypes.pop())  # a float64 run comes back float64
        model.load_state_dict(state["model"])
        tokenizer = tokenizer_from_dict(state["tokenizer"]) if state.get("tokenizer") else None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"checkpoint {path!r} does not hold a usable model ({e})") from None
    check_finite(state["model"], f"checkpoint {path!r}")
    return Loaded(model, tokenizer, path, int(state["step"]), state.get("train_config"),
                  {"best_val": state.get("best_val"), "best_step": state.get("best_step")})


def _read_weights(path: str) -> Loaded:
    return Loaded(GPT.from_file(path), None, path)


def _is_nanogpt(path: str) -> bool:
    """A ckpt.pt, or nanoGPT's out_dir holding one."""
    return (os.path.isfile(path) and path.endswith(".pt")) or \
        os.path.isfile(os.path.join(path, "ckpt.pt"))


def _read_nanogpt(path: str) -> Loaded:
    path = os.path.join(path, "ckpt.pt") if os.path.isdir(path) else path
    model, info = read_nanogpt(path)  # torch's weights_only loader, never plain pickle
    return Loaded(model, None, path, info["iter_num"], info["config"],
                  {"best_val": info["best_val_loss"]})


FORMATS: list[tuple[str, object, object]] = [
    ("run directory", _is_run_dir, _read_run_dir),
    ("trainer checkpoint", _is_checkpoint, _read_checkpoint),
    ("weights file", _is_weights, _read_weights),
    ("Hugging Face directory", _is_hf_dir, _read_hf_dir),
    ("nanoGPT checkpoint (ckpt.pt, needs torch)", _is_nanogpt, _read_nanogpt),
]


def load_any(path: str) -> Loaded:
    """Everything `load` knows about what `path` holds (the CLI shows the step and file)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path!r} does not exist; pass a run directory (e.g. out), a "
                                "checkpoint (.npz), a weights file (.npz or .safetensors), a "
                                "Hugging Face GPT-2 or Llama directory or a nanoGPT ckpt.pt")
    for _, detect, read in FORMATS:
        if detect(path):
            loaded = read(path)
            loaded.model.eval()
            return loaded
    kinds = ", ".join(name for name, _, _ in FORMATS)
    raise ValueError(f"{path!r} is none of the things tinygrad_lm can load ({kinds})")


def load(path: str):
    """(model, tokenizer) from a run directory, a trainer checkpoint, a weights file or a
    Hugging Face GPT-2 or Llama directory (pretrained.from_pretrained) or a nanoGPT ckpt.pt; the
    tokenizer is None when the file holds none. The model is in eval() mode."""
    loaded = load_any(path)
    return loaded.model, loaded.tokenizer
