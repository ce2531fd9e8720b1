"""Data: files, splits, batches, and the built-in grammar and addition datasets."""

import numpy as np
import pytest

from tinygrad_lm.data import (
    TokenDataset,
    addition_corpus,
    addition_split,
    builtin_dataset,
    evaluate_addition,
    format_addition,
    generate_grammar_corpus,
    is_grammatical,
    load_text,
    parse_addition,
)


def test_batches_shift_by_one_and_reproduce():
    ds = TokenDataset(np.arange(100), val_fraction=0.1)
    assert len(ds.train) == 90 and len(ds.val) == 10
    x, y = ds.get_batch("train", 4, 8, np.random.default_rng(0))
    assert x.shape == y.shape == (4, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)
    x2, _ = ds.get_batch("train", 4, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(x, x2)


def test_split_too_short():
    ds = TokenDataset(np.arange(50))
    with pytest.raises(ValueError, match="val split has only 5 tokens but block_size=8"):
        ds.get_batch("val", 2, 8, np.random.default_rng(0))


def test_load_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt.*empty"):
        load_text(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    with pytest.raises(ValueError, match="offset 3"):
        load_text(str(tmp_path / "latin1.txt"))
    (tmp_path / "ok.txt").write_text("héllo", encoding="utf-8")
    assert load_text(str(tmp_path / "ok.txt")) == "héllo"


def test_grammar_generated_sentences_are_accepted_and_deterministic():
    text = generate_grammar_corpus(2000, seed=3)
    assert text == generate_grammar_corpus(2000, seed=3)
    assert text != generate_grammar_corpus(2000, seed=4)
    lines = text.strip().split("\n")
    assert len(lines) == 2000 and all(is_grammatical(s) for s in lines)
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz .\n")


@pytest.mark.parametrize("sentence", [
    "the dog run .", "the dogs runs .", "these dog runs .", "one dogs run .",
    "the dog sees .", "dog the runs .", "the dog runs", "", "the dog runs  .",
    "the zebra runs .", "the big small red dog dog runs .", "the dog near runs .",
    "the dog near the cat near the bird runs .", "the dog runs quickly quickly .",
    "the dog runs the cat .", "the dogs near the cat runs .",
])
def test_grammar_rejects(sentence):
    assert not is_grammatical(sentence)


@pytest.mark.parametrize("sentence", [
    "the dog runs .", "the dogs run .", "the dogs near the cat run .",
    "every small red fox chases those geese quickly .", "two children sing .",
    "the cat sees the dogs behind one old tree .", "the big small red old dog runs .",
])
def test_grammar_accepts(sentence):
    assert is_grammatical(sentence)


def test_addition_format_split_and_evaluator():
    assert format_addition(57, 68, 2) == ("57+68=", "521")
    assert parse_addition("57+68=521") == (57, 68, 125)
    train, held = addition_split(2, seed=0)
    assert len(train) + len(held) == 10000 and not set(train) & set(held)
    assert addition_split(2, seed=0) == (train, held)
    text = addition_corpus(train, 2)
    for a, b in held[:50]:
        assert "".join(format_addition(a, b, 2)) not in text
    perfect = evaluate_addition(lambda p: f"{sum(map(int, p[:-1].split('+'))):03d}"[::-1],
                                held, 2)
    assert perfect == 1.0
    assert evaluate_addition(lambda p: "000", held, 2) < 0.05
    with pytest.raises(ValueError, match="not an addition line"):
        parse_addition("12-3")


def test_builtin_registry():
    assert builtin_dataset("grammar", seed=0, n_examples=5).count("\n") == 5
    assert "+" in builtin_dataset("addition", digits=1)
    with pytest.raises(ValueError, match="unknown built-in dataset 'poems'"):
        builtin_dataset("poems")


def test_target_mask_hides_tokens_from_the_loss():
    tokens = np.arange(40)
    mask = tokens % 2 == 0
    ds = TokenDataset(tokens, val_fraction=0.25, target_mask=mask)
    x, y = ds.get_batch("train", 3, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(y, np.where((x + 1) % 2 == 0, x + 1, -1))
    with pytest.raises(ValueError, match="target_mask has shape"):
        TokenDataset(tokens, target_mask=mask[:3])
