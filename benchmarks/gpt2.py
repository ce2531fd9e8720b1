"""GPT-2 small (124M) end to end: training steps, generation, memory, loading, tokenizing;
tinygrad_lm against PyTorch eager and Hugging Face Transformers, side by side in one process.

    python benchmarks/gpt2.py            # everything (about 15 minutes on 2 cores)
    python benchmarks/gpt2.py --quick    # fewer rounds, fewer new tokens
    python benchmarks/gpt2.py --quantize int8   # adds a greedy row for our int8 weights

Weights are random (speed does not depend on them) and float32. All three implementations
hold the same weights: ours are exported with tinygrad_lm.io.export.export_hf and read back by
GPT2LMHeadModel.from_pretrained, so greedy generation must give identical tokens.

- train: forward, backward, clip, AdamW at batch 4 x 64 and 8 x 256, with the step's matmul
  bound (its matmul FLOPs at NumPy's own 2048^3 rate in this run) and our ratio to it;
  torch.compile's step for the same shapes is train_step.py's G4x64 and G8x256. PyTorch eager is
  benchmarks/torch_gpt.py's GPT (the same math); Hugging Face is GPT2LMHeadModel in train().
  Interleaved rounds, each starting with an untimed step (train_step.time_rounds), medians.
  "head+loss" is the share of our step spent in the tied head matmul and the 50,257-way
  cross-entropy (their forward and backward timed alone on the step's hidden states).
- generate: batch 1, a 16-token prompt, 128 new tokens with the KV cache, greedy and sampled
  (temperature 1, top-k 50); Hugging Face generate() with the same settings. Prefill: one
  forward of a 512-token prompt into an empty cache, the head for the last position only (as
  both generate() functions run it). With --quantize int8, a copy of our model with int8
  weights (GPT.quantize) decodes greedily in the same interleaved rounds, against the same
  Hugging Face greedy run, and the row says for how many tokens it agrees with float32.
- forward: one inference forward (no graph) at batch 4 x 64, logits over the whole vocabulary.
- load: from_pretrained of the 124M directory (ours and GPT2LMHeadModel's), and GPT.from_file
  of our own .safetensors file, interleaved, the file in the page cache for both.
- memory: peak resident set (VmHWM) of a fresh process doing 2 training steps at 8 x 256, and
  of fresh processes loading the 124M model (ours: from_pretrained and GPT.from_file; Hugging
  Face: from_pretrained), against the weights' size and each process's size after its imports.
- tokenizer: 1 MB of text encoded by ours, tiktoken and Hugging Face's fast tokenizer, when
  GPT-2's ranks file (shared/data/gpt2.tiktoken) is present; loading GPT-2's tokenizer from
  each file format (ours), against AutoTokenizer.from_pretrained and tiktoken's own loading.

Writes benchmarks/results/gpt2.json. The machine is shared: read ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import (  # noqa: E402
    fmt_ratio,
    ours_train_step,
    own_peak_rss_mb,
    peak_in_child,
    print_table,
    write_json,
)
from train_step import matmul_flops, numpy_blas_gflops, time_rounds  # noqa: E402

import tinygrad_lm as tg  # noqa: E402
from tinygrad_lm import functional as F  # noqa: E402
from tinygrad_lm.generation.generate import generate  # noqa: E402
from tinygrad_lm.io.export import export_hf  # noqa: E402
from tinygrad_lm.training import optim  # noqa: E402

# transformers (5.25 on) imports Hugging Face's `kernels` package, which this folder's kernels.py
# would shadow while the folder comes first on sys.path: it goes last instead.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]

GPT2_SMALL = dict(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
SHAPES = {"4x64": (4, 64), "8x256": (8, 256)}
RANKS = [os.path.join(HERE, "..", "..", "shared", "data", "gpt2.tiktoken"),
         "/work/shared/data/gpt2.tiktoken"]


def peers():
    try:
        import torch
        import transformers
    except ImportError:
        return None, None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch, transformers


# ---- training -----------------------------------------------------------------------------------
def ours_step(model, B, T, rng):
    opt = optim.AdamW(optim.configure_param_groups(model.named_parameters(), 0.1), lr=1e-4)
    x = rng.integers(0, 50257, (B, T))
    y = rng.integers(0, 50257, (B, T))

    return lambda: ours_train_step(model, opt, x, y)


def head_and_loss_share(model, B, T, step_s: float, rng) -> float:
    """Seconds of the tied head + cross-entropy (forward and backward) over a step's."""
    h = tg.Tensor(rng.standard_normal((B, T, 768)).astype(np.float32), requires_grad=True)
    y = rng.integers(0, 50257, (B, T))
    wte = model.transformer.wte.weight

    def head():
        loss = F.cross_entropy(F.linear(h, wte.T), y)  # (B, T, C) @ (C, V) -> (B, T, V)
        loss.backward()
        h.grad = wte.grad = None
    return time_rounds({"head": head}, rounds=3, warmup=1, block=1)["head"] / step_s


def torch_step(torch, model, B, T, rng):
    from torch_gpt import make_optimizer, train_step
    opt = make_optimizer(model, lr=1e-4)
    x = torch.from_numpy(rng.integers(0, 50257, (B, T)))
    y = torch.from_numpy(rng.integers(0, 50257, (B, T)))
    return lambda: train_step(model, opt, x, y)


def hf_step(torch, model, B, T, rng):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
    x = torch.from_numpy(rng.integers(0, 50257, (B, T)))

    def step():
        model.train()
        loss = model(x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return step


def bench_train(ours, torch, hf, rounds, results):
    rng = np.random.default_rng(0)
    blas = results["numpy_blas_gflops"] = numpy_blas_gflops()
    torch_model = None
    if torch is not None:
        from torch_gpt import TorchGPT
        torch.manual_seed(0)
        torch_model = TorchGPT(**GPT2_SMALL)
    rows = []
    for name, (B, T) in SHAPES.items():
        fns = {"ours": ours_step(ours, B, T, rng)}
        if torch is not None:
            fns["torch"] = torch_step(torch, torch_model, B, T, rng)
            fns["hf"] = hf_step(torch, hf, B, T, rng)
        t = time_rounds(fns, rounds=rounds, warmup=1, block=1)
        share = head_and_loss_share(ours, B, T, t["ours"], rng)
        # the matmul bound: the step's matmul FLOPs at NumPy's best BLAS rate (train_step.py)
        bound = 3 * matmul_flops({**GPT2_SMALL, "batch": B, "seq": T}) / (blas * 1e9)
        results["train"][name] = {**t, "head_and_loss_share": share, "bound_s": bound}
        rows.append([f"train step {name}", f"{t['ours'] * 1e3:,.0f}",
                     *(f"{t[k] * 1e3:,.0f}" if k in t else "-" for k in ("torch", "hf")),
                     *(fmt_ratio(t[k] / t["ours"]) if k in t else "-" for k in ("torch", "hf")),
                     f"head+loss {share:.0%}; matmul bound {bound * 1e3:,.0f} ms, "
                     f"ours {t['ours'] / bound:.2f}x"])
    return rows


def bench_forward(ours, torch, hf, rounds, results):
    """One inference forward at 4 x 64: ours under no_grad, PyTorch eager, Hugging Face."""
    B, T = SHAPES["4x64"]
    x = np.random.default_rng(3).integers(0, 50257, (B, T))
    ours.eval()

    def ours_forward():
        with tg.no_grad():
            ours(x)
    fns = {"ours": ours_forward}
    if torch is not None:
        from torch_gpt import TorchGPT
        torch.manual_seed(0)
        tm = TorchGPT(**GPT2_SMALL).eval()
        xt = torch.from_numpy(x)
        hf.eval()

        def torch_forward():
            with torch.no_grad():
                tm(xt)

        def hf_forward():
            with torch.no_grad():
                hf(xt, use_cache=False)
        fns.update(torch=torch_forward, hf=hf_forward)
    t = time_rounds(fns, rounds=rounds, warmup=1, block=1)
    results["forward_4x64_s"] = t
    return [["forward 4x64 (ms)", f"{t['ours'] * 1e3:,.0f}",
             *(f"{t[k] * 1e3:,.0f}" if k in t else "-" for k in ("torch", "hf")),
             *(fmt_ratio(t[k] / t["ours"]) if k in t else "-" for k in ("torch", "hf")),
             "no graph, logits (4, 64, 50257)"]]


# ---- loading ------------------------------------------------------------------------------------
def bench_load(hf_dir, st_path, transformers, torch, rounds, results):
    """Seconds to load the 124M model, the loaders alternating round by round."""
    fns = {"ours from_pretrained": lambda: tg.from_pretrained(hf_dir),
           "ours from_file": lambda: tg.GPT.from_file(st_path)}
    if transformers is not None:
        fns["hf from_pretrained"] = lambda: transformers.GPT2LMHeadModel.from_pretrained(
            hf_dir, dtype=torch.float32)
    samples = {k: [] for k in fns}
    for r in range(rounds):
        names = list(fns)[r % len(fns):] + list(fns)[:r % len(fns)]
        for name in names:
            t0 = time.perf_counter()
            fns[name]()
            samples[name].append(time.perf_counter() - t0)
    t = {k: float(np.median(v)) for k, v in samples.items()}
    results["load_s"] = t
    hf_t = t.get("hf from_pretrained")
    return [["load from_pretrained (s)", f"{t['ours from_pretrained']:.2f}", "-",
             "-" if hf_t is None else f"{hf_t:.2f}", "-",
             "-" if hf_t is None else fmt_ratio(hf_t / t["ours from_pretrained"]),
             "ours includes the tokenizer (50,000 merges)"],
            ["load GPT.from_file .safetensors (s)", f"{t['ours from_file']:.2f}", "-", "-", "-",
             "-" if hf_t is None else fmt_ratio(hf_t / t["ours from_file"]), "weights only"]]


# ---- generation ---------------------------------------------------------------------------------
def bench_generate(ours, torch, hf, rounds, n_new, results, int8=None):
    prompt = np.random.default_rng(1).integers(0, 50257, 16)
    fns = {"ours greedy": lambda: generate(ours, prompt, n_new, greedy=True),
           "ours sampled": lambda: generate(ours, prompt, n_new, top_k=50, seed=0)}
    if int8 is not None:  # GPT.quantize("int8"): a quarter of the weight bytes per token
        fns["ours int8 greedy"] = lambda: generate(int8, prompt, n_new, greedy=True)
    same = None
    if hf is not None:
        hf.eval()
        p = torch.from_numpy(prompt[None])
        kw = dict(max_new_tokens=n_new, min_new_tokens=n_new, pad_token_id=0, use_cache=True)
        fns["hf greedy"] = lambda: hf.generate(p, do_sample=False, **kw)
        fns["hf sampled"] = lambda: hf.generate(p, do_sample=True, top_k=50, top_p=1.0,
                                                temperature=1.0, **kw)
        with torch.no_grad():
            same = bool(np.array_equal(fns["hf greedy"]()[0].numpy(), fns["ours greedy"]()))
    with torch.no_grad() if torch is not None else _nothing():
        t = time_rounds(fns, rounds=rounds, warmup=1, block=1)
    long = np.random.default_rng(2).integers(0, 50257, (1, 512))

    def prefill_ours():  # as generate() runs it: the head for the last position only
        ours(long, kv_cache=ours.new_kv_cache(1), last_position_only=True)
    pre = {"ours": prefill_ours}
    if hf is not None:
        lt = torch.from_numpy(long)
        pre["hf"] = lambda: hf(lt, use_cache=True, logits_to_keep=1)  # as its generate() does
    with torch.no_grad() if torch is not None else _nothing():
        tp = time_rounds(pre, rounds=rounds, warmup=1, block=1)
    results["generate"] = {"seconds": t, "prefill_512_s": tp, "new_tokens": n_new,
                           "greedy_tokens_identical": same}
    rows = []
    for kind in ("greedy", "sampled"):
        o, h = t[f"ours {kind}"], t.get(f"hf {kind}")
        rows.append([f"generate {kind} (tok/s)", f"{n_new / o:.1f}", "-",
                     "-" if h is None else f"{n_new / h:.1f}", "-",
                     "-" if h is None else fmt_ratio(h / o),
                     f"identical: {same}" if kind == "greedy" else ""])
    if int8 is not None:
        o, h = t["ours int8 greedy"], t.get("hf greedy")
        differ = np.flatnonzero(fns["ours int8 greedy"]() != fns["ours greedy"]())
        equal = int(differ[0] if differ.size else len(prompt) + n_new) - len(prompt)
        results["generate"]["int8_greedy_tokens_before_first_difference"] = equal
        rows.append(["generate greedy int8 (tok/s)", f"{n_new / o:.1f}", "-",
                     "-" if h is None else f"{n_new / h:.1f}", "-",
                     "-" if h is None else fmt_ratio(h / o),
                     f"first {equal}/{n_new} tokens as float32's; "
                     f"{fmt_ratio(t['ours greedy'] / o)}x its speed"])
    rows.append(["prefill 512 (ms)", f"{tp['ours'] * 1e3:,.0f}", "-",
                 f"{tp['hf'] * 1e3:,.0f}" if "hf" in tp else "-", "-",
                 fmt_ratio(tp["hf"] / tp["ours"]) if "hf" in tp else "-", ""])
    return rows


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- memory -------------------------------------------------------------------------------------
TRAIN_CODES = {
    "ours": ("import numpy as np, tinygrad_lm as tg, gpt2\n"
             "with tg.tuned_for_training():  # as `tinygrad-lm train` runs\n"
             "    m = tg.GPT(tg.GPTConfig(**gpt2.GPT2_SMALL))\n"
             "    s = gpt2.ours_step(m, 8, 256, np.random.default_rng(0)); s(); s()"),
    "torch": ("import numpy as np, torch, gpt2\nfrom torch_gpt import TorchGPT\n"
              "torch.set_num_threads(2); m = TorchGPT(**gpt2.GPT2_SMALL)\n"
              "s = gpt2.torch_step(torch, m, 8, 256, np.random.default_rng(0)); s(); s()"),
}


def bench_memory(hf_dir, st_path, torch, results):
    """Peak MB of fresh processes. Loading alone is not comparable across libraries:
    transformers leaves the safetensors file memory-mapped and reads a weight when it is first
    used, so its load-only peak barely moves; after one 16-token forward both hold the weights."""
    kinds = ["ours"] + (["torch"] if torch is not None else [])
    train = {k: peak_in_child(TRAIN_CODES[k]) for k in kinds}
    weights_mb = os.path.getsize(os.path.join(hf_dir, "model.safetensors")) / 2 ** 20
    load = f"m, _ = tg.from_pretrained({hf_dir!r})"
    forward = "\nm(np.zeros((1, 16), np.int64))"
    peaks = {"import_only": peak_in_child("import tinygrad_lm"),
             "from_pretrained": peak_in_child(f"import tinygrad_lm as tg\n{load}"),
             "from_file": peak_in_child(f"import tinygrad_lm as tg; tg.GPT.from_file({st_path!r})"),
             "from_pretrained_forward": peak_in_child(
                 f"import numpy as np, tinygrad_lm as tg\n{load}{forward}")}
    if torch is not None:
        hf_load = ("import torch, transformers\nm = transformers.GPT2LMHeadModel.from_pretrained("
                   f"{hf_dir!r}, dtype=torch.float32)")
        peaks.update(hf_import_only=peak_in_child("import torch, transformers\n"
                                                  "transformers.GPT2LMHeadModel"),
                     hf_from_pretrained=peak_in_child(hf_load),
                     hf_from_pretrained_forward=peak_in_child(
                         f"{hf_load}\nwith torch.no_grad(): m(torch.zeros(1, 16, dtype=int))"))
    results["memory_mb"] = {"train_8x256": train, "weights": weights_mb, **peaks}

    def over(key, base):  # MB above the imports, in weights
        return f"{(peaks[key] - peaks[base]) / weights_mb:.2f}"

    def hf(key):
        return f"{peaks[key]:,.0f}" if key in peaks else "-"
    rows = [["peak MB, train 8x256", f"{train['ours']:,.0f}",
             f"{train['torch']:,.0f}" if "torch" in train else "-", "-",
             fmt_ratio(train["torch"] / train["ours"]) if "torch" in train else "-", "-", ""],
            ["peak MB, from_pretrained", f"{peaks['from_pretrained']:,.0f}", "-",
             hf("hf_from_pretrained"), "-", "-",
             f"weights {weights_mb:,.0f} MB; above the imports: ours "
             f"{over('from_pretrained', 'import_only')}x the weights" +
             (f", HF {over('hf_from_pretrained', 'hf_import_only')}x (mapped, read on use)"
              if torch is not None else "")],
            ["peak MB, GPT.from_file .safetensors", f"{peaks['from_file']:,.0f}", "-", "-", "-",
             "-", f"above the import {over('from_file', 'import_only')}x the weights"],
            ["peak MB, from_pretrained + forward 16", f"{peaks['from_pretrained_forward']:,.0f}",
             "-", hf("hf_from_pretrained_forward"), "-",
             fmt_ratio(peaks["hf_from_pretrained_forward"] / peaks["from_pretrained_forward"])
             if torch is not None else "-",
             f"imports alone: ours {peaks['import_only']:,.0f}" +
             (f", HF {peaks['hf_import_only']:,.0f}" if torch is not None else "")]]
    return rows


# ---- tokenizer ----------------------------------------------------------------------------------
def bench_tokenizer(results):
    from tinygrad_lm.tokenizers import BPETokenizer
    ranks = next((p for p in RANKS if os.path.exists(p)), None)
    if ranks is None:
        return []
    corpus = os.path.join(os.path.dirname(ranks), "tinyshakespeare.txt")
    rng = np.random.default_rng(0)  # random words over several scripts: few repeats
    alphabet = [chr(c) for r in ((97, 123), (224, 256), (0x4E00, 0x4F00), (0x1F600, 0x1F650),
                                 (0x0660, 0x066A), (0x0300, 0x0305)) for c in range(*r)]
    mixed = " ".join("".join(rng.choice(alphabet, rng.integers(1, 8))) for _ in range(120_000))
    texts = {"english": open(corpus, encoding="utf-8").read() if os.path.exists(corpus) else mixed,
             "mixed unicode": mixed}
    rows = []
    ours = BPETokenizer.from_tiktoken(ranks)
    fns_for = {}
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        from tiktoken_ext.openai_public import r50k_pat_str
        ref = tiktoken.Encoding("gpt2", pat_str=r50k_pat_str,
                                mergeable_ranks=load_tiktoken_bpe(ranks),
                                special_tokens={"<|endoftext|>": 50256})
        fns_for["tiktoken"] = ref.encode_ordinary
    except ImportError:
        pass
    results["tokenizer_1mb_s"] = {}
    for name, text in texts.items():
        text = text.encode("utf-8")[:1_000_000].decode("utf-8", errors="ignore")
        times = {}
        for who, fn in [("ours", ours.encode_ordinary), *fns_for.items()]:
            fresh = BPETokenizer.from_tiktoken(ranks) if who == "ours" else None
            fn = fresh.encode_ordinary if fresh else fn  # a cold cache, as for new text
            t0 = time.perf_counter()
            fn(text)
            times[who] = time.perf_counter() - t0
        results["tokenizer_1mb_s"][name] = times
        rows.append([f"encode 1 MB {name} (s)", f"{times['ours']:.2f}", "-", "-",
                     "-", "-", f"tiktoken {times['tiktoken']:.3f} s" if "tiktoken" in times
                     else ""])
    return rows


def bench_tokenizer_load(hf_dir, transformers, rounds, results):
    """Seconds to build GPT-2's tokenizer (50,000 merges) from each file format, interleaved."""
    from tinygrad_lm.tokenizers import BPETokenizer, load_tokenizer
    from tinygrad_lm.tokenizers.bpe_files import read_vocab_and_merges
    ranks = next((p for p in RANKS if os.path.exists(p)), None)
    vocab, merges = (os.path.join(hf_dir, n) for n in ("vocab.json", "merges.txt"))
    fns = {"tokenizer.json": lambda: BPETokenizer.from_tokenizer_json(
               os.path.join(hf_dir, "tokenizer.json")),
           "vocab.json + merges.txt": lambda: BPETokenizer.from_files(
               read_vocab_and_merges(vocab, merges)),
           "model directory": lambda: load_tokenizer(hf_dir)}
    if ranks is not None:
        fns[".tiktoken"] = lambda: BPETokenizer.from_tiktoken(ranks)
    if transformers is not None:
        fns["HF AutoTokenizer"] = lambda: transformers.AutoTokenizer.from_pretrained(hf_dir)
    t = time_rounds(fns, rounds=rounds, warmup=1, block=1)
    results["tokenizer_load_s"] = t
    hf_t = t.get("HF AutoTokenizer")
    return [[f"load tokenizer, {k} (s)", f"{v:.2f}", "-", "-" if hf_t is None else f"{hf_t:.2f}",
             "-", "-" if hf_t is None else fmt_ratio(hf_t / v), "GPT-2's 50,000 merges"]
            for k, v in t.items() if k != "HF AutoTokenizer"]


def gpt2_tokenizer():
    """GPT-2's own when its ranks file is here, else bytes only (same <|endoftext|> id)."""
    from tinygrad_lm.tokenizers import BPETokenizer
    ranks = next((p for p in RANKS if os.path.exists(p)), None)
    if ranks is not None:
        return BPETokenizer.from_tiktoken(ranks)
    return BPETokenizer([], special_tokens={"<|endoftext|>": 50256})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--quantize", choices=["none", "int8"], default="none",
                        help="int8: also time greedy decoding with int8 weights")
    args = parser.parse_args(argv)
    rounds, n_new = (2, 32) if args.quick else (3, 128)
    torch, transformers = peers()
    results = {"config": GPT2_SMALL, "train": {}, "load_average_start": os.getloadavg()}
    ours = tg.GPT(tg.GPTConfig(**GPT2_SMALL), seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir = os.path.join(tmp, "gpt2-random")
        t0 = time.perf_counter()
        export_hf(ours, gpt2_tokenizer(), hf_dir)
        results["export_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours, _ = tg.from_pretrained(hf_dir)  # what a user runs: the loaded model
        results["from_pretrained_s"] = time.perf_counter() - t0
        st_path = os.path.join(tmp, "gpt2.safetensors")
        ours.save(st_path)
        hf = None
        if transformers is not None:
            hf = transformers.GPT2LMHeadModel.from_pretrained(hf_dir, dtype=torch.float32)
        rows = bench_memory(hf_dir, st_path, torch, results)
        rows += bench_load(hf_dir, st_path, transformers, torch, rounds, results)
        rows += bench_tokenizer(results)
        rows += bench_tokenizer_load(hf_dir, transformers, rounds, results)
        int8 = None if args.quantize == "none" else tg.GPT.from_file(st_path).quantize("int8")
        rows += bench_generate(ours, torch, hf, rounds, n_new, results, int8)
        del int8
        rows += bench_forward(ours, torch, hf, rounds, results)
        rows += bench_train(ours, torch, hf, rounds, results)
    print_table("GPT-2 small (124M), float32, random weights; ratios > 1: ours is faster/smaller",
                ["what", "ours", "PyTorch", "HF", "PyTorch/ours", "HF/ours", "note"], rows)
    results["load_average_end"] = os.getloadavg()
    print(f"\n(this process: peak {own_peak_rss_mb():,.0f} MB; load average (1, 5, 15 min) "
          f"at the start {results['load_average_start']}, at the end "
          f"{results['load_average_end']} on {os.cpu_count()} cores)")
    print("written:", write_json("gpt2", results))
    return 0


if __name__ == "__main__":
    with tg.tuned_for_training():  # as `tinygrad-lm train` runs: PyTorch's allocations
        # reuse the kept memory too
        status = main()
    sys.exit(status)
