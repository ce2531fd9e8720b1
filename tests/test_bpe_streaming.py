"""BPETokenizer.encode_iterable (a large file in bounded memory, the ids of encoding it whole)
and the trainer's special tokens and tie-break rules."""

import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from tinygrad_lm.data import builtin_dataset
from tinygrad_lm.tokenizers import GPT2_PATTERN, BPETokenizer, load_tokenizer

SPECIAL = {"<|endoftext|>": 400, "<|pad|>": 401}
TRICKY = ("the dog  \n   runs<|endoftext|>!! 12345 678\n\n\t x <|pad|><|endoftext|>it's   "
          "naïve café — 日本語 \r\n  \n")


@pytest.fixture(scope="module")
def tok():
    text = builtin_dataset("grammar", n_examples=400)
    return BPETokenizer(BPETokenizer.train(text, 400).merges, special_tokens=SPECIAL)


@pytest.mark.parametrize("allowed, disallowed", [("all", "all"), (frozenset(), ())])
def test_every_chunking_gives_the_ids_of_the_whole(tok, allowed, disallowed):
    text = TRICKY + builtin_dataset("grammar", n_examples=20)[:400] + TRICKY
    whole = tok.encode(text, allowed_special=allowed, disallowed_special=disallowed)
    tok.STREAM_BUFFER = 1  # cut after every chunk (an instance setting, this test only)
    for n in range(1, 40):
        chunks = [text[i:i + n] for i in range(0, len(text), n)]
        got = list(tok.encode_iterable(chunks, allowed_special=allowed,
                                       disallowed_special=disallowed))
        assert got == whole, f"chunks of {n} characters"
    del tok.STREAM_BUFFER
    lines = text.splitlines(keepends=True)
    assert list(tok.encode_iterable(lines, allowed_special=allowed,
                                    disallowed_special=disallowed)) == whole


def test_a_disallowed_special_token_split_across_chunks_is_still_refused(tok):
    with pytest.raises(ValueError, match="special token '<|endoftext|>'"):
        list(tok.encode_iterable(["hello <|endof", "text|> world"]))
    with pytest.raises(TypeError, match="encode_iterable"):
        list(tok.encode_iterable([b"bytes"]))


STREAM = """
import resource, sys
import numpy as np
from tinygrad_lm.tokenizers import load_tokenizer
tok = load_tokenizer(sys.argv[1])
list(tok.encode_iterable(["warm up the regex and the cache\\n"]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[2], encoding="utf-8") as f, open(sys.argv[3], "wb") as out:
    batch = []
    for i in tok.encode_iterable(f):
        batch.append(i)
        if len(batch) == 65536:
            out.write(np.asarray(batch, np.int32).tobytes())
            batch.clear()
    out.write(np.asarray(batch, np.int32).tobytes())
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def write_corpus(path, megabytes: int) -> None:
    """Grammar sentences with numbered lines and odd whitespace, `megabytes` MB of UTF-8."""
    base = builtin_dataset("grammar", n_examples=3000).splitlines()
    lines = [f"{line}{'  ' * (i % 3)} {i % 977}\n" + ("   \t\n\n" if i % 50 == 0 else "")
             for i, line in enumerate(base * 3)]
    block = "".join(lines)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(max(1, megabytes * 2 ** 20 // len(block.encode()))):
            f.write(block)


@pytest.mark.slow
def test_a_large_file_streams_in_bounded_memory(tok, tmp_path):
    """An 8 MB file: the whole text and its ids as a list take about 100 MB (a Python int per
    id); streamed, the encoder's peak grows by less than 24 MB."""
    tok.save(str(tmp_path / "tok.json"))
    corpus, ids_path = tmp_path / "corpus.txt", tmp_path / "ids.bin"
    write_corpus(corpus, 8)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", STREAM, str(tmp_path / "tok.json"), str(corpus),
                          str(ids_path)], capture_output=True, text=True, env=env, check=True)
    growth = int(out.stdout.split()[-1])
    assert growth < 24 * 2 ** 20, f"peak memory grew by {growth / 2 ** 20:.1f} MB"
    streamed = np.fromfile(ids_path, np.int32)
    assert corpus.stat().st_size > 7 * 2 ** 20
    whole = load_tokenizer(str(tmp_path / "tok.json")).encode(corpus.read_text("utf-8"))
    np.testing.assert_array_equal(streamed, whole)


# ---- training -------------------------------------------------------------------------------
def test_special_tokens_are_never_merged_across_and_stay_in_the_vocabulary():
    text = "<|endoftext|>".join(["ab", "abc", "ab", "cab"] * 50)
    tok = BPETokenizer.train(text, 300, special_tokens=["<|endoftext|>"])
    assert tok.special_tokens == {"<|endoftext|>": tok.vocab_size - 1}
    assert len(tok.merges) <= 300 - 256 - 1
    assert all(b"<" not in tok.vocab[256 + r] and b">" not in tok.vocab[256 + r]
               for r in range(len(tok.merges)))  # "<", "|", ">" appear only in the special
    ids = tok.encode(text, allowed_special="all")
    assert ids.count(tok.special_tokens["<|endoftext|>"]) == 199
    assert tok.decode(ids) == text
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train(text, 256, special_tokens=["<|endoftext|>"])


def naive_merges(text, n, rule):
    """The handouts' BPE, spelled out: recount every pair each step, take the most frequent,
    ties by `rule`."""
    words = Counter(tuple(bytes([b]) for b in p.encode()) for p in
                    __import__("regex").findall(GPT2_PATTERN, text))
    merges = []
    for _ in range(n):
        pairs = Counter()
        for w, c in words.items():
            for pair in zip(w, w[1:]):
                pairs[pair] += c
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], rule(p)))
        merges.append(best)
        new = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return merges


def test_the_greater_bytes_tie_break_is_the_handouts_rule():
    text = builtin_dataset("grammar", n_examples=60) + " low lower lowest newer wider "
    tok = BPETokenizer.train(text, 256 + 40, tie_break="greater_bytes")
    ours = [(tok.vocab[a], tok.vocab[b]) for a, b in tok.merges]
    assert ours == naive_merges(text, 40, rule=lambda p: p)
    tok = BPETokenizer.train("ab ab cd cd", 257, tie_break="greater_bytes")
    assert (tok.vocab[tok.merges[0][0]], tok.vocab[tok.merges[0][1]]) == (b"c", b"d")
    default = BPETokenizer.train("ab ab cd cd", 257)
    assert default.merges[0] == (32, 99)  # the smallest ids: (" ", "c")
    with pytest.raises(ValueError, match="tie_break"):
        BPETokenizer.train("ab", 257, tie_break="random")
