"""What every tokenizer shares: the Tokenizer base class, its file format version, and the
checks of what `encode` and `decode` are given."""

from __future__ import annotations

import json
import os

import numpy as np

FORMAT_VERSION = 1

class Tokenizer:
    """What every tokenizer shares. A subclass sets TYPE (the name saved in files) and defines
    the `vocab_size` property, `encode(text) -> list[int]`, `decode(ids) -> str` and
    `to_dict()`; saving, equality and printing come from here."""

    TYPE = ""

    def save(self, path: str) -> None:
        """Write the tokenizer as JSON; `load_tokenizer(path)` reads it back."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    __hash__ = None  # mutable caches inside; equality is by content

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


def _check_text(text, where: str) -> None:
    if not isinstance(text, str):
        hint = " (decode the bytes to str first)" if isinstance(text, bytes) else ""
        raise TypeError(f"{where}: expected a str, got {type(text).__name__}{hint}")


def _id_list(ids, who: str) -> list[int]:
    """Accept a list, tuple or 1-D numpy array of integer ids; refuse anything ambiguous."""
    if isinstance(ids, (list, tuple)) and all(isinstance(i, (int, np.integer)) for i in ids):
        return [int(i) for i in ids]
    arr = np.asarray(ids)
    if arr.size == 0:
        return []
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"{who}.decode: expected a 1-D sequence of integer ids, got "
                        f"{arr.dtype} array of shape {arr.shape} (decode one row at a time: "
                        "tok.decode(ids[0]))")
    return arr.tolist()
