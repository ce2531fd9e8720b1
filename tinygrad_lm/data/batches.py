"""Text in, batches out: loading a file, the train/val split, and seeded random batches.

    text = load_text("input.txt")                      # or builtin_dataset("grammar")
    ids = np.array(tokenizer.encode(text))
    data = TokenDataset(ids, val_fraction=0.1)         # first 90% train, last 10% val
    x, y = data.get_batch("train", 32, 64, rng)        # (B, T) each; y[:, t] = x[:, t + 1]

The built-in datasets (a small English-like grammar, addition problems) are generated in
`grammar.py` and `addition.py` beside this module.
"""

from __future__ import annotations

import os

import numpy as np

from .builtin import BUILTIN_DATASETS

SPLITS = ("train", "val")


def load_text(path: str) -> str:
    """Read a UTF-8 text file, with errors that say which file and what is wrong."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file {path!r} does not exist (looked for "
                                f"{os.path.abspath(path)!r}); pass the path of a UTF-8 text "
                                "file, or use a built-in dataset: " + ", ".join(BUILTIN_DATASETS))
    if os.path.isdir(path):
        raise IsADirectoryError(f"data path {path!r} is a directory; pass a text file in it")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ValueError(f"data file {path!r} is empty; a language model needs text to learn")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"data file {path!r} is not valid UTF-8: byte {raw[e.start]:#04x} at "
                         f"offset {e.start} ({e.reason}); convert the file, e.g. "
                         "`iconv -f latin1 -t utf-8 in.txt > out.txt`") from None


def train_val_split(tokens, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train, val): the first (1 - val_fraction) of the tokens and the rest, as int64.

    A contiguous split rather than a random one: random windows would put overlapping copies
    of the same text on both sides, and val loss would no longer measure generalisation."""
    tokens = _token_array(tokens)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_train = int(len(tokens) * (1.0 - val_fraction))
    return tokens[:n_train], tokens[n_train:]


def _token_array(tokens) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 1 or (arr.dtype.kind not in "iu" and arr.size > 0):
        raise ValueError(f"expected a 1-D array of integer token ids, got {arr.dtype} of shape "
                         f"{arr.shape}; encode the text first: np.array(tok.encode(text))")
    return arr.astype(np.int64)


class TokenDataset:
    """A token stream split into train (first part) and val (last part), sampled as random
    windows: x = tokens[i : i+T] and y = tokens[i+1 : i+T+1], so y[t] is the token that follows
    x[: t+1], and one window trains T next-token predictions at once.

    The caller passes the numpy Generator that picks the windows. Its state is the "data
    position": saving it in a checkpoint and restoring it makes a resumed run draw exactly the
    batches the uninterrupted run would have drawn.
    """

    def __init__(self, tokens, val_fraction: float = 0.1, target_mask=None):
        self.train, self.val = train_val_split(tokens, val_fraction)
        # target_mask[i] False: token i is never a prediction target (its y becomes -1, which
        # the GPT's loss ignores), e.g. the random operands of an addition problem
        self.masks = None
        if target_mask is not None:
            target_mask = np.asarray(target_mask, dtype=bool)
            n = len(self.train) + len(self.val)
            if target_mask.shape != (n,):
                raise ValueError(f"TokenDataset: target_mask has shape {target_mask.shape}, "
                                 f"tokens ({n},); give one flag per token")
            self.masks = {"train": target_mask[:len(self.train)],
                          "val": target_mask[len(self.train):]}

    def split(self, name: str) -> np.ndarray:
        """The tokens of one split: "train" or "val"."""
        if name not in SPLITS:
            raise ValueError(f"split must be 'train' or 'val', got {name!r}")
        return self.train if name == "train" else self.val

    def check_length(self, name: str, block_size: int) -> None:
        """Raise if the split is too short for even one window of block_size + 1 tokens."""
        n = len(self.split(name))
        if n < block_size + 1:
            raise ValueError(f"the {name} split has only {n} tokens but block_size={block_size} "
                             f"needs at least {block_size + 1} (one window plus its shifted "
                             "target); lower --block_size or provide more text")

    def get_batch(self, name: str, batch_size: int, block_size: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(x, y), both int64 (B, T), y shifted one token to the left of x."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"get_batch: rng must be a numpy Generator, e.g. "
                            f"np.random.default_rng(seed), got {type(rng).__name__}")
        for arg, value in (("batch_size", batch_size), ("block_size", block_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"get_batch: {arg} must be a positive int, got {value!r}")
        data = self.split(name)
        self.check_length(name, block_size)
        # the last window starts at len - T - 1, so that its target window still fits
        starts = rng.integers(0, len(data) - block_size, size=batch_size)  # (B,)
        index = starts[:, None] + np.arange(block_size)  # (B, T)
        x, y = data[index], data[index + 1]  # (B, T) each
        if self.masks is not None:
            y = np.where(self.masks[name][index + 1], y, -1)
        return x, y

    def __len__(self) -> int:
        return len(self.train) + len(self.val)

    def __repr__(self) -> str:
        return f"TokenDataset(train={len(self.train)} tokens, val={len(self.val)} tokens)"
