# %% [markdown]
# # Lesson 12 — Training on real text

# %% [markdown]
# ## What you will learn
#
# So far every model learned the built-in grammar, a toy language with a few dozen words.
# Real text is messier: capital letters, punctuation, names, line breaks that mean something,
# and a long tail of rare words. This lesson trains a character-level GPT on **Tiny
# Shakespeare** (1.1 million characters of plays) the way a real run is done, with the
# library's `Trainer`: a typed configuration, periodic evaluation on held-out text,
# checkpoints, and the ability to stop and resume exactly where the run left off. You will
#
# 1. load a corpus and build its character vocabulary;
# 2. cut it into a training and a validation split and into (B, T) batches;
# 3. set a baseline by counting (unigram and bigram) and read losses as perplexities;
# 4. train a GPT with checkpoints, prove that resuming reproduces an uninterrupted run bit
#    for bit, and sample from the saved model.
#
# Where the text comes from: the first command-line argument when it is a file
# (`python lessons/12_training_on_real_text.py path/to/tinyshakespeare.txt`); otherwise
# `../shared/data/tinyshakespeare.txt` seen from the repository root (or from `lessons/`)
# when it is there; otherwise the built-in grammar text, which the package generates, so the
# lesson always runs. The full nanoGPT CPU recipe on Shakespeare is one command,
# `tinygrad-lm train --preset shakespeare-char --data PATH` (2000 steps, a few minutes).

# %%
import os
import sys
import tempfile
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import QUICK, check, in_notebook, out_dir, pyplot, show
from tinygrad_lm.data import TokenDataset, builtin_dataset, load_text
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.plots import draw_band
from tinygrad_lm.training.trainer import Trainer

# a notebook kernel's own arguments (its connection file) are no corpus
arguments = [] if in_notebook() else [a for a in sys.argv[1:] if not a.startswith("-")]
candidates = arguments + [os.path.join("..", "shared", "data", "tinyshakespeare.txt"),
                          os.path.join("..", "..", "shared", "data", "tinyshakespeare.txt")]
path = next((p for p in candidates if os.path.isfile(p)), None)
if path is None:  # the fallback: generated text, saved once so the trainer reads it as a file
    path = os.path.join(out_dir(), "12_grammar.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(builtin_dataset("grammar", n_examples=3000 if QUICK else 20000))
    shakespeare = False
else:
    shakespeare = True
text = load_text(path)
print("data:", path if shakespeare else "the built-in grammar text (no Shakespeare file found)")
print(f"{len(text):,} characters; the first lines:\n")
print(text[:250])

# %% [markdown]
# ## Step 1: the vocabulary
#
# A character tokenizer maps each distinct character to an id, $V$ of them; `encode` and
# `decode` are inverses. Character level keeps $V$ small (65 for Shakespeare) at the price of
# long sequences: a word costs several predictions. Lesson 10's BPE makes the opposite trade.

# %%
tok = CharTokenizer.from_text(text)
V = tok.vocab_size
print(f"V = {V}:", repr("".join(tok.decode(list(range(V))))))
ids = np.array(tok.encode(text), dtype=np.int64)
word = "To be" if "T" in text else "the"  # a word the corpus can spell
print(f"{word!r} ->", tok.encode(word), "| round trip exact:",
      tok.decode(ids[:1000].tolist()) == text[:1000])

# %% [markdown]
# ## Step 2: splits and batches
#
# The first 90% of the tokens train, the last 10% validate. The split is by position, not at
# random: a random split would put neighbouring characters of one sentence on both sides, and
# the validation loss would flatter the model. A batch is B random windows of length T:
# inputs $x = (t_s, \dots, t_{s+T-1})$ and targets $y = (t_{s+1}, \dots, t_{s+T})$, the same
# window shifted by one, both (B, T). One window trains T predictions, one per prefix.

# %% [markdown]
# ### Exercise 12.1 — Cut a batch
# Write `cut_batch(tokens, starts, T)` returning `(x, y)`, two (B, T) arrays, where row b of
# x is `tokens[starts[b] : starts[b] + T]` and y is the same window one token later. Avoid a
# Python loop: build a (B, T) index array.

# %%
def cut_batch(tokens, starts, T):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def cut_batch_solution(tokens, starts, T):
    index = np.asarray(starts)[:, None] + np.arange(T)  # (B, T)
    return tokens[index], tokens[index + 1]


# %%
data = TokenDataset(ids, val_fraction=0.1)
print(data)
starts = np.random.default_rng(0).integers(0, len(data.train) - 9, size=4)
check("12.1", cut_batch, cut_batch_solution,
      test=lambda f: all(np.array_equal(a, b) for a, b in zip(
          f(data.train, starts, 8), ([data.train[s:s + 8] for s in starts],
                                     [data.train[s + 1:s + 9] for s in starts]))),
      hint="starts[:, None] + np.arange(T) is a (B, T) array of positions; add 1 for y.")
xb, yb = data.get_batch("train", 4, 16, np.random.default_rng(0))  # (B, T) = (4, 16)
print("x[0]:", repr(tok.decode(xb[0].tolist())), "\ny[0]:", repr(tok.decode(yb[0].tolist())))

# %% [markdown]
# ## Step 3: baselines, and perplexity
#
# A loss in nats per character is easier to feel as a **perplexity**, $e^{\mathcal{L}}$: the
# number of equally likely characters the model is, in effect, choosing between. Uniform
# guessing has perplexity V. A **unigram** model, which knows only how often each character
# occurs, has loss
#
# $$\mathcal{L}_{uni} = -\frac{1}{N}\sum_{t} \ln \hat p(x_t), \qquad
#   \hat p(v) = \frac{1 + \text{count}_{train}(v)}{V + N_{train}},$$
#
# measured on the validation text (the add-one keeps unseen characters possible). The bigram
# model of lessons 0 and 9 conditions on one previous character. The GPT has to beat both.

# %% [markdown]
# ### Exercise 12.2 — The unigram baseline
# Write `unigram_loss(train, val, V)` returning $\mathcal{L}_{uni}$ as above (add-one counts
# from `train`, mean negative log-probability over `val`).

# %%
def unigram_loss(train, val, V):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def unigram_loss_solution(train, val, V):
    p = (1 + np.bincount(train, minlength=V)) / (V + len(train))  # (V,)
    return float(-np.mean(np.log(p[val])))


# %%
check("12.2", unigram_loss, unigram_loss_solution,
      test=lambda f: bool(np.isclose(f(np.array([0, 0, 1]), np.array([1]), 3), -np.log(2 / 6))
                          and np.isclose(f(data.train, data.val, V),
                                         unigram_loss_solution(data.train, data.val, V))),
      hint="np.bincount(train, minlength=V) counts each id; add one to every count.")
unigram = unigram_loss_solution(data.train, data.val, V)
counts = np.ones((V, V))
np.add.at(counts, (data.train[:-1], data.train[1:]), 1)
bigram = float(-np.mean(np.log((counts / counts.sum(1, keepdims=True))[data.val[:-1],
                                                                       data.val[1:]])))
for name, loss in [("uniform", np.log(V)), ("unigram", unigram), ("bigram", bigram)]:
    print(f"{name:>8}: val loss {loss:.3f} nats, perplexity {np.exp(loss):5.1f}")

# %% [markdown]
# ## Step 4: a real training run
#
# The `Trainer` runs the loop of lesson 9 and keeps the books: every `eval_interval` steps it
# estimates train and val loss, writes a log line (`log.jsonl`) and a sample, and it saves a
# checkpoint (`ckpt.npz`, plus `best.npz` at the lowest val loss) holding everything needed to
# continue: weights, optimizer moments, step, and the state of every random generator. The
# configuration is a typed dataclass; `make_config(preset, ["--key=value", ...])` starts from
# a named preset and overrides fields, exactly as the command line does. We shrink the
# `shakespeare-char` preset (4 layers, C = 128) so that it trains in well under a minute.
#
# A run refuses to start in a folder that holds another run; `overwrite=True` moves the old
# one to `previous/` instead of deleting it.
#
# Is the loss we get normal? The package ships **reference curves**: these exact settings
# trained by the reference code from three other seeds, on the same text (recognised by its
# content, wherever the file lies). When a curve exists, `trainer.reference` holds it, a val
# loss outside its band prints a warning during training, and the figure below shades the
# band. A wrong backward, optimizer or learning rate lands far outside it; a correct run from
# any seed lands inside.

# %%
steps = 20 if QUICK else 600
run = os.path.join(out_dir(), "12_run")
size = (["--n_layer=1", "--n_embd=32", "--n_head=2", "--batch_size=4", "--block_size=32"]
        if QUICK else ["--n_layer=2", "--n_embd=64", "--n_head=4", "--batch_size=12",
                       "--block_size=64"])
overrides = size + [f"--max_iters={steps}", f"--lr_decay_iters={steps}", "--lr=5e-3",
                    "--min_lr=5e-4", "--warmup_iters=20", f"--eval_interval={max(steps // 5, 1)}",
                    f"--eval_iters={2 if QUICK else 10}", f"--checkpoint_interval={steps}",
                    "--progress=false", "--plots=false",
                    f"--sample_tokens={30 if QUICK else 120}"]
data_flag = [f"--data={path}"]
cfg = make_config("shakespeare-char", overrides + data_flag + [f"--out_dir={run}"])


def warnings_only(message):
    if message.startswith("warning"):  # a loss outside the band, or overfitting
        print(message)


trainer = Trainer(cfg, overwrite=True, log=warnings_only)
t0 = time.perf_counter()
result = trainer.train()
seconds = time.perf_counter() - t0
for step, train_loss, val_loss in trainer.evals:
    print(f"step {int(step):4d}: train {train_loss:.4f}, val {val_loss:.4f} "
          f"(perplexity {np.exp(val_loss):.1f})")
print(f"{steps} steps in {seconds:.1f} s; best val loss {result['best_val']:.4f} at step "
      f"{result['best_step']}")

# %%
plt = pyplot()
evals = np.array(trainer.evals)  # (n_evals, 3): step, train loss, val loss
fig, ax = plt.subplots(figsize=(7, 4))
if trainer.reference is not None:  # None for a text or settings with no reference runs
    draw_band(ax, trainer.reference)
ax.plot(evals[:, 0], evals[:, 1], "o-", label="train")
ax.plot(evals[:, 0], evals[:, 2], "o-", label="val")
for name, loss, style in [("unigram", unigram, ":"), ("bigram", bigram, "--")]:
    ax.axhline(loss, color="grey", ls=style, label=f"{name} by counting ({loss:.2f})")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats per character)")
ax.set_title(f"{trainer.model.num_parameters():,}-parameter GPT on "
             f"{'Tiny Shakespeare' if shakespeare else 'the grammar text'}")
ax.legend()
fig.tight_layout()
print("saved", show(fig, "12_loss.png"))
reference = trainer.reference
if reference is None:
    print("no reference curve for these settings and this text")
else:
    bands = [reference.band(int(step)) for step, _, _ in trainer.evals]  # (low, high) each
    inside = all(band is not None and band[0] <= val <= band[1]
                 for band, (_, _, val) in zip(bands, trainer.evals))
    print(f"val loss inside the band of {len(reference.seeds)} reference runs "
          f"({reference.label()}) at every evaluation: {inside}")

# %% [markdown]
# ## Step 5: stop, resume, and get the same run
#
# A long run will be interrupted: a closed laptop, a Ctrl-C (the trainer saves on the first
# one), a time limit. Resuming must not just continue, it must continue *identically*, or
# two halves of a run are not one run. That needs more than the weights: AdamW's two moment
# estimates, the step (the learning rate depends on it) and the position of the batch
# generator. A fact like this is tested, not promised: train 10 steps straight, and 5 steps,
# save, build a fresh trainer, resume, 5 more; the weights must be bit-for-bit equal.

# %%
with tempfile.TemporaryDirectory() as scratch:
    short = [a for a in overrides if not a.startswith(("--max_iters", "--lr_decay_iters",
                                                       "--checkpoint_interval"))]
    short += ["--lr_decay_iters=10", "--checkpoint_interval=5"] + data_flag

    def short_run(name, max_iters):
        c = make_config("shakespeare-char", short + [f"--max_iters={max_iters}",
                                                     f"--out_dir={os.path.join(scratch, name)}"])
        return Trainer(c, log=lambda message: None)

    straight = short_run("straight", 10)
    straight.train()
    first_half = short_run("halves", 5)
    first_half.train()  # stops at step 5 and saves ckpt.npz
    second_half = short_run("halves", 10)
    second_half.resume()  # weights, moments, step and generators from the checkpoint
    second_half.train()
    a, b = straight.model.state_dict(), second_half.model.state_dict()
    identical = all(np.array_equal(a[k], b[k]) for k in a)
print(f"10 steps straight vs 5 + resume + 5: weights identical: {identical}")

# %% [markdown]
# ## Step 6: sampling from the checkpoint
#
# `tg.load(path)` is the one way to get a trained model back: given a run's folder it reads
# `best.npz` (the lowest val loss) and returns the model and its tokenizer. We generate from a
# newline with a temperature of 0.8, slightly sharper than the model's own distribution.

# %%
model, tokenizer = tg.load(run)
start = np.array(tokenizer.encode("\n"))
out = tg.generate(model, start, 60 if QUICK else 300, temperature=0.8, seed=0)
print(tokenizer.decode(out.tolist()))

# %% [markdown]
# After a few hundred steps (val loss about 2.2 on Shakespeare) the model has learned the
# *shape* of a play: speakers' names in capitals followed by a colon, line breaks, short
# common words, but most longer words are still invented. The full preset (`tinygrad-lm
# train --preset shakespeare-char`, 4 layers, C = 128, 2000 steps) reaches a val loss of about
# 1.9, where many words are real. How far the train loss can run ahead of the val loss is what
# lesson 13 is about.

# %% [markdown]
# ## Summary
#
# - A real corpus becomes a token stream, split by position into train and val, sampled as
#   (B, T) windows with targets shifted by one.
# - Perplexity $e^{\mathcal{L}}$ reads a loss as a number of choices; counting baselines
#   (unigram, bigram) say what a loss is worth.
# - The `Trainer` evaluates, logs and checkpoints; resuming restores weights, optimizer,
#   step and random state, so a resumed run equals an uninterrupted one exactly.
#
# Next: assignment 5, task 5.1 (the AdamW update the trainer runs) and task 5.2 (its
# learning-rate schedule).

# %%
assert identical and np.isfinite(result["best_val"])
if not QUICK:
    assert result["best_val"] < bigram
print(f"val loss {result['best_val']:.4f} (perplexity {np.exp(result['best_val']):.2f}) vs "
      f"bigram {bigram:.4f}, unigram {unigram:.4f} on "
      f"{'Tiny Shakespeare' if shakespeare else 'the grammar text'}. Lesson 12 done.")
