"""The training loop: schedule, forward, backward, clip, step; evaluation, logs, checkpoints.

How a run is judged (the loss estimate, the overfitting check) is in evaluation.py; which
settings a resumed run may change, and a fine-tuning run's config, in config.py.

    from tinygrad_lm.training.config import make_config
    from tinygrad_lm.training.trainer import Trainer
    Trainer(make_config("grammar")).train()          # a new run in out/
    Trainer.resume_from("out").train()                # continue it, from its own config

A run keeps two checkpoints (see run_dir.py): `ckpt.npz`, the last state, to resume from, and
`best.npz`, the state with the lowest validation loss, which sampling and evaluation use (the
latest state within one standard error of the lowest: the estimate is a mean over a few
batches, and of two states the noise cannot tell apart the later one has trained longer). When
the validation loss keeps rising while the training loss falls, the trainer says so (the model
is memorising its training text) and `early_stop_patience` can end the run.

Reproducibility: every random choice comes from a numpy Generator whose state is checkpointed
(the batch sampler, which is the data position, and each dropout layer). Evaluation and samples
use generators derived from (seed, step), so they never disturb the training stream. Hence N
steps, save, resume, N more steps gives bit-identical parameters to 2N steps straight.

A Trainer changes nothing outside itself: the allocator and BLAS settings that make long runs
faster are the caller's to switch on, `with tg.tuned_for_training(): trainer.train()` (as the
`tinygrad-lm train` command does; kernels/tuning.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import signal
import time

import numpy as np

from ..autograd import AnomalyError, detect_anomaly
from ..data import prepare_data
from ..formats.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..formats.weights import check_finite
from ..io.pretrained import from_pretrained
from ..nn.gpt import GPT
from . import optim, run_dir
from .config import TrainConfig, fine_tuning_config, replace, resumed_config
from .evaluation import estimate_loss, overfitting_warning
from .health import health_snapshot
from .plots import plot_attention, plot_health, plot_loss
from .previews import text_sample, training_sample
from .progress import Progress
from .reference_curves import band_warning, find_curve, other_text_note


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


class SaveError(RuntimeError):
    """A checkpoint could not be written (disk full, read-only directory, ...)."""


def _generators(model) -> dict[str, np.random.Generator]:
    """Every numpy Generator held by a module (dropout layers), by module name."""
    found = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{name}.{attr}" if name else attr] = value
    return found


class Trainer:
    """Trainer(config, overwrite=False, log=print). `overwrite=True` moves an existing run in
    config.out_dir aside (to out_dir/previous/) instead of refusing to start."""

    def __init__(self, config: TrainConfig, *, log=None, overwrite: bool = False,
                 tokenizer_state: dict | None = None):
        pretrained, tokenizer = None, None
        if config.init_from and tokenizer_state is None:  # (a resumed run has its own weights)
            pretrained, tokenizer = from_pretrained(config.init_from,
                                                    dropout=config.model.dropout)
            config = fine_tuning_config(config, pretrained)
        self.data = prepare_data(config, tokenizer_state, tokenizer)
        self.tokenizer = self.data.tokenizer
        # the tokenizer decides the vocabulary; from here on the config says so too
        vocab_size = pretrained.config.vocab_size if pretrained else self.tokenizer.vocab_size
        self.cfg = dataclasses.replace(config, model=dataclasses.replace(
            config.model, vocab_size=vocab_size))
        self.model_config = self.cfg.model
        # the reference runs of these exact settings, if any: a loss outside their band warns
        self.reference, self._off_band = find_curve(self.cfg), False
        self.model = pretrained or GPT(self.cfg.model, seed=config.seed)
        if pretrained is not None and pretrained.config.block_size > config.model.block_size:
            pretrained.crop_block_size(config.model.block_size)
        if config.dtype == "float64":
            self.model.to(np.float64)
        groups = optim.configure_param_groups(self.model.named_parameters(),
                                              config.weight_decay,
                                              decay_embeddings=config.decay_embeddings)
        self.optimizer = optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
        self.batch_rng = np.random.default_rng(config.seed)
        self.step, self.best_val, self.best_step = 0, math.inf, None
        self.lowest_val = math.inf  # the lowest val loss seen; best_val is best.npz's
        self.evals: list[list[float]] = []  # [step, train loss, val loss] per evaluation
        self.history: list[dict] = []
        self.overwrite, self.resumed = overwrite, False
        self._log, self._progress, self._interrupted, self._warned = log, None, False, False
        self.ckpt_path = os.path.join(config.out_dir, "ckpt.npz")
        self.best_path = os.path.join(config.out_dir, "best.npz")
        self.log_path = os.path.join(config.out_dir, "log.jsonl")

    def log(self, text: str) -> None:
        """A message: through the progress reporter (never onto the bar's line) by default."""
        if self._log is not None:
            self._log(text)
        elif self._progress is not None:
            self._progress.write(text)
        else:
            print(text, flush=True)

    # ---- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything a checkpoint holds: step, best, configs, tokenizer, weights, optimizer
        moments and every RNG state (what makes resuming bit-exact)."""
        return {
            "step": self.step, "best_val": self.best_val, "best_step": self.best_step,
            "lowest_val": self.lowest_val,
            "evals": self.evals,
            "train_config": self.cfg.to_dict(), "model_config": self.cfg.model.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
            "model": {k: v.copy() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "rng": {"batch": self.batch_rng.bit_generator.state,
                    **{k: g.bit_generator.state for k, g in _generators(self.model).items()}},
        }

    def save(self, path: str | None = None) -> str:
        """Write the state atomically; on failure the previous file at `path` is untouched."""
        path = path or self.ckpt_path
        try:
            save_checkpoint(path, self.state())
        except OSError as e:
            kept = ("the previous checkpoint there is intact" if os.path.exists(path)
                    else "no earlier checkpoint exists")
            raise SaveError(f"could not save step {self.step} to {path}: {e.strerror or e} "
                            f"({kept}); free disk space or make the directory writable, or "
                            "train into another --out_dir") from None
        return path

    @classmethod
    def resume_from(cls, path: str, overrides: dict | None = None, *, log=None) -> Trainer:
        """A trainer continuing the run in `path` (its directory or its ckpt.npz) from the
        checkpoint's own config; `overrides` ({flag: value}) may change RESUMABLE keys only."""
        ckpt = os.path.join(path, "ckpt.npz") if os.path.isdir(path) else path
        state = load_checkpoint(ckpt)
        saved = TrainConfig.from_dict(state["train_config"])
        saved = replace(saved, out_dir=os.path.dirname(ckpt) or ".")  # where the run is now
        trainer = cls(resumed_config(saved, overrides or {}), log=log,
                      tokenizer_state=state["tokenizer"])
        trainer._restore(state, ckpt)
        return trainer

    def resume(self, path: str | None = None) -> None:
        """Continue from a checkpoint trained with this trainer's model settings."""
        path = path or self.ckpt_path
        state = load_checkpoint(path)
        mine = self.cfg.model.to_dict()
        mismatched = [k for k, v in state["model_config"].items() if mine.get(k) != v]
        if mismatched:
            details = ", ".join(f"{k}: checkpoint {state['model_config'][k]!r} vs requested "
                                f"{mine.get(k)!r}" for k in mismatched)
            raise CheckpointError(f"checkpoint {path!r} was trained with a different model "
                                  f"({details}); use the same settings to resume")
        self._restore(state, path)

    def _restore(self, state: dict, path: str) -> None:
        check_finite(state["model"], f"checkpoint {path!r}")  # else the first step diverges
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.batch_rng.bit_generator.state = state["rng"]["batch"]
        for name, gen in _generators(self.model).items():
            if name in state["rng"]:
                gen.bit_generator.state = state["rng"][name]
        self.step, self.best_val = int(state["step"]), float(state["best_val"])
        self.best_step = state.get("best_step")
        self.lowest_val = float(state.get("lowest_val", self.best_val))
        self.evals = [list(e) for e in state.get("evals", [])]
        self.resumed = True
        self.log(f"resumed from {path} at step {self.step}")

    # ---- one step -----------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        """The cosine schedule with linear warmup at `step`."""
        c = self.cfg
        return optim.cosine_lr(step, lr=c.lr, min_lr=c.min_lr, warmup_iters=c.warmup_iters,
                               lr_decay_iters=max(c.lr_decay_iters, 1))

    def train_step(self) -> dict:
        """One batch: forward, backward, clip, AdamW; returns step, loss, lr, grad norm."""
        c = self.cfg
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.data.get_batch("train", c.batch_size, c.model.block_size, self.batch_rng)
        self.model.train()
        try:
            with detect_anomaly() if c.detect_anomaly else contextlib.nullcontext():
                _, loss = self.model(x, y)
                loss_value = float(loss.item())
                if not math.isfinite(loss_value):
                    raise TrainingDiverged(self._diverged_message("loss", loss_value))
                self.optimizer.zero_grad()
                loss.backward()
        except AnomalyError as e:
            raise TrainingDiverged(self._diverged_message("an op's output", "not finite")
                                   + f"\nanomaly detection: {e}") from None
        params = self.model.parameters()
        norm = optim.clip_grad_norm_(params, c.grad_clip if c.grad_clip > 0 else math.inf)
        if not math.isfinite(norm):
            raise TrainingDiverged(self._diverged_message("gradient norm", norm))
        health = None
        if c.health_interval and self.step % c.health_interval == 0:
            before = {n: p.data.copy() for n, p in self.model.named_parameters()}
            self.optimizer.step()
            health = health_snapshot(self.model, before)
        else:
            self.optimizer.step()
        self.step += 1
        return {"step": self.step, "loss": loss_value, "lr": lr, "grad_norm": float(norm),
                "health": health}

    def _diverged_message(self, what: str, value: float) -> str:
        kept = (f"the last good checkpoint {self.ckpt_path} is untouched"
                if os.path.exists(self.ckpt_path) else "no checkpoint was written")
        return (f"training diverged at step {self.step}: {what} is {value}; {kept}. "
                "Lower --lr, raise --warmup_iters or enable --grad_clip")

    # ---- evaluation ---------------------------------------------------------------------------
    def sample(self, n_tokens: int | None = None, seed: int | None = None) -> str:
        """A sample from a fresh line, cut at a sentence or word boundary."""
        return text_sample(self.model, self.data, n_tokens or self.cfg.sample_tokens,
                           self.cfg.seed + self.step if seed is None else seed)

    # ---- the loop -----------------------------------------------------------------------------
    def _write_log(self, record: dict) -> None:
        self.history.append(record)
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _on_sigint(self, signum, frame):
        if self._interrupted:  # a second Ctrl-C: stop now, without the final save
            raise KeyboardInterrupt
        self._interrupted = True

    def _prepare_out_dir(self) -> None:
        out = self.cfg.out_dir
        if self.resumed:
            run_dir.trim_samples(os.path.join(out, "samples.txt"), self.step)
            dropped = run_dir.trim_log(self.log_path, self.step)
            if dropped:
                self.log(f"dropped {dropped} log records written after step {self.step}")
        elif self.step == 0 and run_dir.holds_run(out):
            if not self.overwrite:
                run_dir.refuse_existing(out)
            self.log(f"moved the previous run in {out}/ to {run_dir.move_aside(out)}/")
        os.makedirs(out, exist_ok=True)

    def train(self) -> dict:
        """Run to max_iters (or Ctrl-C, or an early stop), evaluating, saving and logging;
        returns step, last record, best val loss and step, interrupted, early_stopped."""
        c = self.cfg
        self._prepare_out_dir()
        note = other_text_note(c) if self.reference is None and self.step == 0 else None
        if note:  # the preset has a band, but for another text: say why none is drawn
            self.log(note)
        previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
        tokens_per_step = c.batch_size * c.model.block_size
        self._progress = Progress(total=c.max_iters, initial=self.step, enabled=c.progress)
        t_last, last, stopped = time.perf_counter(), {}, False
        try:
            while self.step < c.max_iters and not self._interrupted and not stopped:
                record = self.train_step()
                health = record.pop("health")
                now = time.perf_counter()
                record["tokens_per_s"] = tokens_per_step / max(now - t_last, 1e-9)
                t_last, last = now, record
                self._progress.update(self.step, record["loss"], record["tokens_per_s"])
                if self.step % c.log_interval == 0 or self.step == 1:
                    self._write_log(record)
                if health is not None:
                    self._write_log({"step": self.step, "health": health})
                if self.step % c.eval_interval == 0 or self.step == c.max_iters:
                    stopped = self._evaluate()
                if self.step % c.checkpoint_interval == 0 or self.step == c.max_iters or stopped:
                    self.save()
            if self._interrupted:
                self._progress.close()
                self.log(f"interrupted: checkpoint saved to {self.save()} at step {self.step};"
                         f" continue with: tinygrad-lm train --resume {c.out_dir}")
        finally:
            self._progress.close()
            self._progress = None
            signal.signal(signal.SIGINT, previous_handler)
        if c.plots:
            self._figures()
        return {"step": self.step, "last": last, "interrupted": self._interrupted,
                "best_val": self.best_val if self.best_step is not None else None,
                "best_step": self.best_step, "early_stopped": stopped}

    def _figures(self) -> None:
        out = self.cfg.out_dir
        plot_loss(self.log_path, os.path.join(out, "loss.png"), reference=self.reference)
        plot_health(self.log_path, os.path.join(out, "health.png"))
        ids = self.data.dataset.val[:min(self.cfg.model.block_size, 32)]
        plot_attention(self.model, self.tokenizer, ids, os.path.join(out, "attention.png"))

    def _evaluate(self) -> bool:
        """Losses, best.npz, a sample, the overfitting check; True when it is time to stop."""
        losses = estimate_loss(self.model, self.data, self.cfg, self.step)
        train, val = losses["train"], losses["val"]
        self.evals.append([self.step, train, val])
        self.lowest_val = min(self.lowest_val, val)
        improved = val <= self.lowest_val + losses.get("val_se", 0.0)
        if improved:
            self.best_val, self.best_step, self._warned = val, self.step, False
            self.save(self.best_path)
        self._write_log({"step": self.step, "train_loss": train, "val_loss": val,
                         "best": improved})
        text = training_sample(self.model, self.data, self.cfg.sample_tokens,
                               self.cfg.seed + self.step)
        with open(os.path.join(self.cfg.out_dir, "samples.txt"), "a", encoding="utf-8") as f:
            f.write(f"--- step {self.step} ---\n{text}\n")
        note = " (best so far: best.npz)" if improved else f" (best {self.best_val:.4f} at " \
                                                            f"step {self.best_step})"
        self.log(f"step {self.step}: train loss {train:.4f}, val loss {val:.4f}{note}\n"
                 f"{text[:300]}")
        off_band = band_warning(self.reference, self.step, val) if self.reference else None
        if off_band and not self._off_band:  # once per run: the first step it leaves the band
            self._off_band = True
            self.log("warning: " + off_band)
        warning = overfitting_warning(self.evals, self.cfg.overfit_patience, self.best_step,
                                      self.best_val)
        if warning and not self._warned:
            self._warned = True
            self.log(warning)
        patience = self.cfg.early_stop_patience
        since_best = sum(1 for s, _, _ in self.evals if s > (self.best_step or 0))
        if patience and since_best >= patience:
            self.log(f"early stop: no better val loss in {since_best} evaluations since step "
                     f"{self.best_step} (--early_stop_patience={patience}); best.npz holds it")
            return True
        return False
