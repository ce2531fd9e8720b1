"""Learning byte-pair merges from text, and the one merge step that encoding shares.

    merges = learn_merges(text, vocab_size=512, pattern=GPT2_PATTERN)   # [(left, right), ...]

Training repeatedly merges the most frequent adjacent pair of tokens, ties going to the
smallest (left_id, right_id), so it is deterministic. Token ids are the 256 byte values, then
256 + rank for each merge.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict

import regex


def learn_merges(text: str, vocab_size: int, pattern: str) -> list[tuple[int, int]]:
    """vocab_size - 256 merges learned from `text` (fewer if no pair is left to merge).

    Speed: pairs are counted over distinct pre-tokenised words weighted by how often each
    occurs, and after a merge only the words that contain the merged pair are recounted.
    A heap finds the most frequent pair; entries whose count has since changed are stale
    and skipped when popped (the current count was pushed too)."""
    words = Counter(piece.encode("utf-8") for piece in regex.findall(pattern, text))
    seqs = [list(word) for word in words]
    freqs = list(words.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> words holding it
    for w, seq in enumerate(seqs):
        for pair in zip(seq, seq[1:]):
            counts[pair] += freqs[w]
            where[pair].add(w)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    for new_id in range(256, vocab_size):
        best = _pop_best(heap, counts)
        if best is None:
            break
        merges.append(best)
        for pair in _merge_in_words(best, new_id, seqs, freqs, counts, where):
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], pair))
            else:
                del counts[pair]
    return merges


def _pop_best(heap: list, counts: dict) -> tuple[int, int] | None:
    """The most frequent pair (smallest ids on a tie), skipping stale heap entries."""
    while heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair, 0) == -neg_count:
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
