"""Training a model: the `Trainer` and its `TrainConfig`, the optimizers and learning-rate
schedules (`optim`), how a run is judged (`evaluation`, `health`, `task_metrics`), what it shows
(`progress`, `plots`, `previews`) and where it keeps its files (`run_dir`).
"""
