"""Text and token data, one module per concept:

    batches.py   load_text, the train/val split and TokenDataset (seeded random (B, T) windows)
    grammar.py   the built-in grammar: a sentence generator and its recogniser
    addition.py  the built-in addition problems, their line format and an exact-match evaluator
    builtin.py   the built-in datasets by name (builtin_dataset, BUILTIN_DATASETS)
    prepare.py   from a TrainConfig to a tokenizer and a TokenDataset (prepare_data)

The task metrics measured by generating from a model live a floor higher, in task_metrics.py.
"""

from .addition import (
    MAX_ADDITION_DIGITS,
    addition_corpus,
    addition_line,
    evaluate_addition,
    format_addition,
    generate_addition_problems,
    parse_addition,
)
from .batches import SPLITS, TokenDataset, load_text, train_val_split
from .builtin import BUILTIN_DATASETS, builtin_dataset
from .grammar import generate_grammar_corpus, generate_sentence, is_grammatical
from .prepare import PreparedData, prepare_data

__all__ = [
    "BUILTIN_DATASETS", "MAX_ADDITION_DIGITS", "PreparedData", "SPLITS", "TokenDataset",
    "addition_corpus", "addition_line", "builtin_dataset", "evaluate_addition",
    "format_addition", "generate_addition_problems", "generate_grammar_corpus",
    "generate_sentence", "is_grammatical", "load_text", "parse_addition", "prepare_data",
    "train_val_split",
]
