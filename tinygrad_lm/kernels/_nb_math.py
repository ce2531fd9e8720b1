"""Building blocks shared by the Numba kernels: a vectorisable exp and max, and id checks.

Why these exist. LLVM vectorises a loop only if every operation in it has a vector form. Here
`math.exp` lowers to a call into the C library, one element at a time, so a softmax loop runs at
scalar speed and spends most of its time in exp. `exp32` below is written only from +, *, floor,
compare and an integer-to-float bit reinterpretation, all of which have vector instructions, so a
loop calling it processes 8 or 16 float32 lanes at once.

Likewise Python's `max(a, b)` is a compare-and-branch that LLVM will not turn into a vector
reduction; `maximum` calls LLVM's `llvm.maximum` intrinsic instead, which does vectorise and which,
like `np.max`, returns NaN when either input is NaN.

Numba caches each compiled function keyed on its own source file only: after editing this file,
delete `tinygrad_lm/kernels/__pycache__` so the kernels that inline these helpers recompile.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# `fastmath` flags for kernels with sums. A sum is a dependency chain; splitting it into vector
# lanes reorders the additions, which LLVM may do only when allowed to reassociate ("reassoc";
# "nsz" lets it ignore the sign of zero); a row sum runs an order of magnitude faster. The
# flags that assume no NaN or infinity are left out: masked scores are -inf and must stay so.
SUMS = {"reassoc", "nsz"}

# Every kernel uses error_model="numpy": x / 0 gives inf or NaN as in NumPy. Numba's default
# ("python") checks each division to raise ZeroDivisionError, and that branch stops LLVM from
# vectorising the loop (GELU and AdamW run an order of magnitude slower with it).

# Every kernel is compiled with nogil=True: it releases the GIL, so the wrappers can split its
# rows over the threads of threads.py and the shares really run at once. Numba's own `parallel=`
# is not used: its threading layer and the engine's threads would fight over the same two cores.


# ---- LLVM-level helpers ---------------------------------------------------------------------
@intrinsic
def bits_to_float32(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (no conversion, like C's memcpy)."""
    if not isinstance(bits, types.Integer):
        return None
    sig = types.float32(types.int32)  # Numba narrows the argument to int32 first

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@intrinsic
def float32_to_bits(typingctx, x):
    """The 32 bits of a float32 as an int32 (the inverse of `bits_to_float32`)."""
    if x != types.float32:
        return None
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def maximum(typingctx, a, b):
    """IEEE 754-2019 maximum of two floats of the same type: NaN if either is NaN."""
    if a != b or not isinstance(a, types.Float):
        return None
    sig = a(a, b)

    def codegen(context, builder, signature, args):
        t = args[0].type
        name = "llvm.maximum.f32" if t == ir.FloatType() else "llvm.maximum.f64"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(t, [t, t]), name)
        return builder.call(fn, args)

    return sig, codegen


# ---- exp ------------------------------------------------------------------------------------
# exp(x) = 2^k * exp(r) with k = round(x / ln 2) and r = x - k ln 2 in [-ln2/2, ln2/2].
#   * k ln 2 is subtracted in two parts (Cody and Waite): LN2_HI has few significant bits, so
#     k * LN2_HI is exact for |k| <= 128 and r keeps its full precision.
#   * exp(r) ~ 1 + r + r^2 (P5 + r (P4 + ... )), a minimax polynomial for float32 (the Cephes
#     `expf` coefficients); exp(r) is in [0.7, 1.42].
#   * multiplying by 2^k is an integer addition of k to the exponent field (bits 23-30) of
#     exp(r). This reaches the largest float32 (k = 128 with exp(r) < 1) without overflowing
#     an intermediate 2^k.
# Relative error <= 1e-7 (under one float32 ulp) over the whole normal range, tested against
# float64 exp in tests/test_kernels.py. Results below the smallest normal float32 (x < -126 ln 2
# = -87.34, exp < 1.2e-38) are flushed to 0, harmless next to the 1 a softmax row always holds.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)
_EXP_LO = np.float32(-87.33654)  # -126 ln 2: smallest normal result 2^-126
_EXP_HI = np.float32(88.72284)  # 128 ln 2: above this exp overflows float32


def _exp32(x):
    """exp of a float32 in float32, branch-free so loops over it vectorise (see above)."""
    xc = min(max(x, _EXP_LO), _EXP_HI)
    k = np.floor(xc * _LOG2E + np.float32(0.5))
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    p = p * r * r + r + np.float32(1.0)
    y = bits_to_float32(float32_to_bits(p) + (np.int32(k) << np.int32(23)))
    # the clamp decided k; now send the out-of-range inputs to their limits (NaN stays NaN)
    y = np.float32(0.0) if x < _EXP_LO else y
    return np.float32(np.inf) if x > _EXP_HI else y


# Two compiled forms of the same code:
#
# * `exp32`, a function of its own. A caller compiled with `fastmath` (to vectorise its sums)
#   must not lend those flags to this code, where reassociating the two-part subtraction would
#   undo it (with the caller's flags the error grows to ~4e-6). Its one flag, "contract", lets
#   each a * b + c become a fused multiply-add: one rounding instead of two, and faster. But a
#   call is not inlined into the caller's loop, so that loop runs one element at a time.
# * `exp32_inline`, inlined by Numba into the caller's loop, which then vectorises (GELU runs
#   several times faster). It takes the caller's flags: use it only in kernels compiled with
#   fastmath={"contract"} (VEXP_FLAGS) and no reassociation.
exp32 = njit(cache=True, error_model="numpy", fastmath={"contract"})(_exp32)
exp32_inline = njit(inline="always", error_model="numpy")(_exp32)
VEXP_FLAGS = {"contract"}


def fast_exp(x):
    """exp for kernels: `exp32` for float32, the C library's correctly rounded exp for float64.
    Safe in any kernel; a call per element (see above)."""
    return math.exp(x)


def vexp(x):
    """exp for loops that should vectorise: `exp32_inline` for float32, math.exp for float64.
    Only in kernels compiled with fastmath=VEXP_FLAGS (see above)."""
    return math.exp(x)


def _exp_for(float32_exp):
    """A Numba implementation choosing `float32_exp` for float32 and math.exp otherwise."""
    def impl(x):
        if x == types.float32:
            return lambda x: float32_exp(x)
        return lambda x: math.exp(x)
    return impl


overload(fast_exp, inline="always")(_exp_for(exp32))
overload(vexp, inline="always")(_exp_for(exp32_inline))
