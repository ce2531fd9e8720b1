"""The coursework tasks: id, pytest marker, points, and the one-line task a student sees.

A task's solution lives in the package source between `# BEGIN ASSIGNMENT <id>` and
`# END ASSIGNMENT <id>` comment lines (possibly several regions per task); its tests carry the
pytest marker `a<assignment>_<task>` (registered in setup.cfg).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    id: str
    points: int
    description: str

    @property
    def marker(self) -> str:
        return "a" + self.id.replace(".", "_")

    @property
    def assignment(self) -> int:
        return int(self.id.split(".")[0])


ASSIGNMENTS = {
    1: "Autograd core",
    2: "Op backward passes",
    3: "Kernels",
    4: "Attention and the GPT",
    5: "Training and generation",
}

TASKS = [
    Task("1.1", 10, "topological sort of the graph, parents before children, without recursion"),
    Task("1.2", 15, "the backward loop: call each op's backward, accumulate gradients with +="),
    Task("1.3", 10, "unbroadcast: sum a gradient back to the shape of a broadcast input"),
    Task("2.1", 5, "Mul.backward: the product rule"),
    Task("2.2", 5, "Div.backward: the quotient rule"),
    Task("2.3", 10, "expand_to: broadcast a reduced gradient back over the reduced axes"),
    Task("2.4", 10, "Max/Min backward: route the gradient to the extremes, sharing ties"),
    Task("2.5", 10, "MatMul.backward: dA = dC B^T, dB = A^T dC, with 1-D operands"),
    Task("2.6", 10, "GetItem.backward: scatter the gradient back, adding repeated indices"),
    Task("3.1", 15, "the Numba softmax forward kernel: stable, with scale and causal mask"),
    Task("3.2", 10, "the Numba softmax backward kernel"),
    Task("3.3", 15, "the Numba LayerNorm forward kernel, saving mean and rstd"),
    Task("3.4", 15, "the Numba LayerNorm backward kernel"),
    Task("4.1", 5, "the causal mask: which keys each query may not attend"),
    Task("4.2", 15, "multi-head attention: split q/k/v into heads, attend, merge the heads"),
    Task("4.3", 10, "the Transformer block: pre-LN and post-LN residual wiring"),
    Task("5.1", 10, "the AdamW update with bias correction and decoupled weight decay"),
    Task("5.2", 5, "the learning-rate schedule: linear warmup then cosine decay"),
    Task("5.3", 5, "top-k filtering of logits"),
    Task("5.4", 10, "top-p (nucleus) filtering of logits"),
    Task("5.5", 10, "the KV cache: append new keys/values and attend over the cached ones"),
]

BY_ID = {t.id: t for t in TASKS}
