# %% [markdown]
# # Lesson 8 — The Transformer block
#
# **Goal:** LayerNorm (forward and backward), residual connections, and the two ways to place
# the norm: pre-LN (GPT-2, our default) and post-LN (the seed article's code). Then train both.

# %%
import numpy as np

import tinygrad_lm as tg
import tinygrad_lm.functional as F
from tinygrad_lm.config import make_config
from tinygrad_lm.lessons import QUICK, out_dir, pyplot, show
from tinygrad_lm.train import Trainer

# %% [markdown]
# ## LayerNorm
# y = (x - mean) / sqrt(var + eps) * w + b over the channels of each position. With
# xhat = (x - mean) * rstd and g = dy * w, the backward is
#
#     dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
#
# The two subtracted terms remove the parts of g that only shift or scale the row — exactly
# the directions LayerNorm is insensitive to. The gradient check confirms the formula.

# %%
rng = np.random.default_rng(0)
x = tg.Tensor(rng.standard_normal((3, 6)), requires_grad=True, dtype=np.float64)
w = tg.Tensor(rng.standard_normal(6), requires_grad=True, dtype=np.float64)
b = tg.Tensor(rng.standard_normal(6), requires_grad=True, dtype=np.float64)
result = tg.gradcheck(lambda x, w, b: F.layer_norm(x, w, b), [x, w, b])
print("LayerNorm gradcheck passed; worst abs error",
      f"{max(result.max_abs_error.values()):.1e}")
y = F.layer_norm(x)
print("normalised rows: mean", np.round(y.data.mean(-1), 6), "var", np.round(y.data.var(-1), 4))

# %% [markdown]
# ## Pre-LN vs post-LN, trained side by side
# pre-LN:  x = x + attn(ln_1(x));   x = x + mlp(ln_2(x))
# post-LN: x = ln_1(x + attn(x));   x = ln_2(x + mlp(x))
# In pre-LN the residual stream is never normalised, so gradients reach early layers through
# an identity path; post-LN normalises that path at every block.

# %%
steps = 15 if QUICK else 500
size = ["--n_layer=2", "--n_embd=32", "--batch_size=8"] if QUICK else [
    "--n_layer=4", "--n_embd=64", "--batch_size=16"]
curves = {}
for position in ("pre", "post"):
    cfg = make_config("grammar", [f"--norm_position={position}", f"--max_iters={steps}", *size,
                                  f"--lr_decay_iters={steps}", "--lr=3e-3", "--n_examples=5000",
                                  "--progress=false", f"--out_dir={out_dir()}/08_{position}"])
    trainer = Trainer(cfg, log=lambda *a: None)
    curves[position] = [trainer.train_step()["loss"] for _ in range(steps)]
    print(f"{position}-LN: loss after {steps} steps {np.mean(curves[position][-10:]):.4f}")

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 3.5))
for position, losses in curves.items():
    ax.plot(losses, label=f"{position}-LN", lw=0.8)
ax.set_xlabel("step")
ax.set_ylabel("train loss")
ax.legend()
ax.set_title("4-layer GPT on the grammar data")
fig.tight_layout()
show(fig, "08_pre_post_ln.png")

# %% [markdown]
# ## Check

# %%
assert result.passed and np.allclose(y.data.mean(-1), 0, atol=1e-9)
assert all(c[-1] < c[0] for c in curves.values())
print("both variants learn; compare their curves in 08_pre_post_ln.png. Lesson 8 done.")
