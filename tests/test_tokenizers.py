"""Tokenizers: round trips, learned merges, GPT-2 file loading, save/load, unknown characters."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lm.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    bytes_to_unicode,
    load_tokenizer,
    tokenizer_from_dict,
)

SAMPLES = ["hello world", "🙂👍🏽 emoji", "自回归语言模型", "tabs\tand\nnew  lines \r\n",
           "e\u0301 combining", "", "snake_case __init__ 12345 3.14"]


def test_char_round_trip_and_sorted_vocab():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world"))
    assert tok.decode(tok.encode("hold the world"[:4])) == "hold"


def test_char_unknown_characters():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' at position 1.*unk="):
        tok.encode("az")
    tok = CharTokenizer.from_text("abc", unk="?")
    assert tok.decode(tok.encode("az")) == "a?"
    with pytest.raises(IndexError, match="id 9 is out of range for vocab size 4"):
        tok.decode([9])


@pytest.mark.parametrize("text", SAMPLES)
def test_bpe_round_trip(text):
    tok = BPETokenizer.train("hello world " * 50 + "自回归 " * 20, 300)
    assert tok.decode(tok.encode(text)) == text


def test_bpe_learns_expected_merges():
    tok = BPETokenizer.train("aaabdaaabac", 259, pattern=r".+")
    a, b = ord("a"), ord("b")
    assert tok.merges[0] == (a, a)          # "aa" occurs most often
    # then "aa"+"a" and "a"+"b" tie at 2; the smaller pair of ids wins
    assert tok.merges[1] == (a, b)
    assert tok.merges[2] == (256, 257)      # "aa" + "ab"
    assert tok.encode("aaab") == [258]


def test_bpe_train_needs_byte_alphabet():
    with pytest.raises(ValueError, match=">= 256"):
        BPETokenizer.train("abc", 100)


def test_save_load(tmp_path):
    for tok in (CharTokenizer.from_text("abab xyz"), BPETokenizer.train("abab abab abab", 260)):
        path = tmp_path / "tok.json"
        tok.save(str(path))
        back = load_tokenizer(str(path))
        assert back.encode("abab") == tok.encode("abab")
        assert tokenizer_from_dict(tok.to_dict()).vocab_size == tok.vocab_size
    (tmp_path / "bad.json").write_text('{"type": "words"}')
    with pytest.raises(ValueError, match="bad.json"):
        load_tokenizer(str(tmp_path / "bad.json"))


def test_gpt2_files(tmp_path):
    b2u = bytes_to_unicode()
    encoder = {b2u[b]: b for b in range(256)}
    h, e, ll, o = b2u[ord("h")], b2u[ord("e")], b2u[ord("l")], b2u[ord("o")]
    encoder[h + e] = 256
    encoder[ll + o] = 257
    encoder[h + e + ll + o] = 258
    (tmp_path / "encoder.json").write_text(json.dumps(encoder))
    (tmp_path / "vocab.bpe").write_text(f"#version: 0.2\n{h} {e}\n{ll} {o}\n{h + e} {ll + o}\n")
    tok = BPETokenizer.from_gpt2_files(str(tmp_path / "encoder.json"),
                                       str(tmp_path / "vocab.bpe"))
    ids = tok.encode("helo hello 🙂")
    assert ids[0] == 258
    assert tok.decode(ids) == "helo hello 🙂"
    back = tokenizer_from_dict(tok.to_dict())
    assert back.encode("helo") == [258]


@settings(max_examples=60, deadline=None)
@given(st.text())
def test_bpe_round_trip_property(text):
    tok = _PROPERTY_TOK
    assert tok.decode(tok.encode(text)) == text


_PROPERTY_TOK = BPETokenizer.train("the quick brown fox 🙂 jumps over 自回归 the lazy dog " * 20,
                                   320)
