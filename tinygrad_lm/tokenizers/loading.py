"""Saving and loading tokenizers: the JSON that `to_dict()` writes (and checkpoints embed),
Hugging Face's `tokenizer.json`, tiktoken's ranks files and GPT-2's model directories."""

from __future__ import annotations

import os

import regex

from . import bpe_files as files
from .base import FORMAT_VERSION, Tokenizer
from .bpe import BPETokenizer
from .bpe_files import read_json
from .char import CharTokenizer


def tokenizer_from_dict(d: dict) -> Tokenizer:
    """Rebuild a tokenizer from `tok.to_dict()` (e.g. the copy stored in a checkpoint)."""
    kinds = {cls.TYPE: cls for cls in (CharTokenizer, BPETokenizer)}
    kind = d.get("type") if isinstance(d, dict) else None
    if kind not in kinds:
        raise ValueError(f"not a saved tinygrad_lm tokenizer: type {kind!r}, expected one of "
                         f"{sorted(kinds)}")
    version = d.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"tokenizer format version {version!r} is newer than this tinygrad_lm "
                         f"reads ({FORMAT_VERSION}); upgrade tinygrad_lm")
    try:
        if kind == "char":
            return CharTokenizer(d["chars"], d.get("unk"))
        vocab = d.get("vocab")
        if vocab is not None:
            vocab = {int(i): bytes(b) for i, b in vocab.items()}
        return BPETokenizer(d["merges"], d["pattern"], vocab=vocab,
                            special_tokens=d.get("special_tokens"))
    except KeyError as e:
        raise ValueError(f"saved {kind!r} tokenizer is missing the field {e.args[0]!r}") from None
    except (TypeError, AttributeError, regex.error) as e:
        raise ValueError(f"saved {kind!r} tokenizer is malformed: {e}") from None


def load_tokenizer(path: str) -> Tokenizer:
    """A tokenizer from `tok.save(path)`, a Hugging Face `tokenizer.json`, a `.tiktoken` ranks
    file, or a directory holding tokenizer.json, vocab.json + merges.txt, encoder.json +
    vocab.bpe or one *.tiktoken file (looked for in that order)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        paths = files.find_tokenizer_files(path)
        if len(paths) == 2:
            return BPETokenizer.from_gpt2_files(*paths)
        path = paths[0]
    if path.endswith(".tiktoken"):
        return BPETokenizer.from_tiktoken(path)
    d = read_json(path, "tokenizer")
    try:
        if isinstance(d, dict) and "model" in d and "type" not in d:
            return _char_from_hf(d) or BPETokenizer.from_tokenizer_json(path)
        return tokenizer_from_dict(d)
    except ValueError as e:
        if path in str(e):
            raise
        raise ValueError(f"{path!r}: {e}") from None


def _char_from_hf(d: dict) -> CharTokenizer | None:
    """The tokenizer.json that export writes for a CharTokenizer (a BPE model with no merges,
    no pre-tokenizer, a Fuse decoder), else None."""
    model = d.get("model") or {}
    if model.get("merges") or d.get("pre_tokenizer") is not None \
            or (d.get("decoder") or {}).get("type") != "Fuse" or d.get("added_tokens"):
        return None
    vocab = model.get("vocab") or {}
    if sorted(vocab.values()) != list(range(len(vocab))):
        raise ValueError("a character vocabulary must have ids 0..n-1")
    return CharTokenizer(sorted(vocab, key=vocab.get), model.get("unk_token"))
