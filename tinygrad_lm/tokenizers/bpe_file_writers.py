"""Byte-level BPE tokenizer files, written: the formats `gpt2_files.py` reads.

`write_vocab_and_merges` (Hugging Face's, and OpenAI's under other names), `tokenizer_json`
(the document of Hugging Face's `tokenizer.json`) and `write_tiktoken` (a ranks file), each from
a `BPEFiles`, so that what is written reads back to the same tokenizer.
"""

from __future__ import annotations

import base64
import json
import os

from .bpe_files import GPT2_PATTERN, BPEFiles, token_text


def _encoder(vocab: dict[int, bytes], special: dict[str, int]) -> dict[str, int]:
    encoder = {token_text(b): i for i, b in sorted(vocab.items())}
    encoder.update({token_text(t.encode("utf-8")): i for t, i in special.items()})
    return encoder


def _merge_strings(vocab: dict[int, bytes], merges) -> list[str]:
    return [f"{token_text(vocab[a])} {token_text(vocab[b])}" for a, b in merges]


def write_vocab_and_merges(directory: str, files: BPEFiles) -> list[str]:
    """vocab.json + merges.txt, as Hugging Face's GPT2Tokenizer reads them."""
    os.makedirs(directory, exist_ok=True)
    vocab_path = os.path.join(directory, "vocab.json")
    merges_path = os.path.join(directory, "merges.txt")
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(_encoder(files.vocab, files.special_tokens), f, ensure_ascii=False)
    with open(merges_path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(m + "\n" for m in
                                             _merge_strings(files.vocab, files.merges)))
    return [vocab_path, merges_path]


def tokenizer_json(files: BPEFiles) -> dict:
    """The document of Hugging Face's `tokenizer.json` for this byte-level BPE."""
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": files.pattern == GPT2_PATTERN}
    pre = byte_level if files.pattern == GPT2_PATTERN else {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": files.pattern}, "behavior": "Isolated",
         "invert": False}, byte_level]}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for t, i in sorted(files.special_tokens.items(), key=lambda kv: kv[1])]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": pre,
            "post_processor": {**byte_level, "trim_offsets": False},
            "decoder": {**byte_level, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": _encoder(files.vocab, files.special_tokens),
                      "merges": _merge_strings(files.vocab, files.merges)}}


def write_tiktoken(path: str, files: BPEFiles) -> None:
    """A tiktoken ranks file, rank = id. That is only the same tokenizer if every merged token's
    id grows with its merge's rank (true of GPT-2 and of tokenizers trained here)."""
    merged = [files.vocab[a] + files.vocab[b] for a, b in files.merges]
    id_of = {b: i for i, b in files.vocab.items()}
    ids = [id_of[m] for m in merged]
    if ids != sorted(ids) or (ids and min(ids) <= max(id_of[bytes([b])] for b in range(256))):
        raise ValueError(f"{path!r}: this vocabulary's ids do not follow its merge order, so a "
                         "ranks file (rank = id) would encode differently; write Hugging Face "
                         "files instead")
    with open(path, "w", encoding="ascii") as f:
        for i, b in sorted(files.vocab.items()):
            f.write(f"{base64.b64encode(b).decode('ascii')} {i}\n")
