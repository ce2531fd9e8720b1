# %% [markdown]
# # Lesson 4 — Fast kernels
#
# The engine's ops are written in NumPy first, because NumPy reads like the math. Some of
# them are then written a second time as compiled Numba loops, because NumPy makes a new
# array for every step. This lesson follows one op, the softmax of attention scores, from the
# math to a compiled kernel, and measures what the second version buys.

# %% [markdown]
# ## What you will learn
#
# - The *stable softmax*: why subtracting the row maximum changes nothing mathematically and
#   everything numerically.
# - Why a chain of NumPy operations is slow on large arrays (each step is a trip through
#   memory), and how a *fused* kernel reads its input once and writes its output once.
# - How Numba compiles a plain Python loop to machine code, and why every kernel in
#   tinygrad_lm comes in a pair: the NumPy reference is the specification, the compiled twin
#   must equal it, and `tg.use_backend` switches between them.
# - Where the time of a whole training step goes, measured with `tg.profile()`.
#
# Why it matters: assignment 3 asks you to write these kernels, and "fast" only counts once
# "equal" is proven. Speeds here are measurements on your machine: printed, never asserted.

# %%
import time

import numpy as np
from numba import njit

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.kernels import reference
from tinygrad_lm.training import optim

rng = np.random.default_rng(0)


def best_time(fn, repeats):
    """The fastest of `repeats` runs, in seconds: the least disturbed by other programs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


repeats = 3 if QUICK else 15

# %% [markdown]
# ## The stable softmax
#
# The softmax turns a row of scores $x_1, \dots, x_n$ into probabilities,
# $y_i = e^{x_i} / \sum_j e^{x_j}$. For any constant $c$,
#
# $$\frac{e^{x_i - c}}{\sum_j e^{x_j - c}} = \frac{e^{-c} e^{x_i}}{e^{-c} \sum_j e^{x_j}}
#   = \frac{e^{x_i}}{\sum_j e^{x_j}},$$
#
# so we may pick $c = \max_j x_j$. Then every exponent is $\le 0$ (no overflow) and the
# largest term is exactly $e^0 = 1$ (the sum is at least 1, no division by zero). Without the
# shift, a score of 1000 overflows float64 ($e^{1000} = \infty$), and a score of 100 already
# overflows float32.

# %%
x = np.array([1000.0, 999.0, 990.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(x) / np.exp(x).sum()
print("naive :", naive)

# %% [markdown]
# ### Exercise 4.1 — A stable softmax in NumPy
# Write `stable_softmax(x)`: the softmax over the last axis of an array of any shape,
# subtracting each row's maximum first (`keepdims=True` keeps the shapes broadcastable).

# %%
def stable_softmax(x):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def stable_softmax_solution(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))  # every exponent <= 0
    return e / e.sum(axis=-1, keepdims=True)


# %%
def _softmax_ok(f):
    big = np.array([[1000.0, 999.0, 990.0], [-5.0, 0.0, 5.0]])
    batch = rng.standard_normal((2, 3, 7)) * 30
    return bool(np.all(np.isfinite(f(big)))
                and np.allclose(f(big), reference.softmax_forward(big))
                and np.allclose(f(batch), reference.softmax_forward(batch)))


check("4.1", stable_softmax, stable_softmax_solution, test=_softmax_ok,
      hint="Subtract x.max(axis=-1, keepdims=True) before np.exp, then divide by the row sum.")
print("stable:", stable_softmax_solution(x))

# %% [markdown]
# ## The reference: readable, and a trip through memory per step
#
# In attention (lesson 7) the softmax runs over scores of shape $(B \cdot n_h, T, T)$, after
# a scale $1/\sqrt{h_s}$ and a *causal mask* that hides the future (score $-\infty$ where key
# $j > $ query $i$). `reference.softmax_forward` does it in NumPy, one whole-array step at a
# time: scale, mask, max, subtract, exp, sum, divide. Each step reads a full array and writes
# a new one. Once the array is larger than the CPU's caches, those trips to main memory, not
# the arithmetic, set the speed.

# %%
shape = (8, 64, 64) if QUICK else (48, 128, 128)  # (B*nh, T, T) attention scores
scores = rng.standard_normal(shape).astype(np.float32)
scale = 1 / np.sqrt(16)
steps = {
    "scale": lambda: scores * scale,
    "mask": lambda: np.where(reference.causal_mask(shape[1], shape[2]), -np.inf, scores),
    "max": lambda: scores.max(-1, keepdims=True),
    "exp": lambda: np.exp(scores),
    "normalise": lambda: scores / scores.sum(-1, keepdims=True),
}
step_times = {name: best_time(fn, repeats) for name, fn in steps.items()}
t_ref = best_time(lambda: reference.softmax_forward(scores, scale, True), repeats)
print(f"reference softmax on {shape}: {t_ref * 1e3:.2f} ms; its pieces: " +
      ", ".join(f"{k} {v * 1e3:.2f}" for k, v in step_times.items()))

# %% [markdown]
# ## A fused kernel: one row at a time
#
# A fused kernel loops over rows, and for each row makes three passes over $T$ numbers that
# stay in the fastest cache: (1) the maximum of the scaled, unmasked scores; (2) the
# exponentials and their sum; (3) the division. Written in plain Python these loops would be
# a thousand times slower than NumPy; Numba's `@njit` compiles them to machine code on the
# first call. The function stays ordinary Python, so with `NUMBA_DISABLE_JIT=1` in the
# environment you can step through it in a debugger.

# %% [markdown]
# ### Exercise 4.2 — A softmax kernel in loops
# Write `softmax_rows(x, out)` for a 2-D float array: fill `out[r]` with the softmax of row
# `x[r]` using explicit `for` loops and the three passes above (`np.exp` and `max` on single
# numbers are fine; `-np.inf` starts a maximum). The check compiles it with `njit` and compares
# it with the reference.

# %%
def softmax_rows(x, out):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def softmax_rows_solution(x, out):
    rows, n = x.shape
    for r in range(rows):
        m = -np.inf
        for j in range(n):  # pass 1: the row maximum
            m = max(m, x[r, j])
        total = 0.0
        for j in range(n):  # pass 2: exponentials (all exponents <= 0) and their sum
            e = np.exp(x[r, j] - m)
            out[r, j] = e
            total += e
        for j in range(n):  # pass 3: normalise
            out[r, j] /= total


# %%
def _kernel_ok(f):
    compiled = njit(f)
    x2 = rng.standard_normal((37, 53)) * 20
    out = np.empty_like(x2)
    compiled(x2, out)
    return bool(np.allclose(out, reference.softmax_forward(x2)))


check("4.2", softmax_rows, softmax_rows_solution, test=_kernel_ok,
      hint="For each row r: m = max over j; e = exp(x[r, j] - m) into out, summed; then divide.")

# %% [markdown]
# The engine's Numba backend does the same, with the scale and the causal mask fused into
# pass 1 and the rows shared between threads. Switch to it with `tg.use_backend("numba")`,
# which hands back the backend module; its functions have the reference's signatures.
# The first call compiles (or loads the compiled code from Numba's cache).

# %%
with tg.use_backend("numba") as nb:
    fast = nb.softmax_forward(scores, scale, True)
slow = reference.softmax_forward(scores, scale, True)
t_nb = best_time(lambda: nb.softmax_forward(scores, scale, True), repeats)
print(f"max |numba - reference| = {float(np.abs(fast - slow).max()):.1e}")
print(f"reference {t_ref * 1e3:.2f} ms, numba {t_nb * 1e3:.2f} ms: {t_ref / t_nb:.1f}x")

plt = pyplot()
fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(step_times) + ["reference (all)", "numba fused"]
values = [v * 1e3 for v in step_times.values()] + [t_ref * 1e3, t_nb * 1e3]
ax.barh(names, values, color=["tab:blue"] * len(step_times) + ["tab:purple", "tab:green"])
ax.invert_yaxis()
ax.set_xlabel("milliseconds (best of several runs)")
ax.set_title(f"causal softmax on {shape} float32")
show(fig, "04_softmax_times.png")

# %% [markdown]
# ## Where a training step's time goes
#
# A fast softmax matters only if softmax is where the time goes. `tg.profile()` times the
# forward and backward of every op during a few training steps of a small GPT and groups them
# by op; the rest of the wall time is Python, autograd bookkeeping and the optimizer. Matmuls
# dominate, which is why the engine fuses what it can around them (attention in one op, the
# MLP's expansion with its GELU) and splits the large kernels over the cores itself.
# `tg.kernels.use_threads(1)` shows what the threads are worth on this machine. Splitting has
# a price, and the table's last lines (when anything was split) count it: the core time left
# idle inside split kernels, while a sleeping worker wakes up to take its share, and while a
# share that finished first waits for the last one.

# %%
cfg = tg.GPTConfig(vocab_size=65, block_size=32 if QUICK else 64, n_layer=2 if QUICK else 4,
                   n_head=4, n_embd=64 if QUICK else 128)
model = tg.GPT(cfg, seed=0)
opt = optim.AdamW(model.parameters(), lr=1e-3)
ids = rng.integers(0, 65, (8 if QUICK else 16, cfg.block_size))  # (B, T)


def train_step():
    _, loss = model(ids, ids)
    opt.zero_grad()
    loss.backward()
    opt.step()


train_step()  # warm up: compiles or loads the kernels
with tg.profile() as prof:
    for _ in range(3):
        train_step()
print(prof.table())
step_ms = {}
for n in (1, tg.kernels.num_threads()):
    with tg.kernels.use_threads(n):
        train_step()
        step_ms[n] = best_time(train_step, 2 if QUICK else 5) * 1e3
print("training step:", ", ".join(f"{ms:.1f} ms on {n} thread(s)" for n, ms in step_ms.items()))

# %% [markdown]
# ## Summary
#
# - Softmax is shift-invariant, so subtracting the row max costs nothing and removes overflow.
# - A chain of NumPy steps makes a full trip through memory per step; a fused kernel makes
#   three passes over a row that stays in cache.
# - Numba compiles plain loops; each compiled kernel has a NumPy twin that specifies it and a
#   test that they agree, and `tg.use_backend` picks one.
# - Measure before optimising: in a training step the matmuls dominate.
#
# Next: assignment 3, task 3.1 (the engine's Numba softmax with scale and causal mask), then
# task 3.2, its backward.

# %%
assert not np.all(np.isfinite(naive)) and np.all(np.isfinite(stable_softmax_solution(x)))
assert np.allclose(fast, slow, atol=1e-6)
assert prof.by_class()["matmul"] > 0 and prof.wall > 0
print(f"numba softmax equals the reference ({t_ref / t_nb:.1f}x its speed here). "
      "Lesson 4 done.")
