"""One class per op, grouped by kind: elementwise, reduce, movement, linalg (matmul), neural
(softmax, cross-entropy, layer norm, embedding, dropout) and fused (linear, linear+GELU,
attention). Importing this package registers every op in
`tinygrad_lm.autograd.FUNCTION_REGISTRY`."""

from . import elementwise, fused, linalg, movement, neural, reduce  # noqa: F401
