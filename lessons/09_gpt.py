# %% [markdown]
# # Lesson 9 — The GPT

# %% [markdown]
# ## What you will learn
#
# Lessons 7 and 8 built the parts; this lesson assembles them into the model the seed article
# describes, an autoregressive language model
#
# $$P(x_1, \dots, x_T) = \prod_{t=1}^{T} P(x_t \mid x_1, \dots, x_{t-1}),$$
#
# and trains it by maximum likelihood. You will
#
# 1. follow one batch of token ids through the whole GPT, shape by shape, and rebuild its
#    forward pass from its modules;
# 2. count its parameters in closed form, and see what weight tying saves;
# 3. derive the training loss from maximum likelihood and compute it yourself;
# 4. write the training loop (batches, AdamW, the cosine learning-rate schedule, gradient
#    clipping) and watch train and validation loss;
# 5. compare the result with the counting baseline of lesson 0 and sample sentences from it.
#
# This is the model that the rest of the course generates from (lesson 11), trains on real
# text (lesson 12) and looks inside (lesson 15).

# %%
import dataclasses
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset, is_grammatical
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.plots import draw_band
from tinygrad_lm.training.reference_curves import band_warning, find_curve

# %% [markdown]
# ## Step 1: from token ids to next-token probabilities
#
# The input is a batch of token ids, shape (B, T). Each id picks a row of the token embedding
# $W_e$ (V, C), each position $t$ a row of the position embedding $W_p$ (block_size, C); their
# sum is the residual stream $h^{(0)}$ of shape (B, T, C). The $L$ blocks of lesson 8 update it,
# a final LayerNorm tidies it, and the **language-model head** maps every position to V scores,
# the logits:
#
# $$h^{(0)}_t = W_e[x_t] + W_p[t], \qquad h^{(l)} = \text{Block}_l(h^{(l-1)}), \qquad
#   z_t = \text{LN}_f(h^{(L)}_t)\, W_e^\top, \qquad P(x_{t+1} = v \mid x_{\le t}) =
#   \text{softmax}(z_t)_v .$$
#
# That is the seed article's $\text{Softmax}(W_o h_t + b_o)$ with $W_o = W_e^\top$ and no bias:
# GPT-2 **ties** the head to the token embedding, so the vector that reads a token in is the
# one that scores it on the way out. Thanks to the causal mask, one forward pass makes T
# predictions at once, one per position, each seeing only its past.
#
# Our data: the built-in grammar, one character per token.

# %%
n_examples = 3000 if QUICK else 20000
text = builtin_dataset("grammar", n_examples=n_examples)
tok = CharTokenizer.from_text(text)
ids = np.array(tok.encode(text))
data = TokenDataset(ids, val_fraction=0.1)
V = tok.vocab_size
print(f"{len(text):,} characters, vocabulary V = {V}: {''.join(tok.decode(list(range(V))))!r}")
print(data)
print(text[:120])

# %%
config = tg.GPTConfig(vocab_size=V, block_size=64, n_layer=2, n_head=4,
                      n_embd=32 if QUICK else 64)
model = tg.GPT(config, seed=0)
xb, yb = data.get_batch("train", 4, config.block_size, np.random.default_rng(0))  # (B, T)
print("x:", xb.shape, repr(tok.decode(xb[0, :30].tolist())))
print("y:", yb.shape, repr(tok.decode(yb[0, :30].tolist())), "(x shifted by one)")

# %% [markdown]
# Now the forward pass by hand, from the model's own modules, with every shape printed. It
# must give exactly the logits `model(x)` gives.

# %%
tr = model.transformer
h = tr.wte(xb) + tr.wpe(np.arange(xb.shape[1]))  # (B, T, C) + (T, C) -> (B, T, C)
print("embeddings   ", h.shape)
for layer, block in enumerate(tr.h):
    h = block(h)  # (B, T, C)
    print(f"after block {layer}", h.shape)
h = tr.ln_f(h)  # (B, T, C)
logits = h @ tr.wte.weight.transpose(0, 1)  # (B, T, C) @ (C, V) -> (B, T, V)
print("logits       ", logits.shape)
model_logits, _ = model(xb)
print("same as model(x):", np.allclose(logits.data, model_logits.data, atol=1e-5))

# %% [markdown]
# ## Step 2: counting parameters
#
# Lesson 8 counted one block: $12C^2 + 13C$. Add the token embedding $VC$, the position
# embedding $T_{max} C$ (block_size × C) and the final LayerNorm $2C$; the tied head adds
# nothing. Untied, it would add another $VC$ — for GPT-2 small ($V = 50257$, $C = 768$) that is
# 38.6 million parameters, almost a third of the model.

# %% [markdown]
# ### Exercise 9.1 — The GPT's parameter count
# Write `gpt_parameters(V, block_size, C, n_layer)` returning the parameter count of a GPT
# with biases and a tied head.

# %%
def gpt_parameters(V, block_size, C, n_layer):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def gpt_parameters_solution(V, block_size, C, n_layer):
    return V * C + block_size * C + n_layer * (12 * C * C + 13 * C) + 2 * C


# %%
def count_is_right(f):
    sizes = [(V, 64, 32, 2), (11, 16, 48, 3), (100, 8, 16, 1)]
    return all(f(v, t, c, n) == tg.GPT(tg.GPTConfig(vocab_size=v, block_size=t, n_layer=n,
                                                    n_head=4, n_embd=c)).num_parameters()
               for v, t, c, n in sizes)


check("9.1", gpt_parameters, gpt_parameters_solution, test=count_is_right,
      hint="embeddings V*C and block_size*C, n_layer blocks of 12C^2 + 13C, and ln_f's 2C.")
print(f"our model: {model.num_parameters():,} parameters; GPT-2 small: "
      f"{gpt_parameters_solution(50257, 1024, 768, 12):,}")

# %% [markdown]
# ## Step 3: maximum likelihood is cross-entropy
#
# Training maximises the log-likelihood of the training text, $\sum_t \ln P(x_{t+1} \mid
# x_{\le t})$. Averaged over the $B \cdot T$ predictions of a batch and negated, that is the
# cross-entropy loss
#
# $$\mathcal{L} = -\frac{1}{BT}\sum_{b,t} \ln \text{softmax}(z_{b,t})_{y_{b,t}}
#   = \frac{1}{BT}\sum_{b,t}\Big(\ln \sum_{v} e^{z_{b,t,v}} - z_{b,t,y_{b,t}}\Big).$$
#
# An untrained model spreads its probability almost evenly, so its loss starts near
# $\ln V$. Computing $\ln\sum e^{z}$ naively overflows for large logits; subtracting the row
# maximum $m$ first, $\ln\sum e^{z} = m + \ln\sum e^{z - m}$, keeps every exponent $\le 0$.

# %% [markdown]
# ### Exercise 9.2 — Cross-entropy from logits
# Write `cross_entropy(logits, targets)` for a NumPy array of logits (B, T, V) and integer
# targets (B, T), returning the mean loss as a float. Make it stable: it must also work
# when every logit is 1000.

# %%
def cross_entropy(logits, targets):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def cross_entropy_solution(logits, targets):
    m = logits.max(-1, keepdims=True)  # (B, T, 1)
    log_sum = m[..., 0] + np.log(np.exp(logits - m).sum(-1))  # (B, T)
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]  # (B, T)
    return float(np.mean(log_sum - picked))


# %%
_, model_loss = model(xb, yb)
check("9.2", cross_entropy, cross_entropy_solution,
      test=lambda f: bool(np.isclose(f(model_logits.data.astype(np.float64), yb),
                                     model_loss.item(), atol=1e-4)
                          and np.isclose(f(np.full((1, 2, 5), 1000.0), np.zeros((1, 2), int)),
                                         np.log(5))),
      hint="log-sum-exp minus the target's logit; subtract the row max before np.exp.")
print(f"loss at initialisation {model_loss.item():.4f}, ln V = {np.log(V):.4f}")

# %% [markdown]
# ## Step 4: the training loop
#
# Each step draws B random windows of T + 1 characters, computes the loss, back-propagates,
# clips the gradient's global norm to 1 (one unlucky batch cannot throw the weights far) and
# takes an AdamW step. The learning rate follows nanoGPT's schedule: a short linear warmup,
# then a cosine decay to a tenth of its peak,
#
# $$\eta_s = \eta_{min} + \tfrac12(\eta_{max} - \eta_{min})\big(1 + \cos(\pi\, r_s)\big),
#   \qquad r_s = \frac{s - s_{warm}}{s_{end} - s_{warm}} .$$
#
# Every so often we estimate the loss on held-out validation text, which the model never
# trains on: it tells whether the model learns the language or memorises the training text.
#
# Is the loss we get normal? The library's `Trainer` runs this same loop. Told these
# settings, it was trained from three seeds by the reference code, and the package ships the
# curves: `find_curve` finds them by the settings alone (model, data, batch, schedule; not the
# seed). Their band is where the val loss of a correct loop lands; a wrong gradient, optimizer
# or schedule lands far outside it.

# %%
steps = 40 if QUICK else 700
lr, min_lr, warmup = 3e-3, 3e-4, 30
groups = tg.optim.configure_param_groups(model.named_parameters(), weight_decay=0.1)
optimizer = tg.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))
batch_rng = np.random.default_rng(1337)
same_run = make_config("grammar", [f"--n_examples={n_examples}", "--batch_size=16",
                                   f"--lr={lr}", f"--min_lr={min_lr}", f"--warmup_iters={warmup}",
                                   f"--lr_decay_iters={steps}", "--eval_iters=10"])
reference = find_curve(dataclasses.replace(same_run, model=config))  # None: no curve shipped


def estimate(split, n=10):
    with tg.no_grad():
        r = np.random.default_rng(0)
        return float(np.mean([model(*data.get_batch(split, 16, config.block_size, r))[1].item()
                              for _ in range(n)]))


train_losses, evals = [], []
t0 = time.perf_counter()
for step in range(steps):
    for group in optimizer.param_groups:
        group["lr"] = tg.optim.cosine_lr(step, lr=lr, min_lr=min_lr, warmup_iters=warmup,
                                         lr_decay_iters=steps)
    xb, yb = data.get_batch("train", 16, config.block_size, batch_rng)  # (B, T) each
    _, loss = model(xb, yb)
    optimizer.zero_grad()
    loss.backward()
    tg.optim.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    train_losses.append(loss.item())
    if (step + 1) % max(steps // 7, 1) == 0 or step + 1 == steps:
        evals.append((step + 1, estimate("train"), estimate("val")))
        print(f"step {step + 1:4d}: train {evals[-1][1]:.4f}, val {evals[-1][2]:.4f} "
              f"({time.perf_counter() - t0:.1f} s)")
val_loss = evals[-1][2]

# %% [markdown]
# ## Step 5: against counting
#
# Is 1.x nats good? Compare with the bigram model of lesson 0, which predicts each character
# from the one before it by counting pairs in the training text (with add-one smoothing).
# Whatever the GPT gains over it comes from looking further back than one character.

# %% [markdown]
# ### Exercise 9.3 — The bigram baseline
# Write `bigram_loss(train, val, V)`: count the pairs (a, b) of consecutive ids in `train`
# into a (V, V) table starting from ones, normalise each row into probabilities, and return
# the mean negative log-probability of the pairs in `val`.

# %%
def bigram_loss(train, val, V):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def bigram_loss_solution(train, val, V):
    counts = np.ones((V, V))
    np.add.at(counts, (train[:-1], train[1:]), 1)  # one count per consecutive pair
    probs = counts / counts.sum(1, keepdims=True)  # (V, V), rows sum to 1
    return float(-np.mean(np.log(probs[val[:-1], val[1:]])))


# %%
check("9.3", bigram_loss, bigram_loss_solution,
      test=lambda f: bool(np.isclose(f(np.array([0, 1, 0, 1]), np.array([0, 1]), 2),
                                     -np.log(3 / 4))
                          and np.isclose(f(data.train, data.val, V),
                                         bigram_loss_solution(data.train, data.val, V))),
      hint="np.add.at(counts, (train[:-1], train[1:]), 1) counts every pair, repeats included.")
bigram = bigram_loss_solution(data.train, data.val, V)
print(f"val loss: uniform {np.log(V):.4f}, bigram {bigram:.4f}, GPT {val_loss:.4f}")

# %%
plt = pyplot()
fig, ax = plt.subplots(figsize=(7, 4))
if reference is not None:
    draw_band(ax, reference)
ax.plot(np.arange(1, steps + 1), train_losses, lw=0.6, alpha=0.5, label="train (one batch)")
ax.plot([e[0] for e in evals], [e[2] for e in evals], "o-", label="val (estimate)")
ax.axhline(bigram, color="grey", ls="--", label=f"bigram by counting ({bigram:.2f})")
ax.axhline(np.log(V), color="grey", ls=":", label=f"uniform, ln V ({np.log(V):.2f})")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats per character)")
ax.set_title(f"a {model.num_parameters():,}-parameter GPT on the grammar data")
ax.legend()
fig.tight_layout()
print("saved", show(fig, "09_loss.png"))
if reference is None:
    print("no reference curve for these settings")
else:
    outside = [w for w in (band_warning(reference, step, val) for step, _, val in evals) if w]
    print(outside[0] if outside else f"val loss inside the band of {len(reference.seeds)} "
          f"reference runs ({reference.label()}) at every evaluation")

# %% [markdown]
# ## Step 6: what it learned
#
# Loss is a number; text shows what it means. Generate from a newline (a sentence starts
# after it) and judge each sentence twice: are its words real words of the training text, and
# is the whole sentence grammatical by the grammar's own recogniser? Spelling comes first and
# syntax, which needs the model to remember the subject several words back, comes later.
# Lesson 11 is about how to choose tokens from the distribution; here we sample from it as it
# is (temperature 1).

# %%
vocabulary = set(text.split())
newline = np.array([tok.encode("\n")] * 32)  # (32, 1): 32 sentences in one batch
samples = tg.generate(model, newline, 60, seed=0)
sentences = [tok.decode(row[1:].tolist()).split("\n")[0].strip() for row in samples]
for s in sentences[:6]:
    print(("  ok  " if is_grammatical(s) else "  bad ") + s)
words = [w for s in sentences for w in s.split()]
known = np.mean([w in vocabulary for w in words])
grammatical = np.mean([is_grammatical(s) for s in sentences])
print(f"{known:.0%} of {len(words)} sampled words are real words; {grammatical:.0%} of "
      f"{len(sentences)} sentences are grammatical")

# %% [markdown]
# ## Summary
#
# - A GPT is embeddings, $L$ blocks, a final LayerNorm and a head tied to the token
#   embedding: (B, T) ids → (B, T, C) → (B, T, V) logits, T predictions per pass.
# - Its size is $VC + T_{max}C + L(12C^2 + 13C) + 2C$; tying saves $VC$.
# - Maximum likelihood is the mean cross-entropy of the next token; it starts at $\ln V$.
# - AdamW with warmup, cosine decay and clipping trains it well below the bigram baseline,
#   and its samples spell real words; a longer run (`tinygrad-lm train`) learns the syntax too.
#
# Next: assignment 5, task 5.1 (AdamW's update) and task 5.2 (the cosine schedule).

# %%
assert np.allclose(logits.data, model_logits.data, atol=1e-5)
if not QUICK:
    assert val_loss < bigram
print(f"GPT val loss {val_loss:.4f} vs bigram {bigram:.4f} (uniform {np.log(V):.4f}); "
      f"{known:.0%} of sampled words real, {grammatical:.0%} of sentences grammatical. "
      "Lesson 9 done.")
