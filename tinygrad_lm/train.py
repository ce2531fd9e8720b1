"""The training loop: schedule, forward, backward, clip, step; evaluation, logs, checkpoints.

    from tinygrad_lm.config import make_config
    from tinygrad_lm.train import Trainer
    Trainer(make_config("grammar")).train()

Reproducibility: every random choice comes from a numpy Generator whose state is checkpointed
(the batch sampler, which is the data position, and each dropout layer). Evaluation and samples
use generators derived from (seed, step), so they never disturb the training stream. Hence N
steps, save, resume, N more steps gives bit-identical parameters to 2N steps straight.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time

import numpy as np

from . import optim
from .autograd import AnomalyError, detect_anomaly, no_grad
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import prepare_data
from .nn.gpt import GPT, GPTConfig
from .training_health import health_snapshot


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


def _generators(model) -> dict[str, np.random.Generator]:
    """Every numpy Generator held by a module (dropout layers), by module name."""
    found = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found[f"{name}.{attr}" if name else attr] = value
    return found


@no_grad()
def estimate_loss(model, data, cfg: TrainConfig, step: int) -> dict[str, float]:
    """Mean loss over cfg.eval_iters batches of each split, in eval() mode. The batches come
    from a generator seeded by (seed, step, split), never from the training stream."""
    was_training = model.training
    model.eval()
    out = {}
    for split in ("train", "val"):
        rng = np.random.default_rng([cfg.seed, step, split == "val"])
        losses = []
        for _ in range(cfg.eval_iters):
            x, y = data.get_batch(split, cfg.batch_size, cfg.block_size, rng)
            losses.append(model(x, y)[1].item())
        out[split] = float(np.mean(losses))
    model.train(was_training)
    return out


class Trainer:
    def __init__(self, config: TrainConfig, *, log=print):
        self.cfg = config
        self.log = log
        self.data = prepare_data(config)
        self.tokenizer = self.data.tokenizer
        self.model_config = GPTConfig(
            vocab_size=self.tokenizer.vocab_size, block_size=config.block_size,
            n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
            dropout=config.dropout, bias=config.bias, tie_weights=config.tie_weights,
            norm_position=config.norm_position)
        self.model = GPT(self.model_config, seed=config.seed)
        if config.dtype == "float64":
            self.model.to(np.float64)
        groups = optim.configure_param_groups(self.model.named_parameters(),
                                              config.weight_decay)
        self.optimizer = optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
        self.batch_rng = np.random.default_rng(config.seed)
        self.step = 0
        self.best_val = math.inf
        self.history: list[dict] = []
        self._interrupted = False
        os.makedirs(config.out_dir, exist_ok=True)
        self.ckpt_path = os.path.join(config.out_dir, "ckpt.npz")
        self.log_path = os.path.join(config.out_dir, "log.jsonl")

    # ---- state --------------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "step": self.step, "best_val": self.best_val,
            "train_config": self.cfg.to_dict(), "model_config": self.model_config.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
            "model": {k: v.copy() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "rng": {"batch": self.batch_rng.bit_generator.state,
                    **{k: g.bit_generator.state for k, g in _generators(self.model).items()}},
        }

    def save(self) -> str:
        save_checkpoint(self.ckpt_path, self.state())
        return self.ckpt_path

    def resume(self, path: str | None = None) -> None:
        path = path or self.ckpt_path
        state = load_checkpoint(path)
        mismatched = [k for k, v in state["model_config"].items()
                      if self.model_config.to_dict().get(k) != v]
        if mismatched:
            details = ", ".join(f"{k}: checkpoint {state['model_config'][k]!r} vs requested "
                                f"{self.model_config.to_dict().get(k)!r}" for k in mismatched)
            raise CheckpointError(f"checkpoint {path!r} was trained with a different model "
                                  f"({details}); use the same settings to resume")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.batch_rng.bit_generator.state = state["rng"]["batch"]
        for name, gen in _generators(self.model).items():
            if name in state["rng"]:
                gen.bit_generator.state = state["rng"][name]
        self.step, self.best_val = int(state["step"]), float(state["best_val"])
        self.log(f"resumed from {path} at step {self.step}")

    # ---- one step -----------------------------------------------------------------------------
    def lr_at(self, step: int) -> float:
        c = self.cfg
        return optim.cosine_lr(step, lr=c.lr, min_lr=c.min_lr, warmup_iters=c.warmup_iters,
                               lr_decay_iters=max(c.lr_decay_iters, 1))

    def train_step(self) -> dict:
        c = self.cfg
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.data.get_batch("train", c.batch_size, c.block_size, self.batch_rng)
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
        norm = optim.clip_grad_norm_(params, c.grad_clip) if c.grad_clip > 0 else \
            optim.clip_grad_norm_(params, math.inf)
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
    def estimate_loss(self) -> dict[str, float]:
        return estimate_loss(self.model, self.data, self.cfg, self.step)

    def sample(self, n_tokens: int | None = None, seed: int | None = None) -> str:
        from .generate import generate
        prompt = self.data.sample_prompt()
        ids = generate(self.model, np.array([prompt], dtype=np.int64),
                       n_tokens or self.cfg.sample_tokens,
                       seed=self.cfg.seed + self.step if seed is None else seed)
        return self.tokenizer.decode(ids[0].tolist())

    # ---- the loop -----------------------------------------------------------------------------
    def _write_log(self, record: dict) -> None:
        self.history.append(record)
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _on_sigint(self, signum, frame):
        self._interrupted = True

    def train(self) -> dict:
        c = self.cfg
        from .plots import plot_health, plot_loss
        from .progress import progress_bar
        previous_handler = signal.signal(signal.SIGINT, self._on_sigint)
        tokens_per_step = c.batch_size * c.block_size
        bar = progress_bar(total=c.max_iters, initial=self.step, enabled=c.progress)
        t_last, last = time.perf_counter(), {}
        try:
            while self.step < c.max_iters and not self._interrupted:
                record = self.train_step()
                health = record.pop("health")
                now = time.perf_counter()
                record["tokens_per_s"] = tokens_per_step / max(now - t_last, 1e-9)
                t_last, last = now, record
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.4f}",
                                tok_s=f"{record['tokens_per_s']:.0f}")
                if self.step % c.log_interval == 0 or self.step == 1:
                    self._write_log(record)
                if health is not None:
                    self._write_log({"step": self.step, "health": health})
                if self.step % c.eval_interval == 0 or self.step == c.max_iters:
                    self._evaluate(bar)
                if self.step % c.checkpoint_interval == 0 or self.step == c.max_iters:
                    self.save()
            if self._interrupted:
                self.log(f"interrupted: checkpoint saved to {self.save()} at step {self.step};"
                         " continue with --resume")
        finally:
            bar.close()
            signal.signal(signal.SIGINT, previous_handler)
        plot_loss(self.log_path, os.path.join(c.out_dir, "loss.png"))
        plot_health(self.log_path, os.path.join(c.out_dir, "health.png"))
        return {"step": self.step, "last": last, "best_val": self.best_val,
                "interrupted": self._interrupted}

    def _evaluate(self, bar) -> None:
        losses = self.estimate_loss()
        self.best_val = min(self.best_val, losses["val"])
        self._write_log({"step": self.step, "train_loss": losses["train"],
                         "val_loss": losses["val"]})
        text = self.sample()
        with open(os.path.join(self.cfg.out_dir, "samples.txt"), "a", encoding="utf-8") as f:
            f.write(f"--- step {self.step} ---\n{text}\n")
        bar.write(f"step {self.step}: train loss {losses['train']:.4f}, "
                  f"val loss {losses['val']:.4f}\n{text[:300]}")
