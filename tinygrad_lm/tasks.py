"""From a TrainConfig to token batches, and the task metrics of the built-in datasets.

- grammar: the fraction of sampled sentences that the package's grammar accepts;
- addition: exact-match accuracy on held-out `a+b=` problems, answered greedily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import data as D
from .tokenizers import BPETokenizer, CharTokenizer, tokenizer_from_dict


@dataclass
class PreparedData:
    tokenizer: object
    dataset: D.TokenDataset
    task: str          # "grammar", "addition" or "text"
    source: str        # file path or built-in name
    heldout: list | None = None
    digits: int = 2

    def get_batch(self, split, batch_size, block_size, rng):
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
        return D.load_text(cfg.data), "text", None
    if cfg.dataset == "grammar":
        return D.generate_grammar_corpus(cfg.n_examples, seed=cfg.seed), "grammar", None
    if cfg.dataset == "addition":
        train_problems, heldout = D.addition_split(cfg.digits, seed=cfg.seed)
        return D.addition_corpus(train_problems, cfg.digits), "addition", heldout
    raise ValueError(f"unknown dataset {cfg.dataset!r}; choose one of {D.BUILTIN_DATASETS} or "
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


def prepare_data(cfg, tokenizer_state: dict | None = None) -> PreparedData:
    text, task, heldout = _text_for(cfg)
    if tokenizer_state is not None:
        tok = tokenizer_from_dict(tokenizer_state)
    elif cfg.tokenizer == "bpe":
        tok = BPETokenizer.train(text, cfg.bpe_vocab_size)
    else:
        tok = CharTokenizer.from_text(text)
    tokens = np.asarray(tok.encode(text), dtype=np.int64)
    mask = _answer_mask(text) if task == "addition" and len(tokens) == len(text) else None
    dataset = D.TokenDataset(tokens, val_fraction=cfg.val_fraction, target_mask=mask)
    for split in ("train", "val"):
        dataset.check_length(split, cfg.block_size)
    return PreparedData(tok, dataset, task, cfg.data or cfg.dataset, heldout, cfg.digits)


def evaluate_task(model, data: PreparedData, n: int = 200, seed: int = 0) -> dict | None:
    """The built-in task's quality metric, or None for plain text."""
    from .generate import generate

    if data.task == "grammar":
        fractions, samples = {}, {}
        for temperature in (1.0, 0.8):
            sentences = sample_sentences(model, data, n, seed, temperature)
            fractions[temperature] = sum(map(D.is_grammatical, sentences)) / n
            samples[temperature] = sentences
        return {"metric": "grammatical_fraction", "value": fractions[1.0],
                "value_t08": fractions[0.8], "samples": samples[1.0],
                "summary": f"grammatical sentences: {fractions[1.0]:.1%} of {n} samples at "
                           f"temperature 1.0 ({fractions[0.8]:.1%} at temperature 0.8)"}
    if data.task == "addition":
        problems, tok, digits = data.heldout[:n], data.tokenizer, data.digits

        def predict(prompt: str) -> str:
            ids = generate(model, np.array(tok.encode(prompt)), digits + 1, greedy=True)
            return tok.decode(ids[len(prompt):].tolist())

        acc = D.evaluate_addition(predict, problems, digits)
        return {"metric": "exact_match", "value": acc,
                "summary": f"addition exact match on {len(problems)} held-out problems: "
                           f"{acc:.1%}"}
    return None



def sample_sentences(model, data: PreparedData, n: int, seed: int, temperature: float = 1.0):
    """n sentences sampled from a fresh line: the first line of each continuation."""
    from .generate import generate

    prompt = np.array([data.sample_prompt()] * n, dtype=np.int64)
    ids = generate(model, prompt, max_new_tokens=120,  # longer than any sentence
                   seed=seed, temperature=temperature)
    return [data.tokenizer.decode(row[prompt.shape[1]:].tolist()).split("\n")[0].strip()
            for row in ids]
