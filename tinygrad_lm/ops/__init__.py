"""One class per op, grouped by kind: elementwise, activations (tanh, sigmoid, ReLU, GELU,
SiLU, softplus), reduce, movement, linalg (matmul), neural (softmax, cross-entropy, layer
norm, embedding, dropout), fused (linear, linear+GELU, attention), norms (RMSNorm) and rotary
(RoPE). Importing this package registers every op in
`tinygrad_lm.autograd.FUNCTION_REGISTRY`."""

from . import activations, elementwise, fused, linalg, movement, neural, norms, reduce, rotary  # noqa: F401
