"""The quality metric of each built-in task, measured by generating from the model:

- grammar: the fraction of sampled sentences that the package's grammar accepts;
- addition: exact-match accuracy on held-out `a+b=` problems, answered greedily.
"""

from __future__ import annotations

import numpy as np

from ..data.addition import evaluate_addition
from ..data.grammar import is_grammatical
from ..data.prepare import PreparedData
from ..generation.generate import generate


def evaluate_task(model, data: PreparedData, n: int = 200, seed: int = 0) -> dict | None:
    """The built-in task's quality metric, or None for plain text."""
    if data.task == "grammar":
        fractions, samples = {}, {}
        for temperature in (1.0, 0.8):
            sentences = sample_sentences(model, data, n, seed, temperature)
            fractions[temperature] = sum(map(is_grammatical, sentences)) / n
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

        acc = evaluate_addition(predict, problems, digits)
        return {"metric": "exact_match", "value": acc,
                "summary": f"addition exact match on {len(problems)} held-out problems: "
                           f"{acc:.1%}"}
    return None


def sample_sentences(model, data: PreparedData, n: int, seed: int, temperature: float = 1.0):
    """n sentences sampled from a fresh line: the first line of each continuation.

    Generation stops once every row has written a newline: only the first line is kept, and
    a finished row still draws its random number each step, so the sentences are the ones a
    full 120-token continuation would begin with.
    """
    prompt = np.array([data.sample_prompt()] * n, dtype=np.int64)
    ids = generate(model, prompt, max_new_tokens=120,  # longer than any sentence
                   seed=seed, temperature=temperature, stop_tokens=newline_tokens(data.tokenizer))
    return [data.tokenizer.decode(row[prompt.shape[1]:].tolist()).split("\n")[0].strip()
            for row in ids]


def newline_tokens(tokenizer) -> list[int]:
    """The ids whose text contains a newline (in a byte-level BPE, "\\n" may sit inside a
    longer token; byte 0x0A is never part of a multi-byte character)."""
    return [i for i in range(tokenizer.vocab_size) if "\n" in tokenizer.decode([i])]
