# %% [markdown]
# # Lesson 9 — The GPT
#
# **Goal:** put it together: token + position embeddings, a stack of blocks, a final LayerNorm
# and a head tied to the token embedding. Count its parameters, train it with AdamW on the
# built-in grammar data, draw the loss curves, and compare with lesson 0's bigram loss.

# %%
import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.config import make_config
from tinygrad_lm.lessons import QUICK, figure_path, out_dir
from tinygrad_lm.plots import plot_loss
from tinygrad_lm.train import Trainer

steps = 40 if QUICK else 1500
cfg = make_config("grammar", [f"--max_iters={steps}", f"--lr_decay_iters={steps}",
                              f"--eval_interval={steps if QUICK else steps // 5}",
                              f"--eval_iters={2 if QUICK else 10}",
                              f"--sample_tokens={30 if QUICK else 200}",
                              "--n_layer=2", "--n_embd=64", "--batch_size=16",
                              "--progress=false", f"--out_dir={out_dir()}/09_gpt",
                              f"--n_examples={3000 if QUICK else 20000}"])
trainer = Trainer(cfg, log=lambda *a: None, overwrite=True)  # a re-run moves the last aside
model = trainer.model
c = model.config

# %% [markdown]
# ## Counting parameters
# Per block: two LayerNorms (2·2C), attention (C·3C + 3C + C·C + C), MLP (C·4C + 4C + 4C·C + C);
# plus embeddings V·C + block·C and the final LayerNorm. The head is tied: no extra V·C.

# %%
C, V, L = c.n_embd, c.vocab_size, c.n_layer
per_block = 4 * C + (3 * C * C + 3 * C + C * C + C) + (8 * C * C + 5 * C)
closed_form = V * C + c.block_size * C + L * per_block + 2 * C
print(f"parameters: {model.num_parameters()} (closed form {closed_form})")

# %% [markdown]
# ## Training

# %%
trainer.train()
evals = [r for r in trainer.history if "val_loss" in r]
val_loss = evals[-1]["val_loss"]
plot_loss(trainer.log_path, figure_path("09_loss.png"))
print(f"final val loss {val_loss:.4f}")
print("sample:", trainer.sample(100, seed=0))

# %% [markdown]
# ## Compare with counting (lesson 0's bigram model on the same text)

# %%
ids = np.concatenate([trainer.data.dataset.train, trainer.data.dataset.val])
split = len(trainer.data.dataset.train)
counts = np.ones((V, V))
np.add.at(counts, (ids[:split - 1], ids[1:split]), 1)
probs = counts / counts.sum(1, keepdims=True)
bigram = -np.mean(np.log(probs[ids[split:-1], ids[split + 1:]]))
print(f"bigram val loss {bigram:.4f}  vs  GPT val loss {val_loss:.4f}")

# %% [markdown]
# ## Check

# %%
assert model.num_parameters() == closed_form
if not QUICK:
    assert val_loss < bigram
print(f"GPT_VAL_LOSS = {val_loss:.4f}, BIGRAM = {bigram:.4f}. Lesson 9 done.")
assert tg.get_backend() in ("numba", "numpy")
