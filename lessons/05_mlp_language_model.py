# %% [markdown]
# # Lesson 5 — Embeddings and an MLP language model
#
# Lesson 0 ended on a dilemma: a longer context predicts better, but a counted table of
# $V^n$ cells runs out of data. This lesson replaces the table with a small neural network
# (Bengio et al., 2003): characters become learned vectors, a hidden layer combines them, and
# what is learned about one context carries over to similar ones.

# %% [markdown]
# ## What you will learn
#
# - What an *embedding* is: a learned vector per token, and why looking it up equals
#   multiplying a one-hot vector by a matrix (so its gradient is a sum of rows).
# - The MLP language model: embed the previous $K$ characters, concatenate, a `tanh` hidden
#   layer, and logits for the $V$ next characters; its shapes, $(N, K) \to (N, K, d) \to
#   (N, K d) \to (N, H) \to (N, V)$.
# - Why the cross-entropy of softmax logits is lesson 0's negative log-likelihood, and why its
#   gradient is simply $\mathrm{softmax}(z) - \mathrm{onehot}(y)$.
# - How to train with minibatches and AdamW, check the initial loss against $\log V$, and
#   compare fairly with counting on the same data.
#
# Why it matters: every later model, the RNN and the GPT included, starts with an embedding
# and ends with these logits and this loss.

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

# %% [markdown]
# ## The data, as in lesson 0
#
# The same grammar corpus and split. As in lesson 0's n-gram sweep, the models learn from the
# first 100,000 training characters, so counting and the MLP see exactly the same text.

# %%
text = generate_grammar_corpus(3000 if QUICK else 20000, seed=1337)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
split = int(0.9 * len(ids))
fit, val = ids[:split][:30_000 if QUICK else 100_000], ids[split:][:50_000]
V = tok.vocab_size
print(f"V = {V}; {len(fit):,} characters to learn from, {len(val):,} to validate on")

# %% [markdown]
# ## From a sequence to training examples
#
# A model with a context of $K$ characters learns from every window: the $K$ characters
# $x_{t-K}, \dots, x_{t-1}$ are the input and $x_t$ is the target. A text of $n$ tokens gives
# $n - K$ examples.

# %% [markdown]
# ### Exercise 5.1 — Windows
# Write `windows(ids, K)`: return `(contexts, targets)` where `contexts` has shape
# `(len(ids) - K, K)` with row `t` equal to `ids[t:t + K]`, and `targets[t] = ids[t + K]`.
# Build it from `K` shifted slices (no Python loop over the rows).

# %%
def windows(ids, K):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def windows_solution(ids, K):
    n = len(ids) - K
    contexts = np.stack([ids[i:i + n] for i in range(K)], axis=1)  # (n, K): column i = shift i
    return contexts, ids[K:]


# %%
def _windows_ok(f):
    got = f(np.arange(10, 17), 3)
    return bool(np.array_equal(got[0], [[10, 11, 12], [11, 12, 13], [12, 13, 14], [13, 14, 15]])
                and np.array_equal(got[1], [13, 14, 15, 16]))


check("5.1", windows, windows_solution, test=_windows_ok,
      hint="Column i of the contexts is ids[i:i + n] with n = len(ids) - K; np.stack on axis 1.")

# %% [markdown]
# ## Embeddings
#
# Give every character a learned vector of $d$ numbers: the rows of a matrix
# $E \in \mathbb{R}^{V \times d}$. Looking up the row of token $i$ is the same as
# multiplying the one-hot row vector $\mathbf{1}_i$ by $E$: $\mathbf{1}_i E = E_{i,:}$. So an
# embedding is a linear layer whose input happens to be one-hot, computed by indexing
# because that is $V$ times cheaper. Its backward follows from lesson 2: the gradient of
# $E_{i,:}$ is the *sum* of the upstream gradients of every position where token $i$ was
# looked up. Similar characters (say, the vowels) can end up with similar vectors, and then
# whatever the network learns about one context applies to the similar ones: that sharing is
# what a count table cannot do.
#
# ## The model
#
# For a batch of $N$ contexts of $K$ ids, the shapes go
#
# $$\underbrace{(N, K)}_{\text{ids}} \xrightarrow{E} (N, K, d) \xrightarrow{\text{concat}}
#   (N, K d) \xrightarrow{\tanh(\cdot W_1 + b_1)} (N, H) \xrightarrow{\cdot W_2 + b_2}
#   \underbrace{(N, V)}_{\text{logits } z}.$$
#
# The probabilities are $p = \mathrm{softmax}(z)$, and the loss is the mean of
# $-\log p_{y}$ over the batch: exactly lesson 0's negative log-likelihood, now called the
# *cross-entropy*. We start the output weights small so that every logit is near 0 and
# every character near probability $1/V$: the loss at step 0 should be about $\log V$. A
# loss far above it at initialisation means confidently wrong guesses, and wasted steps.

# %%
class MLPLanguageModel(nn.Module):
    def __init__(self, vocab, context, dim=16, hidden=128, seed=0):
        rng = np.random.default_rng(seed)
        self.emb = nn.Embedding(vocab, dim, rng=rng, std=1.0)
        self.fc1 = nn.Linear(context * dim, hidden, rng=rng, std=(context * dim) ** -0.5)
        self.fc2 = nn.Linear(hidden, vocab, rng=rng, std=0.01)  # logits start near 0

    def forward(self, ctx):
        e = self.emb(ctx)                                # (N, K, d)
        h = self.fc1(e.reshape(e.shape[0], -1)).tanh()   # (N, K*d) -> (N, H)
        return self.fc2(h)                               # (N, V)


model = MLPLanguageModel(V, 3)
contexts, targets = windows_solution(fit, 3)
with tg.no_grad():
    initial = F.cross_entropy(model(contexts[:2000]), targets[:2000]).item()
print(f"initial loss {initial:.4f}, log V = {np.log(V):.4f}; "
      f"{model.num_parameters():,} parameters")

# %% [markdown]
# ## The gradient of softmax cross-entropy
#
# For one example with logits $z$ and target $y$,
# $\ell = -\log \frac{e^{z_y}}{\sum_j e^{z_j}} = -z_y + \log \sum_j e^{z_j}$. Differentiate:
#
# $$\frac{\partial \ell}{\partial z_i} = -[i = y] + \frac{e^{z_i}}{\sum_j e^{z_j}}
#   = p_i - [i = y].$$
#
# The gradient pushes the target's logit up by $1 - p_y$ and every other logit down by its
# probability. For the mean over $N$ examples, divide by $N$. The engine fuses softmax and
# log into one `CrossEntropy` op for this reason: the combined backward is one subtraction,
# and it never computes $\log$ of a probability that underflowed to 0.

# %% [markdown]
# ### Exercise 5.2 — Cross-entropy's backward
# Write `cross_entropy_grad(z, y)`: for logits `z` of shape `(N, V)` and integer targets `y`
# of shape `(N,)`, return $\partial \mathcal{L} / \partial z$ for the *mean* loss
# $\mathcal{L}$. Use a stable softmax (lesson 4).

# %%
def cross_entropy_grad(z, y):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def cross_entropy_grad_solution(z, y):
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)      # (N, V) softmax
    p[np.arange(len(y)), y] -= 1.0          # p - onehot(y)
    return p / len(y)                       # the mean over N examples


# %%
def _ce_ok(f):
    rng = np.random.default_rng(1)
    z = tg.Tensor(rng.standard_normal((6, V)) * 3, requires_grad=True, dtype=np.float64)
    y = rng.integers(0, V, 6)
    F.cross_entropy(z, y).backward()
    return bool(np.allclose(f(z.data.copy(), y), z.grad))


check("5.2", cross_entropy_grad, cross_entropy_grad_solution, test=_ce_ok,
      hint="softmax(z), subtract 1 at [range(N), y], divide by N.")

# %% [markdown]
# ## Training
#
# Each step draws a minibatch of 128 random windows, computes the loss, backpropagates, and
# lets AdamW update every parameter. A cosine schedule lowers the learning rate towards the
# end, so the last steps settle instead of bouncing. We train two models: $K = 3$ (the context
# of a counted 4-gram) and $K = 8$, a context lesson 0 showed counting cannot use.
#
# Is the loss you get normal? Each run is compared with the same run of the reference code
# from three seeds (shipped with the package): inside their band, your embedding, MLP and
# cross-entropy are doing what they should; far above it, a backward or the optimizer is off.
# Change a setting (the steps, the learning rate) and there is no reference to compare with.

# %%
def train_mlp(K, steps, seed=0):
    model = MLPLanguageModel(V, K, seed=seed)
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    xtr, ytr = windows_solution(fit, K)
    rng = np.random.default_rng(seed)
    history = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = optim.cosine_lr(step, lr=3e-3, min_lr=3e-4, warmup_iters=0,
                                          lr_decay_iters=steps)
        batch = rng.integers(0, len(xtr), 128)
        loss = F.cross_entropy(model(xtr[batch]), ytr[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    xva, yva = windows_solution(val, K)
    with tg.no_grad():
        val_loss = F.cross_entropy(model(xva), yva).item()
    return model, history, val_loss


steps = 150 if QUICK else 3000
results, bands = {}, {}
for K in (3, 8):
    start = time.perf_counter()
    results[K] = train_mlp(K, steps, seed=lesson_seed(0))
    print(f"MLP, K = {K}: val loss {results[K][2]:.4f} after {steps} steps "
          f"({time.perf_counter() - start:.1f} s)")
    run = f"lesson05-mlp-k{K}-{'quick' if QUICK else 'full'}"
    settings = dict(K=K, steps=steps, lr=3e-3, min_lr=3e-4, batch=128, fit=len(fit),
                    val=len(val))
    print(check_run(run, f"lesson 5{' quick' if QUICK else ''}, MLP with K = {K}", settings,
                    [(steps, results[K][2])]))
    reference = find_run_curve(run, settings)
    bands[K] = reference.band(steps) if reference is not None else None

# %% [markdown]
# ## Counting on the same data
#
# Lesson 0's counter, repeated here so the comparison uses the same characters: an n-gram
# with $n = K + 1$ has the same context as the MLP with $K$.

# %%
def ngram_val_loss(n, alpha=0.1):
    def keys(a):
        k = np.zeros(len(a) - n + 1, dtype=np.int64)
        for i in range(n):
            k = k * V + a[i:len(a) - n + 1 + i]
        return k

    def count(table, counts, q):
        i = np.minimum(np.searchsorted(table, q), len(table) - 1)
        return np.where(table[i] == q, counts[i], 0)

    grams, gram_counts = np.unique(keys(fit), return_counts=True)
    contexts, context_counts = np.unique(keys(fit) // V, return_counts=True)
    q = keys(val)
    p = (count(grams, gram_counts, q) + alpha) / (count(contexts, context_counts, q // V)
                                                  + alpha * V)
    return float(-np.mean(np.log(p)))


counted = {n: ngram_val_loss(n) for n in range(2, 10)}
for n, loss in counted.items():
    print(f"counted {n}-gram val loss {loss:.4f}")

plt = pyplot()
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for K, (_, history, _) in results.items():
    smooth = np.convolve(history, np.ones(20) / 20, mode="valid")
    left.plot(smooth, lw=1, label=f"MLP, K = {K} (train, 20-step mean)")
left.axhline(counted[2], color="gray", ls=":", label="bigram (val)")
left.set_xlabel("step")
left.set_ylabel("loss (nats/char)")
left.set_title("training")
left.legend(fontsize=8)
right.plot([n - 1 for n in counted], list(counted.values()), "o-", label="counted n-gram")
right.plot(list(results), [r[2] for r in results.values()], "s", ms=9, label="MLP")
for K, band in bands.items():
    if band is not None:
        right.vlines(K, *band, color="tab:green", lw=9, alpha=0.25,
                     label="MLP runs of the reference code (band)" if K == 3 else None)
right.set_xlabel("characters of context (n - 1, or K)")
right.set_ylabel("validation loss (nats/char)")
right.set_title("same data, growing context")
right.legend(fontsize=8)
show(fig, "05_mlp_loss.png")

# %% [markdown]
# Read the right panel. With three characters of context and this much data the count table
# is still hard to beat: almost every 4-gram of the validation text occurred in training.
# The MLP needs no such luck: at $K = 8$ it is far better than the counted 9-gram, whose
# contexts were mostly never seen, because nearby contexts share embeddings and hidden
# features. In the full version (3000 steps) it also beats the best counted n-gram; the
# quick version trains too briefly for that. With more data and steps (and lesson 6's
# recurrence, lesson 9's attention) the neural models keep going down; the table cannot.
#
# ## What the embeddings learned
#
# Project the $d = 16$ dimensional character vectors of the $K = 8$ model onto their two
# principal directions. The model puts characters it treats alike near each other; with 29
# characters and this little training the picture is rough, so read it as a hint rather than
# a proof (the space is drawn as "␣", the newline as "\n"). A sharper test for the curious:
# print each character's nearest neighbour by cosine similarity.

# %%
E = results[8][0].emb.weight.data
centered = E - E.mean(axis=0)
_, _, vt = np.linalg.svd(centered, full_matrices=False)
xy = centered @ vt[:2].T  # (V, 2)
fig, ax = plt.subplots(figsize=(5, 5))
ax.scatter(xy[:, 0], xy[:, 1], s=0)
for (px, py), ch in zip(xy, tok.chars):
    vowel = ch in "aeiou"
    ax.text(px, py, "␣" if ch == " " else repr(ch)[1:-1], ha="center", va="center", fontsize=11,
            color="tab:red" if vowel else "tab:blue")
ax.set_title("character embeddings (2 principal directions; vowels red)")
show(fig, "05_embeddings.png")

# %% [markdown]
# ## Summary
#
# - An embedding is a one-hot vector times a matrix, computed as a row lookup; its gradient
#   sums over the positions that used each row.
# - The MLP language model maps $(N, K)$ ids to $(N, V)$ logits; softmax cross-entropy is the
#   negative log-likelihood, with gradient $\mathrm{softmax}(z) - \mathrm{onehot}(y)$.
# - Start with a loss near $\log V$; train with minibatches, AdamW and a cosine schedule.
# - Where counting runs out of data, the MLP still generalises, because it shares.
#
# Next: assignment 2, task 2.6 (the backward of indexing: repeated indices add, as the rows
# of an embedding do), and lesson 6, which removes the fixed window altogether.

# %%
bigram, mlp3, mlp8 = counted[2], results[3][2], results[8][2]
assert abs(initial - np.log(V)) < 0.1      # the initial loss is a uniform guess
assert mlp3 < bigram and mlp8 < bigram     # learning beats the bigram
assert mlp8 < counted[9]                   # and beats counting where contexts are sparse
best_n = min(counted, key=counted.get)
print(f"val loss: bigram {bigram:.4f}, best counted ({best_n}-gram) {counted[best_n]:.4f}, "
      f"MLP K=3 {mlp3:.4f}, MLP K=8 {mlp8:.4f}. Lesson 5 done.")
