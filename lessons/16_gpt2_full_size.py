# %% [markdown]
# # Lesson 16 — GPT-2 at full size
#
# **This lesson's full run takes longer than the others' 60 s**: about a minute or two on 2
# cores, and about 2.5 GB of memory, because it builds and trains the real 124M-parameter
# shapes. `--quick` runs the same steps on a 2-layer model of the same vocabulary in
# seconds.

# %% [markdown]
# Everything so far ran on models of about 100,000 parameters. The model the seed article's
# recipe ends with, and the one students meet next, is GPT-2: the same architecture as our
# `GPT`, only wider and deeper. In this lesson we build it at full size — with the weights
# OpenAI released when you have them, with random weights of the same shapes otherwise —
# and measure what size costs: parameters, memory, the time of a training step, and the
# speed of generation. Pass a Hugging Face GPT-2 directory (`config.json`,
# `model.safetensors`, tokenizer files) as the first argument, or set `GPT2_DIR`, and the
# lesson loads the real model and lets it write.

# %% [markdown]
# ## What you will learn
#
# - where GPT-2's 124,439,808 parameters are: a closed form in V, the context length, the
#   number of layers L and the width C, checked against the model;
# - what memory training needs beyond the weights (gradients and AdamW's two moments), and
#   how big the KV cache of generation grows;
# - how long one training step and one generated token take at this size on a CPU, measured
#   and printed (never asserted: the numbers belong to the machine);
# - how to load a pre-trained Hugging Face directory with `tinygrad_lm.from_pretrained` and
#   sample from it.
#
# Why it matters: scale is the other half of the story of language models. Knowing how the
# cost of a model follows from its shape lets you plan a run before you start it.

# %%
import os
import resource
import sys
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import QUICK, check, in_notebook
from tinygrad_lm.training import optim

started = time.perf_counter()

# %% [markdown]
# ## The shapes
#
# GPT-2 small: $V = 50257$ tokens, a context of $N = 1024$ positions, $L = 12$ blocks,
# $n_h = 12$ heads of $hs = 64$ channels, $C = n_h \cdot hs = 768$. A batch of token ids
# (B, T) becomes (B, T, C) after the embeddings, stays (B, T, C) through every block, and
# becomes (B, T, V) logits through the head tied to the token embedding.

# %%
GPT2_SMALL = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
shapes = dict(GPT2_SMALL, n_layer=2, n_head=4, n_embd=128, block_size=256) if QUICK \
    else GPT2_SMALL
print("shapes used here:", shapes)

# %% [markdown]
# ## Counting parameters
#
# One block holds two LayerNorms ($2 \cdot 2C$), the attention's fused q|k|v projection
# ($C \cdot 3C + 3C$) and output projection ($C \cdot C + C$), and the MLP's expansion
# ($C \cdot 4C + 4C$) and projection ($4C \cdot C + C$): $12C^2 + 13C$ in all. Around the
# blocks: the token embedding $V C$ (also the head, tied), the position embedding $N C$ and
# the final LayerNorm $2C$:
#
# $$P = VC + NC + L\,(12C^2 + 13C) + 2C .$$
#
# For GPT-2 small the blocks hold 85M parameters and the token embedding 38.6M: almost a
# third of the model is its vocabulary.

# %% [markdown]
# ### Exercise 16.1 — The closed form
# Write `gpt2_parameters(V, N, L, C)` returning P.

# %%
def gpt2_parameters(V, N, L, C):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def gpt2_parameters_solution(V, N, L, C):
    return V * C + N * C + L * (12 * C * C + 13 * C) + 2 * C


# %%
def _test_params(f):
    small = tg.GPT(tg.GPTConfig(vocab_size=11, block_size=7, n_layer=2, n_head=2, n_embd=8))
    return (f(11, 7, 2, 8) == small.num_parameters()
            and f(50257, 1024, 12, 768) == 124_439_808  # GPT-2 small
            and f(50257, 1024, 24, 1024) == 354_823_168)  # GPT-2 medium


check("16.1", gpt2_parameters, gpt2_parameters_solution, test=_test_params,
      hint="Per block 12 C^2 + 13 C (count weights and biases of the four Linears and two "
           "LayerNorms); add V C, N C and the final LayerNorm's 2 C.")

# %% [markdown]
# ## Building it
#
# Random weights, drawn as GPT-2 and nanoGPT draw them ($\mathcal{N}(0, 0.02^2)$, the
# projections into the residual stream scaled down by $1/\sqrt{2L}$). Drawing 124M normal
# numbers is itself a measurable cost.

# %%
def peak_memory_mb():
    """The process's peak resident memory so far (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2 ** 20


config = tg.GPTConfig(**shapes)
t0 = time.perf_counter()
model = tg.GPT(config, seed=0)
build_s = time.perf_counter() - t0
n_params = model.num_parameters()
weight_mb = sum(p.data.nbytes for p in model.parameters()) / 2 ** 20
print(f"{n_params:,} parameters, built in {build_s:.1f} s; weights {weight_mb:.0f} MiB "
      f"(float32); peak memory so far {peak_memory_mb():.0f} MiB")

# %% [markdown]
# ## Memory for training
#
# Training in float32 keeps, per parameter, the weight, its gradient and AdamW's two moment
# estimates $m$ and $v$: 16 bytes, about 2 GB for GPT-2 small before a single activation is
# stored. Activations add roughly $B \cdot T \cdot C$ floats per saved tensor per layer (a
# few dozen per block), plus the attention's $B \cdot n_h \cdot T^2$ and the logits'
# $B \cdot T \cdot V$; with the small batch below they are the minor part.
#
# For generation, the KV cache stores every layer's keys and values for every position so
# far: $2 \cdot L \cdot B \cdot n_h \cdot T \cdot hs$ numbers, growing with the text.

# %% [markdown]
# ### Exercise 16.2 — The size of the KV cache
# Write `kv_cache_bytes(L, B, nh, T, hs, itemsize=4)`: the bytes a full cache of T positions
# takes.

# %%
def kv_cache_bytes(L, B, nh, T, hs, itemsize=4):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def kv_cache_bytes_solution(L, B, nh, T, hs, itemsize=4):
    return 2 * L * B * nh * T * hs * itemsize


# %%
def _test_kv(f):
    c = config
    cache = model.new_kv_cache(2)  # preallocated for block_size positions
    real = sum(a.nbytes for a in cache.k + cache.v)
    return f(c.n_layer, 2, c.n_head, c.block_size, c.n_embd // c.n_head) == real


check("16.2", kv_cache_bytes, kv_cache_bytes_solution, test=_test_kv,
      hint="Keys and values (2), for each layer, batch row, head, position and channel.")

# %%
c = config
print(f"training state (weights, grads, m, v): {16 * n_params / 2 ** 30:.2f} GiB")
full_cache = kv_cache_bytes_solution(c.n_layer, 1, c.n_head, c.block_size, c.n_embd // c.n_head)
print(f"KV cache for one sequence of {c.block_size} tokens: {full_cache / 2 ** 20:.1f} MiB")

# %% [markdown]
# ## A training step
#
# Batch 4 × 64 tokens of random ids (the data does not change the cost), AdamW. The first
# step also compiles kernels and allocates the optimizer's moments, so we time it apart
# from the next ones. A step costs about $6 P$ floating-point operations per token
# (2 for the forward matmuls, 4 for the backward), which gives a rough achieved GFLOP/s.

# %%
B, T = 4, 64
rng = np.random.default_rng(0)
opt = optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
times, losses = [], []
for _ in range(2 if QUICK else 3):
    x = rng.integers(0, c.vocab_size, (B, T + 1))
    t0 = time.perf_counter()
    _, loss = model(x[:, :-1], x[:, 1:])
    opt.zero_grad()
    loss.backward()
    opt.step()
    times.append(time.perf_counter() - t0)
    losses.append(loss.item())
step_s = min(times[1:])
print(f"step times {[round(t, 2) for t in times]} s; first loss {losses[0]:.3f} "
      f"(ln V = {np.log(c.vocab_size):.3f})")
print(f"one step of {B}x{T} tokens: {step_s:.2f} s = {B * T / step_s:.0f} tokens/s, "
      f"~{6 * n_params * B * T / step_s / 1e9:.0f} GFLOP/s; peak memory {peak_memory_mb():.0f} MiB")

# %% [markdown]
# ## Generation, with and without the KV cache
#
# Each new token needs one forward pass. Without a cache the pass re-reads the whole
# prefix, $O(T)$ work per token; with it, only the new position's queries meet the cached
# keys and values. Same greedy tokens either way — that fact we assert; the speeds we only
# print.

# %%
model.eval()
prompt = rng.integers(0, c.vocab_size, (1, 8))
n_new = 8 if QUICK else 24
speeds, outputs = {}, {}
for use_cache in (True, False):
    t0 = time.perf_counter()
    outputs[use_cache] = tg.generate(model, prompt, n_new, greedy=True, use_cache=use_cache)
    speeds[use_cache] = n_new / (time.perf_counter() - t0)
print(f"greedy generation: {speeds[True]:.1f} tokens/s with the KV cache, "
      f"{speeds[False]:.1f} without")

# %% [markdown]
# ## The real GPT-2
#
# With random weights the model predicts every token with probability about $1/V$ (the
# first loss above is close to $\ln V \approx 10.8$) and writes noise. OpenAI's weights make
# the same arrays write English. `tinygrad_lm.from_pretrained(path)` reads a Hugging Face
# directory — the config, the safetensors weights, the tokenizer — and returns
# `(model, tokenizer)`. To get one, on a machine with network access:
# `huggingface-cli download openai-community/gpt2 --local-dir gpt2`, then run
# `python lessons/16_gpt2_full_size.py gpt2`.

# %%
arguments = [] if in_notebook() else [a for a in sys.argv[1:] if not a.startswith("-")]
hf_dir = next((p for p in arguments + [os.environ.get("GPT2_DIR", "")] if p), None)
pretrained_loss = None
if hf_dir is None:
    print("no GPT-2 directory given (argument or GPT2_DIR): the pre-trained part is skipped")
else:
    t0 = time.perf_counter()
    gpt2, gpt2_tok = tg.from_pretrained(hf_dir)
    print(f"loaded {hf_dir}: {gpt2.num_parameters():,} parameters in "
          f"{time.perf_counter() - t0:.1f} s")
    text = "The meaning of life is"
    ids = np.array([gpt2_tok.encode(text)])
    out = tg.generate(gpt2, ids, 20, greedy=True)
    print("greedy continuation:", repr(gpt2_tok.decode(out[0].tolist())))
    sentence = np.array([gpt2_tok.encode("The capital of France is Paris, and the capital "
                                         "of Germany is Berlin.")])
    with tg.no_grad():
        pretrained_loss = gpt2(sentence[:, :-1], sentence[:, 1:])[1].item()
    print(f"loss on a plain English sentence: {pretrained_loss:.2f} nats/token "
          f"(random weights: about {np.log(c.vocab_size):.1f})")

# %% [markdown]
# ## Summary
#
# - GPT-2 small is our GPT with $V = 50257$, $N = 1024$, $L = 12$, $C = 768$:
#   $P = VC + NC + L(12C^2 + 13C) + 2C = 124{,}439{,}808$, a third of it the vocabulary.
# - Training state is 16 bytes per parameter in float32 (weight, gradient, two AdamW
#   moments); the KV cache grows as $2 L B n_h T\, hs$.
# - On 2 CPU cores a step of 256 tokens takes seconds and greedy decoding produces tokens
#   per second — enough to study and fine-tune the model, not to pre-train it: that is what
#   GPU clusters and the engines that scale (PyTorch, nanoGPT) are for.
#
# Next: assignment 5, task 5.5 (`KVCache.append`, the cache that made generation fast here).

# %%
assert n_params == gpt2_parameters_solution(c.vocab_size, c.block_size, c.n_layer, c.n_embd)
assert np.array_equal(outputs[True], outputs[False]), "the KV cache must not change the tokens"
assert abs(losses[0] - np.log(c.vocab_size)) < 0.5, "random weights predict about 1/V"
if pretrained_loss is not None and gpt2.config.tie_weights:
    g = gpt2.config
    assert gpt2.num_parameters() == gpt2_parameters_solution(g.vocab_size, g.block_size,
                                                             g.n_layer, g.n_embd)
print(f"{n_params:,} parameters; a {B}x{T} training step {step_s:.2f} s; generation "
      f"{speeds[True]:.1f} tokens/s with the KV cache ({time.perf_counter() - started:.0f} s). "
      "Lesson 16 done.")
