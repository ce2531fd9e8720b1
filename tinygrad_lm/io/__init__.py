"""Models in and out of files: one way to load (`load`), GPT-2 from Hugging Face directories
(`from_pretrained`), nanoGPT checkpoints (`interop`), and export to both (`export`).

These modules know the model (`tinygrad_lm.nn`) and the tokenizers; the array-level formats
they use are in `tinygrad_lm.formats`, below the model.
"""
