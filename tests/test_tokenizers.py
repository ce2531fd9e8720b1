"""Tokenizers: round trips, learned merges, GPT-2 file loading, save/load, unknown characters."""

import json
import re

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_lm.tokenizers import (
    GPT2_PATTERN,
    BPETokenizer,
    CharTokenizer,
    load_tokenizer,
    tokenizer_from_dict,
)
from tinygrad_lm.tokenizers.bpe_files import bytes_to_unicode

SAMPLES = ["hello world", "🙂👍🏽", "emoji 🙂👍🏽 in text", "自回归语言模型",
           "tabs\tand\nnew  lines \r\n", "   leading and trailing   ", "e\u0301 combining",
           "", "snake_case __init__ 12345 3.14", "it's we'll they'd", "\x00\x7f control"]

TRAIN_TEXT = ("hello world, the world says hello. " * 40 + "自回归语言模型 " * 10
              + "🙂👍🏽 " * 5 + "snake_case = 42\n\tdone\n" * 5)


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(TRAIN_TEXT, 300)


# ---- characters ------------------------------------------------------------------------------

def test_char_vocab_is_sorted_and_round_trips():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    assert tok.encode("hello") == [tok.stoi[c] for c in "hello"]
    assert tok.decode(tok.encode("low role")) == "low role"
    assert tok.decode(np.array(tok.encode("hold"), dtype=np.int64)) == "hold"
    assert tok.decode([]) == "" and tok.encode("") == []


def test_char_unknown_characters_raise_with_position_and_fix():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"2 character\(s\).*'z' at position 1, '!' at "
                                         r"position 3.*from_text\(text, unk='\?'\)"):
        tok.encode("azb!z")


def test_char_unk_policy():
    tok = CharTokenizer.from_text("abc", unk="?")
    assert "?" in tok.chars and tok.vocab_size == 4
    assert tok.decode(tok.encode("az🙂c")) == "a??c"
    assert CharTokenizer.from_text("ab?", unk="?").vocab_size == 3  # already in the text
    with pytest.raises(ValueError, match="single character"):
        CharTokenizer.from_text("abc", unk="<unk>")


def test_char_decode_out_of_range_and_bad_input():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(IndexError, match="id 9 is out of range for vocab size 3"):
        tok.decode([0, 9])
    with pytest.raises(IndexError, match="id -1"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="1-D sequence of integer ids"):
        tok.decode(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="expected a str"):
        tok.encode(b"abc")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1))
def test_char_round_trip_property(text):
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


# ---- byte-level BPE --------------------------------------------------------------------------

@pytest.mark.parametrize("text", SAMPLES)
def test_bpe_round_trip(bpe, text):
    ids = bpe.encode(text)
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.decode(ids) == text
    assert bpe.decode(np.array(ids, dtype=np.int32)) == text


def test_bpe_compresses_the_training_text(bpe):
    assert bpe.vocab_size == 300 and len(bpe.merges) == 44
    assert len(bpe.encode(TRAIN_TEXT)) < 0.5 * len(TRAIN_TEXT.encode("utf-8"))
    assert len(bpe.encode(" hello")) == 1


def test_bpe_learns_expected_merges():
    tok = BPETokenizer.train("aaabdaaabac" * 3, 259, pattern=r".+")
    a, b = ord("a"), ord("b")
    assert tok.merges[0] == (a, a)          # "aa" is the most frequent pair
    # then "aa"+"a" and "a"+"b" tie; the smaller pair of ids, (97, 98), wins
    assert tok.merges[1] == (a, b)
    assert tok.merges[2] == (256, 257)      # "aa" + "ab"
    assert tok.encode("aaab") == [258]
    assert tok.vocab[258] == b"aaab"


def test_bpe_merges_respect_word_boundaries():
    tok = BPETokenizer.train("ab ab ab ab. ab!", 300)
    glued = [tok.vocab[256 + r] for r in range(len(tok.merges))]
    assert b" ab" in glued
    # the pattern never lets a merge join a word to the following punctuation or word
    assert not any(re.search(rb"b[.! ]", g) for g in glued)
    assert len(tok.merges) < 44  # ran out of pairs before vocab_size: training stops early


def test_bpe_training_is_deterministic():
    a = BPETokenizer.train(TRAIN_TEXT, 300)
    b = BPETokenizer.train(TRAIN_TEXT, 300)
    assert a.merges == b.merges and a == b


def test_bpe_train_needs_byte_alphabet():
    with pytest.raises(ValueError, match=">= 256"):
        BPETokenizer.train("abc", 100)
    assert BPETokenizer.train("abc", 256).encode("abc") == [97, 98, 99]


def test_bpe_decode_errors_and_partial_characters(bpe):
    with pytest.raises(IndexError, match=f"id 9999 is out of range for vocab size "
                                         f"{bpe.vocab_size}"):
        bpe.decode([9999])
    ids = BPETokenizer([]).encode("é")  # two bytes, two tokens
    assert BPETokenizer([]).decode(ids[:1]) == "\ufffd"  # a cut character does not crash


def test_pattern_covers_every_character():
    text = "snake_case __x__ it's 12,345 héllo  world\n\n  自回归 🙂 e\u0301 ½²"
    assert "".join(regex.findall(GPT2_PATTERN, text)) == text
    assert regex.findall(GPT2_PATTERN, "it's __init__") == ["it", "'s", " __", "init", "__"]
    # \p{L} and \p{N} are Unicode's classes: a combining mark (\p{M}) is neither, so it
    # stands alone, and "½²" are numbers
    assert regex.findall(GPT2_PATTERN, "e\u0301 ½²") == ["e", "\u0301", " ½²"]


@settings(max_examples=80, deadline=None)
@given(st.text())
def test_bpe_round_trip_property(text):
    assert _PROPERTY_TOK.decode(_PROPERTY_TOK.encode(text)) == text


_PROPERTY_TOK = BPETokenizer.train(TRAIN_TEXT, 300)


# ---- saving, loading, GPT-2 files ------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: CharTokenizer.from_text("abab xyz"),
                                  lambda: CharTokenizer.from_text("abab", unk="?"),
                                  lambda: BPETokenizer.train(TRAIN_TEXT, 290)])
def test_save_load_equality(tmp_path, make):
    tok = make()
    path = tmp_path / "sub" / "tok.json"
    tok.save(str(path))
    saved = json.loads(path.read_text())
    assert saved["type"] in ("char", "bpe") and saved["version"] == 1
    back = load_tokenizer(str(path))
    assert type(back) is type(tok) and back == tok
    assert back.encode("abab") == tok.encode("abab")
    assert tokenizer_from_dict(json.loads(json.dumps(tok.to_dict()))) == tok


def test_load_rejects_foreign_and_corrupt_files(tmp_path):
    cases = {"words.json": '{"type": "words"}', "list.json": "[1, 2]",
             "broken.json": '{"type": "char", "chars": ', "nochars.json": '{"type": "char"}',
             "future.json": '{"type": "char", "version": 99, "chars": ["a"]}'}
    for name, content in cases.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(ValueError, match=re.escape(name)):
            load_tokenizer(str(tmp_path / name))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_tokenizer(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="expected one of"):
        tokenizer_from_dict({"type": "words"})


def _write_gpt2_files(tmp_path, merges):
    """Files in GPT-2's format: byte tokens get ids in bytes_to_unicode order (as GPT-2's do,
    so "!" is 0 and byte 0 is not), merged tokens get ids in REVERSE rank order, so a test
    can tell encoder ids from ranks."""
    b2u = bytes_to_unicode()
    encoder = {ch: i for i, ch in enumerate(b2u.values())}
    text = lambda s: "".join(b2u[b] for b in s.encode("utf-8"))  # noqa: E731
    for rank, (left, right) in enumerate(merges):
        encoder[text(left + right)] = 256 + len(merges) - 1 - rank
    (tmp_path / "encoder.json").write_text(json.dumps(encoder), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{text(a)} {text(b)}" for a, b in merges]
    (tmp_path / "vocab.bpe").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return encoder, text


def test_gpt2_files(tmp_path):
    merges = [(" ", "h"), ("e", "l"), (" h", "el"), ("l", "o"), (" hel", "lo")]
    encoder, text = _write_gpt2_files(tmp_path, merges)
    tok = BPETokenizer.from_gpt2_files(str(tmp_path / "encoder.json"),
                                       str(tmp_path / "vocab.bpe"))
    assert tok.vocab_size == 261
    assert text(" ") == "Ġ" and encoder["!"] == 0
    assert tok.encode(" hello") == [encoder["Ġhello"]] == [256]
    assert tok.encode(" help") == [encoder["Ġhel"], encoder["p"]]
    assert tok.encode("hello") == [encoder["h"], encoder["el"], encoder["lo"]]
    for sample in SAMPLES + [" hello hello 🙂"]:
        assert tok.decode(tok.encode(sample)) == sample
    back = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert back == tok and back.encode(" hello") == [256]


def test_gpt2_files_errors(tmp_path):
    _write_gpt2_files(tmp_path, [("h", "e")])
    with (tmp_path / "vocab.bpe").open("a", encoding="utf-8") as f:
        f.write("x y z\n")
    with pytest.raises(ValueError, match="line 3: expected two tokens"):
        BPETokenizer.from_gpt2_files(str(tmp_path / "encoder.json"), str(tmp_path / "vocab.bpe"))
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\nq z\n")
    with pytest.raises(ValueError, match="line 2: merge 'q z' uses or makes a token missing"):
        BPETokenizer.from_gpt2_files(str(tmp_path / "encoder.json"), str(tmp_path / "vocab.bpe"))
    with pytest.raises(FileNotFoundError, match="nope.json"):
        BPETokenizer.from_gpt2_files(str(tmp_path / "nope.json"), str(tmp_path / "vocab.bpe"))
