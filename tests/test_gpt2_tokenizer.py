"""GPT-2's tokenizer: special tokens, every file format (OpenAI, Hugging Face, tiktoken), bad
files, and exactness against GPT-2's real ranks and the reference tokenizers when present."""

import base64
import json
import os

import pytest

from tinygrad_lm.tokenizers import BPETokenizer, load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANKS = next((p for p in (os.path.join(ROOT, "..", "shared", "data", "gpt2.tiktoken"),
                          "/work/shared/data/gpt2.tiktoken") if os.path.exists(p)), None)
needs_ranks = pytest.mark.skipif(RANKS is None, reason="GPT-2's gpt2.tiktoken is not present")

TEXT = ("the cat sat on the mat. the dog sat on the log! it's 2024, we'll see.\n" * 20
        + "héllo wörld 自回归 🙂 e\u0301 " * 5)
HARD = ["Hello world", "héllo wörld café naïve", "自回归语言模型 日本語のテキスト",
        "emoji 🙂👍🏽 👨‍👩‍👧 🏳️‍🌈", "e\u0301 combining a\u0308", "١٢٣ ²³ ½ Ⅻ ๓ ߁",
        "   leading\t\ttabs\n\n\n  trailing   ", "it's we'll they'd I'M o'clock",
        "snake_case __init__ 12345 3.14159", "\x00\x7f\x1b[31m", " \n \u3000 \u00a0x \u2028",
        "a\u200db", "", " ", "<|endoftext", "<|endoftext|", "ـــ\u0640"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def small():
    """A trained tokenizer with GPT-2's special token after its last id."""
    tok = BPETokenizer.train(TEXT, 300)
    return BPETokenizer(tok.merges, special_tokens={"<|endoftext|>": 300})


@pytest.fixture(scope="module")
def gpt2():
    if RANKS is None:
        pytest.skip("GPT-2's gpt2.tiktoken is not present")
    return BPETokenizer.from_tiktoken(RANKS)


# ---- special tokens ---------------------------------------------------------------------------
def test_special_tokens_follow_tiktoken_convention(small):
    text = "the cat<|endoftext|>the dog"
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>' at position 7, "
                                         r"which is not allowed. Pass allowed_special="):
        small.encode(text)
    ids = small.encode(text, allowed_special="all")
    assert ids == small.encode("the cat") + [300] + small.encode("the dog")
    assert ids == small.encode(text, allowed_special={"<|endoftext|>"})
    plain = small.encode(text, disallowed_special=())
    assert 300 not in plain and plain == small.encode_ordinary(text)
    assert small.decode(ids) == small.decode(plain) == text
    assert small.vocab_size == 301
    with pytest.raises(ValueError, match="not special tokens of this tokenizer"):
        small.encode("x", allowed_special={"<|pad|>"})
    with pytest.raises(TypeError, match="wrap it"):
        small.encode("x", allowed_special="<|endoftext|>")


def test_special_token_ids_must_be_free(small):
    with pytest.raises(ValueError, match="has id 97, which b'a' already uses"):
        BPETokenizer(small.merges, special_tokens={"<|endoftext|>": 97})
    with pytest.raises(ValueError, match="non-empty string"):
        BPETokenizer([], special_tokens={"": 300})


def test_longest_special_token_wins():
    tok = BPETokenizer([], special_tokens={"<|a|>": 256, "<|a|><|a|>": 257})
    assert tok.encode("<|a|><|a|><|a|>", allowed_special="all") == [257, 256]


# ---- file formats -----------------------------------------------------------------------------
def _same(a, b, texts=HARD + [TEXT]):
    for t in texts:
        assert a.encode(t, allowed_special="all") == b.encode(t, allowed_special="all"), t
    assert a.special_tokens == b.special_tokens and a.vocab_size == b.vocab_size


def test_every_format_gives_the_same_ids(small, tmp_path):
    written = small.save_hf(str(tmp_path))
    assert sorted(os.path.basename(p) for p in written) == ["merges.txt", "tokenizer.json",
                                                            "vocab.json"]
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["<|endoftext|>"] == 300 and vocab["Ġ"] == 32  # a space is written "Ġ"
    assert (tmp_path / "merges.txt").read_text(encoding="utf-8").startswith("#version: 0.2\n")
    small.save_tiktoken(str(tmp_path / "small.tiktoken"))
    os.rename(tmp_path / "vocab.json", tmp_path / "encoder.json")
    os.rename(tmp_path / "merges.txt", tmp_path / "vocab.bpe")
    loaded = [BPETokenizer.from_tokenizer_json(str(tmp_path / "tokenizer.json")),
              BPETokenizer.from_gpt2_files(str(tmp_path / "encoder.json"),
                                           str(tmp_path / "vocab.bpe")),
              BPETokenizer.from_tiktoken(str(tmp_path / "small.tiktoken")),
              load_tokenizer(str(tmp_path)), load_tokenizer(str(tmp_path / "tokenizer.json"))]
    for tok in loaded:
        _same(tok, small)
    small.save(str(tmp_path / "ours.json"))
    assert load_tokenizer(str(tmp_path / "ours.json")) == small


def test_tokenizer_json_with_merges_as_pairs(small, tmp_path):
    small.save_hf(str(tmp_path))
    d = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    d["model"]["merges"] = [m.split(" ") for m in d["model"]["merges"]]  # newer writers
    (tmp_path / "tokenizer.json").write_text(json.dumps(d), encoding="utf-8")
    _same(BPETokenizer.from_tokenizer_json(str(tmp_path / "tokenizer.json")), small)


def test_directory_lookup_order_and_errors(small, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no tokenizer in directory .*found: nothing.*"
                                                r"vocab.json \+ merges.txt"):
        load_tokenizer(str(tmp_path))
    small.save_tiktoken(str(tmp_path / "a.tiktoken"))
    _same(load_tokenizer(str(tmp_path)), small)
    small.save_tiktoken(str(tmp_path / "b.tiktoken"))
    with pytest.raises(FileNotFoundError, match="2 .tiktoken files: pass one"):
        load_tokenizer(str(tmp_path))


def test_broken_tokenizer_files_name_file_and_line(small, tmp_path):
    small.save_hf(str(tmp_path))
    merges = (tmp_path / "merges.txt").read_text(encoding="utf-8").split("\n")
    (tmp_path / "merges.txt").write_text("\n".join(merges[:3] + ["Ġt"] + merges[3:]),
                                         encoding="utf-8")
    hf_files = str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")
    with pytest.raises(ValueError, match=r"merges.txt' line 4: expected two tokens"):
        BPETokenizer.from_hf_files(*hf_files)
    (tmp_path / "merges.txt").write_text("#version: 0.2\nĠq Ġz\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: merge 'Ġq Ġz' uses or makes a token missing"):
        BPETokenizer.from_hf_files(*hf_files)
    small.save_tiktoken(str(tmp_path / "t.tiktoken"))
    lines = (tmp_path / "t.tiktoken").read_text().split("\n")
    (tmp_path / "t.tiktoken").write_text("\n".join(lines[:9] + ["!!notbase64 9"] + lines[10:]))
    with pytest.raises(ValueError, match=r"t.tiktoken' line 10: expected 'base64-token rank'"):
        load_tokenizer(str(tmp_path / "t.tiktoken"))
    (tmp_path / "t.tiktoken").write_text("YQ== 0\n")
    with pytest.raises(ValueError, match=r"no token for byte\(s\) \[0, 1,"):
        BPETokenizer.from_tiktoken(str(tmp_path / "t.tiktoken"))
    (tmp_path / "t.tiktoken").write_text("".join(f"{b64(bytes([i]))} {i}\n" for i in range(256))
                                         + f"{b64(b'abc')} 256\n")  # no "ab" or "bc" to merge
    with pytest.raises(ValueError, match="cannot be built from two lower-ranked tokens"):
        BPETokenizer.from_tiktoken(str(tmp_path / "t.tiktoken"))
    d = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    for change, message in [(dict(model={"type": "WordPiece"}), "not a BPE tokenizer.json"),
                            (dict(normalizer={"type": "NFC"}), "has a normalizer"),
                            (dict(pre_tokenizer={"type": "Whitespace"}), "not GPT-2's byte")]:
        (tmp_path / "bad.json").write_text(json.dumps({**d, **change}), encoding="utf-8")
        with pytest.raises(ValueError, match=f"bad.json.*{message}"):
            load_tokenizer(str(tmp_path / "bad.json"))
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": "one"}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.json'.*token 'b' has id 'one'"):
        BPETokenizer.from_hf_files(*hf_files)


def test_ranks_file_needs_ids_in_merge_order(tmp_path):
    tok = BPETokenizer([(97, 98), (257, 99)], vocab={**{i: bytes([i]) for i in range(256)},
                                                     257: b"ab", 256: b"abc"})
    with pytest.raises(ValueError, match="do not follow its merge order"):
        tok.save_tiktoken(str(tmp_path / "x.tiktoken"))


# ---- GPT-2 itself -----------------------------------------------------------------------------
@needs_ranks
def test_gpt2_known_ids(gpt2):
    assert gpt2.vocab_size == 50257 and gpt2.special_tokens == {"<|endoftext|>": 50256}
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.encode(" the") == [262]
    assert gpt2.encode("<|endoftext|>", allowed_special="all") == [50256]
    for text in HARD:
        assert gpt2.decode(gpt2.encode(text)) == text


@needs_ranks
def test_gpt2_equals_tiktoken(gpt2):
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe
    from tiktoken_ext.openai_public import r50k_pat_str
    ref = tiktoken.Encoding("gpt2", pat_str=r50k_pat_str, mergeable_ranks=load_tiktoken_bpe(RANKS),
                            special_tokens={"<|endoftext|>": 50256})
    for text in HARD + [TEXT, "x<|endoftext|>y"]:
        assert gpt2.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
    with pytest.raises(ValueError):
        ref.encode("<|endoftext|>")  # the reference refuses too


@needs_ranks
def test_gpt2_equals_transformers(gpt2, tmp_path):
    transformers = pytest.importorskip("transformers")
    gpt2.save_hf(str(tmp_path))
    slow = transformers.GPT2Tokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    fast = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    for text in HARD + [TEXT, "x<|endoftext|>y"]:
        ours = gpt2.encode(text, allowed_special="all")
        assert ours == slow.encode(text) == fast.encode(text), text
        assert fast.decode(ours) == gpt2.decode(ours)


def test_ids_in_a_gap_decode_to_the_replacement_character():
    tok = BPETokenizer([], special_tokens={"<|x|>": 300})  # ids 256..299 stand for nothing
    assert tok.vocab_size == 301
    assert tok.decode([97, 280, 300]) == "a\ufffd<|x|>"
    with pytest.raises(IndexError, match="id 301 is out of range for vocab size 301"):
        tok.decode([301])


def test_byte_alphabet_round_trips_and_refuses_other_characters():
    from tinygrad_lm.tokenizers import bpe_files as files
    every = bytes(range(256))
    assert files.token_bytes(files.token_text(every), "t") == every
    assert files.token_text(b" the") == "Ġthe"
    for bad in [" ", "a b", "\n", "\x7f", "\u00ad", "\u0144", "自"]:  # outside the alphabet
        with pytest.raises(ValueError, match="not in GPT-2's byte alphabet"):
            files.token_bytes(bad, "vocab.json")


def test_tokenizer_files_are_bounded(small, tmp_path, monkeypatch):
    from tinygrad_lm.tokenizers import bpe_files as files
    small.save_hf(str(tmp_path))
    hf = str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    (tmp_path / "vocab.json").write_text(json.dumps({**vocab, "<|big|>": 10 ** 12}),
                                         encoding="utf-8")
    with pytest.raises(ValueError, match=r"token '<\|big\|>' has id 1000000000000; ids must be"):
        BPETokenizer.from_hf_files(*hf)
    (tmp_path / "vocab.json").write_text(json.dumps({**vocab, "Ġzz": vocab["Ġ"]}),
                                         encoding="utf-8")
    with pytest.raises(ValueError, match="tokens 'Ġ' and 'Ġzz' both have id 32"):
        BPETokenizer.from_hf_files(*hf)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ValueError, match=r"vocab.json' is [\d,]+ bytes, more than the 1,000"):
        BPETokenizer.from_hf_files(*hf)
    monkeypatch.undo()
    long = bytes(range(256)) * 17
    (tmp_path / "t.tiktoken").write_text(f"{b64(long)} 0\n")
    with pytest.raises(ValueError, match="t.tiktoken' line 1: .*longer than 4096 bytes"):
        BPETokenizer.from_tiktoken(str(tmp_path / "t.tiktoken"))
    (tmp_path / "t.tiktoken").write_text("YWI 0\n")  # base64 without its padding
    with pytest.raises(ValueError, match="t.tiktoken' line 1: 'YWI' is not base64"):
        BPETokenizer.from_tiktoken(str(tmp_path / "t.tiktoken"))


@needs_ranks
def test_gpt2_ranks_give_the_merges_of_plain_bpe(gpt2):
    """The ranks file's merges, derived with the kept-pair-ranks BPE, are those of the plain
    rule (every pair looked up again after every merge) on every 7th token."""
    from tinygrad_lm.tokenizers import bpe_files as files

    def plain(token, ranks, max_rank):
        parts = [token[i:i + 1] for i in range(len(token))]
        while True:
            found = [(ranks.get(a + b, max_rank), i) for i, (a, b) in
                     enumerate(zip(parts, parts[1:]))]
            rank, i = min(found, default=(max_rank, 0))
            if rank >= max_rank:
                return parts
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
    ranks = {b: i for i, b in gpt2.vocab.items()}
    for rank in range(256, len(ranks), 7):
        token = gpt2.vocab[rank]
        assert files._bpe_with_ranks(token, ranks, rank) == plain(token, ranks, rank)
