# %% [markdown]
# # Lesson 15 — Looking inside: attention maps and the logit lens

# %% [markdown]
# A trained GPT is a few arrays of numbers, but it is not a black box: every intermediate
# value can be printed. The seed article lists interpretability among the open problems of
# large language models; this lesson shows the two simplest instruments for it. We train a
# small GPT on the built-in grammar with **one token per word** (lesson 10's BPE, which on
# this grammar ends with each word a single token), so that what the model looks at can be
# read as words. Then we draw every head's attention pattern on a sentence, ask which head
# finds the subject when the model has to choose the verb's form, and read the
# **logit lens**: what the model would predict if we stopped after each layer.

# %% [markdown]
# ## What you will learn
#
# - to plot attention weights per layer and head, with colour bars, and read them: a row is
#   a query position, its colours are how it splits its attention over earlier tokens;
# - to test a hypothesis about a head with a number instead of a picture: here, "at the
#   verb, some head attends to the subject noun" (what agreement needs);
# - the **logit lens**: project the residual stream after each block through the final
#   LayerNorm and the unembedding, and watch the prediction form layer by layer;
# - entropy as a one-number summary of how focused a head is.
#
# Why it matters: when a model fails, these views tell you where; and they are the first
# step of the mechanistic interpretability research that studies real LLMs the same way.

# %%
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lesson_curves import check_run, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, generate_grammar_corpus, grammar
from tinygrad_lm.tokenizers import BPETokenizer
from tinygrad_lm.training import optim

started = time.perf_counter()

# %% [markdown]
# ## A word-level GPT on the grammar
#
# BPE with room for more merges than the grammar has words stops once every word (with its
# leading space), " ." and the newline are single tokens. The model: 2 layers, 4 heads,
# C = 64, a block of 24 tokens — about three sentences.

# %%
text = generate_grammar_corpus(600 if QUICK else 4000, seed=15)
tok = BPETokenizer.train(text, vocab_size=1200)
ids = np.array(tok.encode(text))
data = TokenDataset(ids, val_fraction=0.1)
print(f"{len(text)} characters -> {len(ids)} tokens, V = {tok.vocab_size}")
print([tok.decode([i]) for i in ids[:12]])

BLOCK = 24
config = tg.GPTConfig(vocab_size=tok.vocab_size, block_size=BLOCK, n_layer=2, n_head=4,
                      n_embd=64)
model = tg.GPT(config, seed=lesson_seed(0))
opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
rng = np.random.default_rng(lesson_seed(0))
steps = 40 if QUICK else 600
t0 = time.perf_counter()
for step in range(steps):
    x, y = data.get_batch("train", 32, BLOCK, rng)
    _, loss = model(x, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % (steps // 4) == 0:
        print(f"step {step:4d}  loss {loss.item():.3f}")
print(f"trained {steps} steps in {time.perf_counter() - t0:.1f} s")
with tg.no_grad():  # held-out text, against the same run of the reference code
    val = model(*data.get_batch("val", 64, BLOCK, np.random.default_rng(1)))[1].item()
print(check_run(f"lesson15-gpt-{'quick' if QUICK else 'full'}",
                f"lesson 15{' quick' if QUICK else ''}, the BPE GPT",
                dict(steps=steps, block=BLOCK, n_layer=2, n_embd=64, batch=32, lr=3e-3,
                     tokens=len(ids), vocab=tok.vocab_size), [(steps, val)]))

# %% [markdown]
# ## The residual stream, layer by layer
#
# The GPT's forward pass is a sum. With $x^{(0)} = W_{te}[\text{ids}] + W_{pe}$, shape
# (B, T, C), each block adds its two branches,
# $x^{(l)} = x^{(l-1)} + \mathrm{attn}_l(\mathrm{LN}(x^{(l-1)})) + \mathrm{mlp}_l(\dots)$,
# and the logits are $\mathrm{LN}_f(x^{(L)})\, W_{te}^\top$, shape (B, T, V). Every
# $x^{(l)}$ lives in the same C-dimensional space, the **residual stream**. We run the
# blocks one at a time, keep each $x^{(l)}$, and ask each attention layer to keep its
# weights $A^{(l)}$, shape (B, nh, T, T), with
# $A_{h,i,j} = \mathrm{softmax}_j\big(q_{h,i} \cdot k_{h,j} / \sqrt{hs}\big)$ for $j \le i$.

# %%
def run_with_internals(model, idx):
    """(logits (B, T, V), residuals [x0 .. xL] each (B, T, C), attention per layer)."""
    tr = model.transformer
    with tg.no_grad():
        x = tr.wte(idx) + tr.wpe(np.arange(idx.shape[1]))  # (B, T, C)
        residuals, attention = [x.numpy()], []
        for block in tr.h:
            x = block(x, return_attention=True)  # (B, T, C)
            residuals.append(x.numpy())
            attention.append(block.attn.last_attention)  # (B, nh, T, T)
        logits, _ = model(idx)
    return logits.numpy(), residuals, attention


sentence = "the small dogs near the old king run quickly ."
idx = np.array([tok.encode("\n" + sentence)])  # (1, T): a newline starts every sentence
words = [tok.decode([i]).strip() or "\\n" for i in idx[0]]
logits, residuals, attention = run_with_internals(model, idx)
print(words)
print("residuals:", [r.shape for r in residuals], " attention:", [a.shape for a in attention])

# %% [markdown]
# ### Exercise 15.1 — The logit lens
# Write `logit_lens(x, ln_weight, ln_bias, wte)` in NumPy: apply LayerNorm over the last
# axis, $\hat x = (x - \mu)/\sqrt{\sigma^2 + 10^{-5}} \cdot w + b$ (population variance), then
# multiply by the transposed token embedding `wte` (V, C) to get logits (..., V). Applied to
# the last residual, it must give the model's own logits.

# %%
def logit_lens(x, ln_weight, ln_bias, wte):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def logit_lens_solution(x, ln_weight, ln_bias, wte):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return ((x - mu) / np.sqrt(var + 1e-5) * ln_weight + ln_bias) @ wte.T


# %%
ln_f, wte = model.transformer.ln_f, model.transformer.wte.weight.data
check("15.1", logit_lens, logit_lens_solution,
      test=lambda f: np.allclose(f(residuals[-1], ln_f.weight.data, ln_f.bias.data, wte),
                                 logits, atol=1e-4),
      hint="Mean and variance over axis -1 with keepdims=True; then @ wte.T.")

# %% [markdown]
# ## What each layer would predict
#
# The lens reads every layer in the final layer's vocabulary. That is only an
# approximation for the early layers — nothing forced them to speak that language — but in
# GPTs it is often surprisingly readable. Below: for every position of the sentence, the
# top prediction after the embeddings alone, after block 1 and after block 2 (the model's
# output). Expect the first column to repeat the input: with the head tied to the token
# embedding, the vector $W_{te}[x]$ is most similar to itself, so before any block has
# written into the stream the lens mostly reads back the current token.

# %%
lens = [logit_lens_solution(r, ln_f.weight.data, ln_f.bias.data, wte) for r in residuals]
print(f"{'after token':>12} | " + " | ".join(f"{n:>10}" for n in
                                            ["embeddings"] + [f"block {i + 1}" for i in
                                                              range(config.n_layer)]))
for t, w in enumerate(words[:-1]):
    guesses = [tok.decode([int(layer[0, t].argmax())]).strip() or "\\n" for layer in lens]
    print(f"{w:>12} | " + " | ".join(f"{g:>10}" for g in guesses) + f"   (next: {words[t + 1]})")

# %% [markdown]
# Now measured over held-out text: the cross-entropy of each layer's lens predictions. If
# the lens is meaningful, it falls layer by layer, and the last value is the model's own
# validation loss.

# %%
vx, vy = data.get_batch("val", 64, BLOCK, np.random.default_rng(1))
val_logits, val_res, _ = run_with_internals(model, vx)


def cross_entropy(lg, targets):
    lg = lg - lg.max(-1, keepdims=True)  # stable log-softmax
    logp = lg - np.log(np.exp(lg).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, targets[..., None], -1).mean())


lens_loss = [cross_entropy(logit_lens_solution(r, ln_f.weight.data, ln_f.bias.data, wte), vy)
             for r in val_res]
with tg.no_grad():
    model_loss = model(vx, vy)[1].item()
for name, value in zip(["embeddings"] + [f"block {i + 1}" for i in range(config.n_layer)],
                       lens_loss):
    print(f"logit lens after {name:10s}: val loss {value:.3f}")
print(f"the model's own val loss:        {model_loss:.3f}   (uniform guess: "
      f"{np.log(tok.vocab_size):.3f})")

# %% [markdown]
# The lens after the embeddings alone is *worse* than a uniform guess: it confidently
# predicts the token it is standing on (see the table), which is almost never the next one.
# One block later the loss has fallen most of the way; the second block refines it.

# %% [markdown]
# ## Every head's attention, with colour bars
#
# One panel per (layer, head): row i is the query at token i, column j a key; causal
# attention leaves the upper triangle at zero. The colour bar gives the scale — without it,
# a nearly uniform map and a sharply peaked one can look alike.

# %%
plt = pyplot()
L, nh, T = config.n_layer, config.n_head, len(words)
fig, axes = plt.subplots(L, nh, figsize=(3.2 * nh, 3.0 * L), squeeze=False)
for layer in range(L):
    for head in range(nh):
        ax = axes[layer][head]
        im = ax.imshow(attention[layer][0, head], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
        ax.set_xticklabels(words, rotation=90, fontsize=7)
        ax.set_yticklabels(words, fontsize=7)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
fig.suptitle(f'attention on "{sentence}"')
fig.tight_layout()
print("figure:", show(fig, "15_attention_heads.png"))

# %% [markdown]
# Read the full run's maps row by row. Some heads keep to a narrow diagonal: each token looks
# at itself or the token before it (local, n-gram-like features). Some send many rows to
# the first tokens, the newline and "the" — a common resting place when a head has nothing
# better to do. And several heads, at "king" and at "run", look back at "near", the word
# that opened the prepositional phrase, or at "dogs" behind it: that is where the number
# of the verb is decided. A picture suggests; a measurement decides.

# %% [markdown]
# ## A hypothesis, tested: who finds the subject?
#
# To predict the token after "king" the model must choose "run" or "runs" (or an object),
# and the right form depends on "dogs", five tokens back, not on the nearer "king". So we
# expect some head, at the position just before the verb, to put weight on the subject
# noun. We measure it over many sentences with a prepositional phrase in the subject: for
# each head, the mean attention from the token before the verb to the subject noun, against
# what a uniform head would give, $1/(i+1)$.

# %%
nouns = {w for pair in grammar.NOUNS for w in pair}
verbs = {w for pair in grammar.TVERBS + grammar.IVERBS for w in pair}
probe_rng = np.random.default_rng(7)
hits = np.zeros((L, nh))
uniform, n_found = 0.0, 0
for _ in range(400 if not QUICK else 100):
    s = grammar.generate_sentence(probe_rng)
    w = s.split(" ")
    verb = next((i for i, x in enumerate(w) if x in verbs), None)
    subject = next((i for i, x in enumerate(w) if x in nouns), None)
    if verb is None or subject is None or verb - subject < 4 or len(w) + 1 > BLOCK:
        continue  # only sentences with words between subject and verb
    sid = np.array([tok.encode("\n" + s)])
    if sid.shape[1] != len(w) + 1:
        continue  # one token per word, after the newline
    _, _, att = run_with_internals(model, sid)
    q, k = verb, subject + 1  # +1 for the newline; query = the token before the verb
    hits += np.array([[att[layer][0, h, q, k] for h in range(nh)] for layer in range(L)])
    uniform += 1.0 / (q + 1)
    n_found += 1
hits /= max(n_found, 1)
uniform /= max(n_found, 1)
for layer in range(L):
    print(f"layer {layer + 1}: " + "  ".join(f"head {h + 1}: {hits[layer, h]:.2f}"
                                             for h in range(nh)))
best = np.unravel_index(hits.argmax(), hits.shape)
print(f"{n_found} sentences; uniform attention would give {uniform:.2f}; best: layer "
      f"{best[0] + 1}, head {best[1] + 1} with {hits.max():.2f}")

# %% [markdown]
# ### Exercise 15.2 — How focused is a head?
# Write `attention_entropy(att)`: given one layer's weights `att` (nh, T, T) for a single
# sequence, return (nh,) — for each head the mean over query rows of the entropy
# $H_i = -\sum_j A_{ij} \log A_{ij}$ (with $0 \log 0 = 0$). A head that always looks at one
# token has entropy 0; a uniform head over $i+1$ keys has $\log(i+1)$.

# %%
def attention_entropy(att):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def attention_entropy_solution(att):
    safe = np.where(att > 0, att, 1.0)  # log(1) = 0 where the weight is 0
    return -(att * np.log(safe)).sum(-1).mean(-1)


# %%
def _test_entropy(f):
    T = 4
    focused = np.eye(T)[None]  # each row looks at itself
    uniform = np.tril(np.ones((T, T)))
    uniform = (uniform / uniform.sum(1, keepdims=True))[None]
    want = np.mean([np.log(i + 1) for i in range(T)])
    out = f(np.concatenate([focused, uniform]))
    return out.shape == (2,) and np.allclose(out, [0.0, want])


check("15.2", attention_entropy, attention_entropy_solution, test=_test_entropy,
      hint="Sum -A log A over the last axis (keys), then average over the queries; mask A == 0 "
           "before the log.")

# %%
for layer in range(L):
    ent = attention_entropy_solution(attention[layer][0])
    print(f"layer {layer + 1} entropy per head: " + "  ".join(f"{e:.2f}" for e in ent)
          + f"   (uniform: {np.mean(np.log(np.arange(1, T + 1))):.2f})")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(range(len(lens_loss)), lens_loss, "o-", label="logit lens")
ax.axhline(np.log(tok.vocab_size), color="grey", ls=":", label="uniform guess")
ax.set_xticks(range(len(lens_loss)))
ax.set_xticklabels(["embeddings"] + [f"block {i + 1}" for i in range(L)])
ax.set_ylabel("val cross-entropy (nats/token)")
ax.set_title("What each layer already predicts")
ax.legend(fontsize=8)
print("figure:", show(fig, "15_logit_lens.png"))

# %% [markdown]
# ## Summary
#
# - Attention maps show, per layer and head, how each position spreads its attention over
#   earlier tokens; colour bars make maps comparable, and entropy summarises focus in one
#   number.
# - A hypothesis about a head ("it finds the subject for agreement") is tested by averaging
#   the relevant weight over many examples against the uniform baseline, not by one picture.
# - The logit lens decodes the residual stream after each block with the final LayerNorm and
#   the tied unembedding; its loss falls with depth, and after the last block it *is* the
#   model's output.
#
# Next: assignment 4, task 4.2 (`CausalSelfAttention.forward`: the spelled-out attention
# whose weights these plots show).

# %%
assert abs(lens_loss[-1] - model_loss) < 1e-3, "the lens after the last block is the model"
if not QUICK:
    assert lens_loss[1] < lens_loss[0] and lens_loss[-1] <= lens_loss[1] + 0.05
    assert lens_loss[-1] < np.log(tok.vocab_size)
    assert hits.max() > uniform, "some head should attend to the subject more than uniformly"
print(f"logit-lens val loss by layer {[round(v, 3) for v in lens_loss]}; best subject head "
      f"{hits.max():.2f} vs uniform {uniform:.2f} ({time.perf_counter() - started:.0f} s). "
      "Lesson 15 done.")
