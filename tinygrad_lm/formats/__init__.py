"""File formats below the model: arrays and JSON, never a model.

`weights` reads and writes named arrays (`.npz`, `.safetensors`, and a PyTorch `.bin` read
without pickle); `checkpoint` writes a training run's state atomically and reads it back.
The model-aware readers and writers (Hugging Face directories, nanoGPT checkpoints, export)
sit above `nn`, in `tinygrad_lm.io`.
"""
