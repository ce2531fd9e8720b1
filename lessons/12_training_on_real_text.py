# %% [markdown]
# # Lesson 12 — Training on real text
#
# **Goal:** train a character-level GPT on Tiny Shakespeare with checkpoints, stop, resume
# exactly where it left off, and sample. Pass the corpus path as the first argument, or the
# lesson uses the shared copy (`../shared/data/tinyshakespeare.txt`) when present; without
# either it falls back to the built-in grammar data so it always runs.
#
# The full nanoGPT CPU recipe is one command: `tinygrad-lm train --preset shakespeare-char
# --data PATH` (2000 steps).

# %%
import os
import sys

import numpy as np

from tinygrad_lm.checkpoint import load_checkpoint
from tinygrad_lm.config import make_config
from tinygrad_lm.lessons import QUICK, in_notebook, out_dir
from tinygrad_lm.train import Trainer

# a notebook kernel's own arguments (its connection file) are no corpus
arguments = [] if in_notebook() else [a for a in sys.argv[1:] if not a.startswith("-")]
candidates = arguments + [
    os.path.join("..", "shared", "data", "tinyshakespeare.txt"),
    os.path.join("..", "..", "shared", "data", "tinyshakespeare.txt")]
path = next((p for p in candidates if os.path.exists(p)), None)
print("data:", path or "built-in grammar (no Shakespeare file found)")

steps = 20 if QUICK else 600
half = steps // 2
out = os.path.join(out_dir(), "12_shakespeare")
common = ["--preset-free", f"--max_iters={steps}", f"--lr_decay_iters={steps}",
          f"--checkpoint_interval={half}", f"--eval_interval={half}", "--eval_iters=5",
          "--progress=false", f"--out_dir={out}", "--sample_tokens=200"]
common = [a for a in common if a != "--preset-free"] + ([f"--data={path}"] if path else [])
if QUICK:  # a much smaller model, so the whole lesson runs in seconds
    common += ["--n_layer=1", "--n_embd=32", "--n_head=2", "--batch_size=4", "--eval_iters=2",
               "--sample_tokens=40"]

# %% [markdown]
# ## Train half the steps, "crash", resume

# %%
# overwrite=True: the previous run of this lesson is moved into out/previous/, not refused
first = Trainer(make_config("shakespeare-char", common + [f"--max_iters={half}"]),
                log=lambda *a: None, overwrite=True)
first.train()
print("checkpoint at step", load_checkpoint(first.ckpt_path)["step"])
second = Trainer(make_config("shakespeare-char", common), log=print)
second.resume()
result = second.train()
print(f"val loss after {steps} steps: {result['best_val']:.4f}")

# %% [markdown]
# ## Sampling from the checkpoint

# %%
text = second.sample(60 if QUICK else 300, seed=0)
print(text)

# %% [markdown]
# ## Check

# %%
assert second.step == steps and np.isfinite(result["best_val"])
print("trained, resumed and sampled. Lesson 12 done.")
