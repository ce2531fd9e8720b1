# %% [markdown]
# # Lesson 0 — Counting n-grams
#
# **Goal:** the simplest language model: count which character follows which, turn counts into
# probabilities P(next | current), measure its loss (mean negative log-likelihood, nats per
# character) and sample from it. Every later lesson is compared with this number.

# %%
import numpy as np

from tinygrad_lm.data import generate_grammar_corpus, is_grammatical
from tinygrad_lm.lessons import QUICK, pyplot, show
from tinygrad_lm.tokenizers import CharTokenizer

text = generate_grammar_corpus(2000 if QUICK else 20000, seed=1337)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
split = int(0.9 * len(ids))
train, val = ids[:split], ids[split:]
V = tok.vocab_size
print(f"{len(ids)} characters, vocabulary of {V}: {''.join(tok.chars)!r}")

# %% [markdown]
# ## Counting
# counts[a, b] = how often character b follows character a. Adding 1 to every count
# ("Laplace smoothing") keeps unseen pairs from having probability 0 (infinite loss).

# %%
counts = np.ones((V, V))
np.add.at(counts, (train[:-1], train[1:]), 1)
probs = counts / counts.sum(axis=1, keepdims=True)

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(np.log(probs), cmap="Blues")
labels = [repr(c)[1:-1] for c in tok.chars]
ax.set_xticks(range(V), labels, fontsize=7)
ax.set_yticks(range(V), labels, fontsize=7)
ax.set_xlabel("next character")
ax.set_ylabel("current character")
ax.set_title("log P(next | current)")
fig.tight_layout()
show(fig, "00_bigram.png")

# %% [markdown]
# ## Loss: the average surprise
# The loss is -mean(log P(x_t | x_{t-1})) on text the model has not seen.

# %%
val_loss = -np.mean(np.log(probs[val[:-1], val[1:]]))
uniform = np.log(V)
print(f"bigram val loss {val_loss:.4f} nats/char (uniform guessing: {uniform:.4f})")

# %% [markdown]
# ## Sampling: one character at a time

# %%
rng = np.random.default_rng(0)
sentences = []
for _ in range(200):
    c, out = tok.encode("\n")[0], []
    for _ in range(80):
        c = rng.choice(V, p=probs[c])
        if tok.chars[c] == "\n":
            break
        out.append(tok.chars[c])
    sentences.append("".join(out))
print("\n".join(sentences[:5]))
good = np.mean([is_grammatical(s) for s in sentences])
print(f"grammatical: {good:.1%} of 200 samples")

# %% [markdown]
# ## Check
# Counting already beats uniform guessing by a wide margin; its samples look like words but
# rarely like sentences. Lesson 9's GPT must beat this loss.

# %%
assert val_loss < uniform - 0.5
print(f"BIGRAM_VAL_LOSS = {val_loss:.4f}. Lesson 0 done.")
