"""Learning byte-pair merges from text, and the one merge step that encoding shares.

    merges = learn_merges(text, vocab_size=512, pattern=GPT2_PATTERN)   # [(left, right), ...]

Training repeatedly merges the most frequent adjacent pair of tokens. Ties are broken by a
fixed rule, so training is deterministic: tie_break="smallest_ids" (the default) takes the
smallest (left_id, right_id); "greater_bytes", the rule of the common course handouts (and of
their reference tokenizers), takes the lexicographically greater pair of byte strings,
(vocab[left], vocab[right]). Token ids are the 256 byte values, then 256 + rank for each merge.

Special tokens (e.g. "<|endoftext|>") cut the text into parts before pre-tokenisation, so no
merge ever spans one, and no merge learns their characters from them.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict

import regex

TIE_BREAKS = ("smallest_ids", "greater_bytes")


class _GreaterFirst:
    """A heap key that pops the lexicographically greatest byte pair first (heapq pops the
    smallest, so the comparison is reversed)."""
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __lt__(self, other):
        return other.key < self.key

    def __eq__(self, other):
        return self.key == other.key


def learn_merges(text: str, vocab_size: int, pattern: str, special_tokens=(),
                 tie_break: str = "smallest_ids") -> list[tuple[int, int]]:
    """vocab_size - 256 merges learned from `text` (fewer if no pair is left to merge).

    Speed: pairs are counted over distinct pre-tokenised words weighted by how often each
    occurs, and after a merge only the words that contain the merged pair are recounted.
    A heap finds the most frequent pair; entries whose count has since changed are stale
    and skipped when popped (the current count was pushed too)."""
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"learn_merges: tie_break must be one of {TIE_BREAKS}, got "
                         f"{tie_break!r}")
    parts = [text]
    if special_tokens:  # longest first, so a special token containing another one wins
        split = "|".join(map(regex.escape, sorted(special_tokens, key=len, reverse=True)))
        parts = regex.split(split, text)
    words = Counter(piece.encode("utf-8") for part in parts
                    for piece in regex.findall(pattern, part))
    seqs = [list(word) for word in words]
    freqs = list(words.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words holding it
    for w, seq in enumerate(seqs):
        for pair in zip(seq, seq[1:]):
            counts[pair] += freqs[w]
            where[pair].add(w)
    vocab = {i: bytes([i]) for i in range(256)}
    if tie_break == "smallest_ids":
        def entry(pair):
            return (-counts[pair], pair)
    else:
        def entry(pair):
            return (-counts[pair], _GreaterFirst((vocab[pair[0]], vocab[pair[1]])), pair)
    heap = [entry(pair) for pair in counts]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    for new_id in range(256, vocab_size):
        best = _pop_best(heap, counts)
        if best is None:
            break
        merges.append(best)
        vocab[new_id] = vocab[best[0]] + vocab[best[1]]
        for pair in _merge_in_words(best, new_id, seqs, freqs, counts, where):
            if counts[pair] > 0:
                heapq.heappush(heap, entry(pair))
            else:
                del counts[pair]
    return merges


def _pop_best(heap: list, counts: dict) -> tuple[int, int] | None:
    """The most frequent pair (the tie-break's pick on a tie), skipping stale heap entries."""
    while heap:
        item = heapq.heappop(heap)
        pair = item[-1]
        if counts.get(pair, 0) == -item[0]:
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
        seqs[w] = seq = merge_pair(seq, best, new_id)
        for pair in zip(seq, seq[1:]):
            counts[pair] += f
            where[pair].add(w)
            changed.add(pair)
    return changed


def merge_pair(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
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
