"""Tokenizers: characters, and byte-level BPE (trained here, or loaded from GPT-2's files in
OpenAI's, Hugging Face's or tiktoken's format).

Every tokenizer has `vocab_size`, `encode(text) -> list[int]`, `decode(ids) -> str`,
`to_dict()` (plain JSON data, which the trainer embeds in checkpoints) and `save(path)`;
`load_tokenizer(path)` reads a saved tokenizer, a Hugging Face `tokenizer.json`, a `.tiktoken`
file or a model directory holding any of GPT-2's tokenizer files.

    tok = BPETokenizer.train(text, vocab_size=512)
    ids = tok.encode("the dog runs .")      # list[int]: fewer ids than bytes, once trained
    tok.decode(ids) == "the dog runs ."     # always: every byte is a token

    gpt2 = load_tokenizer("gpt2/")          # vocab.json + merges.txt, or tokenizer.json
    gpt2.encode("hi<|endoftext|>", allowed_special="all")   # [5303, 50256]

Where each part lives: `base.py` (the Tokenizer contract), `char.py` (CharTokenizer), `bpe.py`
(BPETokenizer: encode, decode, GPT-2's file formats), `loading.py` (`load_tokenizer`,
`tokenizer_from_dict`); learning the merges is in tinygrad_lm/tokenizers/bpe_training.py.
"""

from .base import FORMAT_VERSION, Tokenizer
from .bpe import BPETokenizer
from .bpe_files import GPT2_PATTERN
from .char import CharTokenizer
from .loading import load_tokenizer, tokenizer_from_dict

__all__ = ["FORMAT_VERSION", "GPT2_PATTERN", "BPETokenizer", "CharTokenizer", "Tokenizer",
           "load_tokenizer", "tokenizer_from_dict"]
