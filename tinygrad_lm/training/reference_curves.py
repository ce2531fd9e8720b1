"""Is my loss normal? Reference loss curves of the built-in presets, and the band a run is
checked against while it trains.

A reference curve is the validation (and training) loss estimate at each evaluation of the
reference implementation, trained with a preset's settings (or a lesson's) from several seeds.
Shipped as small JSON files beside this module (reference_curves/<name>.json), written by
`python benchmarks/reference_curves.py` (which can regenerate every one; its seeds are in each
file). A run is compared with a curve only when every setting that shapes the loss is the
curve's (`signature`): a changed learning rate or model has no reference, and no warning.

A text file is part of the settings by its content, not its name: the signature holds the
SHA-256 of the file's bytes, so Tiny Shakespeare saved anywhere, under any name, meets its
curve, and an edited copy does not.

The band at a step is the seeds' range widened by a margin,

    [min - m, max + m],   m = max(spread, 5% of the mean, 0.05 nats),   spread = max - min,

because a few seeds sample the spread of runs only roughly: a new seed of a correct
implementation must stay inside (tests/test_reference_curves.py checks one), while a wrong
backward or optimizer moves the loss by far more than the seeds' spread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile

from ..io.hf_files import PretrainedError, weight_files
from .config import TrainConfig

CURVE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference_curves")
FORMAT = 1
MAX_CURVE_BYTES = 1 << 20
# settings that change what a run writes or when, never its loss at a given step
IGNORED = {"seed", "out_dir", "progress", "plots", "detect_anomaly", "log_interval",
           "health_interval", "checkpoint_interval", "sample_tokens", "early_stop_patience",
           "overfit_patience", "max_iters", "eval_interval"}
IGNORED_MODEL = {"fused"}  # the fused ops compute the same function as the readable ones


class CurveError(ValueError):
    """A reference curve file that cannot be used (malformed, or from another format)."""


_digests: dict[tuple, str] = {}  # (path, size, mtime) -> digest, for this process


def text_digest(path: str) -> str:
    """"sha256:<hex>" of a file's bytes: what a text file is, wherever it lies. Kept for this
    process while the file's size and time stay, as a run asks more than once and GPT-2's
    weights take about a second to hash."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[key] = "sha256:" + h.hexdigest()
    return _digests[key]


# What a fine-tuning run starts from besides its weights (io/hf_files.weight_files): the
# config and tokenizer files from_pretrained reads. Other files a download may hold, such as
# tf_model.h5, change nothing and count for nothing.
PRETRAINED_FILES = ("config.json", "tokenizer.json", "vocab.json", "merges.txt", "encoder.json",
                    "vocab.bpe", "tokenizer.model")


def pretrained_digest(directory: str) -> str:
    """"sha256:<hex>" over a pretrained model directory's config, tokenizer and weight files (by
    name and bytes): GPT-2 downloaded anywhere, under any folder name, is the same start; a
    fine-tuned or edited copy is not. OSError when the directory has no weights."""
    paths = [os.path.join(directory, n) for n in PRETRAINED_FILES
             if os.path.isfile(os.path.join(directory, n))] + weight_files(directory)
    h = hashlib.sha256()
    for path in paths:
        h.update(f"{os.path.basename(path)}\0{text_digest(path)}\0".encode())
    return "sha256:" + h.hexdigest()


def signature(cfg: TrainConfig) -> dict:
    """The settings that shape a run's loss curve (everything but IGNORED), as a dict; the
    training text (`data`) by its content's digest, and the pretrained model a run fine-tunes
    (`init_from`) by its files' digest (a path that cannot be read stays as it is, and so
    matches no curve)."""
    d = {k: v for k, v in cfg.to_dict().items() if k not in IGNORED}
    d["model"] = {k: v for k, v in d["model"].items() if k not in IGNORED_MODEL}
    if d["data"]:
        try:
            d["data"] = text_digest(d["data"])
        except OSError:
            pass
    if d.get("init_from"):
        try:
            d["init_from"] = pretrained_digest(d["init_from"])
        except (OSError, PretrainedError):
            pass
    return d


@dataclasses.dataclass
class ReferenceCurve:
    """Loss estimates of `seeds` runs at `steps`: `val[i][j]` is seed i's val loss at `steps[j]`;
    `train` the same of the train loss, or [] where the runs estimated none (a lesson's loop).

    `preset` names the curve (its file): a preset, or a lesson's run such as
    "lesson12-quick-shakespeare". `title` says in words what was trained when a preset's name
    alone does not ("lesson 12 quick, Tiny Shakespeare"), and `text` names the training file
    whose digest the signature holds ("" for the built-in data)."""
    preset: str
    seeds: list[int]
    steps: list[int]
    val: list[list[float]]
    train: list[list[float]]
    signature: dict
    title: str = ""
    text: str = ""

    def label(self) -> str:
        """The short name a legend and a message use."""
        return self.title or self.preset

    def band(self, step: int, split: str = "val") -> tuple[float, float] | None:
        """(low, high) of the band at `step`, or None where the curve has no evaluation (or no
        train estimates, for split="train")."""
        values = self._values(step, split)
        if not values:
            return None
        lo, hi = min(values), max(values)
        mean = sum(values) / len(values)
        margin = max(hi - lo, 0.05 * mean, 0.05)
        return lo - margin, hi + margin

    def seed_range(self, step: int, split: str = "val") -> tuple[float, float] | None:
        """The seeds' own (min, max) at `step`, what a message quotes."""
        values = self._values(step, split)
        return (min(values), max(values)) if values else None

    def _values(self, step: int, split: str) -> list[float]:
        """The seeds' estimates at `step`; [] where there are none."""
        if step not in self.steps:
            return []
        return [run[self.steps.index(step)] for run in (self.val if split == "val"
                                                        else self.train)]

    def to_dict(self) -> dict:
        """The JSON file's content."""
        d = {"format": FORMAT, "preset": self.preset, "seeds": self.seeds,
             "steps": self.steps, "val_loss": self.val}
        if self.train:
            d["train_loss"] = self.train
        d["signature"] = self.signature
        d.update({k: v for k, v in (("title", self.title), ("text", self.text)) if v})
        return d


def _numbers(rows, n: int, what: str) -> list[list[float]]:
    if not isinstance(rows, list) or not rows or any(
            not isinstance(r, list) or len(r) != n or
            not all(isinstance(x, (int, float)) and x == x for x in r) for r in rows):
        raise CurveError(f"{what}: expected one list of {n} numbers per seed")
    return [[float(x) for x in r] for r in rows]


def read_curve(path: str) -> ReferenceCurve:
    """A curve file, checked (it is data from disk: size-bounded, plain JSON, validated)."""
    if os.path.getsize(path) > MAX_CURVE_BYTES:
        raise CurveError(f"{path}: larger than {MAX_CURVE_BYTES} bytes")
    with open(path, encoding="utf-8") as f:
        try:
            d = json.load(f)
        except ValueError as e:
            raise CurveError(f"{path}: not JSON ({e})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise CurveError(f"{path}: not a reference curve of format {FORMAT}; regenerate it "
                         "with python benchmarks/reference_curves.py")
    steps = d.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, int) for s in steps):
        raise CurveError(f"{path}: steps must be a list of integers")
    seeds = d.get("seeds")
    val = _numbers(d.get("val_loss"), len(steps), f"{path}: val_loss")
    train = (_numbers(d["train_loss"], len(steps), f"{path}: train_loss") if "train_loss" in d
             else [])
    if not isinstance(seeds, list) or len(seeds) != len(val) or \
            (train and len(val) != len(train)) or not isinstance(d.get("signature"), dict):
        raise CurveError(f"{path}: seeds, val_loss, train_loss and signature do not agree")
    return ReferenceCurve(str(d.get("preset", "")), seeds, steps, val, train, d["signature"],
                          str(d.get("title", "")), str(d.get("text", "")))


def shipped_curves() -> dict[str, str]:
    """curve name (a preset, or a lesson's run) -> path of every shipped curve file."""
    if not os.path.isdir(CURVE_DIR):
        return {}
    return {name[:-5]: os.path.join(CURVE_DIR, name) for name in sorted(os.listdir(CURVE_DIR))
            if name.endswith(".json")}


def _readable_curves():
    for path in shipped_curves().values():
        try:
            yield read_curve(path)
        except (CurveError, OSError):
            continue  # a broken shipped file must not stop training; the tests catch it


def find_curve(cfg: TrainConfig) -> ReferenceCurve | None:
    """The shipped curve whose settings are exactly this run's (the vocabulary included, so
    pass the trainer's config, after the tokenizer set it), or None."""
    mine = json.loads(json.dumps(signature(cfg)))  # tuples as lists, as in the files
    return next((c for c in _readable_curves() if c.signature == mine), None)


def _text_blind(sig: dict) -> dict:
    """A signature without what the text decides: the text itself and its vocabulary size."""
    sig = json.loads(json.dumps(sig))
    sig["data"] = "a text"
    sig["model"].pop("vocab_size", None)
    return sig


def other_text_note(cfg: TrainConfig) -> str | None:
    """One informational line when a shipped curve has this run's settings but another
    training text (the shakespeare-char preset on your own file): why there is no band. None
    when a curve matches, or when none would on any text."""
    if not cfg.data:
        return None
    sig = json.loads(json.dumps(signature(cfg)))
    curves = list(_readable_curves())
    if any(curve.signature == sig for curve in curves):
        return None
    mine = _text_blind(sig)
    for curve in curves:
        if curve.signature.get("data") and _text_blind(curve.signature) == mine:
            return (f"note: no reference band for this text: the reference runs of these "
                    f"settings ({curve.label()}) trained on {curve.text or 'another text'}, "
                    "and a run is compared with them only on the same text (the same bytes, "
                    "under any file name)")
    return None


def band_warning(curve: ReferenceCurve, step: int, val: float) -> str | None:
    """The warning for a validation loss outside the curve's band at `step`, else None."""
    band = curve.band(step)
    if band is None or band[0] <= val <= band[1]:
        return None
    lo, hi = curve.seed_range(step)
    runs = (f"runs with these settings ({curve.title}; {len(curve.seeds)} seeds of the "
            "reference code)" if curve.title else f"runs of the {curve.preset} preset "
            f"({len(curve.seeds)} seeds of the reference code)")
    there = f"validation loss {val:.3g} at step {step}; {runs} are at {lo:.3g}–{hi:.3g} there"
    if val > band[1]:
        return (there + ": check your learning rate or your backward (a gradient check of "
                "each op, tinygrad_lm.gradcheck, names the first wrong one) and the optimizer "
                "step")
    return (there + ": lower than any reference run. A model that sees the tokens it must "
            "predict does this: check the causal mask and that validation text is not training "
            "text")


def record_run(preset: str, cfg: TrainConfig, seeds: list[int], train) -> ReferenceCurve:
    """Train `cfg` once per seed in a scratch directory and gather the curves. `train(config)`
    runs the reference trainer and returns (its evaluations [[step, train, val], ...], its
    config after the tokenizer set the vocabulary)."""
    val, trn, steps, sig = [], [], None, None
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="tinygrad-lm-curve-") as tmp:
            evals, used = train(dataclasses.replace(cfg, seed=seed, out_dir=tmp,
                                                    progress=False, plots=False))
        these = [int(e[0]) for e in evals]
        if steps is not None and these != steps:
            raise RuntimeError(f"seed {seed} evaluated at steps {these}, not {steps}")
        steps, sig = these, json.loads(json.dumps(signature(used)))
        trn.append([float(e[1]) for e in evals])
        val.append([float(e[2]) for e in evals])
    return ReferenceCurve(preset, list(seeds), steps or [], val, trn, sig or {})


def write_curve(curve: ReferenceCurve, path: str) -> None:
    """Write a curve file atomically."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    os.chmod(tmp, 0o644)  # package data, readable by all (mkstemp makes it the owner's only)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(curve.to_dict(), f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
