"""From a TrainConfig to a tokenizer and token batches: the text (a file or a built-in dataset),
the tokenizer trained on it (or restored from a checkpoint), and the train/val TokenDataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict
from .addition import addition_corpus, generate_addition_problems
from .batches import TokenDataset, load_text
from .builtin import BUILTIN_DATASETS
from .grammar import generate_grammar_corpus


@dataclass
class PreparedData:
    """A run's data: the tokenizer, the token dataset with its train/val split, which task it is
    (for the task's own metric) and, for addition, the held-out problems.
    """
    tokenizer: object
    dataset: TokenDataset
    task: str          # "grammar", "addition" or "text"
    heldout: list | None = None
    digits: int = 2

    def get_batch(self, split, batch_size, block_size, rng):
        """`batch_size` random windows of `split` ("train" or "val"): inputs (B, T) and the next
        tokens as targets (B, T), with T = block_size; see `TokenDataset.get_batch`.
        """
        return self.dataset.get_batch(split, batch_size, block_size, rng)

    def sample_prompt(self) -> list[int]:
        """Start generation from a newline when the vocabulary has one (a fresh line)."""
        try:
            ids = self.tokenizer.encode("\n")
            if ids:
                return ids
        except (ValueError, KeyError):
            pass
        return [int(self.dataset.train[0])]


def _text_for(cfg) -> tuple[str, str, list | None]:
    if cfg.data:
        return load_text(cfg.data), "text", None
    if cfg.dataset == "grammar":
        return generate_grammar_corpus(cfg.n_examples, seed=cfg.seed), "grammar", None
    if cfg.dataset == "addition":
        train_problems, heldout = generate_addition_problems(cfg.digits, seed=cfg.seed)
        return addition_corpus(train_problems, cfg.digits), "addition", heldout
    raise ValueError(f"unknown dataset {cfg.dataset!r}; choose one of {BUILTIN_DATASETS} or "
                     "pass --data FILE.txt")


def _answer_mask(text: str) -> np.ndarray:
    """Addition: only the answer digits and the newline after "=" are training targets; the
    operands are random, so predicting them teaches nothing (as in minGPT's adder)."""
    mask = np.zeros(len(text), dtype=bool)
    in_answer = False
    for i, ch in enumerate(text):
        mask[i] = in_answer
        if ch == "=":
            in_answer = True
        elif ch == "\n":
            in_answer = False
    return mask


def prepare_data(cfg, tokenizer_state: dict | None = None, tokenizer=None) -> PreparedData:
    """The text `cfg` names (a file, or a built-in dataset generated from `cfg.seed`), tokenized
    and split into train and validation. The tokenizer is `tokenizer` (e.g. a pretrained
    model's) when given, else the one `tokenizer_state` (a checkpoint's) restores, so a resumed
    run keeps its ids, else one trained on the text as `cfg.tokenizer` says.
    """
    text, task, heldout = _text_for(cfg)
    if tokenizer is not None:
        tok = tokenizer
    elif tokenizer_state is not None:
        tok = tokenizer_from_dict(tokenizer_state)
    elif cfg.tokenizer == "bpe":
        tok = BPETokenizer.train(text, cfg.bpe_vocab_size)
    else:
        tok = CharTokenizer.from_text(text)
    # a training file may separate its documents with <|endoftext|>, GPT-2's convention: the
    # special tokens of a pretrained tokenizer become their ids here, never plain text
    special = {"allowed_special": "all"} if getattr(tok, "special_tokens", None) else {}
    tokens = np.asarray(tok.encode(text, **special), dtype=np.int64)
    mask = _answer_mask(text) if task == "addition" and len(tokens) == len(text) else None
    dataset = TokenDataset(tokens, val_fraction=cfg.val_fraction, target_mask=mask)
    for split in ("train", "val"):
        dataset.check_length(split, cfg.model.block_size)
    return PreparedData(tok, dataset, task, heldout, cfg.digits)
