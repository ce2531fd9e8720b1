# %% [markdown]
# # Lesson 14 — Pre-training and fine-tuning
#
# The seed article's recipe for large language models has two stages: **pre-train** a model
# on a large amount of raw text with the plain next-token objective, then reuse it — its
# representations carry over, "providing strong feature extraction for downstream tasks" —
# by **fine-tuning** it on a small labelled task. This lesson runs that recipe end to end on
# a scale that fits in a minute. The downstream task: tell grammatical sentences of the
# built-in grammar from corrupted ones, with only a few hundred labelled examples. We
# compare three ways of getting a classifier: the pre-trained language model's own
# likelihood with no training at all, the pre-trained GPT fine-tuned with a small
# classification head, and the very same network trained from random weights.

# %% [markdown]
# ## What you will learn
#
# - why next-token prediction on unlabelled text teaches a model things a downstream task
#   needs (here: agreement, word order, which words exist);
# - how to turn a causal language model into a sequence classifier: a linear head on the
#   model's own per-character surprise, trained with cross-entropy;
# - **transfer learning** measured: fine-tuned vs from-scratch accuracy on the same small
#   labelled set, and a head trained on a frozen model;
# - the zero-shot baseline: a language model already scores sentences by probability.
#
# Why it matters: this is how almost every modern NLP system is built. Labelled data is
# scarce and expensive; raw text is not.

# %%
import time

import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm import nn
from tinygrad_lm.course.lesson_curves import check_run, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, generate_grammar_corpus, is_grammatical
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training import optim

started = time.perf_counter()

# %% [markdown]
# ## Stage 1: pre-training on raw text
#
# Pre-training is exactly what lessons 9 and 12 did: minimise
# $-\sum_t \log p_\theta(x_{t+1} \mid x_{\le t})$ over windows of unlabelled text. Nobody
# told the model what a verb is; to predict the next character well it has to learn it.

# %%
corpus = generate_grammar_corpus(800 if QUICK else 4000, seed=21)
tok = CharTokenizer.from_text(corpus)
data = TokenDataset(np.array(tok.encode(corpus)), val_fraction=0.1)
BLOCK = 64
config = tg.GPTConfig(vocab_size=tok.vocab_size, block_size=BLOCK, n_layer=2, n_head=4,
                      n_embd=64)
pretrained = tg.GPT(config, seed=lesson_seed(0))
opt = optim.AdamW(pretrained.parameters(), lr=3e-3, weight_decay=0.0)
rng = np.random.default_rng(lesson_seed(0))
pretrain_steps = 60 if QUICK else 600
t0 = time.perf_counter()
for step in range(pretrain_steps):
    x, y = data.get_batch("train", 16, BLOCK, rng)
    _, loss = pretrained(x, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % (pretrain_steps // 4) == 0:
        print(f"step {step:4d}  LM loss {loss.item():.3f}")
with tg.no_grad():
    val_lm = pretrained(*data.get_batch("val", 64, BLOCK, np.random.default_rng(1)))[1].item()
print(f"pre-trained {pretrain_steps} steps in {time.perf_counter() - t0:.1f} s; "
      f"val LM loss {val_lm:.3f} nats/char")
print(check_run(f"lesson14-pretrain-{'quick' if QUICK else 'full'}",
                f"lesson 14{' quick' if QUICK else ''}, pre-training",
                dict(steps=pretrain_steps, block=BLOCK, n_layer=2, n_embd=64, batch=16,
                     lr=3e-3, corpus=len(corpus)), [(pretrain_steps, val_lm)]))

# %% [markdown]
# ## The downstream task: is this sentence grammatical?
#
# We make labelled examples from fresh sentences: half are left as they are, half are
# corrupted — the word order shuffled, two words swapped, or one word replaced by a random
# word of the grammar. Some edits happen to leave a valid sentence (swapping two adjectives,
# replacing a noun by another noun), so the label is not "was it edited" but the grammar's
# own verdict, `is_grammatical`. Sentences are kept short enough to fit the block with the newline
# that starts every sentence in the corpus.

# %%
words = sorted({w for line in corpus.split("\n") for w in line.split(" ") if w and w != "."})


def corrupt(sentence, r):
    w = sentence.split(" ")[:-1]  # the words, without the final "."
    kind = r.integers(3)
    if kind == 0:  # shuffle the word order
        w = [w[i] for i in r.permutation(len(w))]
    elif kind == 1:  # swap two words
        i, j = r.choice(len(w), 2, replace=False)
        w[i], w[j] = w[j], w[i]
    else:  # replace one word by a random word of the grammar
        w[int(r.integers(len(w)))] = str(r.choice(words))
    return " ".join(w + ["."])


def labelled_set(n, seed):
    r = np.random.default_rng(seed)
    lines = [s for s in generate_grammar_corpus(2 * n, seed=seed).split("\n") if s]
    out = []
    for s in lines:
        s = corrupt(s, r) if r.random() < 0.5 else s
        if len(s) < BLOCK:  # the newline and the sentence must fit the block
            out.append((s, int(is_grammatical(s))))
    return out[:n]


train_set = labelled_set(128 if QUICK else 256, seed=22)
test_set = labelled_set(200 if QUICK else 600, seed=23)
for s, label in train_set[:6]:
    print(f"{'grammatical  ' if label else 'ungrammatical'}  {s}")
print(f"{len(train_set)} labelled training sentences ({np.mean([y for _, y in train_set]):.0%} "
      f"grammatical), {len(test_set)} test sentences")

# %% [markdown]
# Each sentence becomes a row of ids: the newline, then its characters, padded on the right
# to a common length (B, T). Because attention is causal, padding *after* the sentence
# cannot change anything computed at or before its last character.

# %%
def encode_batch(sentences):
    rows = [tok.encode("\n" + s) for s in sentences]
    T = max(len(r) for r in rows)
    ids = np.zeros((len(rows), T), dtype=np.int64)  # (B, T), 0-padded
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
    return ids, np.array([len(r) for r in rows])  # lengths (B,)


train_ids, train_len = encode_batch([s for s, _ in train_set])
test_ids, test_len = encode_batch([s for s, _ in test_set])
train_y = np.array([y for _, y in train_set])
test_y = np.array([y for _, y in test_set])
print("train batch", train_ids.shape, "test batch", test_ids.shape)

# %% [markdown]
# ## Zero-shot: the language model as a judge
#
# Before training anything: a language model assigns every sentence a probability, and
# corrupted sentences should be less likely. Score each sentence by its mean per-character
# negative log-likelihood,
# $s(x) = -\frac{1}{n}\sum_{t=1}^{n} \log p_\theta(x_t \mid x_{<t})$, and call it
# grammatical when $s(x) < \tau$, with the threshold $\tau$ chosen on the training set.

# %% [markdown]
# ### Exercise 14.1 — The best threshold
# Write `best_threshold(scores, labels)`: return the $\tau$ among the values of `scores`
# that maximises the accuracy of the rule "label 1 if score <= $\tau$" on these scores and
# labels (the smallest such $\tau$ on ties).

# %%
def best_threshold(scores, labels):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def best_threshold_solution(scores, labels):
    candidates = np.sort(np.asarray(scores))
    accuracy = [np.mean((np.asarray(scores) <= t) == np.asarray(labels)) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


# %%
check("14.1", best_threshold, best_threshold_solution,
      test=lambda f: (f([0.1, 0.2, 0.9, 1.0], [1, 1, 0, 0]) == 0.2
                      and f([0.5, 0.1, 0.7], [0, 1, 1]) == 0.1),
      hint="Try every score as the threshold, compute the accuracy of (scores <= t) == labels, "
           "keep the best.")

# %%
def sentence_nll(model, ids, lengths):
    """Mean -log p of each sentence's characters after the newline, (B,)."""
    with tg.no_grad():
        logits, _ = model(ids)
        logp = logits.log_softmax(-1).numpy()  # (B, T, V)
    B, T = ids.shape
    picked = logp[np.arange(B)[:, None], np.arange(T - 1), ids[:, 1:]]  # (B, T-1)
    real = np.arange(T - 1)[None, :] < (lengths - 1)[:, None]  # (B, T-1): not padding
    return -(picked * real).sum(1) / real.sum(1)


tau = best_threshold_solution(sentence_nll(pretrained, train_ids, train_len), train_y)
zero_shot_acc = np.mean((sentence_nll(pretrained, test_ids, test_len) <= tau) == test_y)
print(f"threshold {tau:.3f} nats/char; zero-shot test accuracy {zero_shot_acc:.1%}")

# %% [markdown]
# ## Stage 2: a classifier built on the language model
#
# Where does the pre-trained model keep what it knows about grammar? Mostly in its
# *predictions*: at a corrupted spot, the next character is one it did not expect. So our
# classifier reads the model's own surprise. For sentence b with real characters
# $t = 1 \dots n_b$, the per-character loss is $\ell_{b,t} = -\log p_\theta(x_{b,t} \mid
# x_{b,<t})$ (computed from the (B, T, V) logits), and two numbers summarise it: the mean
# $\bar\ell_b$, which the zero-shot rule used, and the maximum $\max_t \ell_{b,t}$, the single
# most surprising character — one bad edit shows up there even in a long sentence. A linear
# head maps these (B, 2) features to two logits, $z = [\bar\ell, \ell_{\max}] W_c + b_c$, and
# the loss is the cross-entropy $-\log \mathrm{softmax}(z)_y$. Every step is a Tensor op, so
# gradients flow through the features into the whole GPT: **fine-tuning** adjusts the
# trunk itself, sharpening the surprise where the labels say it matters.

# %% [markdown]
# ### Exercise 14.2 — Surprise features
# Write `surprise_features(nll, real)` in NumPy: given per-position losses `nll` (B, T) and a
# boolean mask `real` (B, T), True at the sentence's own characters, return a (B, 2) array
# whose row b is [mean of nll over the real positions, max of nll over the real positions].

# %%
def surprise_features(nll, real):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def surprise_features_solution(nll, real):
    mean = (nll * real).sum(1) / real.sum(1)
    peak = np.where(real, nll, -np.inf).max(1)
    return np.stack([mean, peak], axis=1)


# %%
def _test_surprise(f):
    nll = np.array([[1.0, 3.0, 9.0], [2.0, 4.0, 0.5]])
    real = np.array([[True, True, False], [True, True, True]])
    return np.allclose(f(nll, real), [[2.0, 3.0], [6.5 / 3, 4.0]])


check("14.2", surprise_features, surprise_features_solution, test=_test_surprise,
      hint="Padding must count neither in the mean nor in the max: multiply by the mask for "
           "the sum, and np.where(real, nll, -np.inf) before the max.")

# %%
class SurpriseClassifier(nn.Module):
    """A GPT language model and a linear head on [mean, max] of its per-character loss:
    (B, T) ids and lengths -> (B, 2) logits. Trainable end to end."""

    def __init__(self, gpt, seed=0):
        self.gpt = gpt
        self.head = nn.Linear(2, 2, rng=np.random.default_rng(seed), std=0.1)

    def features(self, ids, lengths):
        B, T = ids.shape
        logp = self.gpt(ids)[0].log_softmax(-1)  # (B, T, V)
        nll = -logp[np.arange(B)[:, None], np.arange(T - 1)[None, :], ids[:, 1:]]  # (B, T-1)
        real = (np.arange(T - 1)[None, :] < (lengths - 1)[:, None]).astype(np.float32)
        mean = (nll * real).sum(1, keepdims=True) / real.sum(1, keepdims=True)  # (B, 1)
        peak = (nll * real - 1e4 * (1 - real)).max(1, keepdims=True)  # (B, 1): padding out
        return tg.cat([mean, peak], axis=1)  # (B, 2)

    def forward(self, ids, lengths):
        return self.head(self.features(ids, lengths))  # (B, 2)


def train_classifier(model, lr, steps, batch=32, seed=0):
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    r = np.random.default_rng(seed)
    for _ in range(steps):
        b = r.integers(0, len(train_y), batch)
        loss = F.cross_entropy(model(train_ids[b], train_len[b]), train_y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def accuracy(model, ids, lengths, y):
    with tg.no_grad():
        return float(np.mean(model(ids, lengths).numpy().argmax(-1) == y))


# %% [markdown]
# First the cheapest transfer, a **frozen** model: compute the two features once with the
# pre-trained weights and train only the head (six numbers) on them.

# %%
frozen = SurpriseClassifier(pretrained)
with tg.no_grad():
    train_feat = frozen.features(train_ids, train_len).numpy()  # (N, 2)
    test_feat = frozen.features(test_ids, test_len).numpy()
hopt = optim.AdamW(frozen.head.parameters(), lr=3e-2, weight_decay=0.0)
for _ in range(300):
    loss = F.cross_entropy(frozen.head(train_feat), train_y)
    hopt.zero_grad()
    loss.backward()
    hopt.step()
with tg.no_grad():
    frozen_acc = float(np.mean(frozen.head(test_feat).numpy().argmax(-1) == test_y))
print(f"frozen pre-trained LM + trained head: test accuracy {frozen_acc:.1%}")

# %% [markdown]
# Now fine-tuning: a copy of the pre-trained weights (so `pretrained` stays as it is),
# the head initialised from the frozen run's, everything trained with a small learning rate.

# %%
finetune_steps = 20 if QUICK else 80
fine_gpt = tg.GPT(config, seed=1)
fine_gpt.load_state_dict({k: v.copy() for k, v in pretrained.state_dict().items()})
finetuned = SurpriseClassifier(fine_gpt)
finetuned.head.load_state_dict(frozen.head.state_dict())
t0 = time.perf_counter()
last = train_classifier(finetuned, lr=3e-4, steps=finetune_steps)
finetuned_acc = accuracy(finetuned, test_ids, test_len, test_y)
print(f"fine-tuned: last batch loss {last:.3f}, test accuracy {finetuned_acc:.1%} "
      f"({time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# From scratch: the same classifier, the same labelled sentences and number of steps, but a
# GPT with random weights. It has to learn the grammar from the 0/1 labels alone. We give it
# a larger learning rate, which suits a model with nothing to preserve.

# %%
scratch = SurpriseClassifier(tg.GPT(config, seed=1))
t0 = time.perf_counter()
last = train_classifier(scratch, lr=3e-3, steps=finetune_steps)
scratch_acc = accuracy(scratch, test_ids, test_len, test_y)
print(f"from scratch: last batch loss {last:.3f}, test accuracy {scratch_acc:.1%} "
      f"({time.perf_counter() - t0:.1f} s)")

# %%
majority = max(np.mean(test_y), 1 - np.mean(test_y))
results = {"majority class": majority, "zero-shot (mean loss)": zero_shot_acc,
           "from scratch": scratch_acc, "frozen LM + head": frozen_acc,
           "fine-tuned": finetuned_acc}
for name, acc in results.items():
    print(f"{name:20s} {acc:6.1%}")
plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.barh(list(results), list(results.values()), color=["grey", "C1", "C3", "C0", "C2"])
for i, acc in enumerate(results.values()):
    ax.text(acc + 0.01, i, f"{acc:.1%}", va="center")
ax.set_xlim(0, 1.1)
ax.set_xlabel(f"test accuracy ({len(test_set)} sentences)")
ax.set_title(f"Grammatical or not, from {len(train_set)} labelled sentences")
fig.tight_layout()
print("figure:", show(fig, "14_transfer.png"))

# %% [markdown]
# With a few hundred labels, the network trained from scratch has to discover from 0/1
# answers alone what the words are and how they combine; it stays at chance, however low
# its training loss could be pushed. The pre-trained model knew the grammar before it saw a
# single label: its likelihood alone is already a classifier, a head trained on its frozen
# surprise features is as good, and fine-tuning the whole model on top adds a little more.
# The labels only had to point at knowledge that pre-training had put in the weights —
# that is transfer learning.
#
# Fine-tuning on a *different text* works the same way with the LM loss instead of a head:
# `tinygrad-lm train --init-from` starts from saved weights, and a small learning rate and
# few steps keep what was learned.

# %% [markdown]
# ## Summary
#
# - Pre-training = next-token prediction on unlabelled text; it learns the structure a
#   downstream task needs.
# - A causal LM becomes a classifier by a linear head on the hidden state of the last real
#   token; fine-tuning trains the head and the trunk with a small learning rate.
# - On the same few hundred labels, the pre-trained model (zero-shot, frozen with a head, or
#   fine-tuned) clearly beats the same network trained from scratch, which stays at chance.
#
# Next: assignment 5, task 5.2 (`cosine_lr`: warmup and decay, the schedule fine-tuning runs
# use to adapt gently).

# %%
if not QUICK:
    assert finetuned_acc > scratch_acc + 0.05, "pre-training should help the small task"
    assert zero_shot_acc > majority
assert 0.0 <= scratch_acc <= 1.0 and 0.0 <= finetuned_acc <= 1.0
print(f"FINE_TUNED_ACC = {finetuned_acc:.3f}, FROM_SCRATCH_ACC = {scratch_acc:.3f}, frozen "
      f"{frozen_acc:.3f}, zero-shot {zero_shot_acc:.3f} ({time.perf_counter() - started:.0f} s)."
      " Lesson 14 done.")
