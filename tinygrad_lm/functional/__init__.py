"""Functional forms of the neural-network ops (`import tinygrad_lm.functional as F`):
layers, activations and losses, with PyTorch's names and defaults.

    layers.py       linear, softmax, attention, embedding, norms, rotary, dropout, pad, einsum
    activations.py  gelu, relu, sigmoid, tanh, silu, softplus and the composed ones
    losses.py       cross-entropy, NLL, MSE, L1, binary cross-entropy

Most are composed of Tensor ops (each composition exact, so its gradient is the chain rule
through them); an activation gets an op of its own only where composing would put a wrong
derivative at a kink (softplus) or cost a hot path an extra pass (silu).
"""

from .activations import (
    SELU_ALPHA,
    SELU_SCALE,
    elu,
    gelu,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softplus,
    softsign,
    swish,
    tanh,
)
from .layers import (
    causal_attention,
    dropout,
    einsum,
    embedding,
    int8_linear,
    layer_norm,
    linear,
    linear_gelu,
    log_softmax,
    one_hot,
    pad,
    rms_norm,
    rope,
    scaled_dot_product_attention,
    softmax,
)
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "causal_attention",
    "cross_entropy", "dropout", "einsum", "elu", "embedding", "gelu", "hardswish", "hardtanh",
    "int8_linear", "l1_loss", "layer_norm", "leaky_relu", "linear", "linear_gelu", "log_softmax",
    "logsigmoid", "mish", "mse_loss", "nll_loss", "one_hot", "pad", "relu", "relu6", "rms_norm",
    "rope", "scaled_dot_product_attention", "selu", "SELU_ALPHA", "SELU_SCALE", "sigmoid", "silu",
    "softmax", "softplus", "softsign", "swish", "tanh",
]
