# %% [markdown]
# # Lesson 13 — Overfitting: train vs val curves, dropout, weight decay, early stopping
#
# The seed article ends its list of challenges with overfitting, and every language model
# meets it sooner or later: give a model more capacity than its data has information, train
# long enough, and it stops learning the language and starts memorising the text. The train
# loss keeps falling while the loss on text it has never seen turns round and rises. In
# this lesson we make that happen on purpose, with a small GPT on a deliberately small text,
# and then try the three standard cures side by side.

# %% [markdown]
# ## What you will learn
#
# - to read **train vs validation curves**, and what the gap between them measures;
# - **early stopping**: keep the weights from the step with the lowest validation loss, and
#   stop once it has not improved for a while (the *patience*);
# - **dropout**: zero random activations during training so the network cannot rely on any
#   single unit, scaled so that nothing changes in expectation;
# - **weight decay**: pull every weight towards zero a little at each step (AdamW's
#   decoupled form), so the model prefers small weights that fit the data smoothly.
#
# Why it matters: on real corpora you cannot look at samples to notice memorisation — the
# validation curve is the only honest judge, and these three knobs are what you turn when it
# rises.

# %%
import time

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lesson_curves import check_run, find_run_curve, lesson_seed
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show
from tinygrad_lm.data import generate_grammar_corpus
from tinygrad_lm.tokenizers import CharTokenizer
from tinygrad_lm.training import optim

started = time.perf_counter()

# %% [markdown]
# ## A small text, and a fair validation set
#
# Sixty sentences of the built-in grammar for training — about 2,300 characters — and 300
# *other* sentences from the same grammar for validation. The validation text follows the
# same rules but shares no sentence with the training text, so a model that has learned the
# rules does well on it and a model that has memorised the sixty sentences does not.

# %%
train_text = generate_grammar_corpus(60, seed=13)
val_text = generate_grammar_corpus(300, seed=14)
tok = CharTokenizer.from_text(train_text + val_text)
train_ids = np.array(tok.encode(train_text))
val_ids = np.array(tok.encode(val_text))
T, B = 32, 16
print(f"train {len(train_ids)} characters, val {len(val_ids)}; V = {tok.vocab_size}")
print(train_text[:150])

# %% [markdown]
# ## What the two losses measure
#
# Training minimises the **empirical** loss on the N training windows,
# $\hat L(\theta) = \frac{1}{N}\sum_{n=1}^{N} \ell(x_n; \theta)$, where
# $\ell = -\frac{1}{T}\sum_t \log p_\theta(x_{t+1} \mid x_{\le t})$ is the per-character
# cross-entropy of a window of T characters (the model maps (B, T) ids to (B, T, V)
# logits). What we care about is the **expected** loss on new text from the same source,
# $L(\theta) = \mathbb{E}_{x}[\ell(x; \theta)]$, which the validation loss estimates. The
# difference $L - \hat L$ is the generalisation gap. With 2,300 characters and a model of
# ~100k parameters, nothing stops $\hat L$ from approaching zero by memorisation while $L$
# grows.
#
# Both losses are estimated on fixed windows (the same 64 windows at every evaluation, so
# the curves are not noisy), with the model in `eval()` mode so dropout is off. Each run's
# validation curve is also checked against the same run of the reference code from three
# seeds: overfitting is expected here, but its size is not arbitrary, and a curve far from
# the band says a gradient or the dropout mask is wrong.

# %%
rng = np.random.default_rng(99)


def fixed_windows(ids, n=64):
    starts = rng.integers(0, len(ids) - T - 1, n)
    return ids[starts[:, None] + np.arange(T)], ids[starts[:, None] + np.arange(T) + 1]


eval_sets = {"train": fixed_windows(train_ids), "val": fixed_windows(val_ids)}


def evaluate(model):
    model.eval()
    with tg.no_grad():
        out = {name: model(x, y)[1].item() for name, (x, y) in eval_sets.items()}
    model.train()
    return out


def fit(dropout=0.0, weight_decay=0.0, steps=500, every=25, patience=None):
    """Train a 2-layer GPT; return (model, history, best_step, best_state)."""
    cfg = tg.GPTConfig(vocab_size=tok.vocab_size, block_size=T, n_layer=2, n_head=4,
                       n_embd=64, dropout=dropout)
    model = tg.GPT(cfg, seed=lesson_seed(0))
    opt = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=weight_decay)
    data_rng = np.random.default_rng(lesson_seed(0))
    history, best, best_step, best_state, waited = [], float("inf"), 0, None, 0
    for step in range(steps + 1):
        if step % every == 0:
            losses = evaluate(model)
            history.append((step, losses["train"], losses["val"]))
            if losses["val"] < best:  # a new best: remember these weights
                best, best_step, waited = losses["val"], step, 0
                best_state = {k: v.copy() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    break
        if step == steps:
            break
        starts = data_rng.integers(0, len(train_ids) - T - 1, B)
        x = train_ids[starts[:, None] + np.arange(T)]  # (B, T)
        y = train_ids[starts[:, None] + np.arange(T) + 1]  # (B, T)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, np.array(history), best_step, best_state


STEPS = 60 if QUICK else 500
EVERY = 10 if QUICK else 25
references = {}


def check_fit(run, title, hist, dropout=0.0, weight_decay=0.0):
    """Say whether a run's val losses stayed in the band of the reference code's runs."""
    settings = dict(steps=STEPS, every=EVERY, T=T, B=B, lr=3e-3, n_layer=2, n_embd=64,
                    dropout=dropout, weight_decay=weight_decay, train=len(train_ids))
    name = f"lesson13-{run}-{'quick' if QUICK else 'full'}"
    print(check_run(name, f"lesson 13{' quick' if QUICK else ''}, {title}", settings,
                    [(int(step), float(val)) for step, _, val in hist], list(hist[:, 1])))
    references[run] = find_run_curve(name, settings)

# %% [markdown]
# ## No regularisation: watch it overfit

# %%
t0 = time.perf_counter()
plain, plain_hist, plain_best_step, plain_best_state = fit(steps=STEPS, every=EVERY)
print(f"trained in {time.perf_counter() - t0:.1f} s; {plain.num_parameters()} parameters")
for step, tr, va in plain_hist[::4]:
    print(f"step {int(step):4d}  train {tr:.3f}  val {va:.3f}  gap {va - tr:+.3f}")
check_fit("plain", "no regularisation", plain_hist)
plain_final_val = plain_hist[-1, 2]
print(f"lowest val {plain_hist[:, 2].min():.3f} at step {plain_best_step}; "
      f"final val {plain_final_val:.3f}")

# %% [markdown]
# The two curves leave together, then part: after a few hundred steps each further step
# buys a lower train loss with a *higher* validation loss. Sampling this model would
# reproduce training sentences nearly verbatim.

# %% [markdown]
# ## Early stopping
#
# The simplest cure needs no change to the model: evaluate every few steps, keep a copy of
# the weights whenever the validation loss reaches a new minimum, and stop when it has not
# improved for `patience` evaluations in a row. Formally we return
# $\theta_{t^*}$ with $t^* = \arg\min_t L_{\text{val}}(\theta_t)$ over the steps we ran.
# The validation set is now used to choose something, so a truly final number should come
# from a third, untouched test set.

# %% [markdown]
# ### Exercise 13.1 — When to stop
# Write `early_stop(val_losses, patience)` returning `(stop_index, best_index)`: walk the
# list; `best_index` is the position of the lowest value seen so far (first one on ties);
# stop at the first index where the best is `patience` evaluations old, or at the last
# index if that never happens.

# %%
def early_stop(val_losses, patience):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def early_stop_solution(val_losses, patience):
    best_index = 0
    for i, v in enumerate(val_losses):
        if v < val_losses[best_index]:
            best_index = i
        if i - best_index >= patience:
            return i, best_index
    return len(val_losses) - 1, best_index


# %%
check("13.1", early_stop, early_stop_solution,
      test=lambda f: (f([3, 2, 1, 2, 3, 4, 0], 3) == (5, 2) and f([3, 2, 1], 2) == (2, 2)
                      and f([1, 1, 1], 2) == (2, 0)),
      hint="Track the index of the best value; stop when i - best_index reaches patience.")

# %%
patience = 2 if QUICK else 4
stop_i, best_i = early_stop_solution(list(plain_hist[:, 2]), patience)
print(f"with patience {patience}: stop at step {int(plain_hist[stop_i, 0])} "
      f"of {STEPS}, keep the weights of step {int(plain_hist[best_i, 0])}")
early = tg.GPT(plain.config)  # a fresh model with the kept weights; `plain` stays as trained
early.load_state_dict(plain_best_state)
early_val = evaluate(early)["val"]
print(f"restored weights: val {early_val:.3f} (vs {plain_final_val:.3f} at the last step)")

# %% [markdown]
# ## Dropout
#
# During training, dropout multiplies each activation $h_i$ by an independent mask and
# rescales the survivors:
#
# $$\tilde h_i = \frac{m_i\, h_i}{1 - p}, \qquad m_i \sim \text{Bernoulli}(1 - p), \qquad
#   \mathbb{E}[\tilde h_i] = \frac{(1-p)\, h_i}{1-p} = h_i .$$
#
# Dividing by $1 - p$ during training ("inverted" dropout) keeps the expected activation
# unchanged, so at evaluation dropout is simply switched off — `model.eval()` — with no
# rescaling. A unit can no longer count on any particular other unit being present, which
# discourages the brittle co-adapted features that memorisation builds; it is also an
# average over the $2^n$ thinned networks the masks define. The GPT applies it after the
# embeddings, to the attention weights, and on each residual branch (`GPTConfig.dropout`).

# %% [markdown]
# ### Exercise 13.2 — Inverted dropout
# Write `inverted_dropout(h, p, rng)` in NumPy: zero each entry with probability `p`
# (use `rng.random(h.shape)`), divide the rest by `1 - p`.

# %%
def inverted_dropout(h, p, rng):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def inverted_dropout_solution(h, p, rng):
    return h * (rng.random(h.shape) >= p) / (1.0 - p)


# %%
def _test_dropout(f):
    h = np.ones((400, 500))
    out = f(h, 0.3, np.random.default_rng(0))
    zeros = np.mean(out == 0)
    kept = out[out != 0]
    return bool(out.shape == h.shape and abs(zeros - 0.3) < 0.01
                and np.allclose(kept, 1 / 0.7) and abs(out.mean() - 1.0) < 0.01)


check("13.2", inverted_dropout, inverted_dropout_solution, test=_test_dropout,
      hint="A boolean mask (rng.random(shape) >= p) keeps each entry with probability 1 - p; "
           "multiply by it and divide by 1 - p.")

# %%
t0 = time.perf_counter()
drop, drop_hist, _, _ = fit(dropout=0.3, steps=STEPS, every=EVERY)
check_fit("dropout", "dropout 0.3", drop_hist, dropout=0.3)
print(f"dropout 0.3: final train {drop_hist[-1, 1]:.3f}, val {drop_hist[-1, 2]:.3f} "
      f"({time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# ## Weight decay
#
# Adding $\frac{\lambda}{2}\lVert\theta\rVert^2$ to the loss (L2 regularisation) adds
# $\lambda\theta$ to the gradient. With Adam that term would be divided by
# $\sqrt{\hat v}$ like the rest of the gradient, so parameters with large gradients would
# barely be decayed. AdamW **decouples** it: the adaptive step and the decay are applied
# separately,
#
# $$\theta \leftarrow \theta - \eta\left(\frac{\hat m}{\sqrt{\hat v} + \epsilon}
#   + \lambda\, \theta\right),$$
#
# so each step shrinks every weight by the factor $1 - \eta\lambda$ before the update. With
# $\eta = 3 \cdot 10^{-3}$ and only 500 steps, the usual $\lambda = 0.1$ would shrink weights
# by just 14% in total, so we use a strong $\lambda = 1$ to see the effect in a short run.
# Decay keeps the weights small, and small weights give smoother functions that cannot
# carve out every training sentence.

# %% [markdown]
# ### Exercise 13.3 — The weights' size
# Write `weight_norm(model)`: the square root of the sum of squares of every parameter whose
# name (in `model.named_parameters()`) ends in `"weight"` and whose array is 2-D (the
# matrices; LayerNorm gains are 1-D). Parameters' arrays are in `.data`.

# %%
def weight_norm(model):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def weight_norm_solution(model):
    return float(np.sqrt(sum((p.data.astype(np.float64) ** 2).sum()
                             for name, p in model.named_parameters()
                             if name.endswith("weight") and p.data.ndim == 2)))


# %%
def _test_weight_norm(f):
    m = tg.GPT(tg.GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))
    for _, p in m.named_parameters():
        p.data[...] = 1.0 if p.data.ndim == 2 else 7.0
    n2 = sum(p.data.size for _, p in m.named_parameters() if p.data.ndim == 2)
    return bool(np.isclose(f(m), np.sqrt(n2)))


check("13.3", weight_norm, weight_norm_solution, test=_test_weight_norm,
      hint="Filter named_parameters() by name.endswith('weight') and p.data.ndim == 2, then "
           "sum the squares.")

# %%
t0 = time.perf_counter()
decay, decay_hist, _, _ = fit(weight_decay=1.0, steps=STEPS, every=EVERY)
check_fit("decay", "weight decay 1.0", decay_hist, weight_decay=1.0)
print(f"weight decay 1.0: final train {decay_hist[-1, 1]:.3f}, val {decay_hist[-1, 2]:.3f} "
      f"({time.perf_counter() - t0:.1f} s)")
norms = {name: weight_norm_solution(m) for name, m in
         (("none", plain), ("dropout", drop), ("weight decay", decay))}
for name, n in norms.items():
    print(f"weight norm, {name}: {n:.1f}")

# %% [markdown]
# ## All four side by side

# %%
plt = pyplot()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for hist, run, name, color in ((plain_hist, "plain", "no regularisation", "C3"),
                               (drop_hist, "dropout", "dropout 0.3", "C0"),
                               (decay_hist, "decay", "weight decay 1.0", "C2")):
    axes[0].plot(hist[:, 0], hist[:, 1], color=color, label=name)
    axes[1].plot(hist[:, 0], hist[:, 2], color=color, label=name)
    if references[run] is not None:  # the reference code's runs, three seeds
        bands = [references[run].band(step) for step in references[run].steps]
        axes[1].fill_between(references[run].steps, [b[0] for b in bands],
                             [b[1] for b in bands], color=color, alpha=0.12, lw=0)
axes[1].axvline(plain_best_step, color="C3", ls=":", label="early stopping keeps this step")
for ax, title in zip(axes, ("train loss", "validation loss (shaded: the reference band)")):
    ax.set_xlabel("step")
    ax.set_title(title)
axes[0].set_ylabel("cross-entropy (nats/char)")
axes[1].legend(fontsize=8)
fig.suptitle("A 2-layer GPT on 60 sentences")
fig.tight_layout()
print("figure:", show(fig, "13_train_vs_val.png"))

rows = [("no regularisation, last step", plain_hist[-1, 1], plain_final_val),
        ("early stopping", plain_hist[best_i, 1], early_val),
        ("dropout 0.3", drop_hist[-1, 1], drop_hist[-1, 2]),
        ("weight decay 1.0", decay_hist[-1, 1], decay_hist[-1, 2])]
print(f"{'':30s} {'train':>7s} {'val':>7s} {'gap':>7s}")
for name, tr, va in rows:
    print(f"{name:30s} {tr:7.3f} {va:7.3f} {va - tr:+7.3f}")

# %% [markdown]
# Each cure closes the gap differently. Early stopping keeps the model from the moment
# before memorisation took over. Dropout and weight decay let training run on but make
# memorising harder; their train loss stays higher — that is the point — and their
# validation loss ends well below the unregularised model's last step, still falling,
# close to what early stopping kept. In practice you combine them and tune the strengths
# on the validation curve; and the best regulariser of all is more data (change 60 to 600
# sentences above and watch the gap shrink).

# %% [markdown]
# ## Summary
#
# - The validation loss estimates the loss on unseen text; its distance from the train loss
#   is the generalisation gap, and a validation curve that rises while training falls is
#   overfitting.
# - Early stopping returns the weights of the lowest validation loss; `patience` decides how
#   long to wait for a new minimum.
# - Inverted dropout zeroes activations with probability p and scales by $1/(1-p)$ during
#   training, and is switched off by `model.eval()`.
# - AdamW's decoupled weight decay shrinks every weight by $1 - \eta\lambda$ per step,
#   independent of the adaptive gradient scaling.
#
# Next: assignment 5, task 5.1 (`adamw_update_`, where the decoupled decay lives), and
# `tinygrad-lm train`'s own best-checkpoint keeping when you train on real text.

# %%
if not QUICK:
    assert plain_final_val > plain_hist[:, 2].min() + 0.1, "the plain run should overfit"
    assert drop_hist[-1, 2] < plain_final_val and decay_hist[-1, 2] < plain_final_val
    assert norms["weight decay"] < norms["none"]
assert abs(early_val - plain_hist[:, 2].min()) < 1e-5, "the best weights give the best loss"
print(f"val loss: plain {plain_final_val:.3f}, early stopping {early_val:.3f}, dropout "
      f"{drop_hist[-1, 2]:.3f}, weight decay {decay_hist[-1, 2]:.3f} "
      f"({time.perf_counter() - started:.0f} s). Lesson 13 done.")
