"""Byte-level byte-pair encoding: trained here (bpe_training.py), or GPT-2's own, read from
OpenAI's, Hugging Face's or tiktoken's files (gpt2_files.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import regex

from . import bpe_file_writers as writers
from . import bpe_files as files
from .base import FORMAT_VERSION, Tokenizer, _check_text, _id_list
from .bpe_files import GPT2_PATTERN, BPEFiles
from .bpe_training import learn_merges, merge_pair


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding. Text is UTF-8 bytes; the 256 byte values are the first
    tokens, and each merge (left_id, right_id) adds one token for the two glued together.
    Since every byte is a token, any text encodes and decodes back exactly.

    `merges` are in rank order (rank 0 is applied first). Without `vocab`, token ids are the
    byte values followed by 256 + rank for each merge, which is what `train` learns. With
    `vocab` (id -> bytes, e.g. GPT-2's encoder.json), ids come from it instead.

    `special_tokens` (text -> id, e.g. {"<|endoftext|>": 50256}) never come out of BPE. As in
    tiktoken, `encode` turns them into their ids only when allowed (allowed_special={...} or
    "all"), and by default refuses text that contains one: a user's text that happens to
    spell "<|endoftext|>" must not end a document by accident."""

    TYPE = "bpe"

    def __init__(self, merges, pattern: str = GPT2_PATTERN, *, vocab: dict | None = None,
                 special_tokens: dict | None = None):
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.pattern = pattern
        self._regex = regex.compile(pattern)
        self._explicit_vocab = vocab is not None
        if vocab is None:
            self.vocab, self.byte_ids, merged = self._vocab_from_merges()
        else:
            self.vocab = {int(i): bytes(b) for i, b in vocab.items()}
            self.byte_ids, merged = self._ids_from_vocab()
        self.special_tokens = self._check_special(special_tokens or {})
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self.merged_id = dict(zip(self.merges, merged))
        self._decode_table = {**self.vocab, **{i: t.encode("utf-8")
                                               for t, i in self.special_tokens.items()}}
        self._cache: dict[str, list[int]] = {}

    def _vocab_from_merges(self):
        vocab = {i: bytes([i]) for i in range(256)}
        for rank, (a, b) in enumerate(self.merges):
            if a not in vocab or b not in vocab:
                raise ValueError(f"BPETokenizer: merge {rank} {(a, b)} uses an id that no "
                                 "earlier merge created")
            vocab[256 + rank] = vocab[a] + vocab[b]
        return vocab, list(range(256)), [256 + r for r in range(len(self.merges))]

    def _ids_from_vocab(self):
        id_of = {b: i for i, b in self.vocab.items()}
        if len(id_of) != len(self.vocab):
            first = {}
            for i, b in self.vocab.items():
                if b in first:
                    raise ValueError(f"BPETokenizer: ids {first[b]} and {i} both stand for {b!r}")
                first[b] = i
        if self.vocab and not 0 <= min(self.vocab) <= max(self.vocab) <= files.MAX_TOKEN_ID:
            raise ValueError(f"BPETokenizer: token ids must be from 0 to {files.MAX_TOKEN_ID:,}, "
                             f"got {min(self.vocab)}..{max(self.vocab)}")
        missing = [b for b in range(256) if bytes([b]) not in id_of]
        if missing:
            raise ValueError(f"BPETokenizer: the vocabulary has no token for byte(s) "
                             f"{missing[:8]}; a byte-level vocabulary needs all 256")
        vocab = self.vocab
        try:
            merged = [id_of[vocab[a] + vocab[b]] for a, b in self.merges]
        except KeyError:  # find the first merge that does not resolve, to name it
            rank, (a, b) = next((r, (a, b)) for r, (a, b) in enumerate(self.merges)
                                if a not in vocab or b not in vocab
                                or vocab[a] + vocab[b] not in id_of)
            raise ValueError(f"BPETokenizer: merge {rank} {(a, b)} does not produce a token "
                             "of the vocabulary") from None
        return [id_of[bytes([b])] for b in range(256)], merged

    def _check_special(self, special: dict) -> dict[str, int]:
        out, seen = {}, {}
        for text, i in special.items():
            if not isinstance(text, str) or not text or isinstance(i, bool) \
                    or not isinstance(i, (int, np.integer)) or i < 0:
                raise ValueError(f"BPETokenizer: special token {text!r} -> {i!r}: need a "
                                 "non-empty string and an integer id >= 0")
            if int(i) in self.vocab or int(i) in seen:
                other = seen.get(int(i), self.vocab.get(int(i)))
                raise ValueError(f"BPETokenizer: special token {text!r} has id {i}, which "
                                 f"{other!r} already uses")
            out[text], seen[int(i)] = int(i), text
        return out

    @property
    def vocab_size(self) -> int:
        """One more than the largest id: the rows a model's embedding needs."""
        return 1 + max(max(self.vocab), max(self.special_tokens.values(), default=-1))

    @classmethod
    def train(cls, text: str, vocab_size: int, *, pattern: str | None = None,
              special_tokens=(), tie_break: str = "smallest_ids") -> BPETokenizer:
        """Learn merges from `text` (see bpe_training.learn_merges): the most frequent adjacent
        pair first, ties to the smallest ids (or, tie_break="greater_bytes", to the
        lexicographically greater pair of byte strings), so training is deterministic.
        Stops early if no pair is left to merge.

        special_tokens (e.g. ["<|endoftext|>"]): never merged across, and kept in the
        vocabulary after the merges, which number vocab_size - 256 - len(special_tokens)."""
        _check_text(text, "BPETokenizer.train")
        special_tokens = list(special_tokens)
        if not isinstance(vocab_size, int) or vocab_size < 256 + len(special_tokens):
            raise ValueError(f"BPETokenizer.train: vocab_size must be an int >= 256 + "
                             f"{len(special_tokens)} (the 256 byte tokens and the special "
                             f"tokens, merges are added on top), got {vocab_size!r}")
        if len(set(special_tokens)) != len(special_tokens) or not all(
                isinstance(t, str) and t for t in special_tokens):
            raise ValueError(f"BPETokenizer.train: special_tokens must be distinct non-empty "
                             f"strings, got {special_tokens!r}")
        pattern = pattern or GPT2_PATTERN
        merges = learn_merges(text, vocab_size - len(special_tokens), pattern, special_tokens,
                              tie_break)
        first = 256 + len(merges)
        return cls(merges, pattern,
                   special_tokens={t: first + i for i, t in enumerate(special_tokens)})

    # ---- encoding -----------------------------------------------------------------------------
    def _encode_piece(self, piece: str) -> list[int]:
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        seq = [self.byte_ids[b] for b in piece.encode("utf-8")]
        ranks, never = self.ranks, len(self.ranks)
        # apply merges in rank order, exactly as they were learned: the adjacent pair with the
        # lowest rank goes first, until no adjacent pair is a merge
        while len(seq) > 1:
            pair = min(zip(seq, seq[1:]), key=lambda p: ranks.get(p, never))
            if pair not in ranks:
                break
            seq = merge_pair(seq, pair, self.merged_id[pair])
        if len(self._cache) < 100_000:  # bound the memory a long, varied text can take
            self._cache[piece] = seq
        return seq

    def encode_ordinary(self, text: str) -> list[int]:
        """BPE on the whole text; special tokens are ordinary text here."""
        _check_text(text, "BPETokenizer.encode")
        ids: list[int] = []
        for piece in self._regex.findall(text):
            ids.extend(self._encode_piece(piece))
        return ids

    def encode(self, text: str, *, allowed_special=frozenset(),
               disallowed_special="all") -> list[int]:
        """Token ids of `text`. Special tokens in `allowed_special` (a set, or "all") become
        their ids; one in `disallowed_special` (default: every special token not allowed)
        raises ValueError; any other is encoded as ordinary text. tiktoken's convention."""
        _check_text(text, "BPETokenizer.encode")
        allowed = self._special_set(allowed_special, "allowed_special")
        disallowed = (set(self.special_tokens) - allowed if disallowed_special == "all"
                      else self._special_set(disallowed_special, "disallowed_special"))
        for token in disallowed:
            at = text.find(token)
            if at >= 0:
                raise ValueError(
                    f"BPETokenizer.encode: the text contains the special token {token!r} at "
                    f"position {at}, which is not allowed. Pass allowed_special={{{token!r}}} "
                    f"(or 'all') to encode it as id {self.special_tokens[token]}, or "
                    "disallowed_special=() to encode it as ordinary text")
        if not allowed:
            return self.encode_ordinary(text)
        # longest first, so that a special token containing another one wins
        split = regex.compile("|".join(map(regex.escape, sorted(allowed, key=len,
                                                                 reverse=True))))
        ids, start = [], 0
        for m in split.finditer(text):
            ids += self.encode_ordinary(text[start:m.start()])
            ids.append(self.special_tokens[m.group()])
            start = m.end()
        return ids + self.encode_ordinary(text[start:])

    STREAM_BUFFER = 2 ** 16  # characters collected before encode_iterable encodes

    def encode_iterable(self, chunks, *, allowed_special=frozenset(),
                        disallowed_special="all"):
        """Yield the ids of "".join(chunks), the same ids `encode` gives, without holding the
        text or the ids: for a file, `tok.encode_iterable(open(path, encoding="utf-8"))` runs
        in memory bounded by its longest line (plus a 64 KiB buffer).

        Text waits in a buffer only from the start of its last pre-token on (that piece may
        continue in the next chunk: "hel" + "lo", a digit run, a run of spaces before a word),
        and never cut inside a possible special token. Every earlier piece is final: the
        pattern decides a piece from the text up to one character past it (true of GPT-2's
        and Llama 3's patterns), so encoding up to the cut equals encoding the whole."""
        allowed = self._special_set(allowed_special, "allowed_special")
        acting = set(self.special_tokens) if disallowed_special == "all" else \
            allowed | self._special_set(disallowed_special, "disallowed_special")
        buffer = ""
        for chunk in chunks:
            _check_text(chunk, "BPETokenizer.encode_iterable")
            buffer += chunk
            if len(buffer) < self.STREAM_BUFFER:
                continue  # one encode per 64 KiB, not per line: the per-call checks add up
            cut = self._stream_cut(buffer, acting)
            if cut > 0:
                yield from self.encode(buffer[:cut], allowed_special=allowed_special,
                                       disallowed_special=disallowed_special)
                buffer = buffer[cut:]
        if buffer:
            yield from self.encode(buffer, allowed_special=allowed_special,
                                   disallowed_special=disallowed_special)

    def _stream_cut(self, buffer: str, specials) -> int:
        """Where `buffer` may be cut: the start of a pre-token after the last special token that
        encode acts on, and before any special token that may be arriving at the end."""
        tail = max((buffer.rfind(t) + len(t) for t in specials if t in buffer), default=0)
        limit = len(buffer) - max(map(len, specials)) + 1 if specials else len(buffer)
        cut = tail
        for m in self._regex.finditer(buffer, tail):
            if m.start() >= limit:
                break
            cut = m.start()  # the pieces before it are final; this one may still grow
        return cut

    def _special_set(self, chosen, name: str) -> set[str]:
        if chosen == "all":
            return set(self.special_tokens)
        if isinstance(chosen, str):
            raise TypeError(f"BPETokenizer.encode: {name} must be a set of special tokens or "
                            f"'all', got the string {chosen!r} (wrap it: {{{chosen!r}}})")
        chosen = set(chosen)
        unknown = chosen - set(self.special_tokens)
        if unknown:
            raise ValueError(f"BPETokenizer.encode: {name} lists {sorted(unknown)}, which are not "
                             f"special tokens of this tokenizer ({sorted(self.special_tokens)})")
        return chosen

    def decode(self, ids) -> str:
        """Bytes of each token, joined and read as UTF-8. Invalid bytes become "\ufffd": a
        slice of ids (a sample cut short, tokens streamed one by one) can end inside a
        multi-byte character, and that should not crash generation. Special tokens decode to
        their text."""
        table, n, gap = self._decode_table, self.vocab_size, "\ufffd".encode()
        ids = _id_list(ids, "BPETokenizer")
        bad = next((i for i in ids if not 0 <= i < n), None)
        if bad is not None:
            raise IndexError(f"BPETokenizer.decode: id {bad} is out of range for vocab size {n}")
        # an id inside the range that no token has (a gap in the ids, or a model's vocabulary
        # padded past the tokenizer's) also becomes "\ufffd": sampling may well pick one
        data = b"".join([table.get(i, gap) for i in ids])
        return data.decode("utf-8", errors="replace")

    # ---- files --------------------------------------------------------------------------------
    @classmethod
    def from_files(cls, f: BPEFiles) -> BPETokenizer:
        """The tokenizer that a gpt2_files reader returned (merges, vocab, special tokens)."""
        return cls(f.merges, f.pattern, vocab=f.vocab, special_tokens=f.special_tokens)

    @classmethod
    def from_gpt2_files(cls, vocab_path: str, merges_path: str) -> BPETokenizer:
        """OpenAI GPT-2's `encoder.json` + `vocab.bpe`, or Hugging Face's `vocab.json` +
        `merges.txt` (the same format). Tokens that no merge makes, such as <|endoftext|>,
        are special tokens."""
        return cls.from_files(files.read_vocab_and_merges(vocab_path, merges_path))

    from_hf_files = from_gpt2_files

    @classmethod
    def from_tokenizer_json(cls, path: str) -> BPETokenizer:
        """Hugging Face's one-file `tokenizer.json` (byte-level BPE)."""
        return cls.from_files(files.read_tokenizer_json(path))

    @classmethod
    def from_tiktoken(cls, path: str, special_tokens: dict | None = None) -> BPETokenizer:
        """A tiktoken ranks file (rank = id). Without special_tokens, <|endoftext|> gets the
        id after the last rank, as in tiktoken's gpt2 encoding; pass {} for none."""
        return cls.from_files(files.read_tiktoken(path, special_tokens))

    def to_files(self) -> BPEFiles:
        """What gpt2_files' writers take: merges, id -> bytes, special tokens, pattern."""
        return BPEFiles(self.merges, dict(self.vocab), dict(self.special_tokens), self.pattern)

    def save_hf(self, directory: str) -> list[str]:
        """vocab.json, merges.txt and tokenizer.json: what Hugging Face's GPT2Tokenizer and
        AutoTokenizer read. Returns the paths written."""
        paths = writers.write_vocab_and_merges(directory, self.to_files())
        path = os.path.join(directory, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(writers.tokenizer_json(self.to_files()), f, ensure_ascii=False)
        return paths + [path]

    def save_tiktoken(self, path: str) -> None:
        """A tiktoken ranks file (special tokens are not part of that format)."""
        writers.write_tiktoken(path, self.to_files())

    def to_dict(self) -> dict:
        """The tokenizer as JSON-safe data: pattern, merges, and the vocabulary and special tokens
        when it has them; `tokenizer_from_dict` reads it back."""
        d = {"type": self.TYPE, "version": FORMAT_VERSION, "pattern": self.pattern,
             "merges": [list(m) for m in self.merges]}
        if self._explicit_vocab:  # a trained vocabulary follows from the merges; GPT-2's doesn't
            d["vocab"] = {str(i): list(b) for i, b in self.vocab.items()}
        if self.special_tokens:
            d["special_tokens"] = dict(self.special_tokens)
        return d
