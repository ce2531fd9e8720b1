"""Text in, batches out: loading files, train/val splits, and seeded random batches.

The built-in datasets (a small English-like grammar and addition problems) live in
`datasets.py` and are re-exported here.
"""

from __future__ import annotations

import os

import numpy as np

from .datasets import (  # noqa: F401  (re-exported: the data API in one place)
    BUILTIN_DATASETS,
    addition_corpus,
    addition_split,
    builtin_dataset,
    evaluate_addition,
    format_addition,
    generate_grammar_corpus,
    generate_sentence,
    is_grammatical,
    parse_addition,
)


def load_text(path: str) -> str:
    """Read a UTF-8 text file, with errors that say which file and what is wrong."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file {path!r} does not exist; pass the path of a UTF-8 "
                                "text file (e.g. --data input.txt) or use a built-in --dataset")
    if os.path.isdir(path):
        raise IsADirectoryError(f"data path {path!r} is a directory, not a text file")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ValueError(f"data file {path!r} is empty")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"data file {path!r} is not valid UTF-8 (bad byte at offset "
                         f"{e.start}); convert it, e.g. iconv -t utf-8") from None


class TokenDataset:
    """A token stream split into train (first part) and val (last part).

    Batches are random windows: x = tokens[i : i+T], y = tokens[i+1 : i+T+1], so y[t] is the
    token that follows x[..t]. The caller passes a seeded numpy Generator: its state is the
    "data position", saved in checkpoints so that resumed runs draw the same batches.
    """

    def __init__(self, tokens, val_fraction: float = 0.1, target_mask=None):
        tokens = np.asarray(tokens)
        if tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise ValueError(f"TokenDataset: need a 1-D integer array, got {tokens.dtype} "
                             f"{tokens.shape}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"TokenDataset: val_fraction must be in (0, 1), got {val_fraction}")
        n_train = int(len(tokens) * (1.0 - val_fraction))
        self.train = tokens[:n_train].astype(np.int64)
        self.val = tokens[n_train:].astype(np.int64)
        # target_mask[i] False: token i is never a training target (its y becomes -1, which the
        # GPT's loss ignores), e.g. the random operands of an addition problem
        self.masks = None
        if target_mask is not None:
            target_mask = np.asarray(target_mask, dtype=bool)
            if target_mask.shape != tokens.shape:
                raise ValueError(f"TokenDataset: target_mask has shape {target_mask.shape}, "
                                 f"tokens {tokens.shape}")
            self.masks = {"train": target_mask[:n_train], "val": target_mask[n_train:]}

    def split(self, name: str) -> np.ndarray:
        if name not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {name!r}")
        return self.train if name == "train" else self.val

    def check_length(self, name: str, block_size: int) -> None:
        n = len(self.split(name))
        if n < block_size + 1:
            raise ValueError(f"the {name} split has only {n} tokens but block_size={block_size} "
                             f"needs at least {block_size + 1}; lower --block_size or provide "
                             "more text")

    def get_batch(self, name: str, batch_size: int, block_size: int,
                  rng: np.random.Generator):
        """(x, y), both int64 (B, T), y shifted one token to the left of x."""
        data = self.split(name)
        self.check_length(name, block_size)
        starts = rng.integers(0, len(data) - block_size, size=batch_size)
        offsets = np.arange(block_size)
        x = data[starts[:, None] + offsets]  # (B, T)
        y = data[starts[:, None] + offsets + 1]  # (B, T)
        if self.masks is not None:
            y = np.where(self.masks[name][starts[:, None] + offsets + 1], y, -1)
        return x, y
