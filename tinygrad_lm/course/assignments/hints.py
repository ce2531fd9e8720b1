"""Hints in tiers, from a nudge to the idea to the shape of the formula (never the code).

A failing task shows its first hint; `tinygrad-lm assignments status --hint 2.3` shows the next
one and remembers how many were opened (status.py keeps that in the copy's
`.tinygrad-lm/progress.json`). The middle tier of each task is the catalogue's hint, the one the
grader's report prints, so the two never drift apart.

OP_TASK names the task that owns each op's backward: when gradient blame (tinygrad_lm/blame.py)
names an op in a failing test of another task, status points at the task to fix first.
"""

from __future__ import annotations

from .catalog import BY_ID

_TIERS = {
    "1.1": ("A node may go into the order only after every one of its parents is in it. "
            "What do you have to remember about each node to know that?",
            "the shape of it: pop (node, done); if done, append it; else if unseen, mark it, "
            "push (node, True), then push (parent, False) for each parent"),
    "1.2": ("Backward visits each node once, children before parents, carrying dL/d(node) "
            "in a dictionary keyed by id(tensor).",
            "for each node from the end of the order: grads_in = op.backward(ctx, g); for each "
            "(parent, g_p): g_p = unbroadcast(g_p, parent.shape); grads[parent] += g_p"),
    "1.3": ("Broadcasting copied the input; the derivative of a copy is the sum over its "
            "copies. Which axes were copies?",
            "sum(grad, axes 0..k-1) where k = grad.ndim - len(shape); then sum(axes where "
            "shape[i] == 1, keepdims=True)"),
    "2.1": ("Write the partial derivative of a*b with respect to a, then with respect to b.",
            "(g * b, g * a); None where ctx.needs_input_grad is False"),
    "2.2": ("a / b = a * b^-1: differentiate b^-1 with the power rule.",
            "(g / b, -g * a / b^2): both signs and the square matter"),
    "2.3": ("A reduction removed axes; its gradient has fewer axes than the input. Which "
            "axes must come back before NumPy can broadcast?",
            "g -> expand_dims(g, reduced axes) (unless keepdims) -> broadcast_to(input shape); "
            "mean divides by the count of reduced elements"),
    "2.4": ("Only the elements that are the maximum moved the output. What if two of them "
            "are?",
            "mask = (x == expand(max)); g_x = expand(g) * mask / mask.sum(reduced axes)"),
    "2.5": ("Check shapes first: dA must have A's shape (M, K) and dC is (M, N).",
            "dA = dC @ B^T (M, N)(N, K), dB = A^T @ dC (K, M)(M, N); a 1-D operand was "
            "promoted with a new axis, which the gradient drops again"),
    "2.6": ("Indexing picks elements; its backward puts each gradient back where it was "
            "picked from. What if an element was picked twice?",
            "out = zeros(input shape); np.add.at(out, index, g): the += of repeated indices"),
    "3.1": ("exp overflows above ~709 in float64 and ~88 in float32; softmax(x) = "
            "softmax(x - c) for any c.",
            "per row r: m = max over visible j; e_j = exp(scale*(x_j - m)); y_j = e_j / sum e; "
            "masked j get y_j = 0"),
    "3.2": ("Softmax's Jacobian is diag(y) - y y^T; you never need to build it.",
            "per row: dot = sum_j g_j y_j; dx_j = scale * y_j * (g_j - dot)"),
    "3.3": ("LayerNorm normalises each row by its own mean and variance. Which variance: "
            "n or n - 1?",
            "mean = sum x / n; var = sum (x - mean)^2 / n; rstd = 1 / sqrt(var + eps); "
            "y = (x - mean) * rstd * w + b"),
    "3.4": ("x enters the output three ways: directly, through the mean and through the "
            "variance. Each gives a term.",
            "dxhat = g * w; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)); "
            "dw += g * xhat and db += g, summed over rows"),
    "4.1": ("With a cache, the tq queries are the last tq of the tk positions.",
            "query i sits at position i + (tk - tq); key j is hidden when j > that position"),
    "4.2": ("Write the shape of every tensor on the line that makes it: (B, T, C), "
            "(B, nh, T, hs), (B, nh, T, T).",
            "q, k, v from c_attn, each (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs); "
            "softmax(q k^T / sqrt(hs), causal) @ v; then the inverse to (B, T, C), c_proj"),
    "4.3": ("The residual stream carries x past each sublayer: the sublayer's output is "
            "added to it, never put in its place.",
            "pre-LN: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).  post-LN: x = ln_1(x + "
            "attn(x)); x = ln_2(x + mlp(x))"),
    "5.1": ("Adam's moments start at zero, so early averages are too small. How much too "
            "small, after t steps?",
            "p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / "
            "(1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)"),
    "5.2": ("Three phases: warmup, cosine decay, then a floor. Write the rate at the first "
            "and last step of each.",
            "warmup: lr (it+1)/(warmup+1); decay: r = (it - warmup)/(decay_iters - warmup), "
            "min_lr + 0.5 (1 + cos(pi r)) (lr - min_lr); after: min_lr"),
    "5.3": ("Keep k tokens, drop the rest: -inf logits get probability 0 after softmax.",
            "order = stable argsort of -logits; set logits[order[k:]] = -inf"),
    "5.4": ("Nucleus sampling keeps the smallest set of most likely tokens whose "
            "probability reaches p, including the one that crosses it.",
            "sort probabilities descending; c = cumsum; keep count = (c < p).sum() + 1; "
            "drop the rest with -inf"),
    "5.5": ("The cache grows along time: new keys and values go after the cached ones.",
            "k_all = concat(cache_k, k_new, axis=time); same for v; position += T_new; "
            "the new queries attend over all of k_all"),
    "6.1": ("RMSNorm is LayerNorm without the mean: what is left to subtract, and what to "
            "divide by?",
            "rstd = 1 / sqrt(mean(x * x, axis=-1) + eps); y = x * rstd * weight; backward with "
            "x_hat = x * rstd: dx = rstd * (g_hat - x_hat * mean(g_hat * x_hat, axis=-1))"),
    "6.2": ("A rotation by an angle that grows with the position: which position does a new "
            "token have when the cache already holds some?",
            "angle = position * theta ** (-2i / head_size); (a, b) -> (a cos - b sin, "
            "a sin + b cos); positions = cache_length + arange(T_new)"),
    "6.3": ("Two projections go in, one comes out: which of the two goes through the "
            "nonlinearity?",
            "h = silu(x @ w1) * (x @ w3); y = h @ w2 (w1: gate_proj, w3: up_proj, w2: "
            "down_proj)"),
}

HINTS: dict[str, tuple[str, ...]] = {
    task: (nudge, BY_ID[task].hint, shape) for task, (nudge, shape) in _TIERS.items()}
"""task id -> hints, gentlest first: a nudge, the idea (the catalogue's hint), the formula."""

OP_TASK = {"Mul": "2.1", "Div": "2.2", "Sum": "2.3", "Mean": "2.3", "Var": "2.3",
           "Max": "2.4", "Min": "2.4", "MatMul": "2.5", "Linear": "2.5", "LinearGelu": "2.5",
           "GetItem": "2.6", "Softmax": "3.2", "LayerNorm": "3.4", "RMSNorm": "6.1",
           "Rope": "6.2"}
"""op class -> the task whose code is its backward (3.2 and 3.4: the Numba kernels)."""


def hint(task: str, tier: int) -> str:
    """Hint number `tier` (1 = the gentlest) of `task`."""
    tiers = HINTS[task]
    if not 1 <= tier <= len(tiers):
        raise ValueError(f"task {task} has hints 1 to {len(tiers)}, not {tier}")
    return tiers[tier - 1]


def failure_lines(task_ids) -> list[str]:
    """What a failed test run of a student copy ends with: each failing task's first hint."""
    lines = []
    for task in sorted(set(task_ids) & set(HINTS), key=lambda t: tuple(map(int, t.split(".")))):
        lines.append(f"hint 1/{len(HINTS[task])} for task {task}: {HINTS[task][0]}")
    if lines:
        lines.append("more help: tinygrad-lm assignments status --hint X.Y (the next hint), "
                     "tinygrad-lm assignments status (every task)")
    return lines
