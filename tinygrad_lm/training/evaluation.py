"""How a training run is judged: the loss estimate at each evaluation, and the overfitting check.

The trainer (train.py) calls `estimate_loss` every eval_interval steps and keeps the list of
evaluations, `[step, train loss, val loss]`; `overfitting_warning` reads that list. `tinygrad-lm
eval` uses the same `estimate_loss`, so a checkpoint's loss reads the same in both places.
"""

from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from .config import TrainConfig


@no_grad()
def estimate_loss(model, data, cfg: TrainConfig, step: int) -> dict[str, float]:
    """Mean loss over cfg.eval_iters batches of each split, in eval() mode, and the standard
    error of the val mean (`val_se`, std / sqrt(n)). The batches come from a generator seeded
    by (seed, step, split), never from the training stream."""
    was_training = model.training
    model.eval()
    out = {}
    for split in ("train", "val"):
        rng = np.random.default_rng([cfg.seed, step, split == "val"])
        losses = []
        for _ in range(cfg.eval_iters):
            x, y = data.get_batch(split, cfg.batch_size, cfg.model.block_size, rng)
            losses.append(model(x, y)[1].item())
        out[split] = float(np.mean(losses))
    out["val_se"] = float(np.std(losses, ddof=1) / np.sqrt(len(losses))) if len(losses) > 1 \
        else 0.0
    model.train(was_training)
    return out


def overfitting_warning(evals: list, patience: int, best_step, best_val: float) -> str | None:
    """A warning, with what to try, when the run is memorising its training text: val loss up
    for `patience` evaluations in a row while train loss went down, or val loss far above train
    loss (the model fits text it has seen much better). None otherwise.

    Args:
        evals: `[step, train loss, val loss]` per evaluation, oldest first.
        patience: how many rises in a row count (TrainConfig.overfit_patience).
        best_step: the step best.npz holds, named in the advice.
        best_val: its val loss.
    """
    k, (step, train, val) = patience, evals[-1]
    recent = evals[-(k + 1):]
    pairs = list(zip(recent, recent[1:]))
    if len(recent) == k + 1 and all(b[2] > a[2] and b[1] < a[1] for a, b in pairs):
        s0, t0, v0 = recent[0]
        seen = (f"from step {s0} to {step} val loss rose {v0:.4f} -> {val:.4f} while train "
                f"loss fell {t0:.4f} -> {train:.4f}")
    elif val > 2 * train and val - train > 0.2:
        seen = f"at step {step} val loss {val:.4f} is {val / train:.1f}x train loss {train:.4f}"
    else:
        return None
    return (f"warning: overfitting: {seen}; the model is memorising its training text. "
            f"best.npz keeps step {best_step} (val {best_val:.4f}). Try more "
            "data, --dropout=0.1 or more, a larger --weight_decay, fewer --max_iters, or "
            "--early_stop_patience=2")
