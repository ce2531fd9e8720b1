"""A weight holding NaN or infinity stops loading and generation with an error naming the file
and the parameter, on every path a model comes in by; it never turns into token 0 forever."""

import numpy as np
import pytest

import tinygrad_lm as tg
from tinygrad_lm.formats.checkpoint import load_checkpoint, save_checkpoint
from tinygrad_lm.formats.weights import NonFiniteWeightsError, non_finite, read_weights
from tinygrad_lm.io.export import export_hf
from tinygrad_lm.io.interop import from_torch_state_dict, load_hf_gpt2, to_torch_state_dict
from tinygrad_lm.io.pretrained import pretrained_model
from tinygrad_lm.nn.gpt import GPT, GPTConfig
from tinygrad_lm.tokenizers import CharTokenizer

CFG = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)
BAD = "transformer.h.1.attn.c_attn.weight"
WHY = "the file is corrupt or the run diverged; retrain or load an earlier checkpoint"


def poisoned(nan=3, inf=0) -> GPT:
    """A model whose BAD weight holds `nan` NaNs and `inf` infinities."""
    model = GPT(CFG, seed=0)
    w = model.state_dict()[BAD].reshape(-1)
    w[:nan] = np.nan
    w[nan:nan + inf] = -np.inf
    return model


def expect(where: str, what: str = "3 NaN values"):
    return pytest.raises(NonFiniteWeightsError, match=rf"{where}.*parameter {BAD} holds {what}")


def test_counting_is_exact_and_finite_arrays_pass():
    assert non_finite(np.ones(5, np.float32)) is None
    assert non_finite(np.arange(5)) is None  # integer arrays hold no NaN
    assert non_finite(np.array([np.nan, np.inf, -np.inf, 1.0])) == "1 NaN and 2 infinite values"
    # finite values whose float64 sum overflows are still finite
    assert non_finite(np.full(4, np.finfo(np.float64).max)) is None


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_a_weights_file_with_nan_names_the_file_and_parameter(tmp_path, suffix):
    path = str(tmp_path / f"model{suffix}")
    poisoned().save(path)
    with expect("model" + suffix) as info:
        GPT.from_file(path)
    assert WHY in str(info.value) and path in str(info.value)
    with expect("model" + suffix):
        tg.load(path)
    with expect("model" + suffix):
        read_weights(path)


def test_infinities_are_named_too_and_other_bad_parameters_counted(tmp_path):
    model = poisoned(nan=0, inf=2)
    path = str(tmp_path / "model.npz")
    model.save(path)
    with expect("model.npz", "2 infinite values:"):
        GPT.from_file(path)
    model.state_dict()["transformer.h.0.mlp.c_fc.weight"][1, 1] = np.nan  # before BAD
    model.save(path)
    with pytest.raises(NonFiniteWeightsError, match=r"parameter transformer.h.0.mlp.c_fc.weight "
                                                    r"holds 1 NaN value \(and 1 more parameter\)"):
        GPT.from_file(path)


def test_a_trainer_checkpoint_and_a_run_directory_with_nan(tmp_path):
    path = str(tmp_path / "best.npz")
    save_checkpoint(path, {"step": 7, "model_config": CFG.to_dict(),
                           "model": poisoned().state_dict(),
                           "tokenizer": CharTokenizer("abcdefghijk").to_dict()})
    with expect("best.npz"):
        tg.load(path)
    with expect("best.npz"):
        tg.load(str(tmp_path))  # the run directory reads its best.npz


def test_resuming_a_run_whose_checkpoint_holds_nan(tmp_path):
    from tinygrad_lm.training.config import make_config
    from tinygrad_lm.training.trainer import Trainer
    out = tmp_path / "run"
    Trainer(make_config("tiny", [f"--out_dir={out}", "--max_iters=2"]),
            log=lambda text: None).train()
    ckpt = str(out / "ckpt.npz")
    state = load_checkpoint(ckpt)
    state["model"]["lm_head.weight" if "lm_head.weight" in state["model"] else
                   "transformer.wte.weight"][0, :3] = np.nan
    save_checkpoint(ckpt, state)
    with pytest.raises(NonFiniteWeightsError, match="ckpt.npz.*holds 3 NaN values"):
        Trainer.resume_from(str(out), log=lambda text: None)


def test_a_hugging_face_directory_with_nan(tmp_path):
    out = str(tmp_path / "hf")
    export_hf(poisoned(), CharTokenizer("abcdefghijk"), out)
    with expect(r"model\.safetensors.*hf"):
        pretrained_model(out)
    with expect(r"model\.safetensors.*hf"):
        tg.load(out)


def test_state_dicts_in_memory_with_nan():
    sd = to_torch_state_dict(poisoned())
    with expect("from_torch_state_dict"):
        from_torch_state_dict(sd, CFG)
    hf = {k.removeprefix("transformer."): v for k, v in sd.items()}
    for k in [k for k in hf if k.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight"))]:
        hf[k] = hf[k].T  # Hugging Face's Conv1D stores (in, out), as we do
    with pytest.raises(NonFiniteWeightsError, match="load_hf_gpt2: parameter transformer.h.1"):
        load_hf_gpt2(hf, CFG)


def test_a_nanogpt_checkpoint_with_nan(tmp_path):
    torch = pytest.importorskip("torch")
    path = str(tmp_path / "ckpt.pt")
    args = {k: getattr(CFG, k) for k in ("n_layer", "n_head", "n_embd", "block_size",
                                          "vocab_size", "bias")}
    torch.save({"model": {k: torch.from_numpy(np.ascontiguousarray(v))
                          for k, v in to_torch_state_dict(poisoned()).items()},
                "model_args": args, "iter_num": 5}, path)
    with expect(r"nanoGPT checkpoint .*ckpt\.pt"):
        tg.load(path)


@pytest.mark.parametrize("how", ["sample", "greedy", "beam"])
def test_generating_from_nan_weights_stops_and_names_the_parameter(how):
    model, prompt = poisoned(), np.array([[1, 2, 3]])
    model.train()
    with expect("the model's weights"):
        if how == "beam":
            tg.beam_search(model, prompt, 5, num_beams=2)
        else:
            tg.generate(model, prompt, 5, greedy=how == "greedy", seed=0)
    assert model.training  # the error leaves the model in the mode it was in


def test_logits_that_overflow_from_finite_weights_are_an_error_too():
    model = GPT(CFG, seed=0)
    model.state_dict()["transformer.wte.weight"][:] = 1e38  # finite, but the sums overflow
    model.state_dict()["transformer.wpe.weight"][:] = 1e38
    with pytest.raises(ValueError, match="generate: the logits of new token 0 hold .* although "
                                         "every weight is finite"):
        tg.generate(model, [1, 2], 3, seed=0)
