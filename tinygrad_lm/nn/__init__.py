"""Layers and the GPT model."""

from .attention import CausalSelfAttention, KVCache
from .gpt import GPT, MLP, Block, GPTConfig
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU
from .module import Module, Parameter

__all__ = ["GPT", "GELU", "MLP", "Block", "CausalSelfAttention", "Dropout", "Embedding",
           "GPTConfig", "KVCache", "LayerNorm", "Linear", "Module", "Parameter", "ReLU"]
