"""Layers and the GPT model.

module.py     Parameter, Module (parameters found by walking attributes; state dicts; modes)
layers.py     Linear (weight stored (in, out)), Embedding, LayerNorm, Dropout, GELU, ReLU
attention.py  CausalSelfAttention and the KVCache for incremental decoding
config.py     GPTConfig (GPT-2's block by default, LLAMA's switches)
gpt.py        MLP, Block (pre- or post-LN), GPT
options.py    configuration fields declared once: default, meaning and check (option)
modern.py     RMSNorm, SwiGLU, RotarySelfAttention (RoPE, grouped-query attention)
quantized.py  QuantizedLinear: int8 weights for inference (GPT.quantize("int8"))
"""

from .attention import CausalSelfAttention, KVCache
from .gpt import GPT, MLP, Block, GPTConfig
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, ReLU
from .modern import RMSNorm, RotarySelfAttention, SwiGLU, llama_hidden_size
from .module import Module, Parameter
from .quantized import QuantizedLinear

__all__ = ["GPT", "GELU", "MLP", "Block", "CausalSelfAttention", "Dropout", "Embedding",
           "GPTConfig", "KVCache", "LayerNorm", "Linear", "Module", "Parameter", "QuantizedLinear",
           "RMSNorm", "ReLU",
           "RotarySelfAttention", "SwiGLU", "llama_hidden_size"]
