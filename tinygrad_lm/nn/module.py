"""Module and Parameter: containers of learnable tensors, found by walking attributes.

A Module needs no registration calls: whatever a layer stores as an attribute (a Parameter, a
Module, or a list / tuple / dict of them) is found by walking `vars(self)`, so

    class TwoLayer(Module):
        def __init__(self):
            self.fc1, self.fc2 = Linear(4, 8), Linear(8, 2)
        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

lists `fc1.weight, fc1.bias, fc2.weight, fc2.bias` in `named_parameters()`. A Parameter reached
along two paths (weight tying) is listed once, under the first name found.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad and is listed by Module.parameters()."""

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class LoadResult(NamedTuple):
    """What load_state_dict(strict=False) skipped (as PyTorch returns it)."""
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer. Subclasses set attributes (Parameters, Modules, lists or dicts
    of Modules) in __init__ and implement forward; everything else is found by walking them.
    Calling super().__init__() is not required."""

    training = True  # a class default, so subclasses work without calling Module.__init__

    def forward(self, *args, **kwargs):
        """The module's computation; `module(*args)` calls it. Subclasses define it.

        Each layer's class docstring gives its input and output shapes.
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- walking ------------------------------------------------------------------------------
    def _children(self):
        """(name, value) for attributes that are Parameters or Modules, lists and dicts expanded
        one level (`h.0`, `h.1`, ... as in PyTorch's ModuleList)."""
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

    def named_children(self):
        """(name, module) for each direct submodule, in attribute order."""
        return [(n, m) for n, m in self._children() if isinstance(m, Module)]

    def named_modules(self, prefix: str = ""):
        """This module and all submodules, depth first in attribute order, each once. An explicit
        stack rather than recursion: a deep stack of blocks never hits Python's recursion limit."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> list[Module]:
        """This module and every submodule, depth first, each once."""
        return [m for _, m in self.named_modules()]

    def named_parameters(self) -> list[tuple[str, Parameter]]:
        """Dotted names of every Parameter; a parameter shared by two modules is listed once, so
        an optimizer never updates it twice."""
        seen, out = set(), []
        for mod_name, module in self.named_modules():
            for name, value in module._children():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    out.append((f"{mod_name}.{name}" if mod_name else name, value))
        return out

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this module and its submodules, each once: what an optimizer takes.
        A parameter shared by two modules (tied weights) is listed once.
        """
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """The number of scalars in all parameters (shared ones counted once)."""
        return sum(p.size for p in self.parameters())

    # ---- modes and dtypes ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active) for this module and every submodule."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout becomes the identity, so forward is deterministic."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's `grad` to None before the next backward."""
        for p in self.parameters():
            p.grad = None

    def to(self, dtype) -> Module:
        """Convert every parameter to `dtype` (float64 for gradchecks, float32 for training).
        The Parameter objects stay the same (only their arrays change), so references held
        elsewhere, such as a tied head or an optimizer's parameter list, stay valid."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, got "
                            f"{dtype}; use np.float32 or np.float64")
        for p in self.parameters():
            if p.dtype != dtype:
                p.data = p.data.astype(dtype)
                p._bump_version()
            p.grad = None
        return self

    # ---- weights in and out -------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: array}. The arrays ARE the parameters' data (as in PyTorch): an in-place
        update changes them too, so copy them (`{k: v.copy() ...}`) to keep a snapshot."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict: bool = True, assign: bool = False) -> LoadResult:
        """Copy arrays into the parameters (cast to each parameter's dtype). Names and shapes are
        all checked first, so nothing changes unless everything fits. strict=False skips missing
        and unexpected names (returned) but never a wrong shape. assign=True (PyTorch's name)
        makes each array the parameter's data instead, keeping the array's dtype: no copy, so a
        model built without initialising (GPT(config, init=False)) holds the weights once."""
        own = dict(self.named_parameters())
        arrays = {k: v.data if isinstance(v, Tensor) else np.asarray(v) for k, v in state.items()}
        missing = [k for k in own if k not in arrays]
        unexpected = [k for k in arrays if k not in own]
        if strict and (missing or unexpected):
            found = [f"{what} keys {keys}" for what, keys in (("missing", missing),
                                                               ("unexpected", unexpected)) if keys]
            raise KeyError(f"load_state_dict: {', '.join(found)}; was the state saved from a "
                           "model with this config? (strict=False loads the keys that match)")
        wrong = [f"{k} has shape {arrays[k].shape} in the state dict but {p.shape} in the model"
                 for k, p in own.items() if k in arrays and arrays[k].shape != p.shape]
        if assign:
            wrong += [f"{k} is {a.dtype}, not floating point" for k, a in arrays.items()
                      if k in own and a.dtype.kind != "f"]
        if wrong:
            raise ValueError("load_state_dict: " + "; ".join(wrong))
        for name, p in own.items():
            if name in arrays and assign:
                p.data, p.grad = np.ascontiguousarray(arrays[name]), None
                p._bump_version()
            elif name in arrays:
                p.data[...] = arrays[name]  # casts to the parameter's dtype
                p._bump_version()
        return LoadResult(missing, unexpected)

    # ---- printing -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown inside this module's line of `repr(model)` ("" for none); layers
        override it.
        """
        return ""

    def __repr__(self) -> str:
        children = self.named_children()
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in children]
        return head + "\n" + "\n".join(lines) + "\n)"
