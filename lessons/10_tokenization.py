# %% [markdown]
# # Lesson 10 — Tokenization: byte-pair encoding from scratch, and GPT-2's tokenizer
#
# So far every model read one character per step. GPT-2 does not: it reads **tokens**, pieces
# such as `" the"`, `"ing"` or `" Shakespeare"`, from a vocabulary of 50,257. Where do those
# pieces come from? From byte-pair encoding (BPE), a compression algorithm from 1994 that
# GPT-2 runs on raw UTF-8 bytes. In this lesson we build it from scratch, check that our
# version learns exactly the same merges as the package's `BPETokenizer`, measure what a
# bigger vocabulary buys, and finally load GPT-2's real merge table and encode text with it.

# %% [markdown]
# ## What you will learn
#
# - why a language model wants tokens between characters and words: the trade-off between
#   vocabulary size V and sequence length T;
# - the BPE training loop — count adjacent pairs, merge the most frequent one into a new
#   token, repeat — and how encoding replays the merges in the order they were learned;
# - why GPT-2 works on **bytes** (no text can ever be unknown) and **pre-tokenises** with a
#   regular expression (merges never cross a word boundary);
# - how GPT-2's published rank table becomes a merge list, and what its tokens look like.
#
# Why it matters: the tokenizer fixes V (the size of the embedding and of the head, often
# the biggest matrices of a small model) and T (attention costs $O(T^2)$), and many odd model
# behaviours — bad arithmetic, trouble spelling — are tokenization artefacts.

# %%
import base64
import os
import time
from collections import Counter

import numpy as np
import regex

import tinygrad_lm
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import generate_grammar_corpus
from tinygrad_lm.tokenizers import GPT2_PATTERN, BPETokenizer, CharTokenizer

started = time.perf_counter()

# %% [markdown]
# ## Text is bytes
#
# UTF-8 writes each character as 1 to 4 bytes: ASCII letters are one byte, "é" two, "東"
# three, an emoji four. Starting from the 256 byte values means the base vocabulary is
# fixed and complete: any string, in any script, is a sequence of known tokens.

# %%
sample = "the café near 東京 🙂"
raw = list(sample.encode("utf-8"))
print(f"{len(sample)} characters -> {len(raw)} bytes: {raw}")
text = generate_grammar_corpus(300 if QUICK else 3000, seed=10)
val_text = generate_grammar_corpus(200, seed=11)
print(f"training text: {len(text)} characters, {len(set(text))} distinct")

# %% [markdown]
# ## One merge
#
# BPE starts from the byte sequence $x = (x_1, \dots, x_n)$, $x_i \in \{0, \dots, 255\}$.
# One step counts every adjacent pair,
# $c(a, b) = \#\{i : x_i = a,\ x_{i+1} = b\}$, takes the most frequent pair
# $(a^*, b^*) = \arg\max c$, gives it the next free id ($256, 257, \dots$) and replaces each
# occurrence, scanning left to right. The sequence gets $c(a^*, b^*)$ tokens shorter (fewer
# if occurrences overlap, as in "aaa"), and the vocabulary one token larger. After $m$ merges
# $V = 256 + m$.

# %% [markdown]
# ### Exercise 10.1 — Count the pairs
# Write `pair_counts(ids)` returning a dict `{(a, b): count}` of adjacent pairs in the list
# `ids` (overlapping pairs count: `[1, 1, 1]` has the pair `(1, 1)` twice).

# %%
def pair_counts(ids):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def pair_counts_solution(ids):
    return dict(Counter(zip(ids, ids[1:])))


# %%
check("10.1", pair_counts, pair_counts_solution,
      test=lambda f: f([1, 1, 1, 2, 1]) == {(1, 1): 2, (1, 2): 1, (2, 1): 1} and f([5]) == {},
      hint="zip(ids, ids[1:]) walks the adjacent pairs; collections.Counter counts them.")

# %% [markdown]
# ### Exercise 10.2 — Merge a pair
# Write `merge(ids, pair, new_id)`: a new list in which every occurrence of `pair`, found
# scanning left to right without overlaps, is replaced by `new_id`.

# %%
def merge(ids, pair, new_id):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def merge_solution(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# %%
check("10.2", merge, merge_solution,
      test=lambda f: (f([1, 1, 1, 2], (1, 1), 9) == [9, 1, 2]
                      and f([3, 1, 2, 1, 2], (1, 2), 7) == [3, 7, 7] and f([], (1, 2), 7) == []),
      hint="Walk with an index; when ids[i], ids[i+1] is the pair, emit new_id and jump by 2.")

# %% [markdown]
# ## Pre-tokenisation, then the training loop
#
# Run on raw text, BPE happily merges across spaces and punctuation ("s ." or "e t"), and
# the same word gets different tokens depending on what follows it. GPT-2 first splits the
# text with a regular expression into words (with their leading space), numbers,
# punctuation runs and whitespace, and only merges *inside* a piece. Since the same words
# recur, we count each distinct piece once and weight its pairs by how often it occurs
# (the pattern's `\p{L}` and `\p{N}` are Unicode's letter and number classes, which the
# `regex` package knows and the standard `re` does not):
# $c(a, b) = \sum_{w} n_w\, c_w(a, b)$. Ties go to the smallest pair $(a, b)$, so training
# is deterministic. That is all of BPE:

# %%
pieces = regex.findall(GPT2_PATTERN, text)
print("pre-tokenised:", pieces[:12])


def train_bpe(text, n_merges):
    words = Counter(p.encode("utf-8") for p in regex.findall(GPT2_PATTERN, text))
    seqs = {w: list(w) for w in words}  # each distinct piece as a list of token ids
    merges, vocab = [], {i: bytes([i]) for i in range(256)}
    for new_id in range(256, 256 + n_merges):
        counts = Counter()
        for w, seq in seqs.items():
            for pair, c in pair_counts_solution(seq).items():
                counts[pair] += c * words[w]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        seqs = {w: merge_solution(seq, best, new_id) for w, seq in seqs.items()}
    return merges, vocab


n_merges = 40 if QUICK else 200
t0 = time.perf_counter()
merges, vocab = train_bpe(text, n_merges)
print(f"{len(merges)} merges learned in {time.perf_counter() - t0:.2f} s; the first 12:")
for rank, (a, b) in enumerate(merges[:12]):
    print(f"  {rank:3d}: {vocab[a]!r:>10} + {vocab[b]!r:<10} -> id {256 + rank}")
print("latest tokens:", [vocab[256 + r].decode() for r in range(len(merges) - 8, len(merges))])

# %% [markdown]
# The first merges glue frequent letter pairs and the space onto word starts (`" t"`,
# `"he"`); later ones are whole words of the grammar with their leading space. Now the
# package's `BPETokenizer.train`, which does the same with an incremental pair count and a
# heap (it only recounts the words a merge touched), must learn the very same list:

# %%
t0 = time.perf_counter()
tok = BPETokenizer.train(text, vocab_size=256 + n_merges)
print(f"BPETokenizer.train: {tok.vocab_size} tokens in {time.perf_counter() - t0:.2f} s")
assert tok.merges == merges, "the package and the from-scratch loop disagree"
print("same merges, in the same order")

# %% [markdown]
# ## Encoding: replay the merges by rank
#
# To encode a new piece, start from its bytes and repeatedly apply the **lowest-rank** merge
# present among its adjacent pairs (rank = the order in which it was learned), until no
# adjacent pair is a merge. Applying merges in training order reproduces the segmentation
# training would have produced; a greedy longest-match would not.

# %% [markdown]
# ### Exercise 10.3 — Encode one piece
# Write `encode_piece(piece_bytes, merges)` returning the token ids of one pre-tokenised
# piece, with merge `merges[r]` creating id `256 + r`.

# %%
def encode_piece(piece_bytes, merges):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def encode_piece_solution(piece_bytes, merges):
    rank = {pair: r for r, pair in enumerate(merges)}
    ids = list(piece_bytes)
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
        if pair not in rank:
            break
        ids = merge_solution(ids, pair, 256 + rank[pair])
    return ids


# %%
def _test_encode(f):
    words = regex.findall(GPT2_PATTERN, val_text[:400])
    return all(f(w.encode("utf-8"), merges) == tok.encode(w) for w in words)


check("10.3", encode_piece, encode_piece_solution, test=_test_encode,
      hint="Among the adjacent pairs, pick the one with the smallest rank; stop when none is a "
           "merge. Reuse merge().")

# %% [markdown]
# ## What a bigger vocabulary buys
#
# Each merge shortens the text. We measure **bytes per token** on held-out sentences for
# several vocabulary sizes. For a model this is a trade: the sequence for the same text gets
# shorter (T falls, and attention's $T \times T$ score matrix with it; the same block size sees
# more text), but the embedding and the head grow as $V \times C$, and rare tokens get few
# training examples each.

# %%
sizes = [256, 280, 320, 400] if QUICK else [256, 300, 400, 500, 600, 2000]
val_bytes = len(val_text.encode("utf-8"))
ratio = {}
for size in sizes:
    t = BPETokenizer.train(text, vocab_size=size)
    ids = t.encode(val_text)
    assert t.decode(ids) == val_text  # lossless at every size
    ratio[t.vocab_size] = val_bytes / len(ids)
    short = f" (asked for {size}: no pair left to merge)" if t.vocab_size < size else ""
    print(f"V = {t.vocab_size:5d}: {len(ids):6d} tokens, {ratio[t.vocab_size]:.2f} "
          f"bytes/token{short}")
chars = CharTokenizer.from_text(text + val_text)
print(f"characters: V = {chars.vocab_size}, 1.00 bytes/token (ASCII text)")

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(list(ratio), list(ratio.values()), "o-")
ax.set_xlabel("vocabulary size V")
ax.set_ylabel("bytes per token (held-out text)")
ax.set_title("BPE on the grammar: longer tokens as V grows")
print("figure:", show(fig, "10_compression.png"))

# %% [markdown]
# On the grammar the curve ends abruptly: it has only a few hundred distinct pieces (a
# word with its leading space, " .", the newline), and once each is a single token there is
# no adjacent pair left, so training stops short of the size asked for. Real English keeps
# profiting up to tens of thousands of tokens, which is why GPT-2 stopped at 50,000 merges.

# %% [markdown]
# ## GPT-2's tokenizer
#
# OpenAI published GPT-2's tokenizer as a **rank table**: each token's bytes (base64) and its
# rank, in `gpt2.tiktoken` (the format tiktoken reads). Ranks 0–255 are the single bytes;
# rank $r \ge 256$ is the token produced by the $(r-256)$-th merge. The table does not list
# which two tokens were merged, but we can recover it: encode the token's own bytes using
# only merges of lower rank — the BPE loop must stop at exactly two parts, and those are
# the pair. With the pairs and the id → bytes table, the package's `BPETokenizer` *is*
# GPT-2's tokenizer (`BPETokenizer.from_tiktoken(path)` does exactly this, and adds the
# special token `<|endoftext|>` as id 50256). The file is looked for next to the repository
# (`../shared/data/gpt2.tiktoken`); without it this part is skipped.

# %%
def find_gpt2_ranks():
    names = [os.environ.get("GPT2_TIKTOKEN", "")]
    for up in ("..", os.path.join("..", ".."), os.path.join("..", "..", "..")):
        names.append(os.path.join(up, "shared", "data", "gpt2.tiktoken"))
    repo_root = os.path.dirname(os.path.abspath(tinygrad_lm.__path__[0]))  # a clone's root
    names.append(os.path.join(repo_root, "..", "shared", "data", "gpt2.tiktoken"))
    return next((p for p in names if p and os.path.isfile(p)), None)


def read_ranks(path, max_lines=100_000):
    """token bytes -> rank, from "base64 rank" lines; the file is untrusted: checked, bounded."""
    ranks = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if lineno > max_lines:
                raise ValueError(f"{path}: more than {max_lines} lines; not a GPT-2 ranks file")
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
    return ranks


def merges_from_ranks(ranks):
    """The merge list implied by a rank table (see the text above)."""
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1])[256:]:
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:  # BPE on the token itself, with merges below its own rank
            scores = [ranks.get(a + b, rank) for a, b in zip(parts, parts[1:])]
            i = int(np.argmin(scores))
            if scores[i] >= rank:
                break
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        if len(parts) != 2:
            raise ValueError(f"rank {rank}: {token!r} is not the merge of two earlier tokens")
        merges.append((ranks[parts[0]], ranks[parts[1]]))
    return merges


gpt2_path = find_gpt2_ranks()
gpt2 = None
if gpt2_path is None:
    print("gpt2.tiktoken not found (set GPT2_TIKTOKEN=path to use it); skipping GPT-2's "
          "tokenizer. The from-scratch part above is the whole algorithm.")
else:
    t0 = time.perf_counter()
    ranks = read_ranks(gpt2_path)
    gpt2 = BPETokenizer(merges_from_ranks(ranks), GPT2_PATTERN,
                        vocab={r: b for b, r in ranks.items()})
    print(f"GPT-2 tokenizer from {gpt2_path}: {gpt2.vocab_size} tokens, "
          f"{len(gpt2.merges)} merges recovered in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# Look at what it does with a few strings. Common words are one token *with* their
# leading space (`" the"` and `"the"` are different tokens); rare words, names and numbers
# break into pieces; non-Latin scripts and emoji fall back towards single bytes.

# %%
if gpt2 is not None:
    for s in ["Hello world", "the small dog near the river sees two red balls .",
              "To be, or not to be: that is the question.", "12345 + 678 = 13023",
              "tokenization", sample]:
        ids = gpt2.encode(s)
        shown = [gpt2.vocab[i].decode("utf-8", errors="replace") for i in ids]
        more = "..." if len(ids) > 10 else ""
        print(f"{len(s):3d} chars -> {len(ids):2d} tokens {ids[:10]}{more}")
        print("      ", shown)
        assert gpt2.decode(ids) == s
    grammar_ratio = val_bytes / len(gpt2.encode(val_text))
    print(f"GPT-2 on the held-out grammar: {grammar_ratio:.2f} bytes/token "
          f"(our {max(ratio)}-token BPE: {ratio[max(ratio)]:.2f})")

# %% [markdown]
# Two facts to keep. First, `"Hello world"` is `[15496, 995]` — the ids every GPT-2
# implementation agrees on, so our loader is right. Second, GPT-2 needs about a quarter as
# many tokens as characters on English, and our vocabulary of a few hundred tokens, trained
# on the grammar itself, does as well on the grammar as GPT-2's 50,257 (compare the two
# numbers printed above): a tokenizer is fitted to its training text, like a model.

# %% [markdown]
# ## Summary
#
# - BPE learns a vocabulary by repeatedly merging the most frequent adjacent pair;
#   $V = 256 + $ the number of merges, and encoding replays the merges in rank order.
# - Byte-level BPE can encode any text (every byte is a token) and decodes it exactly;
#   pre-tokenisation keeps merges inside words, numbers and punctuation runs.
# - A larger V means shorter sequences but bigger embedding and head matrices: the choice of
#   tokenizer trades T against V.
# - GPT-2's tokenizer is such a BPE with 50,000 merges; from its rank table we rebuilt it and
#   encoded "Hello world" as `[15496, 995]`.
#
# Next: assignment 5, task 5.3 (`top_k_filter`: sampling over the V tokens a tokenizer
# defines), and lesson 11, where the tokens are generated.

# %%
if gpt2 is not None:
    assert gpt2.encode("Hello world") == [15496, 995]
    assert gpt2.vocab_size == 50256 and gpt2.decode(gpt2.encode(sample)) == sample
assert ratio[max(ratio)] > ratio[256] == 1.0
assert tok.decode(tok.encode(sample)) == sample
print(f"BPE merges equal the package's; {max(ratio)} tokens give {ratio[max(ratio)]:.2f} "
      f"bytes/token; GPT-2 {'checked' if gpt2 else 'skipped (no ranks file)'} "
      f"({time.perf_counter() - started:.0f} s). Lesson 10 done.")
