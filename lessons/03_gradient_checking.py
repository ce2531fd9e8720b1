# %% [markdown]
# # Lesson 3 — Gradient checking
#
# A backward pass with a wrong factor still runs, still returns arrays of the right shape,
# and the model still trains — a little worse, for reasons nobody can see. The only defence
# is to check every gradient against the definition of a derivative. This lesson builds that
# check and learns to trust (and read) the engine's `tg.gradcheck`.

# %% [markdown]
# ## What you will learn
#
# - The central difference $\frac{f(x+\epsilon) - f(x-\epsilon)}{2\epsilon}$ and its two
#   errors, truncation ($\propto \epsilon^2$) and rounding ($\propto u/\epsilon$), and the
#   $\epsilon$ that balances them.
# - Why gradient checks need float64: in float32 even the best $\epsilon$ leaves an error a
#   million times larger, and a real op (a sum over thousands of terms) does worse still, so
#   a small bug hides in the noise.
# - How `tg.gradcheck` checks a whole op at once with a random *upstream* vector (a
#   vector-Jacobian product), and how to read the `GradcheckError` it raises.
# - How to write a new op, a `Function` with `forward` and `backward`, and prove it right.
#
# Why it matters: every op, kernel and layer of tinygrad_lm has a float64 gradcheck, and the
# assignments are graded with them. When yours fails, this lesson is how you find out why.

# %%
import numpy as np

import tinygrad_lm as tg
from tinygrad_lm import Function
from tinygrad_lm.course.lessons import QUICK, check, pyplot, show

rng = np.random.default_rng(0)

# %% [markdown]
# ## Two errors pulling in opposite directions
#
# Expand $f$ around $x$ with Taylor's theorem:
# $f(x \pm \epsilon) = f(x) \pm \epsilon f'(x) + \tfrac{\epsilon^2}{2} f''(x)
# \pm \tfrac{\epsilon^3}{6} f'''(x) + \dots$. Subtracting, the even terms cancel:
#
# $$\frac{f(x+\epsilon) - f(x-\epsilon)}{2\epsilon} = f'(x) + \frac{\epsilon^2}{6} f'''(x)
#   + O(\epsilon^4).$$
#
# So the *truncation* error shrinks like $\epsilon^2$ (a one-sided difference only gets
# $\epsilon$). But the computer stores $f(x \pm \epsilon)$ with a relative error of about the
# machine epsilon $u$ ($2 \times 10^{-16}$ in float64, $6 \times 10^{-8}$ in float32), and
# dividing by $2\epsilon$ amplifies it: the *rounding* error is about $u |f| / \epsilon$.
# The total $\frac{\epsilon^2}{6}|f'''| + \frac{u|f|}{\epsilon}$ is smallest near
# $\epsilon \approx u^{1/3}$: about $10^{-5}$ in float64 (error $\sim 10^{-11}$) and
# $5 \times 10^{-3}$ in float32 (error $\sim 10^{-6}$ at best for one well-behaved number).
# Let us see it for $f = \sin$ at $x = 0.7$.

# %%
x0 = 0.7
exact = np.cos(x0)
eps_values = np.logspace(-12, -1, 12 if QUICK else 45)
errors = {}
for dtype in (np.float32, np.float64):
    x = dtype(x0)
    errors[dtype.__name__] = np.array([
        abs(float((np.sin(x + dtype(e)) - np.sin(x - dtype(e))) / dtype(2 * e)) - exact)
        for e in eps_values])

plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 4))
for name, errs in errors.items():
    ax.loglog(eps_values, np.maximum(errs, 1e-17), "o-", ms=3, label=name)
ax.loglog(eps_values, eps_values ** 2 / 6 * np.cos(x0), "k--", lw=0.8,
          label=r"truncation $\epsilon^2 |f'''| / 6$")
for name, u in (("float32", np.finfo(np.float32).eps), ("float64", np.finfo(np.float64).eps)):
    ax.loglog(eps_values, u * np.sin(x0) / eps_values, ":", lw=0.8,
              label=rf"rounding $u|f|/\epsilon$ ({name})")
ax.set_ylim(1e-17, 10)
ax.set_xlabel(r"$\epsilon$")
ax.set_ylabel("|central difference - exact|")
ax.set_title(r"error of the central difference of $\sin$ at 0.7")
ax.legend(fontsize=7)
show(fig, "03_eps.png")
best32, best64 = errors["float32"].min(), errors["float64"].min()
print(f"best error: float32 {best32:.1e} at eps {eps_values[errors['float32'].argmin()]:.0e}, "
      f"float64 {best64:.1e} at eps {eps_values[errors['float64'].argmin()]:.0e}")

# %% [markdown]
# The V shape is the whole story: to the right truncation dominates (slope 2), to the left
# rounding (slope -1). `tg.gradcheck` uses $\epsilon = 10^{-6}$ in float64, near the bottom,
# and refuses float32 inputs unless asked for a coarse smoke test.
#
# ## From one number to a whole gradient
#
# For an input array $x$ and a scalar $f$, perturb one element at a time:
# $\partial f / \partial x_k \approx (f(x + \epsilon e_k) - f(x - \epsilon e_k)) / 2\epsilon$,
# where $e_k$ is 1 at element $k$ and 0 elsewhere. That costs two evaluations of $f$ per
# element: fine for a check on small shapes, hopeless for training, which is why we
# differentiate analytically and only *check* numerically.

# %% [markdown]
# ### Exercise 3.1 — A numerical gradient
# Write `numerical_gradient(f, x, eps)`: for a float64 array `x` and a function `f` that maps
# such an array to a float, return an array of `x`'s shape holding the central difference for
# every element. Do not leave `x` changed.

# %%
def numerical_gradient(f, x, eps=1e-6):
    # YOUR CODE HERE
    raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
def numerical_gradient_solution(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + eps
        up = f(x)
        x[k] = old - eps
        down = f(x)
        x[k] = old  # put it back
        grad[k] = (up - down) / (2 * eps)
    return grad


# %%
def _numerical_ok(f):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    got = f(lambda a: float(np.sum(np.sin(a) * a)), x)
    return bool(np.allclose(got, np.cos(x) * x + np.sin(x), atol=1e-8)
                and np.array_equal(x, before))


check("3.1", numerical_gradient, numerical_gradient_solution, test=_numerical_ok,
      hint="Loop over np.ndindex(x.shape); change x[k], evaluate, and restore x[k] after.")

# %% [markdown]
# ## Checking an op with a random upstream vector
#
# An op with an array output has a whole Jacobian $J$. Backward never forms it: given the
# upstream gradient $v$ it returns $v^\top J$. `tg.gradcheck` draws a random $v$, runs
# backward once, and compares each element of $v^\top J$ with the central difference of the
# scalar $v \cdot f(x)$. A random $v$ makes it very unlikely that an error cancels out. It
# also checks that backward returns the input's shape and dtype, that two backward runs
# agree, and that the output is finite. With `mode="fast"` it compares a few random
# directional derivatives instead of every element, for big inputs.
#
# ## A planted bug
#
# Here is an op that claims to be $x^2$ but whose backward returns $2.02\,x$: one percent off,
# the kind of bug that trains almost as well. An op is a `Function` with `forward` and
# `backward` on NumPy arrays; `tg.apply` runs it on tensors and records it in the graph.

# %%
class BuggySquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * 2.02 * x  # should be 2 x


x = tg.Tensor(np.linspace(-1, 1, 5), requires_grad=True, dtype=np.float64)
try:
    tg.gradcheck(lambda t: tg.apply(BuggySquare, t), [x])
    caught = False
except tg.GradcheckError as err:
    caught = True
    print("GradcheckError says:\n" + str(err))

# %% [markdown]
# The message names the function, the input, the worst element, both values and the
# tolerance, so you can go straight to the faulty backward; its last line checks each op of the
# graph alone and names the first whose backward is wrong, with the line that called it (in a
# whole GPT, that is the one op to fix). The tolerance is mixed: an
# element passes when $|a - n| \le \text{atol} + \text{rtol} \cdot |n|$, so large gradients
# are judged relatively and gradients near zero absolutely. And float32 is refused outright:

# %%
try:
    tg.gradcheck(lambda t: t * t, [tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)])
except TypeError as err:
    print("float32 is refused:", err)

# %% [markdown]
# ### Exercise 3.2 — An op of your own, proven right
# Complete `Cube`, the op $y = x^3$: its `backward` gets the upstream gradient `g` and must
# return $\bar{x} = g \cdot 3x^2$. Save what backward needs in `forward` with
# `ctx.save_for_backward` and read it back from `ctx.saved`. The check runs `tg.gradcheck`.

# %%
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        # YOUR CODE HERE
        raise NotImplementedError


# %% tags=["solution"] jupyter={"source_hidden": true}
class CubeSolution(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * 3 * x * x  # d x^3 / dx = 3 x^2, times the upstream gradient


# %%
def _op_ok(op):
    t = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    return tg.gradcheck(lambda a: tg.apply(op, a), [t], raise_exception=False).passed


check("3.2", Cube, CubeSolution, test=_op_ok,
      hint="(x,) = ctx.saved, then return g times the derivative of x**3.")

# %% [markdown]
# The engine's own ops are checked the same way, all from one list of ops and shapes in
# `tests/op_table.py`; an op missing from the list fails a test. Here is a composite, a
# softmax cross-entropy over a batch, checked in one call:

# %%
logits = tg.Tensor(rng.standard_normal((4, 6)), requires_grad=True, dtype=np.float64)
targets = rng.integers(0, 6, 4)
ce = tg.gradcheck(lambda z: tg.functional.cross_entropy(z, targets), [logits])
print(f"cross-entropy of (4, 6) logits: worst abs error {max(ce.max_abs_error.values()):.1e}")

# %% [markdown]
# ## Summary
#
# - The central difference has truncation error $\propto \epsilon^2$ and rounding error
#   $\propto u/\epsilon$; in float64 with $\epsilon = 10^{-6}$ both are tiny, in float32 the
#   check is too blunt to trust.
# - `tg.gradcheck` compares $v^\top J$ from backward with finite differences of $v \cdot f$
#   for a random $v$, with a mixed absolute/relative tolerance, and names the worst element.
# - A 1% error in a backward pass is caught at once; writing a new op means writing its
#   `forward`, its `backward`, and its gradcheck.
#
# Next: assignment 2, task 2.1 (the backward of `mul`), whose grading test is a gradcheck
# like Exercise 3.2.

# %%
assert caught and best64 < best32 / 1000
assert tg.gradcheck(lambda t: t * t, [x]).passed and ce.passed
print(f"the 1% bug was caught; best float64 error {best64:.1e} vs float32 {best32:.1e}. "
      "Lesson 3 done.")
