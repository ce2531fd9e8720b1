# %% [markdown]
# # Lesson 2 — Tensors and broadcasting
#
# Lesson 1 differentiated single numbers. A language model works on arrays: a batch of $B$
# sequences of $T$ tokens, each a vector of $C$ channels, shape $(B, T, C)$. This lesson is
# about the two places where arrays make backward passes subtle: broadcasting and matmul.

# %% [markdown]
# ## What you will learn
#
# - NumPy's broadcasting rule, and that broadcasting is a *copy*: a bias of shape $(C,)$ added
#   to a $(B, T, C)$ activation is used $B \cdot T$ times.
# - Why the gradient of a broadcast input is a *sum* over the broadcast axes, and how one
#   function, `unbroadcast`, undoes every broadcast in the engine so each op's backward can
#   stay just the math.
# - How to derive matmul's gradient from index notation, $\bar{A} = \bar{C} B^\top$ and
#   $\bar{B} = A^\top \bar{C}$, and check it with shapes and with finite differences.
#
# Why it matters: getting one of these wrong gives gradients of the right shape and the wrong
# value, the bug that silently ruins training. Assignment 1 asks for `unbroadcast` and
# assignment 2 for matmul's backward.

# %%
import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import check

rng = np.random.default_rng(0)

# %% [markdown]
# ## The broadcasting rule
#
# Two shapes are compared from the right. Each pair of sizes must be equal, or one of them 1
# (it is stretched), or missing (a leading axis of size 1 is added). So $(B, T, C) + (C,)$
# works: $(C,)$ becomes $(1, 1, C)$ and is stretched over $B$ and $T$. Nothing is really
# copied in memory (NumPy gives the stretched axes a stride of 0, so every position reads
# the same element), but mathematically the bias appears in every position.

# %%
B, T, C = 2, 3, 4
x = rng.standard_normal((B, T, C))
bias = rng.standard_normal(C)
print("(B, T, C) + (C,)      ->", (x + bias).shape)
print("(T, 1) * (1, C)       ->", (np.ones((T, 1)) * np.ones((1, C))).shape)
print("(B, 1, T) + (T, 1)    ->", (np.ones((B, 1, T)) + np.ones((T, 1))).shape)

# %% [markdown]
# ## The gradient of a copy is a sum
#
# Write the broadcast add in indices: $y_{btc} = x_{btc} + b_c$. For a loss $L$ with
# upstream gradient $\bar{y} = \partial L / \partial y$, the chain rule sums over every
# element that $b_c$ touched:
#
# $$\bar{b}_c = \sum_{b, t} \frac{\partial L}{\partial y_{btc}}
#   \frac{\partial y_{btc}}{\partial b_c} = \sum_{b,t} \bar{y}_{btc}.$$
#
# This is lesson 1's rule "gradients add up over paths", applied to $B \cdot T$ paths at
# once. In general: sum the upstream gradient over the axes broadcasting *added* (leading
# ones) and over the axes where the input had size 1, keeping those as size 1.
#
# Why a sum and not a mean? Nudge $b_c$ by $\delta$: every one of the $B \cdot T$ outputs
# it feeds moves by $\delta$, so the loss moves by $\delta \sum_{b,t} \bar{y}_{btc}$. A mean
# would make the bias learn $B \cdot T$ times too slowly, and it would change with the
# batch size. The same argument holds for the forward pass's other copy-like operations:
# the backward of `expand`, of indexing one row several times (an embedding lookup), and of
# using one weight at every time step of an RNN are all sums.

# %%
xt = tg.Tensor(x, requires_grad=True, dtype=np.float64)
bt = tg.Tensor(bias, requires_grad=True, dtype=np.float64)
upstream = rng.standard_normal((B, T, C))
(xt + bt).backward(upstream)
print("dL/db from the engine:          ", np.round(bt.grad, 4))
print("upstream summed over (B, T) axes:", np.round(upstream.sum(axis=(0, 1)), 4))

# %% [markdown]
# ### Exercise 2.1 — Unbroadcast
# Write `unbroadcast(grad, shape)`: reduce `grad` (the gradient of a broadcast result) to
# `shape` (the input's shape) by summing over the leading axes broadcasting added and over the
# axes where `shape` has a 1, keeping those axes with `keepdims=True`.

# %%
def unbroadcast(grad, shape):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def unbroadcast_solution(grad, shape):
    extra = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(extra)))  # the leading axes broadcasting added
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=ones, keepdims=True) if ones else grad


# %%
def _unbroadcast_ok(f):
    g = rng.standard_normal((2, 3, 4))
    cases = {(4,): g.sum((0, 1)), (3, 1): g.sum(0).sum(1, keepdims=True),
             (1, 3, 4): g.sum(0, keepdims=True), (2, 3, 4): g, (): g.sum(),
             (2, 1, 1): g.sum((1, 2), keepdims=True)}
    return all(np.shape(f(g, s)) == s and np.allclose(f(g, s), want)
               for s, want in cases.items())


check("2.1", unbroadcast, unbroadcast_solution, test=_unbroadcast_ok,
      hint="First sum over range(grad.ndim - len(shape)); then over the axes where shape is 1.")

# %% [markdown]
# The engine calls exactly this once, centrally, on every gradient an op returns: that is
# why `Mul.backward` can just return `g * b` and `g * a`, as if nothing were broadcast. Both
# inputs can broadcast at once:

# %%
c = tg.Tensor(rng.standard_normal((3, 1)), requires_grad=True, dtype=np.float64)
d = tg.Tensor(rng.standard_normal((1, 4)), requires_grad=True, dtype=np.float64)
(c * d).sum().backward()
print("(3, 1) * (1, 4): dc has shape", c.grad.shape, "and every entry is sum(d) =",
      round(float(d.data.sum()), 4))

# %% [markdown]
# ## Matmul's gradient, from indices
#
# Let $C = AB$ with $A$ of shape $(M, N)$, $B$ of shape $(N, K)$, so
# $C_{ik} = \sum_j A_{ij} B_{jk}$. Then $\partial C_{ik} / \partial A_{ij} = B_{jk}$, and
# summing over every output element $A_{ij}$ touched,
#
# $$\bar{A}_{ij} = \sum_k \bar{C}_{ik} B_{jk} = (\bar{C} B^\top)_{ij}, \qquad
#   \bar{B}_{jk} = \sum_i A_{ij} \bar{C}_{ik} = (A^\top \bar{C})_{jk}.$$
#
# The shapes confirm it without any algebra: $\bar{A}$ must be $(M, N)$, and
# $(M, K) \cdot (K, N)$ is the only way to get there from $\bar{C}$ and $B$. When in doubt
# about a backward pass, write the forward with indices and let the shapes guide you.

# %% [markdown]
# ### Exercise 2.2 — Matmul backward
# Write `matmul_backward(A, B, G)` for 2-D arrays: given the upstream gradient `G` of
# `C = A @ B`, return the pair `(dA, dB)`.

# %%
def matmul_backward(A, B, G):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def matmul_backward_solution(A, B, G):
    return G @ B.T, A.T @ G  # (M, K)(K, N) and (N, M)(M, K)


# %%
A = rng.standard_normal((5, 3))
Bm = rng.standard_normal((3, 2))
G = rng.standard_normal((5, 2))
At = tg.Tensor(A, requires_grad=True, dtype=np.float64)
Bt = tg.Tensor(Bm, requires_grad=True, dtype=np.float64)
(At @ Bt).backward(G)
check("2.2", matmul_backward, matmul_backward_solution,
      test=lambda f: all(np.allclose(got, want) for got, want in
                         zip(f(A, Bm, G), (At.grad, Bt.grad))),
      hint="dA has A's shape (5, 3): combine G (5, 2) with B (3, 2) transposed.")

# %% [markdown]
# ## Finite differences agree
#
# `tg.gradcheck` perturbs every input element by $\pm\epsilon$ and compares the central
# difference with the backward pass (lesson 3 looks inside it).

# %%
result = tg.gradcheck(lambda a, b: a @ b, [At, Bt])
print(f"2-D matmul: gradcheck passed, worst abs error {max(result.max_abs_error.values()):.1e}")

# %% [markdown]
# ## Batched matmul broadcasts too
#
# Attention multiplies $(B, n_h, T, h_s)$ by $(B, n_h, h_s, T)$: the matmul acts on the last
# two axes and broadcasts the rest. So its backward is the 2-D rule on the last two axes,
# followed by `unbroadcast` over the batch axes. Below, $(2, 1, 3, 4) @ (3, 4, 2)$: the batch
# shapes $(2, 1)$ and $(3,)$ broadcast to $(2, 3)$.

# %%
X = tg.Tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True, dtype=np.float64)
W = tg.Tensor(rng.standard_normal((3, 4, 2)), requires_grad=True, dtype=np.float64)
G4 = rng.standard_normal((2, 3, 3, 2))
(X @ W).backward(G4)
dX = unbroadcast_solution(G4 @ np.swapaxes(W.data, -1, -2), X.shape)
dW = unbroadcast_solution(np.swapaxes(X.data, -1, -2) @ G4, W.shape)
by_hand_equal = np.allclose(dX, X.grad) and np.allclose(dW, W.grad)
print("batched backward by hand equals the engine:", by_hand_equal)
batched = tg.gradcheck(lambda x, w: x @ w, [X, W])
print(f"batched, broadcast matmul: worst abs error {max(batched.max_abs_error.values()):.1e}")

# %% [markdown]
# ## Summary
#
# - Broadcasting aligns shapes from the right and stretches size-1 axes; mathematically it
#   copies, so the gradient of a broadcast input sums over the broadcast axes.
# - The engine undoes broadcasting once, centrally, with `unbroadcast`; each op's backward is
#   only its math.
# - Matmul's backward is $\bar{A} = \bar{C} B^\top$, $\bar{B} = A^\top \bar{C}$, derived
#   from indices and confirmed by shapes; the batched version adds an `unbroadcast`.
#
# Next: assignment 1, task 1.3 (`unbroadcast` in the engine), then assignment 2, task 2.5
# (matmul's backward).

# %%
assert np.allclose(bt.grad, upstream.sum(axis=(0, 1)))
assert c.grad.shape == (3, 1) and np.allclose(c.grad, d.data.sum())
assert by_hand_equal
assert result.passed and batched.passed
print(f"broadcast and matmul gradients checked (worst error "
      f"{max(batched.max_abs_error.values()):.1e}). Lesson 2 done.")
