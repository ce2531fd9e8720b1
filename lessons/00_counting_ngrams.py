# %% [markdown]
# # Lesson 0 — Counting n-grams
#
# A language model assigns a probability to every piece of text. This first one learns by
# counting, and every model after it (an MLP, an RNN, a GPT) has to beat the number it ends on.

# %% [markdown]
# ## What you will learn
#
# - What a language model is: a probability for the next token given the ones before it, and
#   how the chain rule of probability turns that into the probability of a whole text.
# - Why counting how often a character follows another is the *maximum-likelihood* bigram
#   model, and why it needs smoothing before it meets new text.
# - How to measure a model: the mean negative log-likelihood in nats per character (the
#   *loss* every later lesson prints) and its exponential, the perplexity.
# - How to sample text from a model one token at a time, and why longer contexts (trigrams,
#   4-grams) stop helping when they are counted: the table outgrows the data.
#
# Why it matters: the loss defined here is exactly the cross-entropy a GPT minimises; a neural
# model is only interesting once it predicts better than this table.

# %%
import numpy as np

from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import generate_grammar_corpus, is_grammatical
from tinygrad_lm.tokenizers import CharTokenizer

# %% [markdown]
# ## The data
#
# The package generates sentences of a small English-like grammar (no download): determiners,
# adjectives, nouns and verbs that must agree in number, as in "all doctors want the teacher ."
# (a sentence ends with " ." and a newline).
# A *character tokenizer* gives every distinct character an integer id; the vocabulary size
# $V$ is the number of ids. We keep the last 10% of the text aside as *validation* data: a
# model is judged on text it has not counted.

# %%
text = generate_grammar_corpus(3000 if QUICK else 20000, seed=1337)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
split = int(0.9 * len(ids))
train, val = ids[:split], ids[split:]
V = tok.vocab_size
print(f"{len(ids):,} characters, vocabulary of V = {V}: {''.join(tok.chars)!r}")
print(text[:160])

# %% [markdown]
# ## A language model is a chain of conditional probabilities
#
# Write a text as tokens $x_1, \dots, x_T$. The chain rule of probability is exact:
#
# $$P(x_1, \dots, x_T) = \prod_{t=1}^{T} P(x_t \mid x_1, \dots, x_{t-1}).$$
#
# A language model is a way to compute each factor: a distribution over the $V$ possible next
# tokens given everything before. That is also how text is generated: draw $x_1$, then $x_2$
# given $x_1$, and so on. An *n-gram* model makes one simplifying assumption (Markov's): the
# next token depends only on the previous $n - 1$. For a *bigram* ($n = 2$),
# $P(x_t \mid x_{<t}) \approx P(x_t \mid x_{t-1})$: a table of $V \times V$ numbers, one row
# per current character, each row a distribution over the next.
#
# ## Counting is maximum likelihood
#
# Let $N(a, b)$ count how often $b$ follows $a$ in the training text and $N(a) = \sum_b N(a,b)$.
# The log-likelihood of the training text under a table $p$ is
# $\sum_{a,b} N(a,b) \log p(b \mid a)$. Maximise it subject to $\sum_b p(b \mid a) = 1$ for
# every row: with a Lagrange multiplier $\lambda_a$, setting the derivative
# $N(a,b)/p(b \mid a) - \lambda_a$ to zero gives $p(b \mid a) \propto N(a,b)$, that is
#
# $$\hat p(b \mid a) = \frac{N(a, b)}{N(a)}.$$
#
# So the best bigram model of the training data is just normalised counts.

# %%
counts = np.zeros((V, V))
np.add.at(counts, (train[:-1], train[1:]), 1)  # counts[a, b] += 1 for each adjacent pair
print(f"{int(counts.sum()):,} pairs counted; {int((counts == 0).sum())} of {V * V} pairs "
      "never seen")

# %% [markdown]
# ## Smoothing
#
# A pair never seen in training gets $\hat p = 0$, and one such pair in the validation text
# makes its probability 0 and the loss infinite. *Add-$\alpha$ smoothing* pretends every pair
# was seen $\alpha$ extra times: $p(b \mid a) = (N(a,b) + \alpha) / (N(a) + \alpha V)$. With
# $\alpha = 1$ (Laplace) nothing is impossible any more, and frequent pairs barely move.

# %%
alpha = 1.0
probs = (counts + alpha) / (counts + alpha).sum(axis=1, keepdims=True)  # (V, V), rows sum to 1
assert np.allclose(probs.sum(axis=1), 1)

plt = pyplot()
fig, ax = plt.subplots(figsize=(6.5, 5.5))
image = ax.imshow(np.log(probs), cmap="Blues")
labels = [repr(c)[1:-1] for c in tok.chars]
ax.set_xticks(range(V), labels, fontsize=7)
ax.set_yticks(range(V), labels, fontsize=7)
ax.set_xlabel("next character $b$")
ax.set_ylabel("current character $a$")
ax.set_title(r"$\log p(b \mid a)$, bigram counts with add-1 smoothing")
fig.colorbar(image, ax=ax, shrink=0.8, label="log probability")
show(fig, "00_bigram.png")

# %% [markdown]
# Read a row: after a space almost anything can start a word; after "q" only "u"; after "."
# comes the newline. The dark cells are the grammar's spelling rules, learned by counting.
#
# ## The loss: average surprise on unseen text
#
# The *loss* is the mean negative log-likelihood of the validation tokens,
#
# $$\mathcal{L} = -\frac{1}{N} \sum_{t} \log p(x_t \mid x_{t-1}),$$
#
# in *nats* per character (natural logarithm). It is the cross-entropy between the text and
# the model. Guessing uniformly gives $\log V$; a perfect model gives 0. Its exponential
# $e^{\mathcal{L}}$, the *perplexity*, reads as "as unsure as a fair choice among this many
# characters".

# %% [markdown]
# ### Exercise 0.1 — The loss of a bigram table
# Write `bigram_loss(probs, ids)`: the mean negative log-likelihood of the sequence `ids` under
# the table `probs`, where `probs[a, b]` is $p(b \mid a)$. A sequence of $n$ tokens has $n - 1$
# predictions. Use NumPy indexing, no Python loop.

# %%
def bigram_loss(probs, ids):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def bigram_loss_solution(probs, ids):
    # probs[ids[:-1], ids[1:]] picks p(x_t | x_{t-1}) for every t at once: shape (n - 1,)
    return float(-np.mean(np.log(probs[ids[:-1], ids[1:]])))


# %%
def _loop_loss(probs, ids):
    return -sum(np.log(probs[a, b]) for a, b in zip(ids[:-1], ids[1:])) / (len(ids) - 1)


check("0.1", bigram_loss, bigram_loss_solution,
      test=lambda f: bool(np.isclose(f(probs, val[:500]), _loop_loss(probs, val[:500]))),
      hint="Index the table with two arrays: the current tokens ids[:-1] and the next ids[1:].")

# %%
val_loss = bigram_loss_solution(probs, val)
uniform = np.log(V)
print(f"bigram val loss {val_loss:.4f} nats/char, perplexity {np.exp(val_loss):.2f}")
print(f"uniform guessing: {uniform:.4f} nats/char, perplexity {V}")

# %% [markdown]
# ## Sampling: one character at a time
#
# To generate, start from the newline (every sentence follows one), draw the next character
# from its row of the table, and repeat until the next newline. The grammar's recogniser
# `is_grammatical` tells us how many of the sampled sentences are real sentences.

# %%
rng = np.random.default_rng(0)
newline = tok.encode("\n")[0]


def sample_line(probs, rng, max_len=80):
    c, out = newline, []
    for _ in range(max_len):
        c = rng.choice(V, p=probs[c])
        if c == newline:
            break
        out.append(tok.chars[c])
    return "".join(out)


sentences = [sample_line(probs, rng) for _ in range(200)]
print("\n".join(sentences[:5]))
bigram_grammatical = np.mean([is_grammatical(s) for s in sentences])
print(f"grammatical: {bigram_grammatical:.1%} of 200 samples")

# %% [markdown]
# The samples look like words run together: one character of memory knows spelling, not
# sentences.
#
# ## Longer contexts: trigrams and beyond
#
# A trigram conditions on two characters, $p(x_t \mid x_{t-2}, x_{t-1})$: a $V \times V \times
# V$ table. More context should predict better — on the training text it always does. But the
# table has $V^{n}$ cells and the data stays the same size, so most contexts of a 4-gram are
# seen a handful of times or never, and smoothing spreads their probability thinly.

# %% [markdown]
# ### Exercise 0.2 — Trigram counts
# Write `trigram_probs(ids, V, alpha)`: a `(V, V, V)` array whose `[a, b, c]` entry is
# $p(c \mid a, b) = (N(a,b,c) + \alpha) / (N(a,b) + \alpha V)$, counted over every
# consecutive triple of `ids`.

# %%
def trigram_probs(ids, V, alpha):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def trigram_probs_solution(ids, V, alpha):
    counts = np.zeros((V, V, V))
    np.add.at(counts, (ids[:-2], ids[1:-1], ids[2:]), 1)
    return (counts + alpha) / (counts + alpha).sum(axis=2, keepdims=True)


# %%
def _trigram_ok(f):
    small = np.array([0, 1, 2, 0, 1, 2, 0, 1, 1])
    p = f(small, 3, 0.5)  # (0,1)->2 twice, (0,1)->1 once: (2+.5)/(3+1.5)
    return bool(np.shape(p) == (3, 3, 3) and np.allclose(p.sum(axis=2), 1)
            and np.isclose(p[0, 1, 2], 2.5 / 4.5)
            and np.allclose(f(train[:3000], V, 1.0), trigram_probs_solution(train[:3000], V, 1.0)))


check("0.2", trigram_probs, trigram_probs_solution, test=_trigram_ok,
      hint="np.add.at(counts, (ids[:-2], ids[1:-1], ids[2:]), 1), then normalise over axis 2.")

# %% [markdown]
# A dense table stops fitting in memory around $n = 5$ ($29^5 \approx 2 \times 10^7$ cells),
# so the general counter below stores only the n-grams that occur: each window of $n$ ids
# becomes one integer key $((x_1 V + x_2) V + \dots) V + x_n$, `np.unique` counts the keys,
# and a key never seen counts 0. To make the point visible we fit on the first 100,000
# training characters only and measure the train and validation loss for growing $n$.

# %%
def window_keys(a, n):
    """One int64 key per window of n consecutive ids (base-V digits)."""
    keys = np.zeros(len(a) - n + 1, dtype=np.int64)
    for i in range(n):
        keys = keys * V + a[i:len(a) - n + 1 + i]
    return keys


def ngram_loss(n, fit, evaluate, alpha=0.1):
    """Loss on `evaluate` of the add-alpha n-gram counted on `fit`."""
    fit_keys = window_keys(fit, n)
    grams, gram_counts = np.unique(fit_keys, return_counts=True)
    contexts, context_counts = np.unique(fit_keys // V, return_counts=True)  # drop the last id

    def count(table, table_counts, keys):
        i = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[i] == keys, table_counts[i], 0)

    keys = window_keys(evaluate, n)
    p = (count(grams, gram_counts, keys) + alpha) / (
        count(contexts, context_counts, keys // V) + alpha * V)
    return float(-np.mean(np.log(p)))


fit = train[:30_000 if QUICK else 100_000]
orders = list(range(1, 7 if QUICK else 9))
losses = {n: (ngram_loss(n, fit, fit), ngram_loss(n, fit, val)) for n in orders}
for n, (tr, va) in losses.items():
    print(f"{n}-gram: train {tr:.4f}, val {va:.4f} nats/char")
best = min(orders, key=lambda n: losses[n][1])
print(f"best validation loss at n = {best}")

fig, ax = plt.subplots(figsize=(5.5, 3.5))
ax.plot(orders, [losses[n][0] for n in orders], "o-", label="train")
ax.plot(orders, [losses[n][1] for n in orders], "o-", label="validation")
ax.set_xticks(orders)
ax.set_xlabel("n (context of n - 1 characters)")
ax.set_ylabel("loss (nats/char)")
ax.set_title(f"counted n-grams on {len(fit):,} characters")
ax.legend()
show(fig, "00_ngram_orders.png")

# %% [markdown]
# Up to about $n = 5$ more context helps on both curves. Beyond it the validation loss rises
# fast while the training loss stays far below it (it rises a little too: smoothing hands
# every next character of a rarely seen context a share). Most long contexts of the
# validation text were seen a few times or never, and their counts say little. The widening
# gap between the two curves is *overfitting*, which lesson 13 treats properly.

# %% [markdown]
# ## Summary
#
# - A language model gives $P(x_t \mid x_{<t})$; the chain rule multiplies these into the
#   probability of a text, and sampling draws from them one token at a time.
# - Counting is maximum likelihood for an n-gram; add-$\alpha$ smoothing keeps unseen pairs
#   possible.
# - The loss is the mean negative log-likelihood in nats per token on held-out text; the
#   bigram's value below is the baseline for the rest of the course.
# - Counted tables grow as $V^n$: a longer context needs a model that *shares* what it learns
#   between contexts. That is a neural network, trained by gradients, and computing gradients
#   automatically is what lesson 1 builds.
#
# Next: assignment 1, task 1.1 (the topological sort at the heart of autograd), after
# lesson 1.

# %%
assert val_loss < uniform - 0.5            # counting beats guessing by a wide margin
assert losses[2][1] < losses[1][1]         # one character of context helps
assert losses[orders[-1]][1] > losses[best][1]   # past some n, counted context hurts
gap = {n: losses[n][1] - losses[n][0] for n in orders}
assert gap[orders[-1]] > gap[2]            # and the train/val gap widens
print(f"bigram val loss {val_loss:.4f} nats/char (uniform {uniform:.4f}, best counted "
      f"{best}-gram {losses[best][1]:.4f}). Lesson 0 done.")
