# %% [markdown]
# # Lesson 17 — From GPT-2 to a modern decoder

# %% [markdown]
# ## What you will learn
#
# GPT-2 (2019) and Llama (2023) are the same machine: embeddings, a stack of pre-norm blocks of
# causal attention and an MLP, a head. Four changes separate them, and each is one switch of
# `GPTConfig`:
#
# | switch | GPT-2 | Llama |
# |---|---|---|
# | `norm` | LayerNorm: centre, divide by the std, scale, shift | RMSNorm: divide by the RMS |
# | `position` | a learned vector per position, added | RoPE: q and k rotated by position |
# | `mlp` | $W_2\,\mathrm{gelu}(W_1 x)$, width $4C$ | SwiGLU, width $\approx 8C/3$ |
# | `bias` | biases everywhere | none |
# | `n_kv_head` | each query head has its own keys | query heads share keys (GQA) |
#
# You will
#
# 1. write RMSNorm and see what it drops from LayerNorm;
# 2. derive the rotary embedding and show on a figure why relative position survives the dot
#    product;
# 3. count what grouped-query attention saves in the KV cache;
# 4. start from lesson 9's GPT and change one thing at a time, training each model on the same
#    data, steps and seeds, and read the table: validation loss, parameters, step time and
#    cache bytes per token.

# %%
import time

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.course.lesson_curves import check_run, find_run_curve, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset
from tinygrad_lm.tokenizers import CharTokenizer

# %% [markdown]
# ## Step 1: RMSNorm
#
# LayerNorm makes each row of the residual stream zero-mean and unit-variance, then scales and
# shifts it: $\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\, w + b$. RMSNorm
# (Zhang and Sennrich, 2019) keeps only the division by the size of the row,
#
# $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\tfrac{1}{C}\sum_i x_i^2 + \epsilon}}\, w ,$$
#
# one reduction instead of two and no bias. What stabilises a deep stack of residual blocks is
# controlling the *scale* of what each block reads; re-centring turns out not to matter.

# %% [markdown]
# ### Exercise 17.1 — RMSNorm in NumPy
# Write `rms_norm(x, w, eps)` for an array x (..., C) and a weight w (C,).

# %%
def rms_norm(x, w, eps=1e-5):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def rms_norm_solution(x, w, eps=1e-5):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


# %%
x = np.random.default_rng(0).standard_normal((2, 5, 8)) + 3.0  # rows with a large mean
w = np.random.default_rng(1).standard_normal(8)
check("17.1", rms_norm, rms_norm_solution,
      test=lambda f: bool(np.allclose(f(x, w), F.rms_norm(x, w).data, atol=1e-12)),
      hint="divide by sqrt(mean(x^2) + eps) over the last axis; do not subtract the mean.")
y = rms_norm_solution(x, np.ones(8))
print(f"after RMSNorm: row means {y.mean(-1)[0, :3].round(3)} (kept), mean squares "
      f"{(y ** 2).mean(-1)[0, :3].round(3)} (all 1)")

# %% [markdown]
# ## Step 2: rotary position embeddings
#
# GPT-2 adds a learned vector $p_t$ to the token at position $t$, so attention scores mix
# content and *absolute* position: $(x_i + p_i)^\top W_q^\top W_k (x_j + p_j)$. RoPE (Su et
# al., 2021) puts position into q and k instead, by rotating them. Split a head's $D$ channels
# into $D/2$ pairs $(a, b)$ and turn pair $i$ of the vector at position $t$ by the angle
# $t\,\omega_i$, with $\omega_i = \theta^{-2i/D}$ ($\theta = 10000$):
#
# $$R(t\omega)\begin{pmatrix}a\\ b\end{pmatrix} = \begin{pmatrix}\cos t\omega & -\sin t\omega
#   \\ \sin t\omega & \cos t\omega\end{pmatrix}\begin{pmatrix}a\\ b\end{pmatrix}.$$
#
# Rotations compose by adding angles and transpose to their inverse, $R(\alpha)^\top R(\beta) =
# R(\beta - \alpha)$, so the score of a query at position $m$ and a key at position $n$ is
#
# $$\big(R(m\omega) q\big)^\top \big(R(n\omega) k\big) = q^\top R(m\omega)^\top R(n\omega)\, k
#   = q^\top R\big((n - m)\omega\big)\, k .$$
#
# It depends on the two positions only through their offset $n - m$. Nothing is learned, the
# vectors keep their length, and a key stored in a KV cache, rotated once by its absolute
# position, never needs rotating again. The fast pairs ($i = 0$, one radian per token) tell
# neighbours apart; the slow ones (a full turn takes tens of thousands of tokens) act as
# position-free channels for content.
#
# Which channels form a pair is a convention: RoFormer and Meta's original Llama code pair
# channel $2i$ with $2i + 1$ ("interleaved"); Hugging Face's Llama pairs channel $i$ with
# $i + D/2$ ("half", its `rotate_half`). Both compute the same function up to a fixed
# permutation of q's and k's channels, but a checkpoint only works with its own.

# %% [markdown]
# ### Exercise 17.2 — Rotate the pairs
# Write `rope_half(x, positions, theta)` for x (T, D) and positions (T,): pair channel $i$
# with channel $i + D/2$ and rotate each pair by `positions[t] * theta ** (-2 i / D)`.

# %%
def rope_half(x, positions, theta=10000.0):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def rope_half_solution(x, positions, theta=10000.0):
    d = x.shape[-1]
    angle = positions[:, None] * theta ** (-np.arange(0, d, 2) / d)  # (T, D/2)
    a, b = x[:, :d // 2], x[:, d // 2:]
    cos, sin = np.cos(angle), np.sin(angle)
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)  # (T, D)


# %%
xr, pos = np.random.default_rng(2).standard_normal((6, 8)), np.arange(3, 9)
check("17.2", rope_half, rope_half_solution,
      test=lambda f: bool(np.allclose(f(xr, pos), F.rope(xr, pos).data, atol=1e-12)),
      hint="angle = positions[:, None] * theta ** (-np.arange(0, D, 2) / D); (a, b) -> "
           "(a cos - b sin, a sin + b cos).")

# %% [markdown]
# Now the figure. Take one query vector and one key vector and place them at every pair of
# positions $(m, n)$, $0 \le m, n < 32$. With learned absolute positions (here random vectors
# added, as an untrained GPT-2 has them) the score map has no structure along the diagonals.
# With RoPE the map is constant along every diagonal $n - m = \text{const}$: the model sees
# only the offset.

# %%
rng = np.random.default_rng(3)
D, T = 16, 32
q, k = rng.standard_normal(D), rng.standard_normal(D)
positions = np.arange(T)
rope_q = F.rope(np.tile(q, (T, 1)), positions).data  # (T, D): q at every position
rope_k = F.rope(np.tile(k, (T, 1)), positions).data  # (T, D)
rope_scores = rope_q @ rope_k.T  # (T, T): query position m, key position n
table = rng.standard_normal((T, D))  # learned absolute positions, as at initialisation
learned_scores = (q + table) @ (k + table).T
offsets = np.arange(-T + 1, T)
spread = max(np.ptp(np.diagonal(rope_scores, o)) for o in offsets)
print(f"RoPE: largest spread of a score along one diagonal {spread:.1e}")

plt = pyplot()
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
for ax, scores, title in ((axes[0], learned_scores, "learned absolute positions"),
                          (axes[1], rope_scores, "RoPE")):
    im = ax.imshow(scores, cmap="RdBu_r")
    ax.set_xlabel("key position n")
    ax.set_ylabel("query position m")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
for m in (0, 10, 20):
    axes[2].plot(positions - m, rope_scores[m], "o-", ms=3, label=f"query at m = {m}")
axes[2].set_xlabel("offset n - m")
axes[2].set_ylabel("score")
axes[2].set_title("RoPE: one curve, whatever m")
axes[2].legend()
fig.tight_layout()
print("saved", show(fig, "17_rope_relative.png"))

# %% [markdown]
# ## Step 3: grouped-query attention and the cache
#
# Generation keeps every layer's keys and values (lesson 11's KV cache): $2 \cdot L \cdot
# n_{kv} \cdot hs$ numbers per token. With $n_{kv} = n_{head}$ that is $2LC$; for a large
# model with a long context the cache, not the weights, fills the memory. Grouped-query
# attention (Ainslie et al., 2023) lets $n_{head} / n_{kv}$ query heads share one key/value
# head; $n_{kv} = 1$ is multi-query attention. The projections of k and v shrink by the same
# factor; the queries keep all their heads.

# %% [markdown]
# ### Exercise 17.3 — Cache bytes per token
# Write `kv_bytes_per_token(config, bytes_per_number=4)`: what a KV cache stores per token
# for a `GPTConfig` (`config.kv_heads` is n_kv_head, or n_head when it is 0; `config.head_size`
# is n_embd // n_head).

# %%
def kv_bytes_per_token(config, bytes_per_number=4):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def kv_bytes_per_token_solution(config, bytes_per_number=4):
    return 2 * config.n_layer * config.kv_heads * config.head_size * bytes_per_number


# %%
def cache_is_measured(f):
    for n_kv in (0, 2, 1):
        c = tg.GPTConfig(vocab_size=10, block_size=8, n_layer=3, n_head=4, n_embd=32,
                         n_kv_head=n_kv)
        cache = tg.GPT(c).new_kv_cache(1)
        if f(c) != sum(a.nbytes for a in cache.k + cache.v) // c.block_size:
            return False
    return True


check("17.3", kv_bytes_per_token, kv_bytes_per_token_solution, test=cache_is_measured,
      hint="keys and values (2), every layer, n_kv_head heads of head_size numbers each.")

# %% [markdown]
# ## Step 4: one change at a time
#
# Lesson 9's model and data, trained six times with the same seed, batches and steps. Each
# row adds one change to the row above it, so the last row is the Llama block. SwiGLU has
# three matrices instead of two, so its width is $8C/3$ (rounded to a multiple of 8) to keep the
# MLP's parameters near $8C^2$.

# %%
text = builtin_dataset("grammar", n_examples=3000 if QUICK else 20000)
tok = CharTokenizer.from_text(text)
data = TokenDataset(np.array(tok.encode(text)), val_fraction=0.1)
C = 32 if QUICK else 64
steps = 60 if QUICK else 600
base = dict(vocab_size=tok.vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=C)
changes = [("GPT-2 (lesson 9)", {}), ("+ RMSNorm", dict(norm="rmsnorm")),
           ("+ RoPE", dict(position="rope")),
           ("+ SwiGLU", dict(mlp="swiglu", mlp_hidden=tg.nn.llama_hidden_size(C, 8))),
           ("- biases", dict(bias=False)), ("+ GQA (2 kv heads)", dict(n_kv_head=2))]


def train(config):
    model = tg.GPT(config, seed=lesson_seed(0))
    groups = tg.optim.configure_param_groups(model.named_parameters(), weight_decay=0.1)
    opt = tg.optim.AdamW(groups, lr=3e-3, betas=(0.9, 0.99))
    batches = np.random.default_rng(lesson_seed(1337))
    times = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = tg.optim.cosine_lr(step, lr=3e-3, min_lr=3e-4, warmup_iters=10,
                                         lr_decay_iters=steps)
        xb, yb = data.get_batch("train", 16, config.block_size, batches)  # (B, T)
        t0 = time.perf_counter()
        _, loss = model(xb, yb)
        opt.zero_grad()
        loss.backward()
        tg.optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    with tg.no_grad():
        r = np.random.default_rng(0)
        val = np.mean([model(*data.get_batch("val", 16, config.block_size, r))[1].item()
                       for _ in range(10)])
    return model, float(val), 1000 * float(np.median(times[5:]))


rows, settings, bands = [], {}, []
for i, (name, change) in enumerate(changes):
    settings.update(change)
    config = tg.GPTConfig(**base, **settings)
    model, val, ms = train(config)
    rows.append((name, val, model.num_parameters(), ms, kv_bytes_per_token_solution(config)))
    print(f"{name:20} val {val:.4f}  params {rows[-1][2]:7,}  step {ms:6.1f} ms  "
          f"KV cache {rows[-1][4]:5} B/token")
    run = f"lesson17-row{i + 1}-{'quick' if QUICK else 'full'}"
    run_settings = dict(base, **settings, steps=steps, batch=16, lr=3e-3)
    print(check_run(run, f"lesson 17{' quick' if QUICK else ''}, {name}", run_settings,
                    [(steps, val)]))
    reference = find_run_curve(run, run_settings)
    bands.append(reference.band(steps) if reference is not None else None)

# %%
print("| change | val loss | parameters | step ms | KV cache B/token |\n|---|---|---|---|---|")
for name, val, n_params, ms, kv in rows:
    print(f"| {name} | {val:.4f} | {n_params:,} | {ms:.1f} | {kv} |")
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
names = [r[0] for r in rows]
for ax, col, label in ((axes[0], 1, "val loss (nats/char)"), (axes[1], 2, "parameters"),
                       (axes[2], 3, "step time (ms, machine-dependent)"),
                       (axes[3], 4, "KV cache bytes per token")):
    ax.barh(names[::-1], [r[col] for r in rows][::-1], color="tab:blue")
    ax.set_xlabel(label)
    if ax is not axes[0]:
        ax.set_yticklabels([])
for i, band in enumerate(bands):  # the reference code's band for each row, three seeds
    if band is not None:
        axes[0].hlines(len(rows) - 1 - i, *band, color="tab:green", lw=7, alpha=0.45,
                       label="reference band" if i == 0 else None)
ends = [r[1] for r in rows] + [b[k] for b in bands if b is not None for k in (0, 1)]
axes[0].set_xlim(min(ends) * 0.95, max(ends) * 1.02)
if any(b is not None for b in bands):
    axes[0].legend(fontsize=8, loc="lower right")
fig.suptitle(f"one change at a time, each row on top of the one above, {steps} steps each")
fig.tight_layout()
print("saved", show(fig, "17_ablation.png"))

# %% [markdown]
# How to read it. One seed and a few hundred steps of a two-layer model cannot separate
# changes of a few hundredths of a nat from noise, and the published gains of each change were
# measured at scale, over many tokens. The green bars show that noise: each is the band of the
# same row trained by the reference code from three seeds (and a check that your RMSNorm,
# rotation and SwiGLU train as they should: each row's line above says whether its val loss
# is inside). On this data one change stands out in the full run:
# RoPE (about 0.2 nats on a run of 600 steps), whose relative positions suit text in which a
# character is predicted from its neighbours wherever they stand. What the table shows
# reliably is the bookkeeping: the learned position table (block_size × C numbers) disappears
# with RoPE, biases are a tiny share of the parameters, and grouped-query attention halves the
# cache with two key/value heads for four query heads. Step times move with the machine's load;
# matmuls dominate both blocks, and this engine runs RMSNorm and the rotation in NumPy rather
# than in fused kernels, so the modern block is no faster here.
#
# Everything here also loads and saves real checkpoints: `tg.from_pretrained(DIR)` reads a
# Hugging Face Llama directory (SmolLM, Llama 3: byte-level BPE tokenizers), and
# `tinygrad-lm export --format hf` writes one that transformers loads.

# %% [markdown]
# ## Summary
#
# - RMSNorm divides each row by its root mean square and scales it: LayerNorm without the mean
#   and the bias.
# - RoPE rotates channel pairs of q and k by position-dependent angles; rotations compose, so
#   the score $q_m^\top k_n$ depends only on $n - m$, and cached keys stay valid.
# - SwiGLU gates a linear path with silu; at width $8C/3$ it costs what GPT-2's MLP costs.
# - Grouped-query attention shares key/value heads across query heads: the KV cache shrinks by
#   $n_{head} / n_{kv}$.
# - Each is one `GPTConfig` switch; all of them together are the Llama block.
#
# Next: assignment 6, task 6.1 (RMSNorm), task 6.2 (RoPE) and task 6.3 (SwiGLU).

# %%
assert spread < 1e-9
print(f"GPT-2 val {rows[0][1]:.4f}, Llama block val {rows[-1][1]:.4f}; KV cache "
      f"{rows[0][4]} -> {rows[-1][4]} bytes per token. Lesson 17 done.")
