# %% [markdown]
# # Lesson 1 — Autograd by hand
#
# **Goal:** understand reverse-mode differentiation by building it for scalars: each value
# remembers how it was made, `backward` visits the graph in reverse topological order and
# applies the chain rule. Then get the same numbers from `tinygrad_lm.Tensor`.
#
# Run: `python lessons/01_autograd_by_hand.py` (add `--quick` for the short version).

# %%
import math

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.lessons import pyplot, show

# %% [markdown]
# ## A scalar value with a gradient
# `Value` stores its data, its gradient, its parents and a closure that pushes its own gradient
# to the parents (the local derivative times the upstream gradient).

# %%
class Value:
    def __init__(self, data, parents=(), op="", label=""):
        self.data, self.grad, self.parents, self.op, self.label = data, 0.0, parents, op, label
        self._backward = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward():  # d(a+b)/da = 1, d(a+b)/db = 1
            self.grad += out.grad
            other.grad += out.grad
        out._backward = backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward():  # d(ab)/da = b, d(ab)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def backward():  # d tanh(a)/da = 1 - tanh(a)^2
            self.grad += (1 - t * t) * out.grad
        out._backward = backward
        return out

    def backward(self):
        # topological order without recursion: parents before children
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


# %% [markdown]
# ## A small expression: y = tanh(w1*x1 + w2*x2 + b)

# %%
x1, x2 = Value(2.0, label="x1"), Value(-1.0, label="x2")
w1, w2, b = Value(0.5, label="w1"), Value(1.5, label="w2"), Value(0.3, label="b")
n = x1 * w1 + x2 * w2 + b
y = n.tanh()
y.backward()
print(f"y = {y.data:.6f}")
print(f"dy/dw1 = {w1.grad:.6f}, dy/dw2 = {w2.grad:.6f}, dy/db = {b.grad:.6f}")

# %% [markdown]
# ## The computation graph
# Every node is drawn with its value and gradient; arrows go from inputs to results.

# %%
def draw_graph(root, name):
    plt = pyplot()
    nodes, edges, stack = [], [], [root]
    depth = {id(root): 0}
    while stack:
        node = stack.pop()
        nodes.append(node)
        for p in node.parents:
            edges.append((p, node))
            if id(p) not in depth:
                depth[id(p)] = depth[id(node)] + 1
                stack.append(p)
    levels = {}
    for node in nodes:
        levels.setdefault(depth[id(node)], []).append(node)
    pos = {}
    for d, group in levels.items():
        for i, node in enumerate(group):
            pos[id(node)] = (-d, i - (len(group) - 1) / 2)
    fig, ax = plt.subplots(figsize=(9, 4))
    for p, c in edges:
        (x0, y0), (x1_, y1_) = pos[id(p)], pos[id(c)]
        ax.annotate("", xy=(x1_, y1_), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="gray", shrinkA=28, shrinkB=28))
    for node in nodes:
        x, y_ = pos[id(node)]
        label = f"{node.op or node.label}\ndata {node.data:.3f}\ngrad {node.grad:.3f}"
        ax.text(x, y_, label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="lightyellow"))
    ax.set_axis_off()
    ax.set_xlim(min(p[0] for p in pos.values()) - 0.6, 0.6)
    ax.set_ylim(min(p[1] for p in pos.values()) - 0.8, max(p[1] for p in pos.values()) + 0.8)
    fig.tight_layout()
    return show(fig, name)


print("graph drawn to", draw_graph(y, "01_graph.png"))

# %% [markdown]
# ## The same numbers from tinygrad_lm
# `Tensor` does exactly this, for whole arrays, with one op class per operation.

# %%
T = {name: tg.Tensor(v.data, requires_grad=True, dtype=np.float64)
     for name, v in dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b).items()}
yt = (T["x1"] * T["w1"] + T["x2"] * T["w2"] + T["b"]).tanh()
yt.backward()
for name, v in dict(w1=w1, w2=w2, b=b).items():
    print(f"{name}: by hand {v.grad:.6f}   tinygrad_lm {T[name].grad.item():.6f}")

# %% [markdown]
# ## Check
# Both implementations agree, and a finite difference agrees with both.

# %%
eps = 1e-6
f = lambda w: math.tanh(x1.data * w + x2.data * w2.data + b.data)  # noqa: E731
numerical = (f(w1.data + eps) - f(w1.data - eps)) / (2 * eps)
assert abs(T["w1"].grad.item() - w1.grad) < 1e-12
assert abs(numerical - w1.grad) < 1e-8
print(f"finite difference dy/dw1 = {numerical:.6f}: matches. Lesson 1 done.")
