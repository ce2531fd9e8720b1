"""Tokenizers: characters, and byte-level BPE (trained here, or GPT-2's files).

Every tokenizer has `vocab_size`, `encode(text) -> list[int]`, `decode(ids) -> str`,
`to_dict()` (JSON-able, embedded in checkpoints) and `save(path)`; `load_tokenizer(path)` and
`tokenizer_from_dict(d)` rebuild the right class.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter

FORMAT_VERSION = 1

# Pre-tokenisation: split text into words, numbers, punctuation runs and whitespace so merges
# never cross a word boundary (GPT-2's pattern, with `re`-compatible classes: [^\W\d_] = letters).
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+"""
                r"""| ?_+""")


class CharTokenizer:
    """One token per distinct character of the training text (sorted, so ids are stable)."""

    def __init__(self, chars: list[str], unk: str | None = None):
        self.chars = list(chars)
        self.unk = unk
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        chars = set(text) | ({unk} if unk is not None else set())
        if not chars:
            raise ValueError("CharTokenizer.from_text: the text is empty")
        return cls(sorted(chars), unk)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            pass
        if self.unk is not None:
            u = self.stoi[self.unk]
            return [self.stoi.get(c, u) for c in text]
        bad = [(i, c) for i, c in enumerate(text) if c not in self.stoi]
        shown = ", ".join(f"{c!r} at position {i}" for i, c in bad[:5])
        raise ValueError(f"CharTokenizer: {len(bad)} character(s) not in the vocabulary: "
                         f"{shown}. Build the tokenizer from text that contains them, or use "
                         "CharTokenizer.from_text(text, unk='?') to map unknowns to one token")

    def decode(self, ids) -> str:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.chars):
                raise IndexError(f"CharTokenizer.decode: id {i} is out of range for vocab size "
                                 f"{len(self.chars)}")
            out.append(self.chars[i])
        return "".join(out)

    def to_dict(self) -> dict:
        return {"type": "char", "version": FORMAT_VERSION, "chars": self.chars, "unk": self.unk}

    def save(self, path: str) -> None:
        _save(self, path)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable characters (used by its files):
    printable Latin-1 bytes map to themselves, the rest to code points from 256 upwards."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    chars, n = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, map(chr, chars)))


class BPETokenizer:
    """Byte-level BPE: start from the 256 bytes, repeatedly merge the most frequent adjacent
    pair into a new token. Any UTF-8 text round-trips exactly, since every byte is a token."""

    def __init__(self, merges: list[tuple[int, int]], pattern: str = GPT2_PATTERN,
                 vocab_bytes: dict[int, bytes] | None = None):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.pattern = pattern
        self._regex = re.compile(pattern)
        if vocab_bytes is None:
            vocab_bytes = {i: bytes([i]) for i in range(256)}
            for i, (a, b) in enumerate(self.merges):
                vocab_bytes[256 + i] = vocab_bytes[a] + vocab_bytes[b]
        self.vocab = vocab_bytes
        self.byte_ids = list(range(256))  # token id of each byte value
        self._merged_id = {pair: 256 + i for i, pair in enumerate(self.merges)}
        self._cache: dict[bytes, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str | None = None) -> BPETokenizer:
        """Learn vocab_size - 256 merges. Pair counts are kept over distinct words weighted by
        their frequency and updated only for the words a merge touches."""
        if vocab_size < 256:
            raise ValueError(f"BPETokenizer.train: vocab_size must be >= 256 (the byte "
                             f"alphabet), got {vocab_size}")
        pattern = pattern or GPT2_PATTERN
        words = Counter(m.encode("utf-8") for m in re.findall(pattern, text))
        seqs = [list(w) for w in words]
        freqs = list(words.values())
        pair_counts: Counter = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for wi, seq in enumerate(seqs):
            for pair in zip(seq, seq[1:]):
                pair_counts[pair] += freqs[wi]
                where.setdefault(pair, set()).add(wi)
        merges = []
        for new_id in range(256, vocab_size):
            if not pair_counts:
                break
            # most frequent pair; ties broken by the smallest pair of ids (deterministic)
            best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
            if pair_counts[best] <= 0:
                break
            merges.append(best)
            for wi in list(where.get(best, ())):
                seq, f = seqs[wi], freqs[wi]
                for pair in zip(seq, seq[1:]):
                    pair_counts[pair] -= f
                    if pair_counts[pair] <= 0:
                        del pair_counts[pair]
                seq = _merge(seq, best, new_id)
                seqs[wi] = seq
                for pair in zip(seq, seq[1:]):
                    pair_counts[pair] += f
                    where.setdefault(pair, set()).add(wi)
            where.pop(best, None)
        return cls(merges, pattern)

    def _encode_word(self, word: bytes) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        seq = [self.byte_ids[b] for b in word]
        while len(seq) > 1:
            pair = min(zip(seq, seq[1:]), key=lambda p: self.ranks.get(p, float("inf")))
            if pair not in self.ranks:
                break
            seq = _merge(seq, pair, self._merged_id[pair])
        if len(self._cache) < 100_000:
            self._cache[word] = seq
        return seq

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece in self._regex.findall(text):
            ids.extend(self._encode_word(piece.encode("utf-8")))
        return ids

    def decode(self, ids) -> str:
        try:
            data = b"".join(self.vocab[int(i)] for i in ids)
        except KeyError as e:
            raise IndexError(f"BPETokenizer.decode: id {e.args[0]} is out of range for vocab "
                             f"size {self.vocab_size}") from None
        return data.decode("utf-8", errors="replace")

    @classmethod
    def from_gpt2_files(cls, encoder_json_path: str, vocab_bpe_path: str) -> BPETokenizer:
        """Load OpenAI GPT-2's encoder.json (token string -> id) and vocab.bpe (merges by rank).
        Token strings use GPT-2's bytes_to_unicode alphabet; ids are the encoder's."""
        with open(encoder_json_path, encoding="utf-8") as f:
            encoder = json.load(f)
        with open(vocab_bpe_path, encoding="utf-8") as f:
            lines = [ln for ln in f.read().split("\n") if ln and not ln.startswith("#version")]
        byte_of = {c: b for b, c in bytes_to_unicode().items()}

        def to_bytes(token: str) -> bytes:
            return bytes(byte_of[c] for c in token)

        vocab = {i: to_bytes(tok) for tok, i in encoder.items()}
        tok = cls([], GPT2_PATTERN, vocab_bytes=vocab)
        id_of = {to_bytes(t): i for t, i in encoder.items()}
        tok.byte_ids = [id_of[bytes([b])] for b in range(256)]
        merges = []
        for line in lines:
            a, b = line.split(" ")
            ba, bb = to_bytes(a), to_bytes(b)
            merges.append((id_of[ba], id_of[bb]))
            tok._merged_id[(id_of[ba], id_of[bb])] = id_of[ba + bb]
        tok.merges = merges
        tok.ranks = {p: i for i, p in enumerate(merges)}
        tok._gpt2 = True
        return tok

    def to_dict(self) -> dict:
        if getattr(self, "_gpt2", False):
            return {"type": "bpe", "version": FORMAT_VERSION, "pattern": self.pattern,
                    "merges": [list(m) for m in self.merges],
                    "vocab": {str(i): list(b) for i, b in self.vocab.items()},
                    "byte_ids": list(self.byte_ids)}
        return {"type": "bpe", "version": FORMAT_VERSION, "pattern": self.pattern,
                "merges": [list(m) for m in self.merges]}

    def save(self, path: str) -> None:
        _save(self, path)


def _merge(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i, a, b = [], 0, pair[0], pair[1]
    n = len(seq)
    while i < n:
        if i < n - 1 and seq[i] == a and seq[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def _save(tok, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok.to_dict(), f)


def tokenizer_from_dict(d: dict):
    kind = d.get("type") if isinstance(d, dict) else None
    if kind == "char":
        return CharTokenizer(d["chars"], d.get("unk"))
    if kind == "bpe":
        if "vocab" in d:
            vocab = {int(i): bytes(b) for i, b in d["vocab"].items()}
            tok = BPETokenizer([], d["pattern"], vocab_bytes=vocab)
            tok.byte_ids = list(d["byte_ids"])
            merges = [tuple(m) for m in d["merges"]]
            inverse = {v: k for k, v in vocab.items()}
            tok._merged_id = {(a, b): inverse[vocab[a] + vocab[b]] for a, b in merges}
            tok.merges, tok.ranks, tok._gpt2 = merges, {p: i for i, p in enumerate(merges)}, True
            return tok
        return BPETokenizer([tuple(m) for m in d["merges"]], d["pattern"])
    raise ValueError(f"not a saved tinygrad_lm tokenizer (type {kind!r}); expected 'char' or "
                     "'bpe'")


def load_tokenizer(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return tokenizer_from_dict(d)
    except FileNotFoundError:
        raise FileNotFoundError(f"tokenizer file {path!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path!r} is not a saved tinygrad_lm tokenizer: {e}") from None
