"""One class per op, grouped by kind. Importing this package registers every op in
`tinygrad_lm.autograd.FUNCTION_REGISTRY`."""

from . import elementwise, linalg, movement, nn, reduce  # noqa: F401
