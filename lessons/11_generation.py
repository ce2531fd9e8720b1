# %% [markdown]
# # Lesson 11 — Generation

# %% [markdown]
# ## What you will learn
#
# A trained language model gives, at every step, a distribution over the next token,
# $P(x_{t+1} \mid x_{\le t})$. Turning that into text is a separate decision, and the seed
# article names the two families: **sampling** and **beam search**. The choice changes the
# text as much as the model does: the same weights produce a loop of one phrase, fluent
# sentences, or gibberish. You will
#
# 1. look at one next-token distribution of a trained model;
# 2. reshape it with temperature, top-k and top-p (nucleus) filtering, and measure what each
#    does to many samples at once;
# 3. score a whole sequence by its log-probability, and find the most likely continuation by
#    exhaustive search, by greedy decoding and by beam search;
# 4. derive why generating token by token re-does almost all of its work, and remove that
#    waste with a KV cache, whose speed-up you measure (a measurement, printed, never
#    asserted: it depends on the machine and on what else runs on it).

# %%
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lesson_curves import check_run, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset
from tinygrad_lm.generation.sampling import probabilities, top_k_filter, top_p_filter
from tinygrad_lm.tokenizers import CharTokenizer

# %% [markdown]
# ## Step 1: a model to generate from
#
# The same recipe as lesson 9, shorter: a 2-layer GPT on the built-in grammar data, one
# character per token, trained for a few hundred steps.

# %%
text = builtin_dataset("grammar", n_examples=3000 if QUICK else 15000)
tok = CharTokenizer.from_text(text)
data = TokenDataset(np.array(tok.encode(text)), val_fraction=0.1)
V = tok.vocab_size
config = tg.GPTConfig(vocab_size=V, block_size=48, n_layer=2, n_head=4,
                      n_embd=32 if QUICK else 64)
model = tg.GPT(config, seed=lesson_seed(0))
optimizer = tg.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
steps, batch_rng = (30 if QUICK else 500), np.random.default_rng(lesson_seed(0))
t0 = time.perf_counter()
for _ in range(steps):
    xb, yb = data.get_batch("train", 16, config.block_size, batch_rng)  # (B, T) each
    _, loss = model(xb, yb)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"trained {steps} steps in {time.perf_counter() - t0:.1f} s, last batch loss "
      f"{loss.item():.3f} (ln V = {np.log(V):.3f})")
with tg.no_grad():  # held-out text, against the same run of the reference code
    val_rng = np.random.default_rng(1)
    val = float(np.mean([model(*data.get_batch("val", 16, 48, val_rng))[1].item()
                         for _ in range(10)]))
print(check_run(f"lesson11-gpt-{'quick' if QUICK else 'full'}",
                f"lesson 11{' quick' if QUICK else ''}, the 2-layer GPT",
                dict(steps=steps, block=48, n_layer=2, n_embd=config.n_embd, batch=16, lr=3e-3,
                     text=len(text)), [(steps, val)]))

# %% [markdown]
# ## Step 2: one next-token distribution
#
# Give the model a prompt and read the logits at the last position, $z \in \mathbb{R}^V$;
# the distribution is $p = \text{softmax}(z)$. After "the quick" a space, or the rest of a word
# like "quickly", should be likely.

# %%
prompt = "the quick"
with tg.no_grad():
    logits = model(np.array([tok.encode(prompt)]))[0].data[0, -1].astype(np.float64)  # (V,)
p = probabilities(logits)
order = np.argsort(-p)
print(f"after {prompt!r}:", ", ".join(f"{tok.decode([int(i)])!r} {p[i]:.3f}" for i in order[:8]))

# %% [markdown]
# ## Step 3: temperature
#
# Dividing the logits by a temperature $\tau > 0$ before the softmax,
#
# $$p_i(\tau) = \frac{e^{z_i/\tau}}{\sum_j e^{z_j/\tau}},$$
#
# keeps the order of the tokens but changes how sharp the distribution is: $\tau < 1$
# exaggerates the gaps (as $\tau \to 0$ all mass goes to the argmax, which is greedy
# decoding), $\tau > 1$ flattens them (as $\tau \to \infty$ the distribution becomes uniform).
# Its entropy $H = -\sum_i p_i \ln p_i$ grows with $\tau$.

# %% [markdown]
# ### Exercise 11.1 — Softmax with a temperature
# Write `softmax_t(z, tau)` returning the probabilities $p(\tau)$ for a 1-D array of logits.
# It must be stable for large logits (subtract the maximum first).

# %%
def softmax_t(z, tau):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def softmax_t_solution(z, tau):
    u = np.asarray(z, dtype=np.float64) / tau
    e = np.exp(u - u.max())
    return e / e.sum()


# %%
check("11.1", softmax_t, softmax_t_solution,
      test=lambda f: bool(np.allclose(f(logits, 1.0), p)
                          and np.allclose(f(logits, 0.5), probabilities(logits / 0.5))
                          and np.allclose(f(np.array([1000.0, 1000.0]), 2.0), [0.5, 0.5])),
      hint="divide by tau, subtract the max, exponentiate, normalise.")

# %%
plt = pyplot()
temperatures = (0.5, 1.0, 2.0)
top = order[:10]
fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), sharey=True)
for ax, tau in zip(axes, temperatures):
    q = softmax_t_solution(logits, tau)
    entropy = -(q * np.log(q)).sum()
    ax.bar([repr(tok.decode([int(i)])) for i in top], q[top])
    ax.set_title(f"temperature {tau}: entropy {entropy:.2f} nats")
    ax.set_xlabel(f"next character after {prompt!r}")
axes[0].set_ylabel("probability")
fig.tight_layout()
print("saved", show(fig, "11_temperature.png"))

# %% [markdown]
# ## Step 4: top-k and top-p
#
# Temperature cannot remove the long tail: every one of the V tokens keeps some probability,
# and over hundreds of steps an unlucky draw from the tail is certain. Two filters cut it off
# before sampling (and renormalise what is left):
#
# - **top-k** keeps the $k$ largest logits and sets the others to $-\infty$;
# - **top-p** (nucleus) keeps the smallest set $S$ of most likely tokens with
#   $\sum_{i \in S} p_i \ge p$. Where the model is sure, that is one or two tokens; where it
#   hesitates, many. The cut adapts to the distribution, which a fixed $k$ cannot.

# %%
for name, z in [("plain", logits), ("top-k 3", top_k_filter(logits, 3)),
                ("top-p 0.9", top_p_filter(logits, 0.9)), ("top-p 0.5", top_p_filter(logits, 0.5))]:
    kept, pz = np.isfinite(z), probabilities(z)
    print(f"{name:>9}: {kept.sum():2d} tokens kept:",
          ", ".join(f"{tok.decode([int(i)])!r} {pz[i]:.2f}" for i in order if kept[i])[:90])

# %% [markdown]
# To see the effect on text rather than on one distribution, sample 32 sentences with each
# setting (one batch) and measure two things: the share of generated words that are real
# words of the training text (quality) and the share of distinct sentences (diversity).
# Greedy decoding is deterministic, so from one prompt it writes one sentence 32 times.

# %%
vocabulary = set(text.split())
starts = np.array([tok.encode("\n")] * 32)  # (32, 1): every sentence starts after a newline
strategies = {"greedy": dict(greedy=True), "T=0.5": dict(temperature=0.5),
              "T=1.0": dict(temperature=1.0), "T=1.5": dict(temperature=1.5),
              "top-k 3": dict(top_k=3), "top-p 0.9": dict(top_p=0.9)}
table = {}
for name, settings in strategies.items():
    rows = tg.generate(model, starts, 40, seed=0, **settings)  # (32, 41)
    sentences = [tok.decode(r[1:].tolist()).split("\n")[0].strip() for r in rows]
    words = [w for s in sentences for w in s.split()]
    table[name] = (np.mean([w in vocabulary for w in words]) if words else 0.0,
                   len(set(sentences)) / len(sentences))
    print(f"{name:>9}: real words {table[name][0]:4.0%}, distinct sentences {table[name][1]:4.0%}"
          f" | {sentences[1]!r}")

# %% [markdown]
# ## Step 5: the probability of a sequence
#
# By the chain rule of probability a whole continuation $x_{T_0+1..T}$ of a prompt of $T_0$
# tokens has
#
# $$\ln P(x_{T_0+1..T} \mid x_{1..T_0}) = \sum_{t=T_0}^{T-1} \ln \text{softmax}(z_t)_{x_{t+1}},$$
#
# where $z_t$ are the logits at position $t$ (0-based positions: the logits at position $t$
# predict token $t + 1$). One forward pass over the whole sequence gives all the terms.

# %% [markdown]
# ### Exercise 11.2 — Score a continuation
# Write `continuation_logprob(model, ids, start)`: for a 1-D array of token ids and a prompt
# length `start`, return the summed log-probability of `ids[start:]` as a float. Use one
# forward pass, `model(ids[None])[0].data`, a (1, T, V) array of logits.

# %%
def continuation_logprob(model, ids, start):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def continuation_logprob_solution(model, ids, start):
    with tg.no_grad():
        z = model(np.asarray(ids)[None])[0].data[0].astype(np.float64)  # (T, V)
    m = z.max(-1, keepdims=True)
    log_p = z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))  # (T, V) log-softmax
    # position t predicts token t + 1: rows start-1 .. T-2 score tokens start .. T-1
    return float(log_p[np.arange(start - 1, len(ids) - 1), ids[start:]].sum())


# %%
sample = tg.generate(model, tok.encode("the "), 12, seed=1)  # (4 + 12,)
check("11.2", continuation_logprob, continuation_logprob_solution,
      test=lambda f: bool(np.isclose(f(model, sample, 4), tg.score(model, sample, start=4)[0],
                                     atol=1e-3)),
      hint="log-softmax the logits; the logits at position t score the token at t + 1.")

# %% [markdown]
# ## Step 6: greedy, beam search and the truly best continuation
#
# Greedy decoding takes the argmax at every step. It is not the most likely *sequence*: a
# token with a slightly lower probability now may lead to much likelier tokens later. The
# best sequence of $n$ tokens is one of $V^n$, too many to try for long $n$. **Beam search**
# keeps the $k$ best partial sequences ("beams"): at each step it extends each of them by
# every token, scores the $kV$ candidates by their summed log-probability and keeps the best
# $k$. With $k = 1$ it is greedy; with $k \ge V^{n-1}$ it is exhaustive. For $n = 2$ we can
# afford exhaustive search: all $V^2$ pairs in one batched forward pass.

# %% [markdown]
# ### Exercise 11.3 — The best two tokens, exhaustively
# Write `best_pair(model, prompt_ids)` returning the two token ids $(a, b)$ that maximise
# $\ln P(a \mid \text{prompt}) + \ln P(b \mid \text{prompt}, a)$. Hint: build all $V^2$
# continuations as one (V², T0 + 2) batch and score it with `tg.score(model, batch,
# start=T0)`, which returns one log-likelihood per row.

# %%
def best_pair(model, prompt_ids):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def best_pair_solution(model, prompt_ids):
    V, T0 = model.config.vocab_size, len(prompt_ids)
    a, b = np.divmod(np.arange(V * V), V)  # every pair, (V^2,) each
    batch = np.concatenate([np.tile(prompt_ids, (V * V, 1)), a[:, None], b[:, None]], axis=1)
    log_likelihood, _ = tg.score(model, batch, start=T0)  # (V^2,)
    best = int(np.argmax(log_likelihood))
    return int(a[best]), int(b[best])


# %%
prompt_ids = np.array(tok.encode("two chi"))
check("11.3", best_pair, best_pair_solution,
      test=lambda f: tuple(f(model, prompt_ids))
      == tuple(tg.beam_search(model, prompt_ids, 2, num_beams=V)[0][0, -2:].tolist()),
      hint="np.divmod(np.arange(V * V), V) lists every pair; score them all in one batch.")

# %%
n_new = 10 if QUICK else 24
greedy = tg.generate(model, prompt_ids, n_new, greedy=True)
greedy_logp = tg.score(model, greedy, start=len(prompt_ids))[0]
print(f"greedy      : {tok.decode(greedy.tolist())!r}  log p = {greedy_logp:.3f}")
beams = {}
for k in (2, 4, 8):
    seqs, scores = tg.beam_search(model, prompt_ids, n_new, num_beams=k, length_penalty=0.0)
    beams[k] = float(scores[0])
    print(f"beam, k = {k} : {tok.decode(seqs[0].tolist())!r}  log p = {scores[0]:.3f}")

# %% [markdown]
# Beam search usually beats greedy on log-probability (it is not guaranteed to: it prunes too).
# Notice also what the likeliest text looks like: short, common, safe words. The most probable
# sequence is rarely the most natural one, which is why chat models sample with top-p rather
# than run beam search; beam search shines where one right answer exists, as in translation.

# %% [markdown]
# ## Step 7: the KV cache
#
# Generating $n$ tokens naively runs the model on the whole context for every new token. At
# step $t$ that is $t$ positions of work, of which only the last one is new: the keys and
# values of positions $1..t-1$ are the same as at the previous step, because of the causal
# mask (nothing earlier depends on anything later). The total cost is
# $\sum_{t=1}^{n} t \approx n^2/2$ position-passes. A **KV cache** stores every layer's keys
# and values, shape (B, nh, T, hs) per layer, and feeds the model only the new token: its query
# attends to the cached keys, and its own key and value are appended. The cost falls to
# $n$ position-passes, and the tokens are exactly the same. Measure it on a bigger,
# untrained model (speed does not depend on the weights):

# %%
big = tg.GPT(tg.GPTConfig(vocab_size=65, block_size=256, n_layer=4, n_head=4, n_embd=128))
n_tokens = 40 if QUICK else 200
timings, tokens = {}, {}
for use_cache in (True, False):
    t0 = time.perf_counter()
    tokens[use_cache] = tg.generate(big, [0], n_tokens, greedy=True, use_cache=use_cache)
    timings[use_cache] = time.perf_counter() - t0
speedup = timings[False] / timings[True]
print(f"{n_tokens} tokens: with the cache {n_tokens / timings[True]:.0f} tokens/s, without "
      f"{n_tokens / timings[False]:.0f} tokens/s, {speedup:.1f}x (a measurement: it varies "
      "from run to run and machine to machine)")
print("the same tokens with and without the cache:", np.array_equal(tokens[True], tokens[False]))

# %%
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["no cache", "KV cache"], [n_tokens / timings[False], n_tokens / timings[True]])
ax.set_ylabel("tokens / s")
ax.set_title(f"greedy generation of {n_tokens} tokens, 4 layers, C = 128")
fig.tight_layout()
print("saved", show(fig, "11_kv_cache.png"))

# %% [markdown]
# ## Summary
#
# - Temperature sharpens ($\tau < 1$) or flattens ($\tau > 1$) the next-token distribution;
#   top-k and top-p cut off its tail, top-p adaptively.
# - Low temperature and greedy decoding give real words but repeat themselves; high
#   temperature gives variety and misspellings. The table above puts numbers on both.
# - A sequence's log-probability is a sum of next-token log-probabilities; beam search looks
#   for the likeliest sequence with $k$ beams, and $k = V$ is exhaustive for two tokens.
# - A KV cache turns $O(n^2)$ work into $O(n)$ without changing a single token.
#
# Next: assignment 5, task 5.3 (top-k), task 5.4 (top-p) and task 5.5 (the KV cache).

# %%
assert np.array_equal(tokens[True], tokens[False])
assert table["greedy"][1] == 1 / 32  # one prompt, one greedy sentence
print(f"real words: greedy {table['greedy'][0]:.0%}, T=1.0 {table['T=1.0'][0]:.0%}, top-p 0.9 "
      f"{table['top-p 0.9'][0]:.0%}; beam (k=8) log p {beams[8]:.3f} vs greedy "
      f"{greedy_logp:.3f}; KV cache {speedup:.1f}x (measured). Lesson 11 done.")
