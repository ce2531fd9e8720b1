# %% [markdown]
# # Lesson 3 — Gradient checking
#
# **Goal:** check an analytical gradient against central differences, see why float64 is
# needed, read a `GradcheckError`, and catch a planted bug.

# %%
import numpy as np

import tinygrad_lm as tg
from tinygrad_lm import Function
from tinygrad_lm.lessons import QUICK, pyplot, show

# %% [markdown]
# ## Central differences and the choice of eps
# (f(x+eps) - f(x-eps)) / 2eps has truncation error ~eps^2 and rounding error ~u/eps, where u
# is the machine epsilon (1e-16 in float64, 1e-7 in float32). Plot the error against eps.

# %%
x0 = 0.7
exact = np.cos(x0)
eps_values = np.logspace(-12, -1, 12 if QUICK else 45)
errors = {}
for dtype in (np.float32, np.float64):
    x = dtype(x0)
    errors[dtype.__name__] = [abs(float((np.sin(x + dtype(e)) - np.sin(x - dtype(e)))
                                        / dtype(2 * e)) - exact) for e in eps_values]
plt = pyplot()
fig, ax = plt.subplots(figsize=(6, 4))
for name, errs in errors.items():
    ax.loglog(eps_values, np.maximum(errs, 1e-17), "o-", label=name)
ax.set_xlabel("eps")
ax.set_ylabel("|numerical - exact|")
ax.set_title("central difference error of d sin(x)/dx")
ax.legend()
fig.tight_layout()
show(fig, "03_eps.png")
best32, best64 = min(errors["float32"]), min(errors["float64"])
print(f"best error: float32 {best32:.1e}, float64 {best64:.1e}")

# %% [markdown]
# ## A planted bug
# This op claims to be `x**2` but its backward returns `2.02 x` (a 1% error).


# %%
class BuggySquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * 2.02 * x


x = tg.Tensor(np.linspace(-1, 1, 5), requires_grad=True, dtype=np.float64)
try:
    tg.gradcheck(lambda t: tg.apply(BuggySquare, t), [x])
    caught = False
except tg.GradcheckError as err:
    caught = True
    print("GradcheckError says:\n" + str(err))

# %% [markdown]
# The message names the input, the worst element, both values and the tolerance, so you can
# go straight to the faulty backward.

# %%
try:
    tg.gradcheck(lambda t: t * t, [tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)])
except TypeError as err:
    print("float32 is refused:", err)

# %% [markdown]
# ## Check

# %%
assert caught and best64 < best32
assert tg.gradcheck(lambda t: t * t, [x]).passed
print("the bug was caught and the correct square passes. Lesson 3 done.")
