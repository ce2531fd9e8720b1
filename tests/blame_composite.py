"""A composite of every op whose backward is a coursework task, for tests/test_blame.py: run as
a script in a package copy with one planted bug, it prints the blame of a failing gradcheck.

`python blame_composite.py numpy|numba` prints one line: BLAME <op> <called_at>, CLEAN (every
op passed alone: an engine fault), or PASSED (the composite's gradcheck passed).
"""

import sys

import numpy as np

import tinygrad_lm as tg
from tinygrad_lm import functional as F


def composite(x, w, lin_w, lin_b, ln_w, ln_b):
    h = F.linear(x, lin_w, lin_b)                     # (4, 6) Linear
    h = F.layer_norm(h, ln_w, ln_b)                   # (4, 6) LayerNorm
    s = F.softmax(h.reshape(1, 4, 6)[:, :, :4], scale=0.7, causal=True)  # (1, 4, 4) Softmax
    m = s.reshape(4, 4) @ w[1:]                       # (4, 3) MatMul
    p = m * x[:, :3]                                  # (4, 3) Mul
    q = p / (w[:4, :] + 3.0)                          # (4, 3) Div
    r = q.sum(axis=0) + q.mean(axis=1).sum()          # (3,) Sum, Mean over different axes
    t = tg.Tensor(np.array([[1.0, 1.0], [2.0, 0.5]]), requires_grad=False)
    tied = (x[:2, :2] * 0.0 + t) * w[0, 0]            # ties in each row
    g = h[np.array([0, 0, 2])]                        # GetItem with a repeated index
    return r.sum() + tied.max(axis=1).sum() + (g * g).sum()


def main(backend):
    rng = np.random.default_rng(0)
    shapes = [(4, 5), (5, 3), (5, 6), (6,), (6,), (6,)]
    inputs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    with tg.use_backend(backend):
        try:
            tg.gradcheck(composite, inputs, mode="fast")
        except Exception as e:  # a mismatch, or a backward that crashed (the note names it)
            line = (str(e).splitlines() + getattr(e, "__notes__", []))[-1].strip()
            if line.startswith("first wrong op: "):
                op = line.split()[3].split(".")[0]
                where = line.split(" called at ")[1].split(" ")[0]
                print("BLAME", op, where)
            else:
                print("CLEAN", line)
            return
    print("PASSED")


if __name__ == "__main__":
    main(sys.argv[1])
