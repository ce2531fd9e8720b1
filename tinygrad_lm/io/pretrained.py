"""A Hugging Face GPT-2 or Llama directory (`config.json`, `model.safetensors`, tokenizer
files) in; config.json's model_type ("gpt2" or "llama", see io/llama.py) decides which.

    model, tok = tinygrad_lm.from_pretrained("gpt2/")     # any GPT-2 size, and its tokenizer
    ids = tok.encode("The meaning of life is")
    model = pretrained_model("gpt2/")                     # the model alone, as in transformers

The model's files (config.json, the weights) are hf_files.py's, the tokenizer's
tokenizers.load_tokenizer's (`tokenizer.json`, `vocab.json` + `merges.txt`, `encoder.json` +
`vocab.bpe` or a `.tiktoken` file). Why two functions: `pretrained_model` returns the model
alone, as transformers' `GPT2LMHeadModel.from_pretrained` and nanoGPT's `GPT.from_pretrained` do;
`from_pretrained` gives both, as a user sampling from the model needs. Neither is a method of
`GPT`: the model knows no file format (nn/ sits below the files and the tokenizers).

Everything cheap is checked before any weight is read: config.json, that weights exist, the
tokenizer and its vocabulary size against the config's.
"""

from __future__ import annotations

import os

from ..formats.weights import check_finite
from ..nn.gpt import GPT, GPTConfig
from ..tokenizers import Tokenizer, load_tokenizer
from ..tokenizers.bpe_files import read_json
from .hf_files import (
    PretrainedError,
    config_path,
    load_hf_weights,
    model_directory,
    read_hf_config,
    weight_files,
)
from .llama import load_llama_weights, read_llama_config


def _model_kind(directory: str, dropout: float):
    """(GPTConfig fields, the weight loader) for a GPT-2 or a Llama directory."""
    path = config_path(directory)
    c = read_json(path, "config.json") if os.path.isfile(path) else None
    if isinstance(c, dict) and c.get("model_type") == "llama":
        return read_llama_config(directory, c, dropout), load_llama_weights
    return read_hf_config(directory, dropout), load_hf_weights  # GPT-2, or its clear refusal


def _tokenizer(path: str) -> Tokenizer:
    try:
        return load_tokenizer(path)
    except FileNotFoundError as e:
        if os.path.isfile(os.path.join(path, "tokenizer.model")):
            raise PretrainedError(f"{path!r} holds only a SentencePiece tokenizer.model (Llama 2"
                                  ", Mistral); this engine reads byte-level BPE tokenizers "
                                  "(tokenizer.json of GPT-2, SmolLM, Llama 3)") from None
        raise FileNotFoundError(f"{e}; the model's weights are there but its tokenizer is not")\
            from None
    except ValueError as e:
        if "normalizer" in str(e) or "pre_tokenizer" in str(e):
            raise PretrainedError(f"{e}. (A SentencePiece-style tokenizer, as Llama 2's or "
                                  "Mistral's, is not supported: only byte-level BPE, as GPT-2's,"
                                  " SmolLM's and Llama 3's)") from None
        raise

__all__ = ["PretrainedError", "from_pretrained", "pretrained_model"]


def from_pretrained(path: str, *, dropout: float = 0.0, dtype=None) -> tuple[GPT, Tokenizer]:
    """(model, tokenizer) from a Hugging Face GPT-2 directory; the model is in eval() mode.

    dropout: for fine-tuning (GPT-2 was trained with 0.1); dtype: np.float32 or np.float64,
    None keeps the files'."""
    path = model_directory(path)
    config, _ = _model_kind(path, dropout)
    weight_files(path)
    tokenizer = _tokenizer(path)
    if tokenizer.vocab_size > config["vocab_size"]:
        raise PretrainedError(f"{path!r}: the tokenizer has {tokenizer.vocab_size} tokens but "
                              f"config.json's vocab_size is {config['vocab_size']}")
    return pretrained_model(path, dropout=dropout, dtype=dtype), tokenizer


def pretrained_model(path: str, *, dropout: float = 0.0, dtype=None) -> GPT:
    """The GPT of a Hugging Face GPT-2 directory (config.json + model.safetensors; any size),
    in eval() mode, without its tokenizer (as transformers' GPT2LMHeadModel.from_pretrained).
    dropout: for fine-tuning (GPT-2 trained with 0.1); dtype: np.float32 or np.float64, None
    keeps the files' (float16 becomes float32)."""
    directory = model_directory(path)
    fields, load_weights = _model_kind(directory, dropout)
    try:
        config = GPTConfig(**fields)
    except (TypeError, ValueError) as e:
        raise PretrainedError(f"{config_path(directory)!r}: {e}") from None
    model = GPT(config, init=False)  # the files set every weight (or loading fails)
    files = weight_files(directory)
    load_weights(model, files, dtype)
    check_finite(model.state_dict(), f"weights {[os.path.basename(f) for f in files]} in "
                                     f"{directory!r}")
    model.eval()
    return model
