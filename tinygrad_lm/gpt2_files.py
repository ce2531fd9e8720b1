"""OpenAI GPT-2's tokenizer files (`encoder.json` + `vocab.bpe`) and their byte alphabet."""

from __future__ import annotations

import json


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


def read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} file {path!r} does not exist") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} file {path!r} is not UTF-8 text: {e}") from None


def read_json(path: str, what: str):
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} file {path!r} is not valid JSON: {e}") from None


def read_gpt2_files(encoder_json_path: str, vocab_bpe_path: str):
    """(merges as id pairs in rank order, vocab id -> bytes) from GPT-2's two files. Both write
    bytes with `bytes_to_unicode()` characters, so "Ġthe" is b" the"."""
    encoder = read_json(encoder_json_path, "encoder.json")
    byte_of = {c: b for b, c in bytes_to_unicode().items()}

    def to_bytes(token: str, where: str) -> bytes:
        try:
            return bytes(byte_of[c] for c in token)
        except KeyError as e:
            raise ValueError(f"{where}: token {token!r} has character {e.args[0]!r}, which "
                             "is not in GPT-2's byte alphabet") from None

    if not isinstance(encoder, dict):
        raise ValueError(f"{encoder_json_path!r}: expected a JSON object token -> id")
    vocab = {int(i): to_bytes(t, encoder_json_path) for t, i in encoder.items()}
    id_of = {b: i for i, b in vocab.items()}
    merges = []
    for lineno, line in enumerate(read_text(vocab_bpe_path, "vocab.bpe").split("\n"), 1):
        if (lineno == 1 and line.startswith("#version")) or not line.strip():
            continue
        parts = line.split()
        where = f"{vocab_bpe_path!r} line {lineno}"
        if len(parts) != 2:
            raise ValueError(f"{where}: expected two tokens separated by a space, got "
                             f"{line!r}")
        left, right = (to_bytes(p, where) for p in parts)
        if not {left, right, left + right} <= id_of.keys():
            raise ValueError(f"{where}: merge {line!r} uses or makes a token missing from "
                             f"{encoder_json_path!r}")
        merges.append((id_of[left], id_of[right]))
    return merges, vocab
