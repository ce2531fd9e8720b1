"""Text out of a trained model: `generate` (sampling, greedy, the KV cache) and beam search,
the filters that shape a distribution (`sampling`: temperature, top-k, top-p), and `score`
(the log-likelihood of a given text).
"""
