# %% [markdown]
# # Lesson 5 — Embeddings and an MLP language model
#
# **Goal:** replace counting with learning: embed the previous k characters, concatenate the
# vectors, pass them through an MLP, predict the next character — and beat lesson 0's loss,
# because a count table for k = 3 would need V^3 rows while the MLP shares what it learns.

# %%
import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm import nn, optim
from tinygrad_lm.data import generate_grammar_corpus
from tinygrad_lm.lessons import QUICK, pyplot, show
from tinygrad_lm.tokenizers import CharTokenizer

text = generate_grammar_corpus(2000 if QUICK else 20000, seed=1337)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
split = int(0.9 * len(ids))
V, K = tok.vocab_size, 3  # vocabulary size, context length


def windows(a):
    """(contexts (N, K), next characters (N,))"""
    ctx = np.stack([a[i:len(a) - K + i] for i in range(K)], axis=1)
    return ctx, a[K:]


xtr, ytr = windows(ids[:split])
xva, yva = windows(ids[split:])

# %% [markdown]
# ## The model: Embedding -> concatenate -> Linear -> tanh -> Linear

# %%


class MLPLanguageModel(nn.Module):
    def __init__(self, vocab, k, dim=16, hidden=128, seed=0):
        rng = np.random.default_rng(seed)
        self.emb = nn.Embedding(vocab, dim, rng=rng, std=1.0)
        self.fc1 = nn.Linear(k * dim, hidden, rng=rng, std=(k * dim) ** -0.5)
        self.fc2 = nn.Linear(hidden, vocab, rng=rng, std=0.1)

    def forward(self, ctx):
        e = self.emb(ctx)  # (N, K, dim)
        h = self.fc1(e.reshape(e.shape[0], -1)).tanh()  # (N, hidden)
        return self.fc2(h)  # (N, V)


model = MLPLanguageModel(V, K)
opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
rng = np.random.default_rng(0)
steps = 300 if QUICK else 3000
history = []
for _ in range(steps):
    batch = rng.integers(0, len(xtr), 128)
    loss = F.cross_entropy(model(xtr[batch]), ytr[batch])
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append(loss.item())

with tg.no_grad():
    val_loss = F.cross_entropy(model(xva), yva).item()
print(f"MLP ({K} characters of context) val loss: {val_loss:.4f} nats/char")

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history, lw=0.7)
ax.set_xlabel("step")
ax.set_ylabel("train loss")
ax.set_title("MLP language model")
fig.tight_layout()
show(fig, "05_mlp_loss.png")

# %% [markdown]
# ## Check: compare with the bigram counts of lesson 0 (recomputed here)

# %%
counts = np.ones((V, V))
np.add.at(counts, (ids[:split - 1], ids[1:split]), 1)
probs = counts / counts.sum(1, keepdims=True)
bigram = -np.mean(np.log(probs[ids[split:-1], ids[split + 1:]]))
print(f"bigram {bigram:.4f} vs MLP {val_loss:.4f}")
assert val_loss < bigram
print("the MLP beats counting. Lesson 5 done.")
