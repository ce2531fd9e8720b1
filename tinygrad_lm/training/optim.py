"""Optimizers (SGD, Adam, AdamW), gradient clipping and learning-rate schedules.

A parameter is anything with `.data` (updated in place: other code holds references to the
array) and `.grad` (None when the parameter received no gradient; it is then skipped).
Parameter groups work as in PyTorch: a list of dicts with "params" and per-group settings.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import active_backend
from ..tensor import Tensor


def _mark_changed(p) -> None:
    """Count an update of p's data in place, so that backward through a graph that saved the
    old value refuses to run; a plain object with `.data` and `.grad` keeps no count."""
    if isinstance(p, Tensor):
        p._bump_version()


class Optimizer:
    """The base of every optimizer: parameter groups, `zero_grad`, `step` and saved state.

    Args:
        params: Parameters (anything with `.data` and `.grad`), or a list of dicts with
            "params" and per-group settings (`configure_param_groups` makes two).
        **defaults: the settings every group starts from (`lr`, `weight_decay`, ...).
    """
    defaults: dict = {}

    def __init__(self, params, **defaults):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups = []
        for g in groups:
            group = {**defaults, **g, "params": list(g["params"])}
            self._validate(group)
            self.param_groups.append(group)
        self.state: dict[int, dict] = {}  # by id(param)

    @staticmethod
    def _validate(group):
        if group["lr"] < 0:
            raise ValueError(f"learning rate must be >= 0, got {group['lr']}")
        if group.get("weight_decay", 0.0) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {group['weight_decay']}")
        betas = group.get("betas")
        if betas is not None and not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if group.get("eps", 1.0) <= 0:
            raise ValueError(f"eps must be > 0, got {group['eps']}")

    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    def zero_grad(self) -> None:
        """Set every parameter's `grad` to None before the next backward."""
        for _, p in self._params():
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place, with `update`; parameters whose
        `grad` is None (unused in this step) are left alone.
        """
        for group, p in self._params():
            if p.grad is not None:
                self.update(p, p.grad, self.state.setdefault(id(p), {}), group)
                _mark_changed(p)

    def update(self, p, g, state, group):  # pragma: no cover - abstract
        """Update one parameter in place.

        Args:
            p: the parameter; `p.data` is changed in place.
            g: its gradient, an array of `p.data`'s shape.
            state: this parameter's own dict (momentum, moments, step count), kept across steps.
            group: the settings of the parameter's group (`lr`, `weight_decay`, ...).
        """
        raise NotImplementedError

    # ---- state in and out: keyed by position (group order, then parameter order) -----------
    def state_dict(self) -> dict:
        """The optimizer's settings and per-parameter state (copied), keyed by position: group
        order, then parameter order, so it loads into an optimizer built the same way.
        """
        groups, state, index = [], {}, 0
        for group in self.param_groups:
            settings = {k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in group.items() if k != "params"}
            groups.append({**settings, "n_params": len(group["params"])})
            for p in group["params"]:
                if id(p) in self.state:
                    state[str(index)] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                         for k, v in self.state[id(p)].items()}
                index += 1
        return {"param_groups": groups, "state": state}

    def load_state_dict(self, sd: dict) -> None:
        """Restore what `state_dict()` returned; the group count and sizes must match."""
        if len(sd["param_groups"]) != len(self.param_groups):
            raise ValueError(f"optimizer state has {len(sd['param_groups'])} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params = []
        for saved, group in zip(sd["param_groups"], self.param_groups):
            if saved["n_params"] != len(group["params"]):
                raise ValueError(f"optimizer state has a group of {saved['n_params']} parameters"
                                 f" where this optimizer has {len(group['params'])}")
            params += group["params"]
        new_state = {}
        for key, st in sd["state"].items():
            p = params[int(key)]
            for name, v in st.items():
                if isinstance(v, np.ndarray) and v.shape != p.data.shape:
                    raise ValueError(f"optimizer state {name!r} of parameter {key} has shape "
                                     f"{v.shape}, the parameter has {p.data.shape}")
            new_state[id(p)] = {k: (np.array(v, dtype=p.data.dtype) if isinstance(v, np.ndarray)
                                    else v) for k, v in st.items()}
        for saved, group in zip(sd["param_groups"], self.param_groups):
            for k, v in saved.items():
                if k != "n_params":
                    group[k] = tuple(v) if k == "betas" else v
        self.state = new_state


class SGD(Optimizer):
    """p -= lr * d, with g = grad + wd * p (L2), b = mu * b + g, d = g + mu * b if nesterov
    else b (PyTorch's convention)."""

    def __init__(self, params, lr=1e-2, momentum=0.0, nesterov=False, weight_decay=0.0):
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov needs momentum > 0")
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay)

    def update(self, p, g, state, group):
        """g = grad + wd * p; with momentum mu, b = mu * b + g and d = g + mu * b (nesterov) or b;
        p -= lr * d.
        """
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf = state["momentum_buffer"]
                buf *= mu
                buf += g
            buf = state["momentum_buffer"]
            g = g + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * g


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient (the original formulation).

    The update's math is the kernel's, `adamw_update_` (kernels/reference.py); `update` below
    runs it on one parameter at a time. With `fused=True` (the default,
    PyTorch's name for the same switch) `step` gives every parameter to one kernel call,
    `adamw_update_many_`, instead of calling `update` per parameter: the same arithmetic, to
    the bit, without a Python call and a kernel launch for each of a model's tensors.
    `fused=False` runs `update` itself.
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 fused=True):
        super().__init__(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        self.fused = fused

    def step(self) -> None:
        """Update every parameter that has a gradient: through `update` one at a time, or,
        fused, all of them in one `adamw_update_many_` call."""
        if not self.fused:
            return super().step()
        todo = [(group, p, self._state(p)) for group, p in self._params() if p.grad is not None]
        if not todo:
            return
        steps = [self._kernel_inputs(p, p.grad, state, group) for group, p, state in todo]
        active_backend().adamw_update_many_(
            [p.data for _, p, _ in todo], [g for g, _ in steps],
            [s["exp_avg"] for _, _, s in todo], [s["exp_avg_sq"] for _, _, s in todo],
            lr=[g["lr"] for g, _, _ in todo], beta1=[g["betas"][0] for g, _, _ in todo],
            beta2=[g["betas"][1] for g, _, _ in todo], eps=[g["eps"] for g, _, _ in todo],
            weight_decay=[wd for _, wd in steps], step=[s["step"] for _, _, s in todo])
        for _, p, _ in todo:
            _mark_changed(p)

    def _state(self, p) -> dict:
        """p's moments and step count, created (zero) on its first update."""
        state = self.state.setdefault(id(p), {})
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def _kernel_inputs(self, p, g, state, group):
        """Count the step and return (gradient, weight_decay) for the AdamW kernel, the one
        place Adam and AdamW differ: Adam adds L2 decay to the gradient (g + wd * p) and gives
        the kernel wd = 0; AdamW gives the gradient as it is and wd, which the kernel applies as
        p *= 1 - lr * wd. Both `update` and the fused `step` call this."""
        state["step"] += 1
        wd = group["weight_decay"]
        if wd and not self.decoupled:
            g, wd = g + wd * p.data, 0.0
        return np.ascontiguousarray(g, dtype=p.data.dtype), wd

    def update(self, p, g, state, group):
        """One parameter's step, by the active backend's `adamw_update_` kernel: its math is in
        `kernels/reference.py` (adamw_update_); Adam's L2 decay is in `_kernel_inputs`."""
        if not state:
            self._state(p)  # fills `state`, the dict kept for p
        g, wd = self._kernel_inputs(p, g, state, group)
        b1, b2 = group["betas"]
        active_backend().adamw_update_(p.data, g, state["exp_avg"], state["exp_avg_sq"],
                                       lr=group["lr"], beta1=b1, beta2=b2, eps=group["eps"],
                                       weight_decay=wd, step=state["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * wd * p before the Adam step (Loshchilov &
    Hutter), so decay does not pass through the adaptive scaling."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                 fused=True):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         fused=fused)


def configure_param_groups(named_params, weight_decay: float, *, decay_embeddings=False):
    """Two groups as in GPT-2 training: matrices decay; biases, LayerNorm weights and (unless
    asked) embeddings do not. A parameter shared under two names appears once."""
    decay, no_decay, seen = [], [], set()
    for name, p in named_params:
        if id(p) in seen:
            continue
        seen.add(id(p))
        is_embedding = "wte" in name or "wpe" in name
        if p.data.ndim >= 2 and (decay_embeddings or not is_embedding):
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def clip_grad_norm_(params, max_norm: float) -> float:
    """Scale all gradients by max_norm / norm when their global L2 norm exceeds max_norm.
    Returns the norm before clipping (computed in float64); a non-finite norm is returned
    without scaling, for the caller to report."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    # one kernel call over every gradient (the sum of sum_squares(g) over g)
    norm = math.sqrt(active_backend().sum_squares_many(grads))
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for g in grads:
            g *= scale
    return norm


def cosine_lr(step: int, *, lr: float, min_lr: float, warmup_iters: int,
              lr_decay_iters: int) -> float:
    """Linear warmup to lr over warmup_iters, then cosine decay to min_lr at lr_decay_iters
    (nanoGPT's schedule):

        step < warmup:        lr * (step + 1) / (warmup + 1)
        step > decay_iters:   min_lr
        otherwise:            min_lr + (lr - min_lr) * (1 + cos(pi * r)) / 2,
                              r = (step - warmup) / (decay_iters - warmup)
    """
    if min_lr > lr or warmup_iters < 0 or lr_decay_iters < 0:
        raise ValueError(f"cosine_lr: need min_lr <= lr and iters >= 0, got lr={lr}, "
                         f"min_lr={min_lr}, warmup_iters={warmup_iters}, "
                         f"lr_decay_iters={lr_decay_iters}")
    # BEGIN ASSIGNMENT 5.2
    # STARTER: from ..kernels import unfinished
    # STARTER: return unfinished(STARTER_ERROR, "a constant learning rate", lambda: lr)
    if step < warmup_iters:
        return lr * (step + 1) / (warmup_iters + 1)
    if step > lr_decay_iters or lr_decay_iters <= warmup_iters:
        return min_lr
    ratio = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)
    # END ASSIGNMENT 5.2


def moments_by_name(model, optimizer_state: dict) -> dict[str, dict]:
    """Our AdamW.state_dict() (parameters numbered through the groups that
    configure_param_groups builds, as the trainer does) as name -> {step, exp_avg,
    exp_avg_sq}: plain arrays a file writer can take (nanoGPT's ckpt.pt)."""
    named = dict(model.named_parameters())
    name_of = {id(p): n for n, p in reversed(list(named.items()))}
    groups = configure_param_groups(named.items(), 0.0)
    order = [name_of[id(p)] for g in groups for p in g["params"]]
    sizes = [g.get("n_params") for g in optimizer_state.get("param_groups", [])]
    if sizes != [len(g["params"]) for g in groups]:
        raise ValueError(f"the optimizer state has groups of {sizes} parameters, not the "
                          f"{[len(g['params']) for g in groups]} the trainer builds for this model")
    return {order[int(i)]: st for i, st in optimizer_state.get("state", {}).items()}
