"""Figures of a run: the loss curve and training health (from the JSON-lines log), and the
trained model's attention maps."""

from __future__ import annotations

import json
import os

import numpy as np

from ..autograd import no_grad


def read_log(path: str) -> list[dict]:
    """The records of a JSON-lines log ([] when the file does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: no window, works on machines without a display
    import matplotlib.pyplot as plt
    return plt


def draw_band(ax, reference, label: str | None = None) -> None:
    """Shade a reference curve's val band (reference_curves.py) on `ax`."""
    bands = [reference.band(step) for step in reference.steps]
    ax.fill_between(reference.steps, [b[0] for b in bands], [b[1] for b in bands],
                    color="tab:green", alpha=0.15, lw=0,
                    label=label or f"val of correct runs ({reference.label()}, "
                                   f"{len(reference.seeds)} seeds)")


def plot_loss(log_path: str, out_path: str, reference=None) -> str | None:
    """Batch loss per logged step, and the train/val estimates at each evaluation, on a log
    axis (late improvements stay visible). Train estimate dashed with circles, val solid with
    squares, so neither hides the other when they coincide; the best val step is starred.
    With a `reference` (reference_curves.ReferenceCurve), the band the val loss of a correct
    run stays in is shaded behind them."""
    records = read_log(log_path)
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "val_loss" in r]
    if not steps and not evals:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if reference is not None:
        draw_band(ax, reference)
    if steps:
        ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=0.8, alpha=0.45,
                color="tab:gray", label="train (one batch)")
    if evals:
        x = [r["step"] for r in evals]
        ax.plot(x, [r["train_loss"] for r in evals], "--o", color="tab:blue", mfc="none",
                ms=7, label="train (estimate)")
        ax.plot(x, [r["val_loss"] for r in evals], "-s", color="tab:orange", ms=4, label="val")
        marked = [r for r in evals if r.get("best")]  # the states best.npz held, latest last
        best = marked[-1] if marked else min(evals, key=lambda r: r["val_loss"])
        ax.plot([best["step"]], [best["val_loss"]], "*", color="tab:red", ms=14, zorder=5,
                label=f"best val {best['val_loss']:.4f} (step {best['step']}, best.npz)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token, log scale)")
    ax.set_title("loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def plot_health(log_path: str, out_path: str) -> str | None:
    """Per-layer gradient norm and update/weight ratio over training (log scale)."""
    records = [r for r in read_log(log_path) if "health" in r]
    if not records:
        return None
    plt = _pyplot()
    layers = list(records[0]["health"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    steps = [r["step"] for r in records]
    for layer in layers:
        ax1.plot(steps, [r["health"].get(layer, {}).get("grad_norm", float("nan"))
                         for r in records], label=layer)
        ax2.plot(steps, [r["health"].get(layer, {}).get("update_ratio", float("nan"))
                         for r in records], label=layer)
    ax1.set_title("gradient norm per layer")
    ax1.set_ylabel("||grad|| (L2 norm, before clipping)")
    ax2.set_title("update / weight ratio per layer")
    ax2.set_ylabel("||delta W|| / ||W|| of one step")
    ax2.axhline(1e-3, color="k", ls="--", lw=0.8, label="1e-3 (typical for Adam)")
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.text(0.5, 0.01, "Dashed line: an update near 1e-3 of the weight's size is the usual "
             "healthy rate; near 1e-1 the learning rate is too high for that layer, near 1e-5 it "
             "hardly learns.", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def plot_attention(model, tokenizer, ids, out_path: str, max_heads: int = 4) -> str | None:
    """Each layer's attention weights (rows: layers, columns: heads) on one sequence: row t
    shows how much position t reads from each earlier position."""
    ids = np.asarray(ids, dtype=np.int64)[None, :]  # (1, T)
    if ids.shape[1] < 2:
        return None
    was_training = model.training
    model.eval()
    with no_grad():
        model(ids, return_attention=True)
    model.train(was_training)
    maps = [block.attn.last_attention[0] for block in model.transformer.h]  # each (nh, T, T)
    n_layer, n_head = len(maps), min(maps[0].shape[0], max_heads)
    labels = [_token_label(tokenizer, int(i)) for i in ids[0]]
    plt = _pyplot()
    size = 2.2 + 0.09 * len(labels)
    # every panel shows the same tokens on both axes, so only the outer ones carry the labels
    # (drawing 64 tick labels on each of a dozen panels was most of the figure's cost)
    fig, axes = plt.subplots(n_layer, n_head, figsize=(size * n_head, size * n_layer),
                             squeeze=False, sharex=True, sharey=True)
    for layer, att in enumerate(maps):
        for head in range(n_head):
            ax = axes[layer][head]
            ax.imshow(att[head], cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {layer}, head {head}", fontsize=8)
    for ax in axes[-1]:
        ax.set_xticks(range(len(labels)), labels, fontsize=6)
    for ax in axes[:, 0]:
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
    fig.supxlabel("key (position read from)")
    fig.supylabel("query (position reading)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path


def _token_label(tokenizer, token: int) -> str:
    text = tokenizer.decode([token])
    return {"\n": "\\n", " ": "␣", "\t": "\\t"}.get(text, text[:6])
