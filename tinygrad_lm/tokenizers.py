"""Tokenizers: characters, and byte-level BPE (trained here, or loaded from GPT-2's files).

Every tokenizer has `vocab_size`, `encode(text) -> list[int]`, `decode(ids) -> str`,
`to_dict()` (plain JSON data, which the trainer embeds in checkpoints) and `save(path)`;
`load_tokenizer(path)` and `tokenizer_from_dict(d)` rebuild the right class from the saved
`"type"` field.

    tok = BPETokenizer.train(text, vocab_size=512)
    ids = tok.encode("the dog runs .")      # list[int]: fewer ids than bytes, once trained
    tok.decode(ids) == "the dog runs ."     # always: every byte is a token
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter, defaultdict

import numpy as np

from .gpt2_files import read_gpt2_files, read_json

FORMAT_VERSION = 1

# Pre-tokenisation splits text into contractions, words, numbers, punctuation runs and
# whitespace, so that no merge ever crosses a word boundary ("dog." and "dog" share the token
# "dog"). This is GPT-2's pattern
#     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# rewritten for the standard `re` module, which has no \p{...} classes:
#     letters \p{L}          -> [^\W\d_]     (word characters that are not digits or "_")
#     numbers \p{N}          -> \d
#     other   [^\s\p{L}\p{N}] -> [^\s\w]|_   (GPT-2 counts "_" as punctuation, `re` as a letter)
# Every character falls in exactly one class, so the pieces always cover the whole text: that
# is what makes encoding lossless.
GPT2_PATTERN = (r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


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


# ---- characters --------------------------------------------------------------------------------

class CharTokenizer(Tokenizer):
    """One token per distinct character of the training text. The vocabulary is sorted, so the
    same text always gives the same ids."""

    TYPE = "char"

    def __init__(self, chars, unk: str | None = None):
        self.chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer: every vocabulary entry must be one character")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharTokenizer: the vocabulary lists a character twice")
        if unk is not None and unk not in self.chars:
            raise ValueError(f"CharTokenizer: unk={unk!r} is not in the vocabulary")
        self.unk = unk
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """Vocabulary = the sorted distinct characters of `text`. With unk="?" (any single
        character), characters never seen in `text` encode to that token instead of raising."""
        _check_text(text, "CharTokenizer.from_text")
        if unk is not None and (not isinstance(unk, str) or len(unk) != 1):
            raise ValueError(f"CharTokenizer.from_text: unk must be a single character such as "
                             f"'?', got {unk!r}")
        chars = set(text) | ({unk} if unk is not None else set())
        if not chars:
            raise ValueError("CharTokenizer.from_text: the text is empty, so there is no "
                             "vocabulary to build")
        return cls(sorted(chars), unk)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        _check_text(text, "CharTokenizer.encode")
        stoi = self.stoi
        if self.unk is not None:
            unk_id = stoi[self.unk]
            return [stoi.get(c, unk_id) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError:
            raise self._unknown_error(text) from None

    def _unknown_error(self, text: str) -> ValueError:
        first = {}  # each unknown character -> where it first occurs
        for i, c in enumerate(text):
            if c not in self.stoi and c not in first:
                first[c] = i
        shown = ", ".join(f"{c!r} at position {i}" for c, i in list(first.items())[:5])
        more = f" and {len(first) - 5} more" if len(first) > 5 else ""
        return ValueError(f"CharTokenizer.encode: {len(first)} character(s) not in the "
                          f"vocabulary: {shown}{more}. Build the tokenizer from text that "
                          "contains them, or use CharTokenizer.from_text(text, unk='?') to map "
                          "unknown characters to one token")

    def decode(self, ids) -> str:
        chars, n = self.chars, len(self.chars)
        out = []
        for i in _id_list(ids, "CharTokenizer"):
            if not 0 <= i < n:
                raise IndexError(f"CharTokenizer.decode: id {i} is out of range for vocab size "
                                 f"{n} (valid ids are 0..{n - 1})")
            out.append(chars[i])
        return "".join(out)

    def to_dict(self) -> dict:
        return {"type": self.TYPE, "version": FORMAT_VERSION, "chars": self.chars,
                "unk": self.unk}


# ---- byte-level BPE ----------------------------------------------------------------------------

class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding. Text is UTF-8 bytes; the 256 byte values are the first
    tokens, and each merge (left_id, right_id) adds one token for the two glued together.
    Since every byte is a token, any text encodes and decodes back exactly.

    `merges` are in rank order (rank 0 is applied first). Without `vocab`, token ids are the
    byte values followed by 256 + rank for each merge, which is what `train` learns. With
    `vocab` (id -> bytes, e.g. GPT-2's encoder.json), ids come from it instead."""

    TYPE = "bpe"

    def __init__(self, merges, pattern: str = GPT2_PATTERN, *, vocab: dict | None = None):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.pattern = pattern
        self._regex = re.compile(pattern)
        self._explicit_vocab = vocab is not None
        if vocab is None:
            self.vocab, self.byte_ids, merged = self._vocab_from_merges()
        else:
            self.vocab = {int(i): bytes(b) for i, b in vocab.items()}
            self.byte_ids, merged = self._ids_from_vocab()
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self.merged_id = dict(zip(self.merges, merged))
        self._cache: dict[bytes, list[int]] = {}

    def _vocab_from_merges(self):
        vocab = {i: bytes([i]) for i in range(256)}
        for rank, (a, b) in enumerate(self.merges):
            if a not in vocab or b not in vocab:
                raise ValueError(f"BPETokenizer: merge {rank} {(a, b)} uses an id that no "
                                 "earlier merge created")
            vocab[256 + rank] = vocab[a] + vocab[b]
        return vocab, list(range(256)), [256 + r for r in range(len(self.merges))]

    def _ids_from_vocab(self):
        id_of = {}
        for i, b in self.vocab.items():
            if b in id_of:
                raise ValueError(f"BPETokenizer: ids {id_of[b]} and {i} both stand for {b!r}")
            id_of[b] = i
        missing = [b for b in range(256) if bytes([b]) not in id_of]
        if missing:
            raise ValueError(f"BPETokenizer: the vocabulary has no token for byte(s) "
                             f"{missing[:8]}; a byte-level vocabulary needs all 256")
        merged = []
        for rank, (a, b) in enumerate(self.merges):
            joined = self.vocab[a] + self.vocab[b] if a in self.vocab and b in self.vocab else None
            if joined not in id_of:
                raise ValueError(f"BPETokenizer: merge {rank} {(a, b)} does not produce a token "
                                 "of the vocabulary")
            merged.append(id_of[joined])
        return [id_of[bytes([b])] for b in range(256)], merged

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str | None = None) -> BPETokenizer:
        """Learn vocab_size - 256 merges from `text`: repeatedly merge the most frequent adjacent
        pair of tokens, ties going to the smallest (left_id, right_id), so training is
        deterministic. Stops early if no pair is left to merge.

        Speed: pairs are counted over distinct pre-tokenised words weighted by how often each
        occurs, and after a merge only the words that contain the merged pair are recounted.
        A heap finds the most frequent pair; entries whose count has since changed are stale
        and skipped when popped (the current count was pushed too)."""
        _check_text(text, "BPETokenizer.train")
        if not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"BPETokenizer.train: vocab_size must be an int >= 256 (the 256 "
                             f"byte tokens come first, merges are added on top), got "
                             f"{vocab_size!r}")
        pattern = pattern or GPT2_PATTERN
        words = Counter(piece.encode("utf-8") for piece in re.findall(pattern, text))
        seqs = [list(word) for word in words]
        freqs = list(words.values())
        counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words holding it
        for w, seq in enumerate(seqs):
            for pair in zip(seq, seq[1:]):
                counts[pair] += freqs[w]
                where[pair].add(w)
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        for new_id in range(256, vocab_size):
            best = _pop_best(heap, counts)
            if best is None:
                break
            merges.append(best)
            for pair in _merge_in_words(best, new_id, seqs, freqs, counts, where):
                if counts[pair] > 0:
                    heapq.heappush(heap, (-counts[pair], pair))
                else:
                    del counts[pair]
        return cls(merges, pattern)

    def _encode_word(self, word: bytes) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        seq = [self.byte_ids[b] for b in word]
        ranks, never = self.ranks, len(self.ranks)
        # apply merges in rank order, exactly as they were learned: the adjacent pair with the
        # lowest rank goes first, until no adjacent pair is a merge
        while len(seq) > 1:
            pair = min(zip(seq, seq[1:]), key=lambda p: ranks.get(p, never))
            if pair not in ranks:
                break
            seq = _merge(seq, pair, self.merged_id[pair])
        if len(self._cache) < 100_000:  # bound the memory a long, varied text can take
            self._cache[word] = seq
        return seq

    def encode(self, text: str) -> list[int]:
        _check_text(text, "BPETokenizer.encode")
        ids: list[int] = []
        for piece in self._regex.findall(text):
            ids.extend(self._encode_word(piece.encode("utf-8")))
        return ids

    def decode(self, ids) -> str:
        """Bytes of each token, joined and read as UTF-8. Invalid bytes become "\ufffd": a
        slice of ids (a sample cut short, tokens streamed one by one) can end inside a
        multi-byte character, and that should not crash generation."""
        vocab = self.vocab
        try:
            data = b"".join([vocab[i] for i in _id_list(ids, "BPETokenizer")])
        except KeyError as e:
            raise IndexError(f"BPETokenizer.decode: id {e.args[0]} is out of range for vocab "
                             f"size {self.vocab_size}") from None
        return data.decode("utf-8", errors="replace")

    @classmethod
    def from_gpt2_files(cls, encoder_json_path: str, vocab_bpe_path: str) -> BPETokenizer:
        """Load OpenAI GPT-2's tokenizer: `encoder.json` maps token strings to ids and
        `vocab.bpe` lists the merges in rank order after a "#version" line. Both write bytes
        with `bytes_to_unicode()` characters, so "Ġthe" is b" the"."""
        merges, vocab = read_gpt2_files(encoder_json_path, vocab_bpe_path)
        return cls(merges, GPT2_PATTERN, vocab=vocab)

    def to_dict(self) -> dict:
        d = {"type": self.TYPE, "version": FORMAT_VERSION, "pattern": self.pattern,
             "merges": [list(m) for m in self.merges]}
        if self._explicit_vocab:  # a trained vocabulary follows from the merges; GPT-2's doesn't
            d["vocab"] = {str(i): list(b) for i, b in self.vocab.items()}
        return d


def _pop_best(heap: list, counts: dict) -> tuple[int, int] | None:
    """The most frequent pair (smallest ids on a tie), skipping stale heap entries."""
    while heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair, 0) == -neg_count:
            return pair
    return None


def _merge_in_words(best, new_id, seqs, freqs, counts, where) -> set:
    """Merge `best` in every word that holds it, keeping the pair counts up to date; return the
    pairs whose count changed. Only these words are touched, which is what makes training fast.
    A word may stay listed under a pair it has lost; merging it again changes nothing."""
    changed = set()
    for w in where.pop(best):
        seq, f = seqs[w], freqs[w]
        for pair in zip(seq, seq[1:]):
            counts[pair] -= f
            changed.add(pair)
        seqs[w] = seq = _merge(seq, best, new_id)
        for pair in zip(seq, seq[1:]):
            counts[pair] += f
            where[pair].add(w)
            changed.add(pair)
    return changed


def _merge(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each non-overlapping occurrence of `pair`, scanning left to right."""
    out, i, n = [], 0, len(seq)
    a, b = pair
    while i < n:
        if i < n - 1 and seq[i] == a and seq[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


# ---- saving and loading ------------------------------------------------------------------------

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
        return BPETokenizer(d["merges"], d["pattern"], vocab=vocab)
    except KeyError as e:
        raise ValueError(f"saved {kind!r} tokenizer is missing the field {e.args[0]!r}") from None
    except (TypeError, re.error) as e:
        raise ValueError(f"saved {kind!r} tokenizer is malformed: {e}") from None


def load_tokenizer(path: str) -> Tokenizer:
    """Read a tokenizer written by `tok.save(path)`, whichever class it is."""
    d = read_json(path, "tokenizer")
    try:
        return tokenizer_from_dict(d)
    except ValueError as e:
        raise ValueError(f"{path!r}: {e}") from None
