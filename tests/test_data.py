"""Data: files, splits, batches, and the built-in grammar and addition datasets."""

import numpy as np
import pytest

from tinygrad_lm.data import (
    BUILTIN_DATASETS,
    TokenDataset,
    addition_corpus,
    addition_line,
    builtin_dataset,
    evaluate_addition,
    format_addition,
    generate_addition_problems,
    generate_grammar_corpus,
    is_grammatical,
    load_text,
    parse_addition,
    train_val_split,
)
from tinygrad_lm.data.grammar import (
    ADJECTIVES,
    ADVERBS,
    DET_PL,
    DET_SG,
    IVERBS,
    NOUNS,
    PREPOSITIONS,
    TVERBS,
)

# ---- files, splits, batches ------------------------------------------------------------------


def test_load_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.txt.*does not exist.*built-in"):
        load_text(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"empty\.txt.*is empty"):
        load_text(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt.*not valid UTF-8: byte 0xe9 at offset 3"):
        load_text(str(tmp_path / "latin1.txt"))
    with pytest.raises(IsADirectoryError, match="directory"):
        load_text(str(tmp_path))
    (tmp_path / "ok.txt").write_text("héllo 🙂\n", encoding="utf-8")
    assert load_text(tmp_path / "ok.txt") == "héllo 🙂\n"


def test_split_sizes_are_contiguous():
    train, val = train_val_split(np.arange(100))
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(val, np.arange(90, 100))
    assert train.dtype == val.dtype == np.int64
    ds = TokenDataset(np.arange(1000, dtype=np.uint16), val_fraction=0.25)
    assert (len(ds.train), len(ds.val), len(ds)) == (750, 250, 1000)
    assert ds.split("val")[0] == 750
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        train_val_split(np.arange(10), 1.0)
    with pytest.raises(ValueError, match="1-D array of integer token ids"):
        TokenDataset(np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="1-D array of integer token ids"):
        TokenDataset(np.linspace(0, 1, 10))


def test_batches_shift_by_one():
    ds = TokenDataset(np.arange(100) * 3, val_fraction=0.1)
    x, y = ds.get_batch("train", 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    np.testing.assert_array_equal(y, x + 3)
    assert x.max() < 90 * 3 and y.max() < 90 * 3  # train batches never read val tokens
    xv, _ = ds.get_batch("val", 16, 9, np.random.default_rng(0))
    np.testing.assert_array_equal(xv, np.tile(np.arange(90, 99) * 3, (16, 1)))  # only window


def test_batches_reproduce_from_the_generator_state():
    ds = TokenDataset(np.arange(10_000))
    x1, _ = ds.get_batch("train", 8, 16, np.random.default_rng(42))
    x2, _ = ds.get_batch("train", 8, 16, np.random.default_rng(42))
    x3, _ = ds.get_batch("train", 8, 16, np.random.default_rng(43))
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, x3)
    # resuming: a generator restored from a saved state draws the batches that would follow
    rng = np.random.default_rng(7)
    ds.get_batch("train", 8, 16, rng)
    saved = rng.bit_generator.state
    expected, _ = ds.get_batch("train", 8, 16, rng)
    resumed = np.random.default_rng()
    resumed.bit_generator.state = saved
    np.testing.assert_array_equal(ds.get_batch("train", 8, 16, resumed)[0], expected)


def test_batch_errors():
    ds = TokenDataset(np.arange(50))
    with pytest.raises(ValueError, match=r"val split has only 5 tokens but block_size=8 needs "
                                         r"at least 9.*lower --block_size.*more text"):
        ds.get_batch("val", 2, 8, np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        ds.get_batch("train", 2, 8, 0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ds.get_batch("train", 0, 8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'train' or 'val', got 'test'"):
        ds.get_batch("test", 2, 8, np.random.default_rng(0))


def test_target_mask_hides_tokens_from_the_loss():
    tokens = np.arange(40)
    mask = tokens % 2 == 0
    ds = TokenDataset(tokens, val_fraction=0.25, target_mask=mask)
    x, y = ds.get_batch("train", 3, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(y, np.where((x + 1) % 2 == 0, x + 1, -1))
    with pytest.raises(ValueError, match="target_mask has shape"):
        TokenDataset(tokens, target_mask=mask[:3])


# ---- grammar ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sentences():
    return generate_grammar_corpus(2000, seed=3).split("\n")[:-1]


def test_grammar_corpus_is_deterministic_and_small_alphabet(sentences):
    text = generate_grammar_corpus(2000, seed=3)
    assert text == generate_grammar_corpus(2000, seed=3)
    assert text != generate_grammar_corpus(2000, seed=4)
    assert len(sentences) == 2000 and text.endswith(" .\n")
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz .\n")
    assert generate_grammar_corpus(0) == ""
    assert len(set(sentences)) > 1900  # varied, not a handful of repeats


def test_every_generated_sentence_is_grammatical(sentences):
    assert all(is_grammatical(s) for s in sentences)
    words = {w for s in sentences for w in s.split()}
    assert {"near", "sees", "see", "runs", "run"} <= words  # both numbers, PPs, both verb kinds


def test_word_categories_do_not_overlap():
    # one left-to-right pass parses only if a word's category is never ambiguous
    categories = [set(DET_SG) | set(DET_PL), {w for p in NOUNS for w in p}, set(ADJECTIVES),
                  {w for p in TVERBS + IVERBS for w in p}, set(PREPOSITIONS), set(ADVERBS)]
    assert sum(map(len, categories)) == len(set().union(*categories)) > 200


def _main_verb(words):
    verbs = {w: pair for pair in TVERBS + IVERBS for w in pair}
    i = next(i for i, w in enumerate(words) if w in verbs)
    return i, verbs[words[i]]


def test_mutated_sentences_are_rejected(sentences):
    for s in sentences[:300]:
        words = s.split(" ")
        i, (singular, plural) = _main_verb(words)
        wrong_number = words[:i] + [plural if words[i] == singular else singular] + words[i + 1:]
        assert not is_grammatical(" ".join(wrong_number)), s
        assert not is_grammatical(s[:-2])                          # no period
        assert not is_grammatical(s.replace(" .", "."))            # period glued on
        assert not is_grammatical(" ".join(words[1:]))             # no determiner
        assert not is_grammatical(" ".join([words[1], words[0]] + words[2:]))  # order
        assert not is_grammatical(" ".join(words[:i] + ["zebra"] + words[i:]))  # unknown word
        assert not is_grammatical(s.upper())


@pytest.mark.parametrize("sentence", [
    "the dog run .", "the dogs runs .", "these dog runs .", "one dogs run .",
    "the dog sees .", "dog the runs .", "the dog runs", "", ".", "runs .", "the dog .",
    "the dog runs  .", " the dog runs .", "the dog runs .\n", "the\tdog runs .",
    "the zebra runs .", "the big small red dog dog runs .", "the dog near runs .",
    "the dog near the cat near the bird runs .", "the dog runs quickly quickly .",
    "the dog runs the cat .", "the dogs near the cat runs .", "the dog quickly runs .",
    "the dog sees the cat near .", "the the dog runs .", "the dog runs . .",
    "The dog runs .", "the dog runs!", "the dog sees the cat the bird .", "quickly the dog runs .",
    "the dog near the cat .", "the red runs .", "the dog sees cats .", "the dogs see cat .",
])
def test_grammar_rejects(sentence):
    assert not is_grammatical(sentence)


@pytest.mark.parametrize("sentence", [
    "the dog runs .", "the dogs run .", "the dogs near the cat run .",
    "every small red fox chases those geese quickly .", "two children sing .",
    "the cat sees the dogs behind one old tree .",
    "the big small red old dog runs .",            # more adjectives than the generator uses
    "the red red dog runs .",                      # repeated: still the grammar's Adj*
    "all mice near this wise king see the bell with three songs today .",
])
def test_grammar_accepts(sentence):
    assert is_grammatical(sentence)


# ---- addition --------------------------------------------------------------------------------

def _perfect(prompt):
    a, b = prompt[:-1].split("+")
    digits = len(a)
    return f"{int(a) + int(b):0{digits + 1}d}"[::-1] + "\n12+"  # extra text is ignored


def test_addition_format_and_parse():
    assert format_addition(57, 68, 2) == ("57+68=", "521")
    assert addition_line(3, 4, 2) == "03+04=700"
    assert addition_line(999, 1, 3) == "999+001=0001"
    assert parse_addition("57+68=521") == (57, 68, 125)
    assert parse_addition("03+04=700\n") == (3, 4, 7)
    for bad in ["12-3", "1+2=3=4", "a+b=c", ""]:
        with pytest.raises(ValueError, match="not an addition line"):
            parse_addition(bad)
    with pytest.raises(ValueError, match="does not fit"):
        format_addition(100, 1, 2)


def test_addition_split_is_deterministic_and_held_out():
    train, held = generate_addition_problems(2, seed=0)
    assert (len(train), len(held)) == (9000, 1000)
    assert set(train) | set(held) == {(a, b) for a in range(100) for b in range(100)}
    assert not set(train) & set(held)
    assert generate_addition_problems(2, seed=0) == (train, held)
    assert generate_addition_problems(2, seed=1)[1] != held
    lines = set(addition_corpus(train, 2).split("\n"))
    assert not lines & {addition_line(a, b, 2) for a, b in held}
    assert len(generate_addition_problems(1, seed=0)[1]) == 10
    with pytest.raises(ValueError, match="n_digits must be 1..3"):
        generate_addition_problems(4)


def test_evaluate_addition():
    _, held = generate_addition_problems(2, seed=0)
    assert evaluate_addition(_perfect, held) == 1.0
    assert evaluate_addition(_perfect, held, digits=2) == 1.0
    assert evaluate_addition(lambda p: "000", held, 2) < 0.05
    # an unreversed answer is wrong unless it reads the same both ways
    unreversed = lambda p: _perfect(p)[:3][::-1]  # noqa: E731
    assert evaluate_addition(unreversed, held, 2) < 0.2
    problems = [(1, 2), (30, 40)]
    assert evaluate_addition(lambda p: "300" if p == "01+02=" else "999", problems, 2) == 0.5
    with pytest.raises(TypeError, match="decode the token ids"):
        evaluate_addition(lambda p: [3, 0, 0], problems, 2)
    with pytest.raises(ValueError, match="no problems"):
        evaluate_addition(_perfect, [])


def test_builtin_registry():
    assert BUILTIN_DATASETS == ("grammar", "addition")
    grammar = builtin_dataset("grammar", seed=5, n_examples=5)
    assert grammar == generate_grammar_corpus(5, seed=5) and grammar.count("\n") == 5
    addition = builtin_dataset("addition", digits=1)
    assert addition.count("\n") == 90 and all(len(l) == 6 for l in addition.split("\n")[:-1])
    with pytest.raises(ValueError, match=r"unknown built-in dataset 'poems'.*grammar.*addition"):
        builtin_dataset("poems")
