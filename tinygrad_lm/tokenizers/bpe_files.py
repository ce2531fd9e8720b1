"""Byte-level BPE tokenizer files, read: OpenAI's, Hugging Face's and tiktoken's.

- OpenAI GPT-2: `encoder.json` (token -> id) + `vocab.bpe` (the merges in rank order), byte
  strings written in `bytes_to_unicode()` characters (a space is "Ġ");
- Hugging Face: the same two files named `vocab.json` + `merges.txt`, or one `tokenizer.json`;
- tiktoken: `name.tiktoken`, one "base64(token) rank" per line; no merges, no special tokens.

Every reader returns `BPEFiles(merges, vocab, special_tokens, pattern)`: merges as (left_id,
right_id) pairs in rank order, vocab as id -> bytes for the mergeable tokens, special tokens as
text -> id. Every error names the file, the line when there is one, and what to do.
Writing them is `bpe_file_writers.py`.
"""

from __future__ import annotations

import binascii
import json
import os
import re
from typing import NamedTuple

# GPT-2's pre-tokenisation (from OpenAI's encoder.py): contractions, an optional space and a
# run of letters, of digits, or of other symbols, then whitespace. \p{L} and \p{N} are Unicode
# letter and number classes, which need the `regex` package (the standard `re` has none).
# `\s+(?!\S)` keeps the last space of a run for the word that follows, so " the" stays a token.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"


class BPEFiles(NamedTuple):
    merges: list[tuple[int, int]]
    vocab: dict[int, bytes]
    special_tokens: dict[str, int]
    pattern: str = GPT2_PATTERN


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters, used to write
    byte strings in its files: printable Latin-1 bytes map to themselves, the others (controls,
    space, ...) to code points 256, 257, ... in byte order. So a space is written "Ġ" (U+0120)."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    chars, n = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(keep, map(chr, chars)))


_BYTE_OF = {c: b for b, c in bytes_to_unicode().items()}
_CHAR_OF = bytes_to_unicode()
# The same maps as str.translate tables, so that a whole token converts in one C-level call
# (50,000 tokens one character at a time in Python is most of a second). To bytes: each
# alphabet character becomes the Latin-1 character of its byte, and every other character of
# U+0000..U+00FF becomes U+FFFD, so that .encode("latin-1") fails on any character outside the
# alphabet (those above U+00FF fail by themselves) instead of passing through unchanged.
_TO_LATIN1 = {**{b: "\ufffd" for b in range(256)}, **{ord(c): chr(b) for c, b in _BYTE_OF.items()}}
_FROM_LATIN1 = {b: c for b, c in _CHAR_OF.items()}

# Bounds on what a tokenizer file may make us hold: the largest tokenizers in use have a few
# hundred thousand tokens of at most a few hundred bytes in files of a few tens of MB. A corrupt
# or hostile file beyond these gets an error instead of an allocation: a token id sets the rows
# of a model's embedding, and deriving a ranks file's merges costs the square of a token's length.
MAX_FILE_BYTES = 256 * 2 ** 20
MAX_TOKEN_ID = 2 ** 24 - 1
MAX_TOKEN_BYTES = 4096


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of `path`; a missing, oversized or non-UTF-8 file is an error naming
    `what` it was."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise ValueError(f"{what} file {path!r} is {size:,} bytes, more than the "
                                 f"{MAX_FILE_BYTES:,} any tokenizer or model config needs; is "
                                 "it the right file?")
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file {path!r} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{what} file {path!r} is a directory") from None
    if len(data) > MAX_FILE_BYTES:  # a pipe or special file whose size fstat does not know
        raise ValueError(f"{what} file {path!r} is more than {MAX_FILE_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} file {path!r} is not UTF-8 text: {e}") from None


def read_json(path: str, what: str):
    """`read_text` parsed as JSON; invalid JSON is a ValueError naming `what` and the file."""
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} file {path!r} is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError(f"{what} file {path!r} nests its JSON too deeply") from None


def token_bytes(token: str, where: str) -> bytes:
    """b" the" from "Ġthe"."""
    try:
        return token.translate(_TO_LATIN1).encode("latin-1")
    except UnicodeEncodeError:
        bad = next(c for c in token if c not in _BYTE_OF)
        raise ValueError(f"{where}: token {token!r} has character {bad!r}, which is not "
                         "in GPT-2's byte alphabet (is this a byte-level BPE file?)") from None


def token_text(data: bytes) -> str:
    """"Ġthe" from b" the"."""
    return data.decode("latin-1").translate(_FROM_LATIN1)


def check_token_id(i, where: str) -> int:
    """`i` as a token id: an integer (not a bool) in 0..MAX_TOKEN_ID."""
    if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= MAX_TOKEN_ID:
        raise ValueError(f"{where} has id {i!r}; ids must be integers from 0 to "
                         f"{MAX_TOKEN_ID:,}")
    return i


# ---- reading -----------------------------------------------------------------------------------

def _vocab_from_strings(encoder, path: str, added: dict[str, int]):
    """(id -> bytes, token string -> id) of the mergeable tokens (those not in `added`)."""
    if not isinstance(encoder, dict):
        raise ValueError(f"{path!r}: expected a JSON object mapping token -> id, got "
                         f"{type(encoder).__name__}")
    id_of = {}
    for token, i in encoder.items():
        check_token_id(i, f"{path!r}: token {token!r}")
        if token not in added:
            id_of[token] = i
    vocab = {i: token_bytes(token, path) for token, i in id_of.items()}
    if len(vocab) != len(id_of):
        first = {}
        for token, i in id_of.items():
            if i in first:
                raise ValueError(f"{path!r}: tokens {first[i]!r} and {token!r} both have id {i}; "
                                 "each token needs its own id")
            first[i] = token
    return vocab, id_of


def _merges_from_lines(lines, id_of: dict[str, int], path: str):
    """Merges written "Ġ t" per line (or ["Ġ", "t"] in a newer tokenizer.json), looked up in
    the token strings themselves (the byte alphabet is one-to-one, so equal strings are equal
    bytes). Returns the merges as (left_id, right_id) and the id each one makes."""
    merges, made = [], []
    for lineno, line in lines:
        parts = line.split(" ") if isinstance(line, str) else line
        if isinstance(parts, list) and len(parts) == 2:
            left, right = parts
            if isinstance(left, str) and isinstance(right, str):
                a, b, ab = id_of.get(left), id_of.get(right), id_of.get(left + right)
                if a is not None and b is not None and ab is not None:
                    merges.append((a, b))
                    made.append(ab)
                    continue
        _bad_merge(path, lineno, line, parts)
    return merges, made


def _bad_merge(path: str, lineno: int, line, parts):
    """The error for a merge line that did not resolve to three tokens of the vocabulary."""
    where = f"{path!r} {'line' if isinstance(line, str) else 'merge'} {lineno}"
    if not isinstance(parts, list) or len(parts) != 2 or not all(
            isinstance(p, str) and p for p in parts):
        raise ValueError(f"{where}: expected two tokens separated by one space, got "
                         f"{line!r}; the file is damaged, get a fresh copy")
    for p in parts:
        token_bytes(p, where)  # a character outside the byte alphabet says so
    raise ValueError(f"{where}: merge {' '.join(parts)!r} uses or makes a token missing "
                     "from the vocabulary; the merges and vocabulary files do not belong "
                     "together")


def _split_special(vocab: dict[int, bytes], made: list[int], special: dict[str, int]):
    """Tokens that are neither a byte nor the result of a merge can never come out of BPE:
    they are special tokens (GPT-2's `<|endoftext|>` sits in encoder.json that way)."""
    made = set(made)
    for i in [i for i, b in vocab.items() if len(b) > 1 and i not in made]:
        special.setdefault(vocab.pop(i).decode("utf-8", errors="replace"), i)
    return vocab, special


def _merge_lines(text: str):
    """(line number, line) of a merges file's merges: blank lines and the "#version" header
    left out."""
    lines = text.split("\n")
    start = 1 if lines and lines[0].startswith("#version") else 0
    return [(n, line.rstrip("\r")) for n, line in enumerate(lines[start:], start + 1)
            if line and not line.isspace()]


def read_vocab_and_merges(vocab_path: str, merges_path: str,
                          special_tokens: dict[str, int] | None = None) -> BPEFiles:
    """OpenAI's encoder.json + vocab.bpe, or Hugging Face's vocab.json + merges.txt."""
    special = dict(special_tokens or {})
    vocab, id_of = _vocab_from_strings(read_json(vocab_path, "vocabulary"), vocab_path, special)
    lines = _merge_lines(read_text(merges_path, "merges"))
    merges, made = _merges_from_lines(lines, id_of, merges_path)
    vocab, special = _split_special(vocab, made, special)
    return BPEFiles(merges, vocab, special)


def read_tokenizer_json(path: str) -> BPEFiles:
    """Hugging Face's one-file tokenizer (`tokenizer.json`) for a byte-level BPE model."""
    d = read_json(path, "tokenizer.json")
    model = d.get("model") if isinstance(d, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        kind = model.get("type") if isinstance(model, dict) else None
        raise ValueError(f"{path!r}: not a BPE tokenizer.json (model type {kind!r}); only "
                         "byte-level BPE tokenizers (GPT-2's kind) can be loaded")
    if d.get("normalizer") is not None:
        raise ValueError(f"{path!r}: has a normalizer ({d['normalizer'].get('type')!r}), which "
                         "GPT-2 does not use; such a tokenizer would encode differently here")
    pattern = _pattern_of(d.get("pre_tokenizer"), path)
    special = {}
    for t in d.get("added_tokens") or []:
        if not isinstance(t, dict) or not isinstance(t.get("content"), str) \
                or not isinstance(t.get("id"), int):
            raise ValueError(f"{path!r}: added_tokens entry {t!r} needs 'content' and 'id'")
        special[t["content"]] = check_token_id(t["id"], f"{path!r}: added token {t['content']!r}")
    vocab, id_of = _vocab_from_strings(model.get("vocab"), path, special)
    merges, made = _merges_from_lines(enumerate(model.get("merges") or [], 1), id_of, path)
    vocab, special = _split_special(vocab, made, special)
    return BPEFiles(merges, vocab, special, pattern)


def _pattern_of(pre, path: str) -> str:
    """GPT-2's pattern for a ByteLevel pre-tokenizer with use_regex; the Split pattern when a
    Split(regex) runs before a ByteLevel(use_regex=False)."""
    steps = pre.get("pretokenizers", []) if isinstance(pre, dict) and pre.get(
        "type") == "Sequence" else [pre]
    kinds = [s.get("type") if isinstance(s, dict) else None for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True) \
            and not steps[0].get("add_prefix_space", False):
        return GPT2_PATTERN
    if kinds == ["Split", "ByteLevel"] and "Regex" in (steps[0].get("pattern") or {}) \
            and steps[0].get("behavior") == "Isolated" and not steps[1].get("use_regex", True):
        return steps[0]["pattern"]["Regex"]
    raise ValueError(f"{path!r}: pre_tokenizer {kinds} is not GPT-2's byte-level splitting "
                     "(ByteLevel without add_prefix_space); this tokenizer is not supported")


# a ranks file's line: standard base64 (its alphabet, then at most two "=" of padding), one
# space, a decimal rank; spaces or tabs around it are allowed, and a Windows line end
_RANKS_LINE = re.compile(r"[ \t]*([A-Za-z0-9+/]*={0,2})[ \t]+([0-9]{1,12})[ \t\r]*")


def read_tiktoken(path: str, special_tokens: dict[str, int] | None = None) -> BPEFiles:
    """A tiktoken ranks file: "base64(token) rank" per line. The merges are not stored; each
    token's merge is found by running BPE on its bytes with the lower-ranked tokens only,
    which must end in exactly two pieces. Without special_tokens, `<|endoftext|>` gets the
    id after the last rank, as in tiktoken's gpt2 encoding ({} for none)."""
    ranks: dict[bytes, int] = {}
    for lineno, line in enumerate(read_text(path, "tiktoken").split("\n"), 1):
        m = _RANKS_LINE.fullmatch(line)
        if m is None:
            if not line.strip():
                continue
            raise ValueError(f"{path!r} line {lineno}: expected 'base64-token rank', got "
                             f"{line[:80]!r}; the file is damaged, get a fresh copy")
        try:
            token = binascii.a2b_base64(m[1])
        except binascii.Error:
            raise ValueError(f"{path!r} line {lineno}: {m[1][:80]!r} is not base64 (bad "
                             "padding); the file is damaged, get a fresh copy") from None
        rank = check_token_id(int(m[2]), f"{path!r} line {lineno}: token {token[:40]!r}")
        if token in ranks or len(token) > MAX_TOKEN_BYTES:
            raise ValueError(f"{path!r} line {lineno}: token {token[:40]!r} is listed twice or "
                             f"is longer than {MAX_TOKEN_BYTES} bytes")
        ranks[token] = rank
    vocab = {r: t for t, r in ranks.items()}
    if len(vocab) != len(ranks):
        raise ValueError(f"{path!r}: two tokens share one rank")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(f"{path!r}: no token for byte(s) {missing[:8]}; a byte-level BPE ranks "
                         "file lists all 256 bytes (is this a tiktoken file?)")
    merges = []
    for rank in sorted(vocab):
        token = vocab[rank]
        if len(token) > 1:
            parts = _bpe_with_ranks(token, ranks, rank)
            if len(parts) != 2:
                raise ValueError(f"{path!r}: token {token!r} (rank {rank}) cannot be built from "
                                 "two lower-ranked tokens; this is not a BPE ranks file")
            merges.append((ranks[parts[0]], ranks[parts[1]]))
    if special_tokens is None:
        special_tokens = {ENDOFTEXT: max(vocab, default=-1) + 1}
    return BPEFiles(merges, vocab, dict(special_tokens))


def _bpe_with_ranks(token: bytes, ranks: dict[bytes, int], max_rank: int) -> list[bytes]:
    """tiktoken's rule: merge the adjacent pair whose concatenation has the lowest rank (the
    leftmost of equals), using only tokens ranked below max_rank. As in tiktoken, the parts are
    cut positions into `token` and the rank of each adjacent pair is kept in a list, so that a
    merge looks up only the two pairs beside it again (this runs once per token of the file)."""
    get, n = ranks.get, len(token)
    cuts = list(range(n + 1))  # part i is token[cuts[i]:cuts[i + 1]]
    pair_rank = [get(token[i:i + 2], max_rank) for i in range(n - 1)]  # max_rank: not merged
    while pair_rank:
        best = min(pair_rank)
        if best >= max_rank:
            break
        i = pair_rank.index(best)
        del cuts[i + 1], pair_rank[i]
        if i > 0:
            pair_rank[i - 1] = get(token[cuts[i - 1]:cuts[i + 1]], max_rank)
        if i < len(pair_rank):
            pair_rank[i] = get(token[cuts[i]:cuts[i + 2]], max_rank)
    return [token[a:b] for a, b in zip(cuts, cuts[1:])]


# The tokenizer files of a model directory, in the order they are looked for.
DIRECTORY_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"),
                   ("encoder.json", "vocab.bpe"))


def find_tokenizer_files(directory: str) -> list[str]:
    """The paths of the first complete set of DIRECTORY_FILES, else the one *.tiktoken file."""
    for names in DIRECTORY_FILES:
        paths = [os.path.join(directory, n) for n in names]
        if all(os.path.isfile(p) for p in paths):
            return paths
    ranks = sorted(n for n in os.listdir(directory) if n.endswith(".tiktoken"))
    if len(ranks) == 1:
        return [os.path.join(directory, ranks[0])]
    found = ", ".join(sorted(os.listdir(directory))[:10]) or "nothing"
    raise FileNotFoundError(
        f"no tokenizer in directory {directory!r} (found: {found}); it needs tokenizer.json, "
        "vocab.json + merges.txt, encoder.json + vocab.bpe, or one .tiktoken file"
        + (f" (there are {len(ranks)} .tiktoken files: pass one)" if ranks else ""))
