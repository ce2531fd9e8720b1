# %% [markdown]
# # Lesson 8 — The Transformer block

# %% [markdown]
# ## What you will learn
#
# Attention (lesson 7) lets positions *communicate*. A Transformer block pairs it with a
# second sublayer that *computes* on each position alone, the MLP, and wraps both in two
# pieces of plumbing that make a deep stack trainable: residual connections and layer
# normalisation. GPT-2 stacks 12 of these blocks; once you understand one, you understand the
# trunk of every GPT.
#
# In this lesson you will
#
# 1. write LayerNorm's forward pass and derive its backward pass, then check the derivation
#    against autograd and a float64 gradient check;
# 2. see that the MLP is position-wise: it treats every position the same and independently;
# 3. count a block's parameters in closed form;
# 4. wire a block in the two ways found in the wild, **post-LN** (the original Transformer,
#    and the code in the seed article) and **pre-LN** (GPT-2 and this library's default), and
#    see what the residual path does at initialisation;
# 5. train a 4-layer GPT each way on the same data and compare the curves.

# %%
import time

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.course.lesson_curves import check_run, find_run_curve, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset
from tinygrad_lm.tokenizers import CharTokenizer

rng = np.random.default_rng(0)

# %% [markdown]
# ## Step 1: LayerNorm, forward
#
# The residual stream is a tensor of shape (B, T, C). LayerNorm normalises each position's
# C channels on their own, then lets the model rescale and shift them with two learned vectors
# $w, b$ of shape (C,):
#
# $$\mu = \frac{1}{C}\sum_{i} x_i, \qquad \sigma^2 = \frac{1}{C}\sum_i (x_i - \mu)^2, \qquad
#   \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_i = w_i \hat x_i + b_i .$$
#
# The $\epsilon$ (1e-5) keeps the division finite for a constant row. Unlike batch
# normalisation, nothing here mixes positions or examples, so it behaves the same at training
# and at generation time, for a batch of one.

# %% [markdown]
# ### Exercise 8.1 — LayerNorm in NumPy
# Write `layer_norm(x, w, b, eps=1e-5)` for a NumPy array `x` of shape (..., C), normalising
# over the last axis. Use the biased variance (divide by C), as above.

# %%
def layer_norm(x, w, b, eps=1e-5):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def layer_norm_solution(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)  # (..., 1)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)  # (..., 1)
    return (x - mu) / np.sqrt(var + eps) * w + b  # (..., C)


# %%
x = rng.standard_normal((2, 3, 6)) * 3 + 1  # (B, T, C) = (2, 3, 6)
w, b = rng.standard_normal(6), rng.standard_normal(6)
library = F.layer_norm(tg.Tensor(x, dtype=np.float64), tg.Tensor(w, dtype=np.float64),
                       tg.Tensor(b, dtype=np.float64)).data
check("8.1", layer_norm, layer_norm_solution,
      test=lambda f: bool(np.allclose(f(x, w, b), library, atol=1e-10)),
      hint="mean and variance over axis -1 with keepdims=True, so they broadcast back.")
y = layer_norm_solution(x, np.ones(6), np.zeros(6))
print("each row of x-hat: mean", np.round(y.mean(-1), 6).ravel(), "\nvariance",
      np.round(y.var(-1), 4).ravel())

# %% [markdown]
# ## Step 2: LayerNorm, backward
#
# Let $r = (\sigma^2 + \epsilon)^{-1/2}$, so $\hat x_j = (x_j - \mu) r$, and let
# $g_j = \partial L / \partial \hat x_j = w_j \, \partial L/\partial y_j$. Every $\hat x_j$
# depends on every $x_i$ through $\mu$ and $r$. With $\partial\mu/\partial x_i = 1/C$ and
# $\partial r / \partial x_i = -r^3 (x_i - \mu)/C = -r^2 \hat x_i / C$,
#
# $$\frac{\partial \hat x_j}{\partial x_i} = r\Big(\delta_{ij} - \frac{1}{C}
#   - \frac{\hat x_i \hat x_j}{C}\Big)
#   \quad\Longrightarrow\quad
#   \frac{\partial L}{\partial x_i} = \sum_j g_j \frac{\partial \hat x_j}{\partial x_i}
#   = r\Big(g_i - \overline{g} - \hat x_i\, \overline{g \hat x}\Big),$$
#
# where a bar is the mean over the C channels. The two subtracted terms remove the parts of
# $g$ that would only shift the row or scale it: exactly the directions LayerNorm cannot
# see, since it undoes any shift and any scale of its input. The parameters get
# $\partial L/\partial w = \sum_{B,T} \partial L/\partial y \odot \hat x$ and
# $\partial L / \partial b = \sum_{B,T} \partial L/\partial y$.

# %% [markdown]
# ### Exercise 8.2 — LayerNorm's input gradient
# Write `layer_norm_backward(x, w, dy, eps=1e-5)` returning $\partial L/\partial x$ (same
# shape as `x`) from the upstream gradient `dy` $= \partial L / \partial y$. The check compares
# it with what autograd computes.

# %%
def layer_norm_backward(x, w, dy, eps=1e-5):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def layer_norm_backward_solution(x, w, dy, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    r = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)  # (..., 1)
    xhat = (x - mu) * r
    g = dy * w
    return r * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))


# %%
dy = rng.standard_normal(x.shape)
xt = tg.Tensor(x, requires_grad=True, dtype=np.float64)
(F.layer_norm(xt, tg.Tensor(w, dtype=np.float64)) * tg.Tensor(dy, dtype=np.float64)).sum() \
    .backward()  # L = sum(y * dy), so dL/dy = dy
check("8.2", layer_norm_backward, layer_norm_backward_solution,
      test=lambda f: bool(np.allclose(f(x, w, dy), xt.grad, atol=1e-9)),
      hint="g = dy * w; subtract g's row mean and x-hat times the row mean of g * x-hat; "
           "multiply by r.")

# %% [markdown]
# Autograd agrees with the formula; a finite-difference check (lesson 3) confirms that the
# library's LayerNorm backward, written with this formula, is right for $x$, $w$ and $b$ at
# once:

# %%
inputs = [tg.Tensor(a, requires_grad=True, dtype=np.float64) for a in (x, w, b)]
result = tg.gradcheck(lambda x, w, b: F.layer_norm(x, w, b), inputs)
print(f"LayerNorm gradcheck passed: {result.passed}; worst abs error "
      f"{max(result.max_abs_error.values()):.1e}")

# %% [markdown]
# ## Step 3: the MLP works on each position alone
#
# The second sublayer expands every position to $4C$ channels, applies a GELU and projects
# back to C:
#
# $$\text{MLP}(x_t) = \text{GELU}(x_t W_1 + b_1) W_2 + b_2, \qquad
#   W_1 : (C, 4C),\; W_2 : (4C, C),$$
#
# $$\text{GELU}(u) \approx \tfrac{u}{2}\Big(1 + \tanh\big(\sqrt{2/\pi}\,
#   (u + 0.044715u^3)\big)\Big).$$
#
# GELU is a smooth ReLU ($u\,\Phi(u)$, with $\Phi$ the normal CDF); the tanh form is the one
# GPT-2 uses. Attention moves information *between* positions, the MLP then processes what
# arrived, *within* each position. So the MLP must commute with any reordering of positions,
# while attention (because of its mask) must not. A test:

# %%
C = 16
block = tg.nn.Block(tg.GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=C))
h = tg.randn(1, 8, C, rng=rng)
perm = rng.permutation(8)
mlp_commutes = np.allclose(block.mlp(h).data[:, perm], block.mlp(tg.Tensor(h.data[:, perm])).data,
                           atol=1e-6)
attn_commutes = np.allclose(block.attn(h).data[:, perm],
                            block.attn(tg.Tensor(h.data[:, perm])).data, atol=1e-6)
u = np.linspace(-3, 3, 7)
print("GELU(u) for u =", u, "\n  ", np.round(F.gelu(tg.Tensor(u, dtype=np.float64)).data, 4))
print("MLP commutes with reordering positions:", mlp_commutes, "| attention does:", attn_commutes)

# %% [markdown]
# ### Exercise 8.3 — A block's parameters
# A block with biases holds two LayerNorms ($w$ and $b$ each), the attention's `c_attn`
# (C → 3C) and `c_proj` (C → C), and the MLP's `c_fc` (C → 4C) and `c_proj` (4C → C), each a
# weight and a bias. Write `block_parameters(C)` returning the total as a closed form in C.

# %%
def block_parameters(C):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def block_parameters_solution(C):
    layer_norms = 2 * 2 * C
    attention = (C * 3 * C + 3 * C) + (C * C + C)
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)
    return layer_norms + attention + mlp  # = 12 C^2 + 13 C


# %%
def counted(C):
    cfg = tg.GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=C)
    return sum(p.data.size for p in tg.nn.Block(cfg).parameters())


check("8.3", block_parameters, block_parameters_solution,
      test=lambda f: all(f(C) == counted(C) for C in (8, 16, 64)),
      hint="a Linear from n to m holds n * m weights and m biases; a LayerNorm 2 C.")
print(f"one block at C = 768 (GPT-2 small): {block_parameters_solution(768):,} parameters")

# %% [markdown]
# ## Step 4: residual connections, and where the norm goes
#
# A block does not replace its input, it *adds* to it: the residual stream $x$ flows through
# the whole stack and each sublayer writes a correction into it. The two placements of the
# norm are
#
# $$\text{post-LN:}\quad x \leftarrow \text{LN}_1\big(x + \text{attn}(x)\big), \qquad
#   x \leftarrow \text{LN}_2\big(x + \text{MLP}(x)\big)$$
#
# $$\text{pre-LN:}\quad x \leftarrow x + \text{attn}\big(\text{LN}_1(x)\big), \qquad
#   x \leftarrow x + \text{MLP}\big(\text{LN}_2(x)\big)$$
#
# all of shape (B, T, C). In pre-LN the stream itself is never normalised: the derivative of
# the block's output with respect to its input is the identity plus the sublayers' terms,
# $\partial x_{out}/\partial x_{in} = I + \dots$, so a gradient reaches the first block through
# an unbroken identity path however deep the stack is. In post-LN that path crosses
# $2 n_{layer}$ LayerNorms, each of which rescales the gradient by the $r$ of its row.
#
# GPT-2 also starts every sublayer's output projection small (std
# $0.02/\sqrt{2 n_{layer}}$), so at initialisation every block, whichever the wiring, barely
# moves its input, and the gradient at the bottom of a 24-block stack is the gradient at the
# top. Measured: the relative change $\|x_{out} - x_{in}\| / \|x_{in}\|$ of each block, and
# the ratio $\|\partial L/\partial x_{in}\| / \|\partial L / \partial x_{out}\|$ over the
# whole stack.

# %%
def through_stack(norm_position, n_layer):
    cfg = tg.GPTConfig(vocab_size=10, block_size=8, n_layer=n_layer, n_head=4, n_embd=C,
                       norm_position=norm_position)
    blocks = [tg.nn.Block(cfg, seed=i) for i in range(n_layer)]
    x_in = tg.Tensor(rng.standard_normal((4, 8, C)).astype(np.float32), requires_grad=True)
    h, changes = x_in, []
    for blk in blocks:
        out = blk(h)  # (B, T, C)
        changes.append(np.linalg.norm(out.data - h.data) / np.linalg.norm(h.data))
        h = out
    upstream = rng.standard_normal(h.shape).astype(np.float32)  # dL/dx_out
    (h * tg.Tensor(upstream)).sum().backward()
    return np.array(changes), np.linalg.norm(x_in.grad) / np.linalg.norm(upstream)


for position in ("pre", "post"):
    changes, gain = through_stack(position, 24)
    print(f"{position:>4}-LN, 24 blocks: change per block {changes.min():.3f}..{changes.max():.3f}"
          f", gradient gain through the stack {gain:.3f}")

# %% [markdown]
# The two wirings start alike. They part ways during training, as the sublayers' outputs grow:
# in pre-LN the identity path is still there, untouched; in post-LN every LayerNorm now
# divides the gradient by the size of a stream that has grown, layer after layer.

# %% [markdown]
# ## Step 5: pre-LN and post-LN, trained side by side
#
# Which wiring trains better is an empirical question, so we run it: two 4-layer GPTs,
# identical in everything (weights' seed, batches, learning rate, no warmup) except
# `norm_position`, on the built-in grammar data, one character per token. The uniform guess
# costs $\ln V$ nats per character, our starting point. Each run's val loss is checked against
# the same run of the reference code from three seeds: a wrong LayerNorm backward (your Step 2)
# lands far above that band.

# %%
text = builtin_dataset("grammar", n_examples=2000 if QUICK else 5000)
tok = CharTokenizer.from_text(text)
data = TokenDataset(np.array(tok.encode(text)), val_fraction=0.1)
steps, block_size = (15, 32) if QUICK else (300, 32)


def train(norm_position):
    cfg = tg.GPTConfig(vocab_size=tok.vocab_size, block_size=block_size, n_layer=4, n_head=4,
                       n_embd=32, norm_position=norm_position)
    model = tg.GPT(cfg, seed=lesson_seed(0))
    optimizer = tg.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    batches, losses = np.random.default_rng(lesson_seed(0)), []
    for _ in range(steps):
        xb, yb = data.get_batch("train", 16, block_size, batches)  # (B, T) each
        _, loss = model(xb, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with tg.no_grad():
        val_rng = np.random.default_rng(1)
        val = np.mean([model(*data.get_batch("val", 32, block_size, val_rng))[1].item()
                       for _ in range(8)])
    return np.array(losses), float(val)


curves, val_losses, bands = {}, {}, {}
for position in ("pre", "post"):
    t0 = time.perf_counter()
    curves[position], val_losses[position] = train(position)
    print(f"{position}-LN: {steps} steps in {time.perf_counter() - t0:.1f} s, val loss "
          f"{val_losses[position]:.4f} (ln V = {np.log(tok.vocab_size):.3f})")
    run = f"lesson08-{position}-ln-{'quick' if QUICK else 'full'}"
    settings = dict(norm_position=position, steps=steps, block_size=block_size, batch=16,
                    n_layer=4, n_embd=32, lr=3e-3, text=len(text))
    print(check_run(run, f"lesson 8{' quick' if QUICK else ''}, {position}-LN", settings,
                    [(steps, val_losses[position])]))
    reference = find_run_curve(run, settings)
    bands[position] = reference.band(steps) if reference is not None else None

# %%
plt = pyplot()
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for position, losses in curves.items():
    smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) > 10 else losses
    (line,) = ax.plot(np.arange(len(smooth)) + (len(losses) - len(smooth)), smooth,
                      label=f"{position}-LN (val {val_losses[position]:.3f})")
    ax.plot(losses, lw=0.5, alpha=0.35, color=line.get_color())  # the raw, noisy curve
    if bands[position] is not None:  # where the reference code's val loss ends, three seeds
        ax.vlines(len(losses), *bands[position], color=line.get_color(), lw=8, alpha=0.3)
    ax.plot(len(losses), val_losses[position], "o", color=line.get_color())
ax.axhline(np.log(tok.vocab_size), color="grey", ls=":", label="uniform guess, ln V")
ax.set_xlabel("step")
ax.set_ylabel("train loss (nats per character)")
ax.set_title("4-layer GPT on the grammar data: where the norm goes\n"
             "(dots: val loss; bars: the reference code's band)", fontsize=10)
ax.legend()
fig.tight_layout()
print("saved", show(fig, "08_pre_post_ln.png"))

# %% [markdown]
# At four layers both wirings learn, at a similar pace. The difference grows with depth and
# learning rate: the original post-LN Transformer was trained with a learning-rate warmup,
# and Xiong et al. (2020, "On Layer Normalization in the Transformer Architecture") show why
# deep post-LN stacks need it and pre-LN ones do not. GPT-2 moved the norm in front of each
# sublayer, and added one final LayerNorm, `ln_f`, after the last block. Try it yourself: set
# `n_layer=12` and `lr=1e-2` in `train` and compare the curves again.

# %% [markdown]
# ## Summary
#
# - LayerNorm normalises each position's C channels; its input gradient is
#   $r(g - \overline g - \hat x\,\overline{g\hat x})$, the upstream gradient with its shift and
#   scale components removed.
# - The MLP, $C \to 4C \to C$ with a GELU, acts on each position independently; attention is
#   where positions exchange information.
# - A block has $12C^2 + 13C$ parameters; its sublayers add to a residual stream.
# - Pre-LN keeps an identity path through the stack; post-LN normalises the stream after each
#   sublayer. With GPT-2's small output projections both start near the identity, and both
#   train at this depth.
#
# Next: assignment 4, task 4.3 (wiring `Block.forward`, pre-LN and post-LN), after tasks 4.1
# and 4.2 from lesson 7.

# %%
assert result.passed and np.allclose(y.mean(-1), 0, atol=1e-9) and mlp_commutes
assert all(val_losses[p] < np.log(tok.vocab_size) for p in val_losses)
print(f"val loss pre-LN {val_losses['pre']:.4f}, post-LN {val_losses['post']:.4f} "
      f"(uniform {np.log(tok.vocab_size):.4f}). Lesson 8 done.")
