# %% [markdown]
# # Lesson 2 — Tensors and broadcasting
#
# **Goal:** see why a backward pass must *sum* over the axes along which an input was
# broadcast, and derive matmul's gradient, checked numerically.

# %%
import numpy as np

import tinygrad_lm as tg

rng = np.random.default_rng(0)

# %% [markdown]
# ## Broadcasting copies; the gradient of a copy is a sum
# `b` of shape (4,) is added to every row of `a` (3, 4). Each element of `b` was used 3 times,
# so dL/db is the sum over rows of dL/d(a+b).

# %%
a = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
b = tg.Tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
upstream = rng.standard_normal((3, 4))
(a + b).backward(upstream)
print("dL/db from the engine:", np.round(b.grad, 4))
print("sum of upstream rows: ", np.round(upstream.sum(axis=0), 4))
assert np.allclose(b.grad, upstream.sum(axis=0))

# %% [markdown]
# ## Shapes (3, 1) + (1, 4): both sides broadcast

# %%
c = tg.Tensor(rng.standard_normal((3, 1)), requires_grad=True, dtype=np.float64)
d = tg.Tensor(rng.standard_normal((1, 4)), requires_grad=True, dtype=np.float64)
(c * d).sum().backward()
print("dc:", c.grad.ravel(), "= d summed:", d.data.sum())
assert c.grad.shape == (3, 1) and np.allclose(c.grad, d.data.sum())

# %% [markdown]
# ## Matmul's gradient
# For C = A B and a loss L: dL/dA = dL/dC B^T and dL/dB = A^T dL/dC. Shapes confirm it:
# (M, N) @ (N, K)^T = (M, K), the shape of A.

# %%
A = tg.Tensor(rng.standard_normal((5, 3)), requires_grad=True, dtype=np.float64)
B = tg.Tensor(rng.standard_normal((3, 2)), requires_grad=True, dtype=np.float64)
G = rng.standard_normal((5, 2))
(A @ B).backward(G)
assert np.allclose(A.grad, G @ B.data.T) and np.allclose(B.grad, A.data.T @ G)
result = tg.gradcheck(lambda x, y: x @ y, [A, B])
print("matmul gradient checked by finite differences; worst abs error:",
      f"{max(result.max_abs_error.values()):.2e}")

# %% [markdown]
# ## Check
# A batched matmul with broadcast batch axes (2, 1, 3, 4) @ (3, 4, 2) passes gradcheck too.

# %%
X = tg.Tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True, dtype=np.float64)
W = tg.Tensor(rng.standard_normal((3, 4, 2)), requires_grad=True, dtype=np.float64)
assert tg.gradcheck(lambda x, w: x @ w, [X, W]).passed
print("batched, broadcast matmul: gradcheck passed. Lesson 2 done.")
