# %% [markdown]
# # Lesson 7 — Causal self-attention
#
# **Goal:** see attention at work. Each position makes a query q, a key k and a value v; the
# weight of position j for position i is softmax_j(q_i · k_j / sqrt(hs)), with every j > i
# masked out so a position never looks at the future. Several heads do this in parallel.

# %%
import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm import nn
from tinygrad_lm.lessons import pyplot, show

rng = np.random.default_rng(0)
T, C, nh = 8, 16, 2
hs = C // nh

# %% [markdown]
# ## One head by hand

# %%
x = tg.randn(1, T, C, rng=rng)
Wq, Wk, Wv = (tg.randn(C, hs, rng=rng) * 0.5 for _ in range(3))
q, k, v = x @ Wq, x @ Wk, x @ Wv  # (1, T, hs)
scores = q @ k.transpose(-2, -1)  # (1, T, T)
mask = np.triu(np.ones((T, T), dtype=bool), 1)  # True above the diagonal: the future
weights = (scores * (1 / np.sqrt(hs))).masked_fill(mask, -np.inf).softmax()
out = weights @ v  # (1, T, hs)
fused = F.softmax(scores, scale=1 / np.sqrt(hs), causal=True)
print("row sums:", np.round(weights.data[0].sum(-1), 6))
print("fused kernel equals the composed ops:", np.allclose(fused.data, weights.data, atol=1e-6))

# %% [markdown]
# ## Many heads: the library layer
# `CausalSelfAttention` projects q, k, v for all heads at once, splits them into
# (B, nh, T, hs), attends, and merges the heads back to (B, T, C).

# %%
attn = nn.CausalSelfAttention(C, nh, rng=rng, proj_std=0.3)
y = attn(x, return_attention=True)
att = attn.last_attention[0]  # (nh, T, T)

plt = pyplot()
fig, axes = plt.subplots(1, nh + 1, figsize=(4 * (nh + 1), 3.6))
for ax, w, title in zip(axes, [weights.data[0], *att], ["by hand", "head 0", "head 1"]):
    ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlabel("key position j")
    ax.set_ylabel("query position i")
fig.tight_layout()
show(fig, "07_attention.png")

# %% [markdown]
# ## Causality, tested
# Change the last token: outputs at earlier positions must not move.

# %%
x2 = tg.Tensor(x.data.copy())
x2.data[0, -1] += 10.0
y2 = attn(x2)
same = np.allclose(y.data[0, :-1], y2.data[0, :-1], atol=1e-6)
print("earlier outputs unchanged:", same)

# %% [markdown]
# ## Check

# %%
assert same and np.allclose(att.sum(-1), 1, atol=1e-5) and np.all(att[:, mask] == 0)
print("rows sum to 1, the future gets weight 0. Lesson 7 done.")
