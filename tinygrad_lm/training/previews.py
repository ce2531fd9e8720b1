"""What the trainer shows at each evaluation: text that ends at a boundary, or, for the
addition task, held-out problems answered greedily and marked right or wrong."""

from __future__ import annotations

import numpy as np

from ..data import format_addition
from ..generation.generate import generate

SENTENCE_ENDS = ".!?\n"


def clip_to_boundary(text: str) -> str:
    """Cut a sample after its last sentence end (. ! ? or a newline) when that keeps at least
    half of it, else at its last space, so that it never stops mid-word."""
    end = max(text.rfind(ch) for ch in SENTENCE_ENDS)
    if end >= 0 and 2 * (end + 1) >= len(text):
        return text[:end + 1].rstrip("\n")
    space = text.rstrip().rfind(" ")
    return text[:space] if space > 0 else text


def text_sample(model, data, n_tokens: int, seed: int) -> str:
    """n_tokens sampled from a fresh line, cut at a boundary."""
    ids = generate(model, np.array([data.sample_prompt()], dtype=np.int64), n_tokens, seed=seed)
    return clip_to_boundary(data.tokenizer.decode(ids[0].tolist()).lstrip("\n"))


def addition_sample(model, data, n: int = 6) -> str:
    """'12+34=46 ✓' lines for n held-out problems (answers read back in normal digit order)."""
    lines, tok, digits = [], data.tokenizer, data.digits
    for a, b in data.heldout[:n]:
        prompt, answer = format_addition(a, b, digits)
        ids = generate(model, np.array(tok.encode(prompt)), digits + 1, greedy=True)
        got = tok.decode(ids[len(prompt):].tolist())[:digits + 1]
        shown = (got[::-1].lstrip("0") or "0") if got.isdigit() else repr(got)
        mark = "✓" if got == answer else f"✗ (should be {a + b})"
        lines.append(f"{a}+{b}={shown} {mark}")
    return "\n".join(lines)


def training_sample(model, data, n_tokens: int, seed: int) -> str:
    """What an evaluation shows: marked sums for addition, text otherwise."""
    if data.task == "addition" and data.heldout:
        return addition_sample(model, data)
    return text_sample(model, data, n_tokens, seed)
