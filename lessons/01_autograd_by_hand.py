# %% [markdown]
# # Lesson 1 — Autograd by hand
#
# Counting cannot share what it learns between contexts; a neural network can, but it learns
# by following gradients. This lesson builds reverse-mode automatic differentiation for single
# numbers, from scratch, and then gets the same numbers from `tinygrad_lm.Tensor`.

# %% [markdown]
# ## What you will learn
#
# - How an expression becomes a *computational graph*: every value remembers the operation
#   and the inputs that made it.
# - The chain rule as a rule about that graph: the gradient of the output with respect to any
#   node is the sum, over the paths from it to the output, of the products of local
#   derivatives.
# - Why *reverse mode* (backpropagation) visits the nodes in reverse topological order and
#   gets every partial derivative in one pass, and how to find that order without recursion.
# - Why gradients are *accumulated* (`+=`), never overwritten, when a value is used twice.
#
# Why it matters: this is the whole engine in miniature. `tinygrad_lm` does the same for
# arrays, with one op class per operation; assignment 1 asks you to write its core.

# %%
import math

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm.course.lessons import check, pyplot, show

# %% [markdown]
# ## Derivatives by the chain rule
#
# Take one neuron, $y = \tanh(n)$ with $n = w_1 x_1 + w_2 x_2 + b$. The chain rule says
#
# $$\frac{\partial y}{\partial w_1} = \frac{\partial y}{\partial n}
#   \frac{\partial n}{\partial w_1} = (1 - \tanh^2 n)\, x_1 .$$
#
# Each factor is *local*: it only involves one operation and the values at its inputs.
# $\partial(a + b)/\partial a = 1$, $\partial(ab)/\partial a = b$,
# $\partial \tanh(a) / \partial a = 1 - \tanh^2 a$. An automatic differentiator only needs
# these local rules and the order in which to multiply them.
#
# *Reverse mode* starts at the output with $\partial y / \partial y = 1$ and walks backwards:
# each node receives the gradient of $y$ with respect to itself (the *upstream* gradient
# $\bar{v} = \partial y / \partial v$) and passes each input $u$ the amount
# $\bar{v}\, \partial v / \partial u$. For a function of many inputs and one output (a loss
# of millions of parameters) one backward pass, about as costly as the forward pass, gives
# every partial derivative.

# %% [markdown]
# ## A scalar value with a gradient
#
# `Value` holds its number `data`, its gradient `grad` (filled in by `backward`), its
# `parents` and a small function `_backward` that sends its upstream gradient to the parents.

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
        self.grad = 1.0  # dy/dy
        for node in reversed(topological_order(self)):  # children before their parents
            node._backward()


# %% [markdown]
# ## The order of the backward pass
#
# A node may send its gradient on only once it has received everything from the nodes that
# use it. A *topological order* lists every node after all its parents; walked in reverse, it
# visits each node after all its users. The classic way to build it is a recursive depth-first
# search, but Python stops at about 1000 nested calls and a deep network (or an RNN unrolled
# over a long text) has far more nodes in a chain. So we keep our own stack: a node is pushed
# once to visit its parents, and once more, marked, to be appended after them.

# %% [markdown]
# ### Exercise 1.1 — A topological order without recursion
# Write `topological_order(root)`: a list of every node reachable from `root` through
# `.parents`, each exactly once, every node after all of its parents, `root` last. Use an
# explicit stack and a set of visited `id(node)`, so a chain of 5000 nodes works.

# %%
def topological_order(root):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def topological_order_solution(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))  # comes back after every parent is appended
            stack.extend((p, False) for p in node.parents)
    return order


# %%
def _order_ok(f):
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a * c  # a and c are used twice
    order = f(d)
    position = {id(n): i for i, n in enumerate(order)}
    chain = Value(0.5)
    for _ in range(5000):
        chain = chain * 1.0
    return (len(order) == len(position) == 5 and order[-1] is d
            and all(position[id(p)] < position[id(n)] for n in order for p in n.parents)
            and len(f(chain)) == 10001)


answered = check("1.1", topological_order, topological_order_solution, test=_order_ok,
                 hint="Push (node, False); when popped, push (node, True) and then its parents.")
if not answered:  # Value.backward needs a working order: go on with the reference
    topological_order = topological_order_solution

# %% [markdown]
# ## Backward through one neuron

# %%
x1, x2 = Value(2.0, label="x1"), Value(-1.0, label="x2")
w1, w2, b = Value(0.5, label="w1"), Value(1.5, label="w2"), Value(0.3, label="b")
n = x1 * w1 + x2 * w2 + b
y = n.tanh()
y.backward()
print(f"n = {n.data:.4f}, y = tanh(n) = {y.data:.6f}")
print(f"dy/dw1 = {w1.grad:.6f}   by the chain rule (1 - y^2) x1 = "
      f"{(1 - y.data ** 2) * x1.data:.6f}")
print(f"dy/dw2 = {w2.grad:.6f}, dy/db = {b.grad:.6f}")

# %% [markdown]
# ## The computational graph
#
# Each box shows an operation (or a leaf's name), its value and the gradient backward put
# there. Follow the arrows backwards from the output: every gradient is the product of the
# local derivatives along the way.

# %%
def draw_graph(root, name):
    plt = pyplot()
    order = topological_order(root)
    depth = {id(root): 0}
    for node in reversed(order):  # the distance of each node from the output
        for p in node.parents:
            depth[id(p)] = max(depth.get(id(p), 0), depth[id(node)] + 1)
    levels = {}
    for node in order:
        levels.setdefault(depth[id(node)], []).append(node)
    pos = {id(node): (-d, i - (len(group) - 1) / 2)
           for d, group in levels.items() for i, node in enumerate(group)}
    fig, ax = plt.subplots(figsize=(9, 4))
    for node in order:
        for p in node.parents:
            ax.annotate("", xy=pos[id(node)], xytext=pos[id(p)],
                        arrowprops=dict(arrowstyle="-|>", color="gray", shrinkA=28, shrinkB=28))
        label = f"{node.op or node.label}\ndata {node.data:.3f}\ngrad {node.grad:.3f}"
        ax.text(*pos[id(node)], label, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc="lightyellow"))
    ax.set_axis_off()
    ax.set_xlim(min(p[0] for p in pos.values()) - 0.6, 0.6)
    ax.set_ylim(min(p[1] for p in pos.values()) - 0.8, max(p[1] for p in pos.values()) + 0.8)
    return show(fig, name)


print("graph saved to", draw_graph(y, "01_graph.png"))

# %% [markdown]
# ## A value used twice: gradients add up
#
# In $z = a \cdot a$ the node $a$ reaches $z$ along two paths, and the chain rule sums over
# paths: $\partial z/\partial a = a + a = 2a$. That is why every `_backward` above writes
# `+=`. With `=`, the second contribution would overwrite the first and the gradient would be
# half of what it should be — a classic bug that a gradient check (lesson 3) catches.

# %%
a = Value(3.0)
z = a * a
z.backward()
print(f"d(a*a)/da at a = 3: {a.grad} (2a = {2 * a.data})")

# %% [markdown]
# ### Exercise 1.2 — One more operation: exp
# Write `value_exp(v)`: a new `Value` holding $e^{v}$ whose `_backward` adds the local
# derivative times the upstream gradient to `v.grad`. Since $\frac{d}{dv} e^v = e^v$, the
# forward result is all you need to keep.

# %%
def value_exp(v):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def value_exp_solution(v):
    e = math.exp(v.data)
    out = Value(e, (v,), "exp")

    def backward():  # d exp(v)/dv = exp(v)
        v.grad += e * out.grad
    out._backward = backward
    return out


# %%
def _exp_ok(f):
    v = Value(0.7)
    out = f(v) * f(v)  # e^{2v}: d/dv = 2 e^{2v}, reached along two paths
    out.backward()
    return bool(np.isclose(out.data, math.exp(1.4)) and np.isclose(v.grad, 2 * math.exp(1.4)))


check("1.2", value_exp, value_exp_solution, test=_exp_ok,
      hint="out = Value(math.exp(v.data), (v,), 'exp'); its _backward does v.grad += ...")

# %% [markdown]
# ## The same numbers from tinygrad_lm
#
# `tg.Tensor` does exactly this for whole arrays. Each operation is one class with a
# `forward` and a `backward` on NumPy arrays; `loss.backward()` builds the topological order
# iteratively and accumulates into `.grad`. We use float64 so the comparison is exact to
# rounding.

# %%
T = {name: tg.Tensor(v.data, requires_grad=True, dtype=np.float64)
     for name, v in dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b).items()}
yt = (T["x1"] * T["w1"] + T["x2"] * T["w2"] + T["b"]).tanh()
yt.backward()
for name, v in dict(w1=w1, w2=w2, b=b).items():
    print(f"{name}: by hand {v.grad:.6f}   tinygrad_lm {T[name].grad.item():.6f}")

# %% [markdown]
# ## A numerical check
#
# A derivative is a limit of finite differences, so a central difference
# $(f(w + \epsilon) - f(w - \epsilon)) / 2\epsilon$ must agree with the backward pass to about
# $\epsilon^2$. Lesson 3 turns this into a tool that checks every op of the engine.

# %%
eps = 1e-6
f = lambda w: math.tanh(x1.data * w + x2.data * w2.data + b.data)  # noqa: E731
numerical = (f(w1.data + eps) - f(w1.data - eps)) / (2 * eps)
print(f"finite difference dy/dw1 = {numerical:.8f}, backward {w1.grad:.8f}")

# %% [markdown]
# ## Summary
#
# - An expression is a graph; each node knows its local derivatives.
# - Reverse mode seeds $\partial y / \partial y = 1$ and visits nodes in reverse topological
#   order, passing $\bar{v}\, \partial v / \partial u$ to each input; one pass gives every
#   partial derivative.
# - The order comes from an iterative depth-first search (no recursion limit); gradients of a
#   value used twice add up, so backward always accumulates.
# - `tinygrad_lm.Tensor` gives the same numbers, for arrays.
#
# Next: assignment 1, task 1.1 (the engine's `toposort`, exactly Exercise 1.1 for tensors) and
# task 1.2 (the backward loop).

# %%
assert abs(T["w1"].grad.item() - w1.grad) < 1e-12
assert abs(numerical - w1.grad) < 1e-8
assert a.grad == 2 * a.data
print(f"dy/dw1 = {w1.grad:.6f} by hand, by tinygrad_lm and by finite differences. "
      "Lesson 1 done.")
