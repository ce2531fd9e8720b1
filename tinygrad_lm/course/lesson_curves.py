"""Is my loss normal, for a lesson's own training loop.

Lessons 5, 6, 7, 8, 11, 13, 14, 15 and 17 train in loops of their own (an MLP, an RNN, GPTs
side by side), not through the Trainer, so the Trainer's reference curves cannot describe
them. Each such run gets a curve of its own, recorded from the lesson itself: `python
benchmarks/reference_curves.py lesson05-full` runs the lesson's file once per seed with
LESSONS_SEED set, and every run the lesson reports (`check_run`) is written down; the seeds'
evaluations become
tinygrad_lm/training/reference_curves/<run>.json, read by the same code as the presets' curves.

A run meets its curve only when its settings are the curve's (`settings`: what the lesson
trains with, quick or full mode included), so a student who changes the learning rate or the
model gets "no reference" instead of a wrong band. In a lesson:

    run = f"lesson05-mlp-k3-{'quick' if QUICK else 'full'}"
    settings = dict(K=3, steps=steps, lr=3e-3, batch=128)
    model = train(seed=lesson_seed(0))        # the lesson's own seed, unless recording
    print(check_run(run, "lesson 5, MLP with K = 3", settings, [(steps, val_loss)]))

`check_run` returns one line: the val loss is inside the band of the reference runs, a warning
that names what to check when it is not, or that no curve has these settings.
"""

from __future__ import annotations

import json
import os

from ..training.reference_curves import (
    CurveError,
    ReferenceCurve,
    band_warning,
    read_curve,
    shipped_curves,
)

SEED_VARIABLE = "LESSONS_SEED"            # the seed the reference runs train with
RECORD_VARIABLE = "LESSONS_RECORD_CURVES"  # a folder: write each run's evaluations there


def lesson_seed(default: int) -> int:
    """The seed a lesson trains with: its own `default`, or LESSONS_SEED when the reference
    runs are being recorded (benchmarks/reference_curves.py sets it)."""
    text = os.environ.get(SEED_VARIABLE, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}={text!r}: the seed must be an integer") from None


def signature(run: str, settings: dict) -> dict:
    """What a lesson run is compared on: its name and its settings, as the files store them."""
    return json.loads(json.dumps({"lesson_run": run, **settings}))


def find_run_curve(run: str, settings: dict) -> ReferenceCurve | None:
    """The shipped curve of this lesson run with exactly these settings, or None."""
    path = shipped_curves().get(run)
    if path is None:
        return None
    try:
        curve = read_curve(path)
    except (CurveError, OSError):
        return None
    return curve if curve.signature == signature(run, settings) else None


def _record(run: str, title: str, settings: dict, evals: list[tuple[int, float]],
            train) -> None:
    folder = os.environ.get(RECORD_VARIABLE, "")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    seed = lesson_seed(0)
    part = {"run": run, "title": title, "seed": seed, "signature": signature(run, settings),
            "steps": [int(s) for s, _ in evals], "val_loss": [float(v) for _, v in evals]}
    if train is not None:
        part["train_loss"] = [float(t) for t in train]
    with open(os.path.join(folder, f"{run}.seed{seed}.json"), "w", encoding="utf-8") as f:
        json.dump(part, f)


def check_run(run: str, title: str, settings: dict, evals: list[tuple[int, float]],
              train: list[float] | None = None) -> str:
    """One line on a lesson run's val losses `evals` [(step, val), ...] against its reference
    band. `run` names the curve file, `title` says in words what trained (the curve keeps it
    for messages and legends). When LESSONS_RECORD_CURVES names a folder, the run is also
    written there, with `train`, the train loss estimates at the same steps, when the lesson
    has them."""
    _record(run, title, settings, evals, train)
    curve = find_run_curve(run, settings)
    if curve is None:
        return f"{run}: no reference curve for these settings (a changed setting has none)"
    checked = [(s, v) for s, v in evals if curve.band(s) is not None]
    if not checked:
        return f"{run}: the reference curve has no evaluation at steps {[s for s, _ in evals]}"
    for step, val in checked:
        warning = band_warning(curve, step, val)
        if warning:
            return f"warning: {curve.label()}: {warning}"
    step, val = checked[-1]
    lo, hi = curve.seed_range(step)
    return (f"{curve.label()}: val loss {val:.4f} at step {step}, inside the band of "
            f"{len(curve.seeds)} reference runs ({lo:.4f}-{hi:.4f} there)")
