"""Training-health statistics: per-layer gradient norms and update-to-weight ratios.

The update-to-weight ratio ||delta W|| / ||W|| of a step says how fast each layer is changing.
Around 1e-3 is the usual healthy value for Adam; 1e-1 means the learning rate is too high for
that layer, 1e-5 that it hardly learns. Watching it per layer shows students why the learning
rate and the initialisation matter.
"""

from __future__ import annotations

import numpy as np


def layer_of(name: str) -> str:
    """Group a parameter name by layer: transformer.h.3.attn.c_attn.weight -> h.3."""
    parts = name.split(".")
    if len(parts) > 2 and parts[0] == "transformer" and parts[1] == "h":
        return f"h.{parts[2]}"
    if parts[0] == "transformer" and len(parts) > 1:
        return parts[1]
    return parts[0]


def health_snapshot(model, before: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per layer: grad norm and update/weight ratio, given the parameters before the step."""
    sums: dict[str, list[float]] = {}
    for name, p in model.named_parameters():
        layer = layer_of(name)
        acc = sums.setdefault(layer, [0.0, 0.0, 0.0])
        if p.grad is not None:
            acc[0] += float(np.sum(np.square(p.grad, dtype=np.float64)))
        delta = p.data.astype(np.float64) - before[name]
        acc[1] += float(np.sum(delta * delta))
        acc[2] += float(np.sum(np.square(before[name], dtype=np.float64)))
    return {layer: {"grad_norm": g ** 0.5, "update_ratio": (u ** 0.5) / max(w ** 0.5, 1e-12)}
            for layer, (g, u, w) in sums.items()}
