"""The coursework tasks: id, pytest marker, points, the one-line task and the first hint.

A task's solution lives in the package source between `# BEGIN ASSIGNMENT <id>` and
`# END ASSIGNMENT <id>` comment lines (possibly several regions per task: its readable code and
any reference kernel that would give it away); its tests carry the pytest marker
`a<assignment>_<task>` (registered in setup.cfg). Tests under tests/hidden/ also carry the
marker `hidden`: they are left out of student copies and run only when grading.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One coursework task: its id (such as 2.5), points, what to write, and a hint."""
    id: str
    points: int
    description: str
    hint: str = ""

    @property
    def marker(self) -> str:
        """The pytest marker of the task's tests (a2_5 for task 2.5)."""
        return "a" + self.id.replace(".", "_")

    @property
    def assignment(self) -> int:
        """The assignment number the task belongs to (2 for task 2.5)."""
        return int(self.id.split(".")[0])


ASSIGNMENTS = {
    1: "Autograd core",
    2: "Op backward passes",
    3: "Kernels",
    4: "Attention and the GPT",
    5: "Training and generation",
    6: "The modern decoder",
}

TASKS = [
    Task("1.1", 10, "topological sort of the graph, parents before children, without recursion",
         "keep a visited set keyed by id(tensor), and push (node, True) before its parents"
         " so a node is emitted after all of them; a 5000-deep chain must not recurse"),
    Task("1.2", 15, "the backward loop: call each op's backward, accumulate gradients with +=",
         "walk the topological order from the end; a leaf's .grad is accumulated with +=, "
         "never replaced; sum the gradients of a tensor used twice"),
    Task("1.3", 10, "unbroadcast: sum a gradient back to the shape of a broadcast input",
         "sum over the leading axes broadcasting added, then over the axes where the input"
         " had size 1, with keepdims=True"),
    Task("2.1", 5, "Mul.backward: the product rule",
         "d(a*b)/da = b and d(a*b)/db = a, each times the incoming gradient; return one "
         "gradient per input"),
    Task("2.2", 5, "Div.backward: the quotient rule",
         "d(a/b)/db = -a / b**2; check the sign and the square first"),
    Task("2.3", 10, "expand_to: broadcast a reduced gradient back over the reduced axes",
         "put the reduced axes back as size 1 (np.expand_dims) before broadcasting to the "
         "input shape; axis=None reduced every axis"),
    Task("2.4", 10, "Max/Min backward: route the gradient to the extremes, sharing ties",
         "the gradient goes to every element equal to the extreme, divided by how many "
         "there are (ties share it)"),
    Task("2.5", 10, "MatMul.backward: dA = dC B^T, dB = A^T dC, with 1-D operands",
         "dA = dC @ B^T and dB = A^T @ dC over the last two axes; a 1-D operand was "
         "promoted to a matrix and must be squeezed back"),
    Task("2.6", 10, "GetItem.backward: scatter the gradient back, adding repeated indices",
         "scatter into zeros of the input shape with np.add.at: a plain assignment loses "
         "repeated indices"),
    Task("3.1", 15, "the Numba softmax forward kernel: stable, with scale and causal mask",
         "subtract the row max before exp; with the mask, query i of a (tq, tk) block sees"
         " keys j <= i + tk - tq; a row with no visible key is zeros"),
    Task("3.2", 10, "the Numba softmax backward kernel",
         "dx = scale * y * (g - sum_j g_j y_j), one dot product per row"),
    Task("3.3", 15, "the Numba LayerNorm forward kernel, saving mean and rstd",
         "the biased variance (divide by n, not n - 1); save mean and 1/sqrt(var + eps) "
         "per row"),
    Task("3.4", 15, "the Numba LayerNorm backward kernel",
         "dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = g * "
         "weight; dweight and dbias sum over rows"),
    Task("4.1", 5, "the causal mask: which keys each query may not attend",
         "queries are the last tq of tk positions: query i sits at i + tk - tq and may not"
         " see keys after it"),
    Task("4.2", 15, "multi-head attention: split q/k/v into heads, attend, merge the heads",
         "reshape(B, T, nh, hs).transpose(1, 2) splits the heads; softmax over keys with "
         "scale 1/sqrt(hs) and the causal mask; merge with the inverse"),
    Task("4.3", 10, "the Transformer block: pre-LN and post-LN residual wiring",
         "pre-LN: x + attn(ln_1(x)) then x + mlp(ln_2(x)); post-LN applies the norm after "
         "each residual sum"),
    Task("5.1", 10, "the AdamW update with bias correction and decoupled weight decay",
         "decay the weights before the moment updates (decoupled, AdamW), and divide the "
         "moments by 1 - beta**step"),
    Task("5.2", 5, "the learning-rate schedule: linear warmup then cosine decay",
         "warmup is (it + 1) / (warmup + 1) of lr; after lr_decay_iters the rate stays at "
         "min_lr"),
    Task("5.3", 5, "top-k filtering of logits",
         "keep the k largest logits and set the rest to -inf; ties go to the lower token "
         "id"),
    Task("5.4", 10, "top-p (nucleus) filtering of logits",
         "sort descending, cumulative sum, and keep the token whose probability crosses p "
         "as well"),
    Task("5.5", 10, "the KV cache: append new keys/values and attend over the cached ones",
         "concatenate the new keys/values after the cached ones along time and advance the"
         " position"),
    Task("6.1", 10, "RMSNorm forward and backward",
         "divide each row by sqrt(mean(x^2) + eps), without subtracting the mean; backward: "
         "dx = rstd * (g_hat - x_hat * mean(g_hat * x_hat)) with g_hat = g * weight"),
    Task("6.2", 15, "rotary embeddings: rotate channel pairs, at the absolute position of a "
         "cached sequence",
         "(a, b) -> (a cos - b sin, a sin + b cos); with a KV cache the new tokens start at "
         "position kv_cache.length, not 0"),
    Task("6.3", 5, "the SwiGLU MLP: w2(silu(w1 x) * w3 x)",
         "silu goes on the gate projection (gate_proj, w1) only; up_proj (w3) is the linear "
         "path it multiplies"),
]

BY_ID = {t.id: t for t in TASKS}
HANDOUTS = {1: "assignments/01_autograd.md", 2: "assignments/02_backward_passes.md",
            3: "assignments/03_kernels.md", 4: "assignments/04_attention.md",
            5: "assignments/05_training_generation.md", 6: "assignments/06_modern_decoder.md"}
HIDDEN_MARKER = "hidden"
HIDDEN_DIR = "tests/hidden"  # every test file under it is hidden


def starter_message(task_id: str) -> str:
    """What a starter's NotImplementedError says: the task, and where it is explained."""
    task = BY_ID[task_id]
    return (f"Assignment {task.id}: {task.description}; not written yet, see "
            f"{HANDOUTS[task.assignment]}").replace('"', "'")
