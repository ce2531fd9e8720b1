"""Figures drawn from the JSON-lines training log: the loss curve and training health."""

from __future__ import annotations

import json
import os


def read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only: no window, works on machines without a display
    import matplotlib.pyplot as plt
    return plt


def plot_loss(log_path: str, out_path: str) -> str | None:
    """Training loss per logged step, and train/val estimates at each evaluation."""
    records = read_log(log_path)
    steps = [r for r in records if "loss" in r]
    evals = [r for r in records if "val_loss" in r]
    if not steps and not evals:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    if steps:
        ax.plot([r["step"] for r in steps], [r["loss"] for r in steps], lw=1, alpha=0.6,
                label="train (batch)")
    if evals:
        ax.plot([r["step"] for r in evals], [r["train_loss"] for r in evals], "o-",
                label="train (estimate)")
        ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "s-", label="val")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("loss")
    ax.grid(alpha=0.3)
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
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    steps = [r["step"] for r in records]
    for layer in layers:
        ax1.plot(steps, [r["health"].get(layer, {}).get("grad_norm", float("nan"))
                         for r in records], label=layer)
        ax2.plot(steps, [r["health"].get(layer, {}).get("update_ratio", float("nan"))
                         for r in records], label=layer)
    ax1.set_title("gradient norm per layer")
    ax2.set_title("update / weight ratio per layer")
    ax2.axhline(1e-3, color="k", ls="--", lw=0.8)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path
