"""Module and Parameter: containers of learnable tensors, found by walking attributes."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad and is listed by Module.parameters()."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    """Base class of every layer. Subclasses set attributes (Parameters, Modules, lists or dicts
    of Modules) in __init__ and implement forward; everything else is found by walking them."""

    training = True

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- walking ------------------------------------------------------------------------------
    def _children(self):
        """(name, value) for attributes that are Parameters or Modules, lists and dicts expanded."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, (Parameter, Module)):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, (Parameter, Module)):
                        yield f"{name}.{k}", v

    def named_modules(self, prefix: str = ""):
        """This module and all submodules, depth first, each once."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._children()
                        if isinstance(m, Module)]
            stack.extend(reversed(children))

    def modules(self):
        return [m for _, m in self.named_modules()]

    def named_parameters(self):
        """Dotted names of every Parameter; a parameter shared by two modules is listed once."""
        seen, out = set(), []
        for mod_name, module in self.named_modules():
            for name, value in module._children():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    out.append((f"{mod_name}.{name}" if mod_name else name, value))
        return out

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # ---- modes and dtypes ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, dtype) -> Module:
        """Convert every parameter in place (same Parameter objects, new data arrays)."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
            p._version += 1
        return self

    # ---- weights in and out -------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters, checking names and shapes first (nothing is changed
        unless everything fits)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}; was the state saved from a model with this config?")
        for name, p in own.items():
            if name in state and tuple(np.shape(state[name])) != p.shape:
                raise ValueError(f"load_state_dict: {name} has shape {tuple(np.shape(state[name]))}"
                                 f" in the state dict but {p.shape} in the model")
        for name, p in own.items():
            if name in state:
                p.data[...] = np.asarray(state[name], dtype=p.dtype)
                p._version += 1
