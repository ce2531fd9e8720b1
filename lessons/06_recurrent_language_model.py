# %% [markdown]
# # Lesson 6 — A recurrent language model
#
# Lesson 5's MLP reads a fixed window of K characters. Whatever came before is gone: it
# cannot know that "the dogs near the old house" needs a plural verb, because "dogs" is twenty
# characters back. A **recurrent neural network** (RNN) removes the window. It reads the text
# one character at a time and carries a *hidden state*, a vector that summarises everything it
# has read so far. The seed article names RNN language models as the step between n-grams and
# the Transformer; here we build one from the engine's Tensor ops, train it with
# backpropagation through time, and measure why it struggles to remember far back.

# %% [markdown]
# ## What you will learn
#
# - the recurrence $h_t = \tanh(e_t W_{xh} + h_{t-1} W_{hh} + b_h)$ and how it turns a
#   sequence into a chain of identical steps that share one set of weights;
# - **backpropagation through time** (BPTT): the chain rule along that chain, and why we cut
#   it into windows of T steps;
# - why gradients **vanish**: each step back multiplies the gradient by a Jacobian whose norm
#   is usually below one, so the signal from 30 characters ago is almost nothing. We measure
#   the gradient norm against distance instead of taking it on faith;
# - where the RNN lands against the bigram (lesson 0) and the MLP (lesson 5) on the same data.
#
# Why it matters: the vanishing gradient is the reason LSTMs were invented and, in the end, the
# reason attention replaced recurrence. Lesson 7's self-attention reaches any earlier position
# in one step; you will see today what it is fixing.

# %%
import time

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm import nn
from tinygrad_lm.course.lesson_curves import check_run, find_run_curve, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import generate_grammar_corpus
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training import optim

started = time.perf_counter()

# %% [markdown]
# ## The data: lesson 5's grammar, one character per token
#
# The built-in grammar writes English-like sentences with subject–verb agreement. We take
# exactly lesson 5's text and split: the models learn from the first 100,000 training
# characters and are scored on 50,000 validation characters that follow the training part.

# %%
text = generate_grammar_corpus(3000 if QUICK else 20000, seed=1337)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
split = int(0.9 * len(ids))
train_ids, val_ids = ids[:split][:30_000 if QUICK else 100_000], ids[split:][:50_000]
V = tok.vocab_size
print(f"V = {V}; {len(train_ids):,} characters to learn from, {len(val_ids):,} to validate on")
print(text[:120])

# %% [markdown]
# ## The baselines of lessons 0 and 5, on the same characters
#
# The bigram counts $P(x_t \mid x_{t-1})$ (add-one smoothed); lesson 5's MLP embeds the
# previous $K$ characters, concatenates them, and predicts the next one, trained exactly as
# there (AdamW, a cosine schedule, 3000 steps) with $K = 8$, the better of lesson 5's two
# contexts. Both are scored by the mean negative log-likelihood of the validation
# characters, in nats per character.

# %%
counts = np.ones((V, V))
np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
bigram_probs = counts / counts.sum(1, keepdims=True)
bigram_val = -np.mean(np.log(bigram_probs[val_ids[:-1], val_ids[1:]]))
print(f"bigram val loss {bigram_val:.4f}")


# %%
class MLPLanguageModel(nn.Module):
    """Lesson 5's model: Embedding -> concatenate K vectors -> Linear -> tanh -> Linear."""

    def __init__(self, vocab, context, dim=16, hidden=128, seed=0):
        rng = np.random.default_rng(seed)
        self.emb = nn.Embedding(vocab, dim, rng=rng, std=1.0)
        self.fc1 = nn.Linear(context * dim, hidden, rng=rng, std=(context * dim) ** -0.5)
        self.fc2 = nn.Linear(hidden, vocab, rng=rng, std=0.01)

    def forward(self, ctx):
        e = self.emb(ctx)  # (N, K, d)
        return self.fc2(self.fc1(e.reshape(e.shape[0], -1)).tanh())  # (N, V)


def windows(a, K):
    """(contexts (N, K), next characters (N,)): row t is a[t:t + K], its target a[t + K]."""
    n = len(a) - K
    return np.stack([a[i:i + n] for i in range(K)], axis=1), a[K:]


def train_mlp(K, steps, seed=0):
    model = MLPLanguageModel(V, K, seed=seed)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    xtr, ytr = windows(train_ids, K)
    rng = np.random.default_rng(seed)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = optim.cosine_lr(step, lr=3e-3, min_lr=3e-4, warmup_iters=0,
                                          lr_decay_iters=steps)
        batch = rng.integers(0, len(xtr), 128)
        loss = F.cross_entropy(model(xtr[batch]), ytr[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    xva, yva = windows(val_ids, K)
    with tg.no_grad():
        return model, F.cross_entropy(model(xva), yva).item()


K = 8
t0 = time.perf_counter()
mlp, mlp_val = train_mlp(K, 150 if QUICK else 3000)
print(f"MLP (K = {K}) val loss {mlp_val:.4f}  (trained in {time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# ## The recurrence
#
# Let $x_1, \dots, x_T$ be the characters of a window. Each is embedded, $e_t = E[x_t]$, a
# row of the embedding table $E$ of shape $(V, C)$. The hidden state starts at $h_0 = 0$ and
# is updated once per character:
#
# $$h_t = \tanh\left(e_t W_{xh} + h_{t-1} W_{hh} + b_h\right), \qquad
#   \text{logits}_t = h_t W_{hy} + b_y .$$
#
# With a batch of B windows: $e_t$ is $(B, C)$, $h_t$ is $(B, H)$, $W_{xh}$ is $(C, H)$,
# $W_{hh}$ is $(H, H)$, $W_{hy}$ is $(H, V)$, and the logits are $(B, V)$. The same weights
# are used at every step — that is what lets an RNN read text of any length with a fixed
# number of parameters. The loss is the mean cross-entropy over all $B \cdot T$ predictions,
# $L = \frac{1}{BT}\sum_{b,t} -\log \mathrm{softmax}(\text{logits}_{b,t})[x_{b,t+1}]$.

# %% [markdown]
# ### Exercise 6.1 — One step of the recurrence
# Write `rnn_step(e, h, W_xh, W_hh, b_h)` in NumPy: given the embedded input `e` (B, C), the
# previous state `h` (B, H) and the weights, return the new state (B, H).

# %%
def rnn_step(e, h, W_xh, W_hh, b_h):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def rnn_step_solution(e, h, W_xh, W_hh, b_h):
    return np.tanh(e @ W_xh + h @ W_hh + b_h)


# %%
def _test_rnn_step(f):
    r = np.random.default_rng(1)
    e, h = r.normal(size=(2, 3)), r.normal(size=(2, 4))
    W_xh, W_hh, b_h = r.normal(size=(3, 4)), r.normal(size=(4, 4)), r.normal(size=4)
    out = f(e, h, W_xh, W_hh, b_h)
    z = np.einsum("bc,ch->bh", e, W_xh) + np.einsum("bk,kh->bh", h, W_hh) + b_h
    return out.shape == (2, 4) and np.allclose(out, np.tanh(z))


check("6.1", rnn_step, rnn_step_solution, test=_test_rnn_step,
      hint="Add the two matrix products and the bias, then squash with np.tanh.")

# %% [markdown]
# ## The model, from the engine's Tensor ops
#
# The input projection $e_t W_{xh}$ does not depend on $h$, so we compute it for all T steps
# in one matmul before the loop; only $h_{t-1} W_{hh}$ has to wait for the previous step.
# The Python loop over t *is* the recurrence: every iteration adds one `matmul`, `add` and
# `tanh` node to the autograd graph, and `backward()` later walks them in reverse.
# `probes` is for the measurement further down: adding a zero leaf tensor to $h_t$ changes
# nothing in the forward pass, but its `.grad` after backward is exactly $\partial L/\partial h_t$.

# %%
class RNNLanguageModel(nn.Module):
    def __init__(self, vocab, dim=16, hidden=128, seed=0, recurrent_scale=1.0):
        rng = np.random.default_rng(seed)
        self.emb = nn.Embedding(vocab, dim, rng=rng, std=1.0)
        self.W_xh = nn.Parameter(rng.normal(0, dim ** -0.5, (dim, hidden)).astype(np.float32))
        # an orthogonal W_hh times a scale: every singular value equals `recurrent_scale`
        q, _ = np.linalg.qr(rng.normal(size=(hidden, hidden)))
        self.W_hh = nn.Parameter((recurrent_scale * q).astype(np.float32))
        self.b_h = nn.Parameter(np.zeros(hidden, np.float32))
        self.head = nn.Linear(hidden, vocab, rng=rng, std=0.1)
        self.hidden = hidden

    def forward(self, idx, h=None, probes=None):
        """idx (B, T) int -> (logits (B, T, V), last hidden state (B, H))."""
        B, T = idx.shape
        xh = self.emb(idx) @ self.W_xh  # (B, T, C) @ (C, H) -> (B, T, H)
        h = tg.zeros(B, self.hidden) if h is None else h  # (B, H)
        states = []
        for t in range(T):
            h = (xh[:, t] + h @ self.W_hh + self.b_h).tanh()  # (B, H)
            if probes is not None:
                h = h + probes[t]
            states.append(h)
        hs = tg.stack(states, axis=1)  # (B, T, H)
        return self.head(hs), h  # (B, T, V), (B, H)


rnn = RNNLanguageModel(V, seed=lesson_seed(0))
x = train_ids[None, :8]
logits, h_last = rnn(x)
print(f"input {x.shape} -> logits {logits.shape}, last state {h_last.shape}; "
      f"{rnn.num_parameters()} parameters (the MLP has {mlp.num_parameters()})")

# %% [markdown]
# ## Backpropagation through time
#
# Unrolled over T steps, the RNN is a deep network whose layers share weights. The loss
# touches $h_t$ twice: directly through $\text{logits}_t$, and through every later state.
# Write $g_t = \partial L / \partial h_t$ (shape $(B, H)$) and $a_t$ for the pre-activation,
# so $h_t = \tanh(a_t)$ and, for one example,
# $\partial h_{t+1}/\partial h_t = \mathrm{diag}(1 - h_{t+1}^2)\,W_{hh}^\top$.
# Then, from the last step backwards,
#
# $$g_t = \underbrace{\frac{\partial L_t}{\partial \text{logits}_t} W_{hy}^\top}_{\text{now}}
#   + \underbrace{\left(g_{t+1} \odot (1 - h_{t+1}^2)\right) W_{hh}^\top}_{\text{the future}},
# \qquad \frac{\partial L}{\partial W_{hh}}
#   = \sum_t h_{t-1}^\top \left(g_t \odot (1 - h_t^2)\right).$$
#
# The weight gradient is a sum over every step — the shared weights collect blame from the
# whole window. The engine does all of this for us: it is the ordinary chain rule on the
# unrolled graph. What we choose is how far back to unroll. Backpropagating through all
# 280,000 training characters at once would need every state in memory, so we train on windows
# of T characters at random places, each from $h_0 = 0$: **truncated BPTT**. A long
# gradient can also explode, so we clip its global norm to 1 before each step.

# %%
T_train = 16 if QUICK else 32
steps = 100 if QUICK else 800
opt = optim.AdamW(rnn.parameters(), lr=3e-3, weight_decay=0.0)
rng = np.random.default_rng(lesson_seed(0))
history = []
t0 = time.perf_counter()
for step in range(steps):
    starts = rng.integers(0, len(train_ids) - T_train - 1, 32)
    xb = train_ids[starts[:, None] + np.arange(T_train)]  # (B, T)
    yb = train_ids[starts[:, None] + np.arange(T_train) + 1]  # (B, T)
    logits, _ = rnn(xb)
    loss = F.cross_entropy(logits, yb)
    opt.zero_grad()
    loss.backward()
    optim.clip_grad_norm_(rnn.parameters(), 1.0)
    opt.step()
    history.append(loss.item())
    if step % (steps // 5) == 0:
        print(f"step {step:5d}  train loss {loss.item():.4f}")
rnn_seconds = time.perf_counter() - t0
print(f"{steps} steps of truncated BPTT (T = {T_train}) in {rnn_seconds:.1f} s")

# %% [markdown]
# ## Validation: reading the whole validation text in one pass
#
# At test time nothing stops us from carrying the state across windows: we cut the
# validation text into 16 long streams, read each from start to end, and score every
# character given *everything* before it in its stream. No gradient is needed, so this runs
# under `no_grad`. The result is compared with the same run of the reference code from three
# seeds (the shaded band in the figure): far above it, suspect the recurrence's backward.

# %%
def rnn_val_loss(model, stream_ids, n_streams=16):
    L = len(stream_ids) // n_streams
    s = stream_ids[:n_streams * L].reshape(n_streams, L)  # (B, L)
    with tg.no_grad():
        logits, _ = model(s[:, :-1])  # (B, L-1, V)
        return F.cross_entropy(logits, s[:, 1:]).item()


rnn_val = rnn_val_loss(rnn, val_ids)
print(f"bigram {bigram_val:.4f}   MLP (K = {K}) {mlp_val:.4f}   RNN {rnn_val:.4f}  nats/char")
run = f"lesson06-rnn-{'quick' if QUICK else 'full'}"
settings = dict(steps=steps, T=T_train, batch=32, lr=3e-3, clip=1.0, train=len(train_ids),
                val=len(val_ids))
print(check_run(run, f"lesson 6{' quick' if QUICK else ''}, the RNN", settings,
                [(steps, rnn_val)]))
reference = find_run_curve(run, settings)

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history, lw=0.7, label="RNN train loss (one batch)")
for value, name, style in ((bigram_val, "bigram val", ":"), (mlp_val, f"MLP K={K} val", "--"),
                           (rnn_val, "RNN val", "-")):
    ax.axhline(value, color="k", ls=style, lw=1, label=f"{name} {value:.3f}")
if reference is not None:
    ax.axhspan(*reference.band(steps), color="tab:green", alpha=0.15, lw=0,
               label=f"RNN val of the reference code ({len(reference.seeds)} seeds)")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats/char)")
ax.set_ylim(bottom=min(rnn_val, mlp_val) - 0.2, top=3.5)
ax.legend(fontsize=8)
ax.set_title("A recurrent LM against the bigram and the MLP")
print("figure:", show(fig, "06_rnn_loss.png"))

# %% [markdown]
# ## Why gradients vanish
#
# Unroll $g_t$'s second term $k$ times and the gradient that reaches $h_{t-k}$ from a loss at
# step $t$ is a product of $k$ Jacobians:
#
# $$\frac{\partial L_t}{\partial h_{t-k}} = \frac{\partial L_t}{\partial h_t}
#   \prod_{j=0}^{k-1} \mathrm{diag}(1 - h_{t-j}^2)\, W_{hh}^\top ,\qquad
#   \left\lVert \frac{\partial L_t}{\partial h_{t-k}} \right\rVert \le
#   \left\lVert \frac{\partial L_t}{\partial h_t} \right\rVert\, \sigma_{\max}(W_{hh})^k .$$
#
# $\tanh' = 1 - h^2$ is at most 1, and smaller wherever a unit is busy, so unless
# $\sigma_{\max}(W_{hh}) > 1$ the bound shrinks **geometrically** with the distance $k$; if
# it is much larger than 1, the gradient can instead explode (hence the clipping above). We
# measure it: a window of 64 characters, the loss at the **last** position only, and the
# probes' gradients $\lVert \partial L_{64} / \partial h_{64-k} \rVert$ for every distance k.

# %% [markdown]
# ### Exercise 6.2 — The Jacobian of one step
# For a single example, write `step_jacobian(h_next, W_hh)` returning the (H, H) matrix $J$
# with $J_{ij} = \partial (h_{t+1})_i / \partial (h_t)_j$, given $h_{t+1}$ (H,) and $W_{hh}$.
# (Row vector convention: $h_{t+1} = \tanh(\dots + h_t W_{hh})$.)

# %%
def step_jacobian(h_next, W_hh):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def step_jacobian_solution(h_next, W_hh):
    return (1 - h_next ** 2)[:, None] * W_hh.T


# %%
def _test_jacobian(f):
    r = np.random.default_rng(2)
    H, e, W_xh, W_hh, b = 5, r.normal(size=(1, 3)), r.normal(size=(3, 5)), r.normal(size=(5, 5)), 0
    h = r.normal(size=(1, H))
    h_next = np.tanh(e @ W_xh + h @ W_hh + b)[0]
    eps, numeric = 1e-6, np.zeros((H, H))
    for j in range(H):  # central differences, one input coordinate at a time
        d = np.zeros((1, H))
        d[0, j] = eps
        numeric[:, j] = (np.tanh(e @ W_xh + (h + d) @ W_hh)[0]
                         - np.tanh(e @ W_xh + (h - d) @ W_hh)[0]) / (2 * eps)
    return np.allclose(f(h_next, W_hh), numeric, atol=1e-6)


check("6.2", step_jacobian, step_jacobian_solution, test=_test_jacobian,
      hint="Row i of J is tanh'(a_i) times column i of W_hh; tanh'(a) = 1 - tanh(a)^2.")

# %%
def gradient_by_distance(model, ids_, T=64, B=8, seed=0):
    """||dL_T / dh_{T-k}|| averaged over B windows, for k = 0 .. T-1."""
    r = np.random.default_rng(seed)
    starts = r.integers(0, len(ids_) - T - 1, B)
    xb = ids_[starts[:, None] + np.arange(T)]  # (B, T)
    yb = ids_[starts + T]  # (B,): the character after the window
    probes = [tg.zeros(B, model.hidden, requires_grad=True) for _ in range(T)]
    logits, _ = model(xb, probes=probes)
    F.cross_entropy(logits[:, -1], yb).backward()
    norms = np.array([np.linalg.norm(p.grad, axis=1).mean() for p in probes])  # (T,)
    return norms[::-1]  # index k = distance back from the last position


T_probe = 32 if QUICK else 64
trained = gradient_by_distance(rnn, val_ids, T_probe)
at_init = {s: gradient_by_distance(RNNLanguageModel(V, recurrent_scale=s), val_ids, T_probe)
           for s in (0.5, 1.0, 1.5)}
for k in (0, 5, 10, 20, 30):
    print(f"distance {k:2d}: trained {trained[k]:.2e}   " + "   ".join(
        f"init sigma={s}: {g[k]:.2e}" for s, g in at_init.items()))

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(trained, "k", lw=2, label="trained RNN")
for s, g in at_init.items():
    ax.semilogy(g, lw=1, label=f"untrained, $\\sigma(W_{{hh}})$ = {s}")
ax.set_ylim(1e-16, 2)
ax.set_xlabel("distance k back from the predicted position")
ax.set_ylabel(r"$\|\partial L / \partial h_{T-k}\|$")
ax.set_title("The gradient that reaches k characters back")
ax.legend(fontsize=8)
print("figure:", show(fig, "06_vanishing_gradient.png"))

# %% [markdown]
# Read the plot on its log scale: a straight falling line is geometric decay. With
# $\sigma = 0.5$ the signal shrinks about threefold per step (a half from $W_{hh}$, the rest
# from $\tanh'$) until it underflows float32. Even $\sigma = 1.5$ decays, because saturated
# units have $\tanh' \approx 0$.
# The trained RNN loses orders of magnitude within 20–30 characters: a subject noun that far
# back gets almost no say in how $W_{hh}$ is updated, so agreement across a long
# prepositional phrase is learned slowly, if at all. Gradient clipping treats the *exploding*
# case; vanishing needs a different architecture — gated cells (LSTM, GRU), or attention,
# where every position reaches every earlier one through one softmax, with no product of
# Jacobians in between.

# %% [markdown]
# ### Exercise 6.3 — Clip the global gradient norm
# Write `clip_by_global_norm(grads, max_norm)`: given a list of NumPy arrays, return new
# arrays scaled by $\min(1, \text{max\_norm} / \lVert g \rVert)$, where $\lVert g \rVert$ is
# the norm of all of them stacked into one vector (what `optim.clip_grad_norm_` does).

# %%
def clip_by_global_norm(grads, max_norm):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def clip_by_global_norm_solution(grads, max_norm):
    total = np.sqrt(sum(float((g ** 2).sum()) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-12))
    return [g * scale for g in grads]


# %%
def _test_clip(f):
    big = f([np.full(3, 4.0), np.full(1, 2.0)], 1.0)  # norm sqrt(52)
    small = f([np.array([0.3, 0.4])], 1.0)  # norm 0.5: unchanged
    big_norm = np.sqrt(sum((g ** 2).sum() for g in big))
    return bool(np.isclose(big_norm, 1.0) and np.allclose(big[0] / big[1][0], 1.0 * 4 / 2)
                and np.allclose(small[0], [0.3, 0.4]))


check("6.3", clip_by_global_norm, clip_by_global_norm_solution, test=_test_clip,
      hint="One norm over every array together; scale all arrays by the same factor, never up.")

# %% [markdown]
# ## Summary
#
# - An RNN reads one token per step and carries a state $h_t$ of fixed size; the same
#   $W_{xh}, W_{hh}$ are used at every step, so it handles any length.
# - Training unrolls the loop and applies the chain rule backwards through it (BPTT); we
#   truncate to windows of T steps and clip the gradient norm.
# - With its unbounded context the RNN beats lesson 5's MLP with its eight-character window,
#   and the bigram, on the same validation text (numbers below).
# - The gradient reaching k steps back is a product of k Jacobians
#   $\mathrm{diag}(1-h^2) W_{hh}^\top$, and it decays geometrically: long-range dependencies
#   get almost no learning signal. Attention (lesson 7) removes that product.
#
# Next: assignment 2, task 2.5 (`MatMul.backward`: the matmul $h_{t-1} W_{hh}$ whose
# gradient BPTT sums over every step), then lesson 7.

# %%
assert rnn_val < bigram_val, "the RNN should beat counting pairs"
if not QUICK:
    assert rnn_val < mlp_val, "with its unbounded memory the RNN should beat the K=8 MLP"
    assert trained[30] < 0.1 * trained[0], "the gradient 30 steps back should have decayed"
assert at_init[0.5][10] < 1e-2 * at_init[0.5][0], "sigma = 0.5 shrinks the gradient geometrically"
print(f"RNN_VAL_LOSS = {rnn_val:.4f}, MLP (K={K}) = {mlp_val:.4f}, BIGRAM = {bigram_val:.4f} "
      f"({time.perf_counter() - started:.0f} s). Lesson 6 done.")
