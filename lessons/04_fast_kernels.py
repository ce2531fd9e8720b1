# %% [markdown]
# # Lesson 4 — Fast kernels
#
# **Goal:** compare the NumPy reference softmax with the Numba kernel the engine runs by
# default: the same numbers, measured speed, the stable-softmax trick, and why fusing pays.

# %%
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.kernels import reference
from tinygrad_lm.lessons import QUICK, pyplot, show

# %% [markdown]
# ## The stable-softmax trick
# softmax(x) = exp(x) / sum(exp(x)) overflows for x = 1000 (exp(1000) = inf). Since
# softmax(x - c) = softmax(x) for any c, subtract the row max: every exponent is <= 0.

# %%
x = np.array([1000.0, 999.0, 990.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(x) / np.exp(x).sum()
stable = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
print("naive :", naive)
print("stable:", stable)

# %% [markdown]
# ## Same signature, two implementations
# `tinygrad_lm.kernels.reference` is plain NumPy; the "numba" backend compiles loops that make
# one pass per row for the max, one for exp and the sum, one to normalise, with the attention
# scale and the causal mask fused in. The backend is switched with `use_backend`.

# %%
rng = np.random.default_rng(0)
shape = (8, 64, 64) if QUICK else (48, 128, 128)  # (B*nh, T, T) attention scores
scores = rng.standard_normal(shape).astype(np.float32)
scale = 1 / np.sqrt(16)
with tg.use_backend("numba") as nb:
    fast = nb.softmax_forward(scores, scale, True)  # first call compiles (or loads the cache)
slow = reference.softmax_forward(scores, scale, True)
print("max difference numba vs reference:", float(np.abs(fast - slow).max()))


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


repeats = 3 if QUICK else 20
t_ref = best_time(lambda: reference.softmax_forward(scores, scale, True), repeats)
t_nb = best_time(lambda: nb.softmax_forward(scores, scale, True), repeats)
print(f"reference {t_ref * 1e3:.2f} ms, numba {t_nb * 1e3:.2f} ms: {t_ref / t_nb:.1f}x faster")

# %% [markdown]
# ## Why fusing pays
# The reference makes a new temporary array for each step (scale, mask, subtract max, exp,
# divide): each one is a full trip through memory. The fused kernel reads the scores once and
# writes the result once. Timing the composed steps one by one shows where the time goes.

# %%
steps = {
    "scale": lambda: scores * scale,
    "mask": lambda: np.where(reference.causal_mask(shape[1], shape[2]), -np.inf, scores),
    "max": lambda: scores.max(-1, keepdims=True),
    "exp": lambda: np.exp(scores),
    "normalise": lambda: scores / scores.sum(-1, keepdims=True),
}
step_times = {name: best_time(fn, repeats) for name, fn in steps.items()}
plt = pyplot()
fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(step_times) + ["numba fused"]
values = [v * 1e3 for v in step_times.values()] + [t_nb * 1e3]
ax.barh(names, values, color=["tab:blue"] * len(step_times) + ["tab:green"])
ax.set_xlabel("ms")
ax.set_title(f"softmax pieces on {shape} float32")
fig.tight_layout()
show(fig, "04_softmax_times.png")

# %% [markdown]
# ## Where a training step's time goes
# `tg.profile()` times the forward and backward of every op and groups them by class; whatever
# is left of the wall time is Python, autograd bookkeeping and the optimizer. Matmuls dominate,
# which is why the engine fuses what it can around them (attention in one op, the MLP's
# expansion with its GELU) and splits them over the cores itself: it holds NumPy's BLAS to one
# thread and hands shares of each large kernel to a pool of its own. `use_threads(1)` shows
# what that is worth (BLAS then threads each matmul its own way).

# %%
from tinygrad_lm import optim  # noqa: E402

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
        step_ms[n] = best_time(train_step, repeats) * 1e3
print("training step:", ", ".join(f"{ms:.1f} ms on {n} thread(s)" for n, ms in step_ms.items()))

# %% [markdown]
# ## Check

# %%
assert np.all(np.isfinite(stable)) and not np.all(np.isfinite(naive))
assert np.allclose(fast, slow, atol=1e-6)
assert prof.by_class()["matmul"] > 0 and prof.wall > 0
print(f"numba softmax equals the reference and runs {t_ref / t_nb:.1f}x faster. Lesson 4 done.")
