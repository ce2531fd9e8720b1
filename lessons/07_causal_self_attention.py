# %% [markdown]
# # Lesson 7 — Causal self-attention

# %% [markdown]
# ## What you will learn
#
# The MLP language model of lesson 5 looks at a fixed window of three characters, and the
# recurrent model of lesson 6 squeezes the whole past into one hidden vector. Attention does
# something else: at every position it *looks back* over all earlier positions and takes a
# weighted average of what it finds there, with weights that depend on the content. This is
# the one idea the Transformer adds, and the seed article singles out its autoregressive form:
# a causal mask, a triangle of forbidden entries, so that position $t$ never sees the future
# it has to predict.
#
# By the end of this lesson you will have
#
# 1. written attention as a matrix product, first with fixed weights, then with weights
#    computed from queries and keys;
# 2. seen why the scores are divided by $\sqrt{hs}$;
# 3. masked the future yourself and tested that the layer really is causal;
# 4. split a layer into heads and checked that the library's `CausalSelfAttention` computes
#    exactly the per-head formula;
# 5. trained a small GPT for a few seconds and looked at what each of its heads attends to,
#    next to an untrained one.
#
# It matters because everything after this lesson (the block, the GPT, the KV cache,
# interpretability) is built on these few lines.

# %%
import time

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.course.lesson_curves import check_run, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset
from tinygrad_lm.tokenizers import CharTokenizer

rng = np.random.default_rng(0)
print("quick mode" if QUICK else "full mode")

# %% [markdown]
# ## Step 1: averaging the past is a matrix product
#
# Take a sequence of $T$ vectors $x_1, \dots, x_T$ of $C$ channels, one batch of shape
# (B, T, C). The simplest way to let position $t$ use its past is the running mean
# $y_t = \frac{1}{t}\sum_{j \le t} x_j$. Written with a (T, T) weight matrix $W$,
#
# $$y = W x, \qquad W_{tj} = \begin{cases} 1/t & j \le t \\ 0 & j > t \end{cases}$$
#
# a lower-triangular matrix whose rows sum to one. Each row is a probability distribution over
# the positions a query may look at. Attention keeps exactly this shape and only changes *how
# the weights are chosen*.

# %%
T, C = 6, 4
x = rng.standard_normal((T, C))
W = np.tril(np.ones((T, T)))
W = W / W.sum(axis=1, keepdims=True)  # (T, T): row t spreads 1 over positions 0..t
print(np.round(W, 2))
running = np.cumsum(x, axis=0) / np.arange(1, T + 1)[:, None]  # (T, C)
print("same as the running mean:", np.allclose(W @ x, running))

# %% [markdown]
# ## Step 2: weights from queries and keys
#
# In self-attention every position emits three vectors, each a linear map of its input:
# a **query** $q_t = x_t W_q$ ("what am I looking for?"), a **key** $k_j = x_j W_k$ ("what do I
# contain?") and a **value** $v_j = x_j W_v$ ("what do I pass on?"), each of head size $hs$.
# The affinity of query $t$ with key $j$ is the dot product, and the weights are a softmax over
# the allowed keys:
#
# $$s_{tj} = \frac{q_t \cdot k_j}{\sqrt{hs}}, \qquad
#   a_{tj} = \frac{e^{s_{tj}}}{\sum_{j' \le t} e^{s_{tj'}}} \;(j \le t), \quad a_{tj} = 0 \;(j > t),
#   \qquad y_t = \sum_{j} a_{tj} v_j .$$
#
# In shapes, for one head: $q, k, v$ are (B, T, hs), the scores $S = q k^\top/\sqrt{hs}$ are
# (B, T, T), and $y = A v$ is (B, T, hs). The mask is applied by setting the future scores to
# $-\infty$ before the softmax, because $e^{-\infty} = 0$: the future gets weight exactly zero
# and the remaining weights still sum to one.

# %%
T, C, hs = 8, 16, 8
x = tg.randn(1, T, C, rng=rng)
Wq, Wk, Wv = (tg.randn(C, hs, rng=rng) * (1 / np.sqrt(C)) for _ in range(3))
q, k, v = x @ Wq, x @ Wk, x @ Wv  # (1, T, hs) each
scores = q @ k.transpose(-2, -1) * (1 / np.sqrt(hs))  # (1, T, T)
future = np.triu(np.ones((T, T), dtype=bool), 1)  # True above the diagonal: j > t
weights = scores.masked_fill(future, -np.inf).softmax()  # (1, T, T)
y = weights @ v  # (1, T, hs)
print("attention weights of one head:\n", np.round(weights.data[0], 2))
print("row sums:", np.round(weights.data[0].sum(-1), 6))

# %% [markdown]
# The library has this masked, scaled softmax as one op, `F.softmax(scores, scale=...,
# causal=True)`, which never builds the $-\infty$ matrix. It must give the same numbers as the
# three composed ops above:

# %%
fused = F.softmax(q @ k.transpose(-2, -1), scale=1 / np.sqrt(hs), causal=True)
print("fused op equals mask + softmax:", np.allclose(fused.data, weights.data, atol=1e-6))

# %% [markdown]
# ## Step 3: why divide by $\sqrt{hs}$
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1, then
# $q \cdot k = \sum_{i=1}^{hs} q_i k_i$ is a sum of $hs$ terms of variance 1, so its variance
# is $hs$. For $hs = 64$ the raw scores have a standard deviation of 8, and a softmax over
# numbers that far apart is almost one-hot: each query would stare at a single key from the
# first step and its gradient would vanish. Dividing by $\sqrt{hs}$ brings the variance back
# to 1 whatever the head size.

# %%
def largest_weight(s):
    """The mean, over rows, of the largest softmax weight of each row of scores s."""
    e = np.exp(s - s.max(-1, keepdims=True))
    return float((e.max(-1) / e.sum(-1)).mean())


for head_size in (4, 16, 64, 256):
    qq = rng.standard_normal((500, head_size))  # 500 queries
    kk = rng.standard_normal((16, head_size))  # 16 keys
    raw = qq @ kk.T  # (500, 16) unscaled scores
    print(f"hs={head_size:>3}: var(q.k) = {raw.var():6.1f}, var(q.k/sqrt(hs)) = "
          f"{(raw / np.sqrt(head_size)).var():4.2f}; largest of 16 weights: unscaled "
          f"{largest_weight(raw):.2f}, scaled {largest_weight(raw / np.sqrt(head_size)):.2f}")

# %% [markdown]
# ### Exercise 7.1 — Mask the future yourself
# Write `causal_mask(T)` returning a (T, T) boolean array that is True where query position
# $i$ must NOT see key position $j$, that is where $j > i$. It is the `future` array used in
# step 2; write it without looking.

# %%
def causal_mask(T):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def causal_mask_solution(T):
    return np.triu(np.ones((T, T), dtype=bool), 1)


# %%
check("7.1", causal_mask, causal_mask_solution,
      test=lambda f: all(np.array_equal(f(n), np.arange(n)[None, :] > np.arange(n)[:, None])
                         for n in (1, 2, 5, 9)),
      hint="Which triangle holds j > i? Look at np.triu and its k argument.")

# %% [markdown]
# ## Step 4: many heads
#
# One head computes one kind of affinity. A layer runs $nh$ heads side by side, each with its
# own $hs = C / nh$ channels, so the cost is that of one big head. The library's
# `CausalSelfAttention` makes $q, k, v$ for all heads with a single projection `c_attn` of
# shape (C, 3C), then reshapes:
#
# $$ (B, T, C) \xrightarrow{\text{reshape}} (B, T, nh, hs) \xrightarrow{\text{transpose}}
#    (B, nh, T, hs),$$
#
# attends in every head at once (scores (B, nh, T, T)), and merges the heads back with the
# inverse transpose and reshape to (B, T, C), followed by an output projection `c_proj`.
# Below, we compute head 0 of a layer with plain NumPy from its weights and compare it with the
# weights the layer itself reports.

# %%
C, nh = 16, 4
hs = C // nh
attn = tg.nn.CausalSelfAttention(C, nh, rng=rng)
y_layer = attn(x, return_attention=True)  # (1, T, C)
att = attn.last_attention  # (1, nh, T, T)
qkv = x.data @ attn.c_attn.weight.data + attn.c_attn.bias.data  # (1, T, 3C)
q0, k0 = qkv[0, :, 0:hs], qkv[0, :, C:C + hs]  # head 0's channels of q and k: (T, hs)
s0 = np.where(future, -np.inf, q0 @ k0.T / np.sqrt(hs))  # (T, T)
a0 = np.exp(s0 - s0.max(-1, keepdims=True))
a0 /= a0.sum(-1, keepdims=True)
print("attention shape (B, nh, T, T):", att.shape)
print("head 0 by hand equals the layer's head 0:", np.allclose(a0, att[0, 0], atol=1e-5))

# %% [markdown]
# ### Exercise 7.2 — Split and merge heads
# Write `split_heads(x, nh)` taking a NumPy array (B, T, C) to (B, nh, T, hs), and
# `merge_heads(y)` taking (B, nh, T, hs) back to (B, T, C). Channel `h * hs + i` of the input
# must become channel `i` of head `h`, as in the layer.

# %%
def split_heads(x, nh):
    # YOUR CODE HERE
    raise NotImplementedError


def merge_heads(y):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def split_heads_solution(x, nh):
    B, T, C = x.shape
    return x.reshape(B, T, nh, C // nh).transpose(0, 2, 1, 3)  # (B, nh, T, hs)


def merge_heads_solution(y):
    B, nh, T, hs = y.shape
    return y.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # (B, T, C)


# %%
def heads_are_right(split, merge):
    a = np.arange(2 * 3 * 12).reshape(2, 3, 12)  # (B, T, C) = (2, 3, 12)
    heads = split(a, 4)  # (2, 4, 3, 3)
    return bool(heads.shape == (2, 4, 3, 3) and heads[1, 2, 0, 1] == a[1, 0, 2 * 3 + 1]
                and np.array_equal(merge(heads), a))


check("7.2", (split_heads, merge_heads), (split_heads_solution, merge_heads_solution),
      test=lambda fs: heads_are_right(*fs),
      hint="reshape to (B, T, nh, hs) first, then swap the T and nh axes; merge undoes both.")

# %% [markdown]
# ## Step 5: causality, tested
#
# The mask is a claim about the whole layer: output $y_t$ depends on $x_1..x_t$ only. A claim
# like that is checked, not believed. Change the last position of the input a lot; every
# earlier output must stay exactly where it was, and the last one must move.

# %%
x2 = tg.Tensor(x.data.copy())
x2.data[0, -1] += 10.0
y2 = attn(x2)
unchanged = np.allclose(y_layer.data[0, :-1], y2.data[0, :-1], atol=1e-6)
print("earlier outputs unchanged:", unchanged, "| last output moved:",
      not np.allclose(y_layer.data[0, -1], y2.data[0, -1]))
assert unchanged

# %% [markdown]
# ## Step 6: a trained model to look at
#
# Random weights give random, nearly uniform attention: there is nothing to see yet. So we
# train a small GPT (2 layers of 4 heads, $C = 64$) on the built-in grammar data, English-like
# sentences such as "two students near one proud huge box visit those roads early .", one
# character per token. The loop is the one lesson 9 takes apart: a random batch of windows,
# the cross-entropy of the next character, backward, an AdamW step.

# %%
text = builtin_dataset("grammar", n_examples=2000 if QUICK else 6000)
tok = CharTokenizer.from_text(text)
data = TokenDataset(np.array(tok.encode(text)), val_fraction=0.1)
steps, block = (30, 32) if QUICK else (700, 48)
config = tg.GPTConfig(vocab_size=tok.vocab_size, block_size=block, n_layer=2, n_head=4,
                      n_embd=32 if QUICK else 64)
untrained, model = tg.GPT(config, seed=lesson_seed(1)), tg.GPT(config, seed=lesson_seed(1))
optimizer = tg.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
batch_rng = np.random.default_rng(lesson_seed(0))


def val_loss(m, n=10):
    with tg.no_grad():
        r = np.random.default_rng(1)
        return float(np.mean([m(*data.get_batch("val", 16, block, r))[1].item()
                              for _ in range(n)]))


print(f"vocabulary {tok.vocab_size} characters; uniform guessing costs ln V = "
      f"{np.log(tok.vocab_size):.3f} nats; untrained val loss {val_loss(untrained):.3f}")
t0 = time.perf_counter()
for _ in range(steps):
    xb, yb = data.get_batch("train", 16, block, batch_rng)  # (B, T) each
    _, loss = model(xb, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
trained_loss = val_loss(model)
print(f"{steps} steps in {time.perf_counter() - t0:.1f} s: val loss {trained_loss:.3f}")
print(check_run(f"lesson07-gpt-{'quick' if QUICK else 'full'}",
                f"lesson 7{' quick' if QUICK else ''}, the 2-layer GPT",
                dict(steps=steps, block=block, n_layer=2, n_embd=config.n_embd, batch=16,
                     lr=3e-3, text=len(text)), [(steps, trained_loss)]))

# %% [markdown]
# ## Step 7: per-head attention maps
#
# We feed one sentence and ask every layer for its weights (`return_attention=True` keeps them
# in `block.attn.last_attention`, shape (B, nh, T, T)). Each panel below is one head: row $i$
# is the distribution of query position $i$ over the key positions $j \le i$, the colour bar
# gives the weight. Everything above the diagonal is zero: the mask at work. Look for heads
# that put their weight on the diagonal just left of the query (they read the previous
# character), heads that jump to the last space (where the current word began), and heads that
# spread out over the whole sentence.

# %%
sentence = "three quick small children laugh quickly ."[:block]
ids = np.array([tok.encode(sentence)])  # (1, T)


def attention_maps(m):
    with tg.no_grad():
        m(ids, return_attention=True)
    return np.stack([b.attn.last_attention[0] for b in m.transformer.h])  # (n_layer, nh, T, T)


maps, maps_untrained = attention_maps(model), attention_maps(untrained)
plt = pyplot()
fig, axes = plt.subplots(config.n_layer, config.n_head,
                         figsize=(4.2 * config.n_head, 4.0 * config.n_layer))
labels = [c if c != " " else "␣" for c in sentence]
for layer in range(config.n_layer):
    for head in range(config.n_head):
        ax = axes[layer, head]
        image = ax.imshow(maps[layer, head], cmap="viridis", vmin=0)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        ax.set_title(f"layer {layer}, head {head}", fontsize=10)
        ax.set_xticks(range(len(labels)), labels, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_xlabel("key position j (attended to)", fontsize=8)
        ax.set_ylabel("query position i", fontsize=8)
fig.suptitle(f"attention of a GPT trained {steps} steps (val loss {trained_loss:.2f})")
fig.tight_layout()
print("saved", show(fig, "07_attention.png"))

# %% [markdown]
# For contrast, the same sentence through the untrained model, layer 0 (same colour scale for
# all its heads): the weights are close to $1/(i+1)$ in row $i$, a plain running mean, the $W$
# of step 1.

# %%
fig, axes = plt.subplots(1, config.n_head, figsize=(4.2 * config.n_head, 3.8))
for head, ax in enumerate(axes):
    image = ax.imshow(maps_untrained[0, head], cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(f"untrained, layer 0, head {head}", fontsize=10)
    ax.set_xlabel("key position j")
    ax.set_ylabel("query position i")
fig.tight_layout()
print("saved", show(fig, "07_attention_untrained.png"))

# %% [markdown]
# ## Step 8: how focused is a head? Entropy
#
# A picture is an impression; a number can be compared. The entropy of row $i$,
# $H_i = -\sum_j a_{ij} \ln a_{ij}$, is 0 when the query looks at one key only and
# $\ln(i + 1)$ when it spreads evenly over its $i + 1$ allowed keys. Averaged over the rows it
# tells how focused a head is.

# %% [markdown]
# ### Exercise 7.3 — Attention entropy
# Write `attention_entropy(att)` taking weights of shape (..., T, T) (rows sum to 1, zeros
# above the diagonal) and returning the mean row entropy in nats as a float. Treat
# $0 \ln 0$ as 0.

# %%
def attention_entropy(att):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def attention_entropy_solution(att):
    safe = np.where(att > 0, att, 1.0)  # ln 1 = 0, so zero weights add nothing
    return float(np.mean(-(att * np.log(safe)).sum(-1)))


# %%
uniform = np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None]
check("7.3", attention_entropy, attention_entropy_solution,
      test=lambda f: bool(np.isclose(f(uniform), np.mean(np.log(np.arange(1, 6))))
                          and np.isclose(f(np.eye(4)), 0.0)
                          and np.isclose(f(np.stack([uniform, uniform])),
                                         np.mean(np.log(np.arange(1, 6))))),
      hint="-(p * log p) summed over the last axis, then the mean; mask the zeros before log.")

# %%
running_mean = np.tril(np.ones((len(sentence),) * 2)) / np.arange(1, len(sentence) + 1)[:, None]
h_uniform = attention_entropy_solution(running_mean)
h_untrained = attention_entropy_solution(maps_untrained)
h_trained = attention_entropy_solution(maps)
for layer in range(config.n_layer):
    print(f"layer {layer}: entropy per head",
          [round(attention_entropy_solution(maps[layer, h]), 2) for h in range(config.n_head)])
print(f"mean entropy: running mean {h_uniform:.3f}, untrained {h_untrained:.3f}, "
      f"trained {h_trained:.3f} nats")

# %% [markdown]
# ## Summary
#
# - Attention is a weighted average over positions, $y = A v$, with a (T, T) weight matrix per
#   head; the causal mask makes $A$ lower-triangular, so the model stays autoregressive.
# - The weights are a softmax of query–key dot products scaled by $1/\sqrt{hs}$, which keeps
#   the scores' variance near 1 so the softmax neither saturates nor goes flat.
# - Heads are a reshape: (B, T, C) → (B, nh, T, hs), attend, and back.
# - Untrained heads average uniformly; after a few hundred steps the heads specialise, and
#   their entropy drops well below that of a running mean.
#
# Next: assignment 4, task 4.1 (the causal mask in the kernel reference) and task 4.2 (the
# multi-head forward of `CausalSelfAttention`).

# %%
above_diagonal = causal_mask_solution(len(sentence))
assert np.allclose(maps.sum(-1), 1, atol=1e-5) and np.all(maps[..., above_diagonal] == 0)
if not QUICK:
    assert trained_loss < np.log(tok.vocab_size) - 1.0 and h_trained < h_untrained
print(f"val loss {trained_loss:.3f} (ln V = {np.log(tok.vocab_size):.3f}); attention entropy "
      f"trained {h_trained:.3f} vs untrained {h_untrained:.3f} nats. Lesson 7 done.")
