"""The built-in tasks' metrics: sentences sampled for the grammar metric."""

import dataclasses

import numpy as np

from tinygrad_lm.data import prepare_data
from tinygrad_lm.generation.generate import generate
from tinygrad_lm.nn.gpt import GPT
from tinygrad_lm.training.config import make_config
from tinygrad_lm.training.task_metrics import newline_tokens, sample_sentences


def test_sentences_stop_at_the_newline_and_match_a_full_continuation(tmp_path):
    cfg = make_config("tiny", [f"--out_dir={tmp_path}"])
    data = prepare_data(cfg)
    model = GPT(dataclasses.replace(cfg.model, vocab_size=data.tokenizer.vocab_size), seed=3)
    stops = newline_tokens(data.tokenizer)
    assert [data.tokenizer.decode([i]) for i in stops] == ["\n"]
    prompt = np.array([data.sample_prompt()] * 24, dtype=np.int64)
    full = generate(model, prompt, max_new_tokens=120, seed=5, temperature=0.8)
    first_lines = [data.tokenizer.decode(row[1:].tolist()).split("\n")[0].strip()
                   for row in full]
    # an untrained model: rows end at very different steps, some past the window
    assert len(set(map(len, first_lines))) > 5 and max(map(len, first_lines)) > cfg.model.block_size
    assert sample_sentences(model, data, 24, 5, 0.8) == first_lines
