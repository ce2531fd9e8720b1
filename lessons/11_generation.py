# %% [markdown]
# # Lesson 11 — Generation
#
# **Goal:** turn next-token distributions into text: greedy decoding, temperature, top-k,
# top-p (nucleus) sampling, beam search — and the KV cache, which makes each new token cost one
# position's work instead of a whole forward pass. We measure its speed-up.

# %%
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.config import make_config
from tinygrad_lm.lessons import QUICK, out_dir, pyplot, show
from tinygrad_lm.sampling import softmax, top_k_filter, top_p_filter
from tinygrad_lm.train import Trainer

# %% [markdown]
# ## A small trained model to generate from

# %%
steps = 40 if QUICK else 800
trainer = Trainer(make_config("grammar", [f"--max_iters={steps}", f"--lr_decay_iters={steps}",
                                          "--n_layer=2", "--n_embd=64", "--batch_size=16",
                                          "--progress=false", f"--out_dir={out_dir()}/11",
                                          "--n_examples=5000"]), log=lambda *a: None)
for _ in range(steps):
    trainer.train_step()
model, tok = trainer.model, trainer.tokenizer
prompt = tok.encode("the ")

# %% [markdown]
# ## What the filters do to one distribution

# %%
logits = np.array([2.0, 1.5, 0.5, 0.0, -1.0])
for name, z in [("plain", logits), ("T=0.5", logits / 0.5), ("T=2", logits / 2),
                ("top-k=2", top_k_filter(logits, 2)), ("top-p=0.8", top_p_filter(logits, 0.8))]:
    print(f"{name:>10}: {np.round(softmax(z), 3)}")

# %% [markdown]
# ## Decoding strategies

# %%
for name, kw in [("greedy", dict(greedy=True)), ("T=1.0", dict(temperature=1.0)),
                 ("T=0.6", dict(temperature=0.6)), ("top-k 3", dict(top_k=3)),
                 ("top-p 0.9", dict(top_p=0.9))]:
    ids = tg.generate(model, prompt, 40, seed=0, **kw)
    print(f"{name:>10}: {tok.decode(ids.tolist())!r}")
seqs, scores = tg.beam_search(model, prompt, 20, num_beams=4)
greedy = tg.generate(model, prompt, 20, greedy=True)
greedy_score = tg.score(model, greedy, start=len(prompt))[0]
print(f"beam search: {tok.decode(seqs[0].tolist())!r} log p = {scores[0]:.3f} "
      f"(greedy: {greedy_score:.3f})")

# %% [markdown]
# ## The KV cache, measured

# %%
n_new = 60 if QUICK else 200
big = tg.GPT(tg.GPTConfig(vocab_size=65, block_size=256, n_layer=4, n_head=4, n_embd=128))
timings, tokens = {}, {}
for use_cache in (True, False):
    t0 = time.perf_counter()
    tokens[use_cache] = tg.generate(big, [0], n_new, greedy=True, use_cache=use_cache)
    timings[use_cache] = time.perf_counter() - t0
speedup = timings[False] / timings[True]
# A timing is a measurement, not a fact: it is printed, never asserted (on a short run the two
# take about the same time and the ratio is noise). What must hold is that the cache changes
# nothing but the speed: both runs pick the same tokens.
print(f"{n_new} tokens: with cache {n_new / timings[True]:.0f} tok/s, without "
      f"{n_new / timings[False]:.0f} tok/s: {speedup:.1f}x (a measurement; it varies from run "
      "to run)")
plt = pyplot()
fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(["no cache", "KV cache"], [n_new / timings[False], n_new / timings[True]])
ax.set_ylabel("tokens / s")
ax.set_title(f"generating {n_new} tokens")
fig.tight_layout()
show(fig, "11_kv_cache.png")

# %% [markdown]
# ## Check

# %%
# The beam's score is the log-probability of its sequence. Beam search usually finds a more
# likely sequence than greedy decoding, though it is not guaranteed to (it prunes too).
beam_logp = tg.score(model, seqs[0], start=len(prompt))[0]
assert abs(scores[0] - beam_logp) < 1e-4
assert np.array_equal(tokens[True], tokens[False])
print(f"beam log p {scores[0]:.3f} vs greedy {greedy_score:.3f}; with and without the cache the "
      f"same {n_new} tokens. Lesson 11 done.")
