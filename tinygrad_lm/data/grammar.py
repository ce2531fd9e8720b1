"""A small English-like grammar with subject-verb agreement: a sentence generator and
`is_grammatical`, a recogniser for exactly that grammar, so the quality of a model's samples can
be measured rather than eyeballed. Deterministic from a seed; no download.
"""

from __future__ import annotations

import numpy as np

# ---- the grammar -------------------------------------------------------------------------------
#   S      -> NP(n) VP(n) "."
#   NP(n)  -> Det(n) Adj* Noun(n) [Prep NP'(m)]     NP' is an NP without a prepositional phrase
#   VP(n)  -> IVerb(n) [Adv] | TVerb(n) NP(m) [Adv]
# n and m are grammatical numbers (singular or plural); the determiner, noun and verb of one
# phrase must agree, m is free. "the" is both singular and plural. The generator draws 0-2
# distinct adjectives; the grammar allows any number, as English does.
# Every word belongs to one category (apart from "the"), so one left-to-right pass parses.
# Only lowercase letters, spaces, "." and newlines occur: a small alphabet for a char model.

DET_SG = ["the", "this", "that", "every", "one"]
DET_PL = ["the", "these", "those", "some", "many", "two", "three", "all"]
NOUNS = [("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("child", "children"),
         ("man", "men"), ("woman", "women"), ("teacher", "teachers"), ("farmer", "farmers"),
         ("king", "kings"), ("queen", "queens"), ("fox", "foxes"), ("horse", "horses"),
         ("student", "students"), ("friend", "friends"), ("baker", "bakers"),
         ("sailor", "sailors"), ("mouse", "mice"), ("goose", "geese"), ("wolf", "wolves"),
         ("girl", "girls"), ("boy", "boys"), ("doctor", "doctors"), ("singer", "singers"),
         ("tree", "trees"), ("river", "rivers"), ("house", "houses"), ("garden", "gardens"),
         ("ball", "balls"), ("book", "books"), ("box", "boxes"), ("stone", "stones"),
         ("apple", "apples"), ("road", "roads"), ("ship", "ships"), ("lamp", "lamps"),
         ("chair", "chairs"), ("bell", "bells"), ("song", "songs"), ("cake", "cakes"),
         ("hill", "hills")]
ADJECTIVES = ["small", "big", "red", "old", "young", "happy", "quick", "lazy", "green", "bright",
              "quiet", "brave", "tall", "short", "kind", "clever", "sleepy", "hungry", "gentle",
              "proud", "dark", "warm", "cold", "tiny", "huge", "blue", "golden", "silver",
              "noisy", "calm", "wild", "shy", "busy", "strange", "lucky", "grey", "soft",
              "rough", "sweet", "wise"]
TVERBS = [("sees", "see"), ("likes", "like"), ("chases", "chase"), ("finds", "find"),
          ("helps", "help"), ("watches", "watch"), ("follows", "follow"), ("knows", "know"),
          ("carries", "carry"), ("loves", "love"), ("hears", "hear"), ("visits", "visit"),
          ("paints", "paint"), ("pushes", "push"), ("greets", "greet"),
          ("remembers", "remember"), ("catches", "catch"), ("builds", "build"),
          ("wants", "want"), ("moves", "move")]
IVERBS = [("runs", "run"), ("sleeps", "sleep"), ("sings", "sing"), ("waits", "wait"),
          ("laughs", "laugh"), ("jumps", "jump"), ("walks", "walk"), ("smiles", "smile"),
          ("dances", "dance"), ("rests", "rest"), ("swims", "swim"), ("shouts", "shout"),
          ("listens", "listen"), ("falls", "fall"), ("grows", "grow")]
PREPOSITIONS = ["near", "with", "behind", "under", "beside", "over", "from", "without"]
ADVERBS = ["quickly", "slowly", "quietly", "happily", "loudly", "often", "today", "again",
           "gently", "badly", "well", "early", "sadly", "bravely", "rarely"]

_SG, _PL = 0, 1
_NOUN_NUMBER = {w: num for pair in NOUNS for num, w in enumerate(pair)}
_TVERB_NUMBER = {w: num for pair in TVERBS for num, w in enumerate(pair)}
_IVERB_NUMBER = {w: num for pair in IVERBS for num, w in enumerate(pair)}
_DET_NUMBERS: dict[str, set[int]] = {}
for _number, _dets in ((_SG, DET_SG), (_PL, DET_PL)):
    for _w in _dets:
        _DET_NUMBERS.setdefault(_w, set()).add(_number)
_ADJ, _PREP, _ADV = set(ADJECTIVES), set(PREPOSITIONS), set(ADVERBS)


def _noun_phrase(rng: np.random.Generator, number: int, allow_pp: bool = True) -> list[str]:
    words = [str(rng.choice(DET_SG if number == _SG else DET_PL))]
    n_adj = rng.choice(3, p=[0.5, 0.35, 0.15])
    words += [str(a) for a in rng.choice(ADJECTIVES, size=n_adj, replace=False)]
    words.append(NOUNS[rng.integers(len(NOUNS))][number])
    if allow_pp and rng.random() < 0.2:
        words += [str(rng.choice(PREPOSITIONS))] + _noun_phrase(rng, int(rng.integers(2)), False)
    return words


def generate_sentence(rng: np.random.Generator) -> str:
    """One sentence: "the small dog near the river sees two red balls ."."""
    number = int(rng.integers(2))
    words = _noun_phrase(rng, number)
    if rng.random() < 0.4:
        words.append(IVERBS[rng.integers(len(IVERBS))][number])
    else:
        words.append(TVERBS[rng.integers(len(TVERBS))][number])
        words += _noun_phrase(rng, int(rng.integers(2)))
    if rng.random() < 0.3:
        words.append(str(rng.choice(ADVERBS)))
    return " ".join(words) + " ."


def generate_grammar_corpus(n_sentences: int, seed: int = 0) -> str:
    """n sentences of the grammar, one per line: lowercase, space-separated, ending in " ."."""
    if n_sentences < 0:
        raise ValueError(f"generate_grammar_corpus: n_sentences must be >= 0, got {n_sentences}")
    rng = np.random.default_rng(seed)
    return "".join(generate_sentence(rng) + "\n" for _ in range(n_sentences))


def _parse_np(words: list[str], i: int, allow_pp: bool = True) -> tuple[int, int] | None:
    """Parse a noun phrase starting at words[i]: (its number, index after it), or None."""
    if i >= len(words) or words[i] not in _DET_NUMBERS:
        return None
    allowed = _DET_NUMBERS[words[i]]
    i += 1
    while i < len(words) and words[i] in _ADJ:
        i += 1
    if i >= len(words) or _NOUN_NUMBER.get(words[i]) not in allowed:
        return None  # no noun, or a noun that disagrees with the determiner ("these dog")
    number = _NOUN_NUMBER[words[i]]
    i += 1
    if allow_pp and i < len(words) and words[i] in _PREP:
        inner = _parse_np(words, i + 1, allow_pp=False)
        if inner is None:
            return None
        i = inner[1]
    return number, i


def is_grammatical(sentence: str) -> bool:
    """True exactly for the sentences of the grammar above, written as the generator writes
    them: single spaces between words, then " .". A recursive-descent parse, not a lookup, so
    it also accepts sentences the generator never happened to produce."""
    if not isinstance(sentence, str) or sentence != sentence.strip() or "  " in sentence:
        return False
    words = sentence.split(" ")
    if len(words) < 4 or words[-1] != ".":  # the shortest sentence is "the dog runs ."
        return False
    words = words[:-1]
    subject = _parse_np(words, 0)
    if subject is None or subject[1] >= len(words):
        return False
    number, i = subject
    verb = words[i]
    if _IVERB_NUMBER.get(verb) == number:
        i += 1
    elif _TVERB_NUMBER.get(verb) == number:
        obj = _parse_np(words, i + 1)
        if obj is None:
            return False  # a transitive verb needs its object: "the dog sees ." is refused
        i = obj[1]
    else:
        return False  # not a verb, or one that disagrees with the subject ("the dog run")
    if i < len(words) and words[i] in _ADV:
        i += 1
    return i == len(words)
