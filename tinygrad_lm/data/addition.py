"""Fixed-width `a+b=` addition problems (see "Line format" below), split into a training set
and a held-out set that never appears in the training text, with an exact-match evaluator.
"""

from __future__ import annotations

import numpy as np

# ---- addition ----------------------------------------------------------------------------------
# Line format, for n-digit operands: "AA+BB=SSS" with both operands zero-padded to n digits and
# the sum written with n + 1 digits, REVERSED (least significant digit first). With n = 2:
#     57 + 68 = 125   ->   "57+68=521"        3 + 4 = 7   ->   "03+04=700"
# Why fixed width: every line has the same length, so the answer always starts at the same
# position and the model never has to guess how many digits are coming.
# Why reversed: a carry travels from the lowest digit upwards. Written lowest digit first, each
# answer digit depends only on digits the model has already seen or written (the two operand
# digits at that position and the carry from the previous one), which a small model learns far
# more reliably than the usual order, where the first digit written depends on every carry.
MAX_ADDITION_DIGITS = 3  # 10**6 problems; a larger space is too big to enumerate and shuffle


def format_addition(a: int, b: int, digits: int) -> tuple[str, str]:
    """(prompt, answer) for a + b: format_addition(57, 68, 2) == ("57+68=", "521")."""
    if not (0 <= a < 10 ** digits and 0 <= b < 10 ** digits):
        raise ValueError(f"format_addition: {a}+{b} does not fit in {digits}-digit operands")
    prompt = f"{a:0{digits}d}+{b:0{digits}d}="
    return prompt, f"{a + b:0{digits + 1}d}"[::-1]


def addition_line(a: int, b: int, digits: int) -> str:
    """The training line for a + b (without newline): "57+68=521"."""
    return "".join(format_addition(a, b, digits))


def parse_addition(line: str) -> tuple[int, int, int]:
    """"57+68=521" -> (57, 68, 125), undoing the reversed answer."""
    try:
        left, answer = line.strip().split("=")
        a, b = left.split("+")
        if not (a.isdigit() and b.isdigit() and answer.isdigit()):
            raise ValueError
        return int(a), int(b), int(answer[::-1])
    except ValueError:
        raise ValueError(f"parse_addition: not an addition line like '57+68=521' (operands, "
                         f"then the sum with its digits reversed): {line!r}") from None


def generate_addition_problems(n_digits: int = 2, seed: int = 0,
                               heldout_fraction: float = 0.1) -> tuple[list, list]:
    """Every (a, b) with n-digit operands, shuffled by `seed` and split into (train, held-out).
    The split is of the problem space itself, so a held-out problem never occurs in the
    training text and held-out accuracy measures whether the model learned to add."""
    if not isinstance(n_digits, int) or not 1 <= n_digits <= MAX_ADDITION_DIGITS:
        raise ValueError(f"addition: n_digits must be 1..{MAX_ADDITION_DIGITS}, got "
                         f"{n_digits!r} ({MAX_ADDITION_DIGITS} digits already give "
                         f"{10 ** (2 * MAX_ADDITION_DIGITS):,} problems)")
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"addition: heldout_fraction must be in (0, 1), got {heldout_fraction}")
    n = 10 ** n_digits
    order = np.random.default_rng(seed).permutation(n * n)
    n_held = max(1, int(n * n * heldout_fraction))
    pairs = list(zip((order // n).tolist(), (order % n).tolist()))  # problem k: k//n + k%n
    return pairs[n_held:], pairs[:n_held]



def addition_corpus(problems, digits: int) -> str:
    """Training text: one `addition_line` per problem, each ending in a newline."""
    return "".join(addition_line(a, b, digits) + "\n" for a, b in problems)


def evaluate_addition(predict_fn, problems, digits: int | None = None) -> float:
    """Exact-match accuracy in [0, 1]. predict_fn(prompt) gets "57+68=" and returns the
    completion; its first n + 1 characters must be the answer ("521"), anything after them is
    ignored (a model may go on to the next line). `digits` defaults to the widest operand, so
    pass it when the problems might all be small numbers."""
    problems = list(problems)
    if not problems:
        raise ValueError("evaluate_addition: no problems given")
    digits = digits or max(len(str(max(a, b))) for a, b in problems)
    correct = 0
    for a, b in problems:
        prompt, answer = format_addition(a, b, digits)
        completion = predict_fn(prompt)
        if not isinstance(completion, str):
            raise TypeError(f"evaluate_addition: predict_fn must return a str, got "
                            f"{type(completion).__name__} (decode the token ids first)")
        correct += completion[:len(answer)] == answer
    return correct / len(problems)
